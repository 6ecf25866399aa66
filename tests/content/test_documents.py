"""Chunks for retrieval: readable record text in each language, flat metadata, stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from learncity.content.documents import chunks_for_file, file_sha256
from learncity.content.loader import load_knowledge
from tests.content.test_loader import CONTACTS, EVENTS, GUIDE, PROGRAMMES, write


@pytest.fixture
def kb(tmp_path: Path):
    root = write(
        tmp_path / "knowledge",
        {
            "contacts.yaml": CONTACTS,
            "programmes/languages.yaml": PROGRAMMES,
            "events/open-days.yaml": EVENTS,
            "guides/scuola.md": GUIDE,
        },
    )
    loaded = load_knowledge(root)
    assert loaded.errors == []
    return loaded


def test_one_chunk_per_programme_with_fields_as_text_in_both_languages(kb) -> None:
    loaded = kb.files["programmes/languages.yaml"]

    chunks = chunks_for_file(loaded)

    assert [c.metadata["record_id"] for c in chunks] == ["italian-a1", "coding-club"]
    italian = chunks[0]
    assert italian.text.startswith("Italiano A1\nCorso serale di italiano per stranieri.\n")
    assert "Per chi: migranti e stranieri, adulti" in italian.text
    assert "Quando: dal 1 ottobre 2026 al 31 maggio 2027; lunedì 18:00-20:00" in italian.text
    assert "Costo: gratuito" in italian.text
    assert "\n\nItalian A1\nEvening Italian course.\n" in italian.text
    assert "For: migrants and foreigners, adults" in italian.text
    assert "When: from 1 October 2026 to 31 May 2027; Monday 18:00-20:00" in italian.text
    assert "Where: CPIA (Centro)" in italian.text
    assert "Contact: phone 0612345677" in italian.text
    assert italian.metadata == {
        "path": "programmes/languages.yaml",
        "file_hash": loaded.sha256,
        "position": 0,
        "kind": "programme",
        "record_id": "italian-a1",
        "title": "Italiano A1",
        "lang": "it",
        "langs": "it|en",
        "learning_type": "non-formal",
        "online": False,
        "languages": "it",
        "audiences": "migrants|adults",
        "topics": "italian-language",
        "free": True,
        "district": "Centro",
        "lat": 37.5,
        "lon": 15.08,
    }
    coding = chunks[1]
    assert "Inglese" not in coding.text and "\n\n" not in coding.text  # Italian only
    assert all(value is not None for value in coding.metadata.values())


def test_event_chunk_says_when_and_how_often(kb) -> None:
    [chunk] = chunks_for_file(kb.files["events/open-days.yaml"])

    assert "Quando: mercoledì 7 ottobre 2026, 16:00-19:00; ogni mese: primo mercoledì" in chunk.text
    assert chunk.metadata["kind"] == "event"
    assert chunk.metadata["start"] == "2026-10-07T16:00:00"
    assert chunk.metadata["recurring"] is True
    assert chunk.metadata["programme_id"] == "italian-a1"


def test_guide_chunks_per_section_with_title_and_heading_prefixed(kb) -> None:
    chunks = chunks_for_file(kb.files["guides/scuola.md"])

    assert [c.text for c in chunks] == [
        "Iscrizioni a scuola\n\nLe iscrizioni si fanno online a gennaio.",
        "Iscrizioni a scuola\nDocumenti\n\nServe il codice fiscale del bambino.",
    ]
    assert chunks[1].metadata["section"] == "Documenti"
    assert chunks[1].metadata["kind"] == "guide"
    assert chunks[1].metadata["audiences"] == "parents"


def test_long_sections_are_split_and_every_piece_keeps_its_heading(tmp_path: Path) -> None:
    sentence = "Il centro offre corsi serali per adulti che vogliono finire la scuola. "
    body = "\n\n".join(sentence * 4 for _ in range(10))
    root = write(
        tmp_path / "k",
        {"contacts.yaml": CONTACTS, "guides/cpia.md": f"# CPIA\n\n## Corsi\n\n{body}\n"},
    )
    loaded = load_knowledge(root).files["guides/cpia.md"]

    chunks = chunks_for_file(loaded, chunk_size=400, chunk_overlap=50)

    assert len(chunks) > 5
    assert all(c.text.startswith("CPIA\nCorsi\n\n") for c in chunks)
    assert all(len(c.text) <= 400 + len("CPIA\nCorsi\n\n") for c in chunks)


def test_chunk_ids_are_deterministic_and_change_with_the_text(kb, tmp_path: Path) -> None:
    loaded = kb.files["programmes/languages.yaml"]
    first = [c.id for c in chunks_for_file(loaded)]

    assert first == [c.id for c in chunks_for_file(loaded)]
    assert len(set(first)) == len(first)
    root = write(
        tmp_path / "other",
        {
            "contacts.yaml": CONTACTS,
            "programmes/languages.yaml": PROGRAMMES.replace("Scratch per ragazzi.", "Scratch."),
        },
    )
    changed = [
        c.id for c in chunks_for_file(load_knowledge(root).files["programmes/languages.yaml"])
    ]
    assert changed[0] == first[0] and changed[1] != first[1]


def test_contacts_become_chunks_too(kb) -> None:
    [chunk] = chunks_for_file(kb.files["contacts.yaml"])

    assert chunk.metadata["langs"] == "it|en"  # one block per language, in this order

    assert (
        chunk.text
        == "Sportello\nContatti: tel. 095 000 0000\n\nHelp desk\nContact: phone 095 000 0000"
    )
    assert chunk.metadata["contact_kind"] == "general"


def test_file_sha256_matches_the_loaded_hash(kb) -> None:
    path = kb.root / "guides/scuola.md"

    assert file_sha256(path) == kb.files["guides/scuola.md"].sha256
    assert file_sha256(path.read_bytes()) == kb.files["guides/scuola.md"].sha256


def test_bad_chunk_settings_are_refused_with_the_constraint(kb) -> None:
    with pytest.raises(
        ValueError,
        match=r"chunk overlap \(300\) must be at least 0 and less than "
        r"chunk size \(200\)",
    ):
        chunks_for_file(kb.files["guides/scuola.md"], chunk_size=200, chunk_overlap=300)
