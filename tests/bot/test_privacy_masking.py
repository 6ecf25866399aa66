"""`learncity.privacy.mask` on realistic questions residents send (Italian and English)."""

from __future__ import annotations

import pytest

from learncity.privacy import mask, mask_for_staff

CASES = [
    # (what the resident wrote, what must be gone, what must stay)
    (
        "Mi chiamo Giulia Rossi e vorrei iscrivermi al corso di inglese",
        ["Giulia", "Rossi"],
        ["corso di inglese", "<name>"],
    ),
    (
        "Buongiorno, sono Marco Bianchi, il corso di italiano per stranieri è gratuito?",
        ["Marco", "Bianchi"],
        ["corso di italiano", "gratuito"],
    ),
    (
        "mio figlio Luca ha 15 anni, può fare il corso di informatica?",
        ["Luca"],
        ["mio figlio", "corso di informatica"],
    ),
    (
        "Sono Aisha, abito in via Garibaldi 12, c'è un corso vicino?",
        ["Aisha", "Garibaldi", "12"],
        ["<address>", "corso vicino"],
    ),
    (
        "Il mio codice fiscale è RSSMRA85T10A562S, serve per l'iscrizione?",
        ["RSSMRA85T10A562S"],
        ["<fiscal code>", "iscrizione"],
    ),
    (
        "codice fiscale bncgli90a41h501x, va bene minuscolo?",
        ["bncgli90a41h501x"],
        ["<fiscal code>"],
    ),
    (
        "Posso pagare con bonifico sull'IBAN IT60 X054 2811 1010 0000 0123 456?",
        ["X054", "0123"],
        ["<iban>", "bonifico"],
    ),
    (
        "IBAN IT60X0542811101000000123456 intestato al comune?",
        ["IT60X0542811101000000123456"],
        ["<iban>"],
    ),
    (
        "Abito in Viale Vittorio Veneto, 33/b: qual è la biblioteca più vicina?",
        ["Vittorio", "Veneto", "33"],
        ["<address>", "biblioteca"],
    ),
    (
        "piazza San Marco n. 4, terzo piano: il CPIA è qui?",
        ["San Marco", "n. 4"],
        ["<address>", "CPIA"],
    ),
    (
        "abito in corso Vittorio Emanuele II 120, il corso serale è vicino?",
        ["Emanuele", "120"],
        ["abito in <address>", "corso serale"],
    ),
    (
        "chiamatemi al 333 123 4567 oppure al +39 02 1234567",
        ["333", "4567", "1234567"],
        ["<number>", "chiamatemi"],
    ),
    (
        "scrivete a giulia.rossi@example.it o guardate https://example.it/iscrizioni?id=42",
        ["giulia.rossi", "example.it/iscrizioni"],
        ["<email>", "<link>"],
    ),
    (
        "My name is John Smith, are there English courses for adults?",
        ["John", "Smith"],
        ["English courses for adults"],
    ),
    (
        "I'm Olena, I live at 221 Baker Street, is there a library nearby?",
        ["Olena", "221", "Baker"],
        ["<address>", "library nearby"],
    ),
    (
        "My daughter Emily needs an after-school club, we are at Flat 3, 12 Mill Road",
        ["Emily", "Mill Road"],
        ["after-school club", "<address>"],
    ),
    (
        "Hi, this is Sarah Jones from 45 Queen Victoria Avenue: evening classes?",
        ["Sarah", "Jones", "Queen Victoria"],
        ["evening classes"],
    ),
    (
        "Giovanni e Francesca Esposito cercano un corso per genitori",
        ["Giovanni", "Francesca", "Esposito"],
        ["corso per genitori"],
    ),
    (
        "scrivo per conto di mia madre, la signora Anna Ferrari, 80 anni",
        ["Anna", "Ferrari"],
        ["mia madre", "80 anni"],
    ),
    ("contattate @giulia_rossi88 su Telegram", ["giulia_rossi88"], ["<user>", "Telegram"]),
    # Things that are not personal data stay readable.
    ("corso di inglese B1 per adulti a Milano", [], ["corso di inglese B1 per adulti a Milano"]),
    # "corso" is a course far more often than a street: a street only after "abito", "vivo"...
    (
        "corso B1 12 ore, corso di Informatica 2: quando iniziano?",
        [],
        ["corso B1", "corso di Informatica 2"],
    ),
    ("Quando apre la biblioteca di piazza Duomo?", [], ["piazza Duomo"]),
    ("Orari della biblioteca San Giovanni?", [], ["biblioteca San Giovanni"]),
    ("Sono interessata ai corsi di cucito", [], ["Sono interessata ai corsi di cucito"]),
    ("I am Ukrainian, can I attend the Italian course?", [], ["Ukrainian", "Italian course"]),
    ("Will the course run in July?", [], ["Will the course run in July?"]),
]


@pytest.mark.parametrize(("text", "gone", "kept"), CASES, ids=[case[0][:40] for case in CASES])
def test_mask_hides_personal_data_and_keeps_the_question(
    text: str, gone: list[str], kept: list[str]
) -> None:
    masked = mask(text)
    for secret in gone:
        assert secret not in masked, masked
    for part in kept:
        assert part in masked, masked


def test_mask_for_staff_cuts_and_collapses_whitespace() -> None:
    masked = mask_for_staff("Mi   chiamo Anna\n\nVerdi " + "corso " * 100, limit=40)
    assert masked.startswith("Mi chiamo <name> corso")
    assert len(masked) == 40
