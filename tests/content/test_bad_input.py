"""Broken files: each is reported with path, line and plain words, skipped; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from learncity.content import loader
from learncity.content.errors import KnowledgeError
from learncity.content.loader import load_knowledge
from tests.content.test_loader import CONTACTS, CSV_HEADER, EVENTS, GUIDE, PROGRAMMES, write

GOOD = {
    "contacts.yaml": CONTACTS,
    "programmes/languages.yaml": PROGRAMMES,
    "events/open-days.yaml": EVENTS,
    "guides/scuola.md": GUIDE,
}

EVENT = """\
- id: summer-party
  title: Festa d'estate
  description: Musica e giochi.
  topics: [music]
  audiences: [families]
  start: 2026-06-20 18:00
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(tmp_path / "knowledge", GOOD)


def messages(errors: list[KnowledgeError]) -> list[str]:
    return [str(error) for error in errors]


def assert_rest_still_works(kb: loader.KnowledgeBase) -> None:
    assert {"italian-a1", "coding-club"} <= set(kb.programmes)
    assert "open-day" in kb.events
    assert "guides/scuola.md" in kb.guides
    assert kb.contacts


def test_yaml_syntax_error_is_reported_at_its_line(folder: Path) -> None:
    broken = EVENT.replace("  description: Musica e giochi.", "  description: Musica: e giochi")
    write(folder, {"events/summer.yaml": broken})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "events/summer.yaml:3: unexpected ':' on this line: put a text that contains ': ' in "
        "quotes, or check the indentation"
    ]
    assert "summer-party" not in kb.events
    assert_rest_still_works(kb)


def test_tab_indentation_gets_its_own_hint(folder: Path) -> None:
    write(folder, {"events/summer.yaml": EVENT.replace("  topics:", "\ttopics:")})

    [error] = load_knowledge(folder).errors

    assert (error.path, error.line) == ("events/summer.yaml", 4)
    assert "indent with spaces" in error.message


def test_missing_required_field_names_the_field_at_the_record_line(folder: Path) -> None:
    write(folder, {"events/summer.yaml": EVENT.replace("  title: Festa d'estate\n", "")})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == ["events/summer.yaml:1: field 'title' is required but missing"]
    assert_rest_still_works(kb)


def test_impossible_date_is_reported_in_plain_words(folder: Path) -> None:
    write(folder, {"events/summer.yaml": EVENT.replace("2026-06-20 18:00", "2026-02-30")})
    text = PROGRAMMES.replace("start_date: 2026-10-01", "start_date: 2026-13-01")
    write(folder, {"programmes/languages.yaml": text})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "events/open-days.yaml:2: event 'open-day': programme_id 'italian-a1' does not match any "
        "programme in programmes/; this event is left out until it is fixed (the rest of the "
        "file serves)",  # its programme's file is broken and has no last good version
        "events/summer.yaml:6: field 'start': 2026-02-30 is not a valid date",
        "programmes/languages.yaml:10: field 'schedule.start_date': 2026-13-01 is not a valid date",
    ]


def test_a_badly_written_date_gets_the_expected_format(folder: Path) -> None:
    write(folder, {"events/summer.yaml": EVENT.replace("2026-06-20 18:00", "20 giugno")})

    [error] = load_knowledge(folder).errors

    assert error.message == (
        "field 'start': 20 giugno is not a valid date and time "
        "(write it as YYYY-MM-DD HH:MM, e.g. 2026-03-14 18:30)"
    )


def test_unknown_audience_lists_the_allowed_values_at_its_line(folder: Path) -> None:
    write(
        folder,
        {
            "programmes/languages.yaml": PROGRAMMES.replace(
                "[migrants, adults]", "[migrants, elderly]"
            )
        },
    )
    kb = load_knowledge(folder)

    [event_error, error] = kb.errors
    assert (error.path, error.line) == ("programmes/languages.yaml", 6)
    assert error.message.startswith(
        "audience 'elderly' is not allowed; allowed: everyone, children,"
    )
    assert "job-seekers" in error.message
    # The whole file is skipped; its event no longer has a programme, and says so.
    assert "coding-club" not in kb.programmes
    assert "open-day" not in kb.events
    assert "programme_id 'italian-a1' does not match any programme" in event_error.message


