"""The vocabulary files: the shipped ones load, and a broken one names its file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.vocabulary import DATA_DIR, VocabularyError, default_vocabulary, load_vocabulary


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Return a copy of the shipped vocabulary files, free to break."""
    for path in DATA_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_every_shipped_language_is_merged() -> None:
    vocabulary = default_vocabulary()

    assert {"it", "en", "fr", "es", "de", "pt"} <= set(vocabulary.languages)
    assert "anzian*" in vocabulary.audiences["seniors"]
    assert "personnes agees" in vocabulary.audiences["seniors"]
    assert list(vocabulary.time_of_day) == ["evening", "morning", "afternoon"]
    assert list(vocabulary.weekdays) == list(range(7))
    assert "dispersione scolastica" in vocabulary.concepts["early-school-leaving"].expansion


def test_a_new_language_is_a_new_file(folder: Path) -> None:
    (folder / "nl.yaml").write_text("audiences:\n  seniors: [ouderen]\nfree: [gratis]\n")

    vocabulary = load_vocabulary(folder)

    assert "nl" in vocabulary.languages
    assert "ouderen" in vocabulary.audiences["seniors"]


def test_words_of_a_language_written_without_spaces_are_found_inside_the_text(
    folder: Path,
) -> None:
    from zoneinfo import ZoneInfo

    from retrieval.query import QueryParser

    (folder / "zh.yaml").write_text("free: [免费]\ntopics:\n  italian-language: [意大利语]\n")
    parser = QueryParser(zone=ZoneInfo("Europe/Rome"), vocabulary=load_vocabulary(folder))

    filters = parser.parse("卡塔尼亚有免费的意大利语课吗").filters

    assert filters.free_only and filters.topics == ("italian-language",)


ITALIAN_AND_ENGLISH = [
    "corsi di inglese gratis per adulti la sera a Librino",
    "mia figlia ha 9 anni, c'è un doposcuola il sabato mattina?",
    "mio padre ha 72 anni e vorrebbe imparare a usare lo smartphone",
    "dove posso fare volontariato con i bambini in ospedale?",
    "ho 19 anni e ho lasciato la scuola, si può prendere il diploma la sera?",
    "c'è un laboratorio di ceramica o di teatro per ragazzi disabili?",
    "corso di cucina con persone di altri paesi, quanto costa?",
    "free Italian lessons for refugees on Monday evening",
    "my son is dyslexic, is there any after school help in English?",
    "computer classes for seniors in the morning near the city centre",
    "what's on this weekend for families with small kids?",
    "job interview and CV workshop for young people, is it free?",
    "can I take single university courses as an adult?",
    "gardening volunteers needed at the community garden on Saturday afternoon",
]


def _parse_all(folder: Path) -> list[tuple[object, ...]]:
    from zoneinfo import ZoneInfo

    from retrieval.query import QueryParser

    parser = QueryParser(zone=ZoneInfo("Europe/Rome"), vocabulary=load_vocabulary(folder))
    parsed = [parser.parse(question) for question in ITALIAN_AND_ENGLISH]
    return [
        (p.filters, p.wants_events, p.wants_programmes, p.expansion, p.wants_contact)
        for p in parsed
    ]


@pytest.mark.parametrize(
    "language",
    sorted(
        path.stem for path in DATA_DIR.glob("*.yaml") if path.stem not in ("common", "it", "en")
    ),
)
def test_another_language_file_changes_no_italian_or_english_reading(
    folder: Path, language: str
) -> None:
    # All files are merged: a word of another language that is also an Italian or English
    # word would misread residents' questions ("dove" is Dutch for deaf).
    with_it = _parse_all(folder)
    (folder / f"{language}.yaml").unlink()

    assert _parse_all(folder) == with_it


def test_a_misspelt_name_is_an_error_naming_file_and_key(folder: Path) -> None:
    (folder / "nl.yaml").write_text("audiences:\n  senoirs: [ouderen]\n")

    with pytest.raises(VocabularyError, match=r"nl\.yaml: audiences\.senoirs: not a name"):
        load_vocabulary(folder)


def test_an_unfolded_pattern_names_file_line_and_key(folder: Path) -> None:
    (folder / "nl.yaml").write_text("free: [gratis]\ntopics:\n  cooking: [koken, Kookcursus]\n")

    with pytest.raises(VocabularyError) as error:
        load_vocabulary(folder)

    message = str(error.value)
    assert "nl.yaml, line 3: topics.cooking.1" in message
    assert "write 'kookcursus'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frei: [gratis]\n", r"nl\.yaml, line 1: frei: Extra inputs are not permitted"),
        ("free: [gra*tis]\n", r"'\*' is allowed only at the end of a word"),
        ('free: [gratis, ""]\n', r"free\.1: .*empty pattern"),
        ("free: [yes]\n", r"free\.0: Input should be a valid string"),
        ("weekdays:\n  7: [zondag]\n", r"weekdays\.7: Input should be less than or equal to 6"),
        ("time_of_day:\n  night: [nacht]\n", r"time_of_day\.night"),
        ("free: [gratis\n", r"nl\.yaml: cannot read"),
        ("- gratis\n", r"nl\.yaml: expected a mapping"),
        ("concept_expansions:\n  bullying: pesten\n", r"only common\.yaml declares them"),
    ],
)
def test_a_broken_file_gives_a_clear_error(folder: Path, text: str, expected: str) -> None:
    (folder / "nl.yaml").write_text(text)

    with pytest.raises(VocabularyError, match=expected):
        load_vocabulary(folder)


def test_a_declared_name_without_words_is_an_error(folder: Path) -> None:
    common = folder / "common.yaml"
    common.write_text(
        common.read_text().replace("  soft-skills: []", "  soft-skills: []\n  knitting: []")
    )

    with pytest.raises(VocabularyError, match=r"common\.yaml: topics\.knitting: no file gives it"):
        load_vocabulary(folder)


def test_common_yaml_is_required(folder: Path) -> None:
    (folder / "common.yaml").unlink()

    with pytest.raises(VocabularyError, match=r"common\.yaml: missing"):
        load_vocabulary(folder)