def test_unknown_field_and_wrong_values_are_all_reported_at_once(folder: Path) -> None:
    text = (
        PROGRAMMES.replace("  provider: Biblioteca", "  provider: Biblioteca\n  titel: x")
        .replace("lat: 37.5", "lat: 137.5")
        .replace("{free: true}", "{free: forse}")
        .replace("id: coding-club", "id: Coding Club")
    )
    write(folder, {"programmes/languages.yaml": text})

    found = messages(load_knowledge(folder).errors)

    assert "programmes/languages.yaml:8: field 'venue.lat': 137.5 should be at most 90" in found
    assert "programmes/languages.yaml:14: field 'cost.free': 'forse' should be yes or no" in found
    assert any(
        m.startswith("programmes/languages.yaml:16: field 'id': 'Coding Club' is not a valid id")
        for m in found
    )
    assert any(
        m.startswith("programmes/languages.yaml:23: unknown field 'titel' (check the spelling)")
        for m in found
    )


def test_a_field_written_twice_is_reported(folder: Path) -> None:
    write(folder, {"events/summer.yaml": EVENT + "  title: Di nuovo\n"})

    [error] = load_knowledge(folder).errors

    assert str(error) == (
        "events/summer.yaml:7: field 'title' is written twice (first on line 2): keep one"
    )


def test_duplicate_ids_across_files_name_both_places_and_skip_the_second(folder: Path) -> None:
    duplicate = PROGRAMMES.split("- id: coding-club")[0].replace("Italiano A1", "Copia")
    write(folder, {"programmes/zz-copy.yaml": duplicate})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "programmes/zz-copy.yaml:1: id 'italian-a1' is already used in "
        "programmes/languages.yaml:1: each id must be used once in the whole folder"
    ]
    assert kb.programmes["italian-a1"].title == {"it": "Italiano A1", "en": "Italian A1"}
    assert kb.path_of("italian-a1") == "programmes/languages.yaml"
    assert_rest_still_works(kb)


def test_a_new_file_cannot_push_out_a_record_that_was_already_serving(folder: Path) -> None:
    first = load_knowledge(folder)
    duplicate = PROGRAMMES.split("- id: coding-club")[0].replace("Italiano A1", "Copia")
    write(folder, {"programmes/aa-new.yaml": duplicate})  # sorts before the established file

    kb = load_knowledge(folder, first)

    assert [e.path for e in kb.errors] == ["programmes/aa-new.yaml"]
    assert kb.path_of("italian-a1") == "programmes/languages.yaml"


def test_event_pointing_to_a_missing_programme_is_reported(folder: Path) -> None:
    write(folder, {"events/open-days.yaml": EVENTS.replace("italian-a1", "italian-z9")})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "events/open-days.yaml:2: event 'open-day': programme_id 'italian-z9' does not match any "
        "programme in programmes/; this event is left out until it is fixed (the rest of the "
        "file serves)"
    ]


def test_empty_file_is_reported_and_its_last_good_version_keeps_serving(folder: Path) -> None:
    first = load_knowledge(folder)
    write(folder, {"events/open-days.yaml": "\n# all commented out\n"})

    kb = load_knowledge(folder, first)

    assert messages(kb.errors) == [
        "events/open-days.yaml: the file is empty: to remove all its records, delete the file "
        "(or write [] in it)"
    ]
    assert "open-day" in kb.events
    assert kb.stale == {"events/open-days.yaml"}
    assert kb.files["events/open-days.yaml"] is first.files["events/open-days.yaml"]


def test_an_explicit_empty_list_removes_the_records(folder: Path) -> None:
    first = load_knowledge(folder)
    write(folder, {"events/open-days.yaml": "events: []\n"})

    kb = load_knowledge(folder, first)

    assert kb.errors == [] and kb.events == {}


def test_a_broken_edit_keeps_the_last_good_version_serving(folder: Path) -> None:
    first = load_knowledge(folder)
    write(
        folder,
        {
            "programmes/languages.yaml": PROGRAMMES.replace(
                "[migrants, adults]", "[migrants, elderly]"
            )
        },
    )

    second = load_knowledge(folder, first)

    assert [e.line for e in second.errors] == [6]
    assert second.programmes["italian-a1"].audiences[1] == "adults"
    assert "open-day" in second.events  # its programme is still there
    assert second.stale == {"programmes/languages.yaml"}

    write(folder, {"programmes/languages.yaml": PROGRAMMES.replace("Italiano A1", "Italiano A1+")})
    third = load_knowledge(folder, second)

    assert third.errors == [] and third.stale == set()
    assert third.programmes["italian-a1"].title == {"it": "Italiano A1+", "en": "Italian A1"}


def test_binary_data_named_md_is_refused(folder: Path) -> None:
    first = load_knowledge(folder)
    write(folder, {"guides/scuola.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))})

    kb = load_knowledge(folder, first)

    assert messages(kb.errors) == [
        "guides/scuola.md: the file holds binary data, not text: a '.md' file must be plain text "
        "(was a different kind of file renamed?)"
    ]
    assert kb.guides["guides/scuola.md"].title == "Iscrizioni a scuola"  # the last good version


def test_non_utf8_text_is_reported_with_its_line(folder: Path) -> None:
    write(folder, {"guides/perche.txt": "Titolo\n\nRiga uno.\nPerché no?\n".encode("cp1252")})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "guides/perche.txt:4: the text is not saved as UTF-8 (a character here is not valid "
        "UTF-8): open the file and save it again choosing the UTF-8 encoding"
    ]
    assert_rest_still_works(kb)


def test_a_50_mb_file_is_refused_before_it_is_read(folder: Path, monkeypatch) -> None:
    with (folder / "guides" / "huge.pdf").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing to read
    monkeypatch.setattr(loader, "guide_from_pdf", lambda *a: pytest.fail("the file was parsed"))

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "guides/huge.pdf: the file is too large (50.0 MB; the limit is 20 MB): split it into "
        "smaller files or remove images"
    ]
    assert_rest_still_works(kb)


def test_the_size_limit_is_a_setting(folder: Path) -> None:
    [error] = load_knowledge(folder, max_file_bytes=100).errors[:1]

    assert "the limit is" in error.message


def test_a_corrupt_pdf_is_reported(folder: Path) -> None:
    write(folder, {"guides/broken.pdf": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\ngarbage"})

    kb = load_knowledge(folder)

    [error] = kb.errors
    assert error.path == "guides/broken.pdf" and error.line is None
    assert error.message.startswith("the PDF cannot be read: it is damaged or not really a PDF")
    assert_rest_still_works(kb)


def test_a_file_deleted_while_loading_is_treated_as_removed(folder: Path, monkeypatch) -> None:
    first = load_knowledge(folder)
    real_discover = loader.discover

    def discover_then_lose_a_file(root: Path):
        found = real_discover(root)
        (root / "events/open-days.yaml").unlink()  # gone between listing and reading
        return found

    monkeypatch.setattr(loader, "discover", discover_then_lose_a_file)

    kb = load_knowledge(folder, first)

    assert kb.errors == []
    assert "events/open-days.yaml" not in kb.files and "open-day" not in kb.events
    assert_rest_still_works_without_events(kb)


def assert_rest_still_works_without_events(kb: loader.KnowledgeBase) -> None:
    assert {"italian-a1", "coding-club"} <= set(kb.programmes)
    assert "guides/scuola.md" in kb.guides


def test_csv_errors_name_the_row_line_and_the_column(folder: Path) -> None:
    good = "a1,Titolo,,Descr,,formal,reading,adults,Prov" + "," * 26
    bad_audience = "a2,Titolo,,Descr,,formal,reading,elderly,Prov" + "," * 26
    bad_weekly = "a3,Titolo,,Descr,,formal,reading,adults,Prov" + "," * 9 + "lunedì sera" + "," * 17
    no_title = "a4,,,Descr,,formal,reading,adults,Prov" + "," * 26
    bad_date = "a5,T,,D,,formal,reading,adults,Prov,,,,,,,30/02/2026" + "," * 19
    text = "\n".join([CSV_HEADER, good, bad_audience, bad_weekly, no_title, bad_date]) + "\n"
    write(folder, {"programmes/export.csv": text})

    found = messages(load_knowledge(folder).errors)

    assert found[0].startswith(
        "programmes/export.csv:3: column 'audiences': audience 'elderly' is not allowed; allowed:"
    )
    assert found[1:] == [
        "programmes/export.csv:4: column 'weekly': 'lunedì sera' is not a weekly time: write the "
        "day and the hours, like 'mon 18:00-20:00; wed 18:00-20:00'",
        "programmes/export.csv:5: column 'title_it' or 'title_en' is required but missing",
        "programmes/export.csv:6: column 'start_date': 2026-02-30 is not a valid date",
    ]


def test_csv_with_an_unknown_column_is_reported_on_the_header_line(folder: Path) -> None:
    header = CSV_HEADER.replace("venue_name", "venue")
    write(folder, {"programmes/export.csv": header + "\n"})

    [error] = load_knowledge(folder).errors

    assert (error.line, error.message.split(" (")[0]) == (1, "unknown column 'venue'")


def test_an_unreadable_file_is_reported(folder: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    path = folder / "events/open-days.yaml"
    path.chmod(0)
    try:
        [error] = load_knowledge(folder).errors
    finally:
        path.chmod(0o644)
    assert error.message.startswith("the file cannot be read")


def test_a_pipe_named_like_a_guide_does_not_block_loading(folder: Path) -> None:
    import os

    os.mkfifo(folder / "guides" / "pipe.md")

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors] == ["guides/pipe.md: this is not a regular file"]
    assert_rest_still_works(kb)
