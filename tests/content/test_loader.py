"""Loading a knowledge folder: records, CSV exports, guides, ids, and reuse of the previous load."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from learncity.content.errors import UnknownRecordError
from learncity.content.loader import KnowledgeBase, check_folder, load_knowledge
from learncity.content.models import Audience, LearningType

CONTACTS = """\
contacts:
  - id: desk
    name: {it: Sportello, en: Help desk}
    kind: general
    phone: "095 000 0000"
"""

PROGRAMMES = """\
- id: italian-a1
  title: {it: Italiano A1, en: Italian A1}
  description: {it: Corso serale di italiano per stranieri., en: Evening Italian course.}
  learning_type: non-formal
  topics: [italian-language]
  audiences: [migrants, adults]
  provider: CPIA
  venue: {name: CPIA, district: Centro, lat: 37.5, lon: 15.08}
  schedule:
    start_date: 2026-10-01
    end_date: 2027-05-31
    weekly:
      - {day: mon, start: 18:00, end: 20:00}
  cost: {free: true}
  contact: {phone: 0612345677}
- id: coding-club
  title: Coding club
  description: Scratch per ragazzi.
  learning_type: informal
  topics: science-technology
  audiences: teens
  provider: Biblioteca
"""

EVENTS = """\
events:
  - id: open-day
    title: Open day
    description: Porte aperte al CPIA.
    topics: [adult-education]
    audiences: [adults]
    start: 2026-10-07 16:00
    end: 2026-10-07 19:00
    rrule: FREQ=MONTHLY;BYDAY=1WE
    programme_id: italian-a1
"""

GUIDE = """\
---
title: Iscrizioni a scuola
audience: [parents]
---
# Iscrizioni

Le iscrizioni si fanno online a gennaio.

## Documenti

Serve il codice fiscale del bambino.
"""

CSV_HEADER = (
    "id,title_it,title_en,description_it,description_en,learning_type,topics,audiences,provider,"
    "venue_name,venue_address,district,lat,lon,online,start_date,end_date,weekly,rrule,"
    "schedule_notes_it,schedule_notes_en,free,amount_eur,cost_notes,languages,accessibility,"
    "enrolment_it,enrolment_en,phone,email,url,skills,age_min,age_max,lang"
)


def write(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write files under root (text as UTF-8) and return root."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(
        tmp_path / "knowledge",
        {
            "contacts.yaml": CONTACTS,
            "programmes/languages.yaml": PROGRAMMES,
            "events/open-days.yaml": EVENTS,
            "guides/scuola.md": GUIDE,
            "README.md": "# For staff\n",
            "assessments/quick.yaml": "not: [read here",
        },
    )


def test_a_good_folder_loads_every_record_without_errors(folder: Path) -> None:
    kb = load_knowledge(folder)

    assert kb.errors == []
    assert sorted(kb.files) == [
        "contacts.yaml",
        "events/open-days.yaml",
        "guides/scuola.md",
        "programmes/languages.yaml",
    ]
    italian = kb.programmes["italian-a1"]
    assert italian.audiences == [Audience.MIGRANTS, Audience.ADULTS]
    assert italian.schedule is not None
    assert str(italian.schedule.weekly[0].start) == "18:00:00"  # not YAML's base-60 number 1080
    assert italian.contact.phone == "0612345677"  # not an octal number
    coding = kb.programmes["coding-club"]
    assert coding.learning_type == LearningType.INFORMAL
    assert coding.audiences == [Audience.TEENS]  # a single value is accepted for a list
    assert kb.events["open-day"].programme_id == "italian-a1"
    assert [c.id for c in kb.contacts] == ["desk"]
    assert kb.guides["guides/scuola.md"].title == "Iscrizioni a scuola"


def test_path_of_and_line_of_find_where_a_record_is_written(folder: Path) -> None:
    kb = load_knowledge(folder)

    assert kb.path_of("coding-club") == "programmes/languages.yaml"
    assert kb.line_of("coding-club") == 16
    assert kb.path_of("open-day") == "events/open-days.yaml"
    assert kb.path_of("desk") == "contacts.yaml"
    with pytest.raises(UnknownRecordError, match="no programme, event or contact with id 'nope'"):
        kb.path_of("nope")


def test_a_programmes_file_may_be_a_mapping_with_a_programmes_list(folder: Path) -> None:
    text = "programmes:\n" + "".join(f"  {line}\n" for line in PROGRAMMES.splitlines())
    write(folder, {"programmes/languages.yaml": text})

    kb = load_knowledge(folder)

    assert kb.errors == []
    assert set(kb.programmes) == {"italian-a1", "coding-club"}


def test_a_staff_csv_export_becomes_programmes(folder: Path) -> None:
    rows = [
        CSV_HEADER,
        "ginnastica,Ginnastica dolce,Gentle exercise,Esercizi per over 65.,Exercise for over-65s.,"
        'non-formal,sport;health-wellbeing,seniors,Circolo,Circolo Ognina,"Via Acque 5, Catania",'
        'Ognina,"37,52",15.10,no,05/10/2026,2027-06-25,"lun 09.30-10:30; wed 09:30-10:30",,'
        "Sospeso ad agosto.,,sì,,,it;en,,,,095 000 7101,c@example.org,https://example.org/g,"
        "wellbeing,65,,it",
        ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,",  # an empty row is skipped
        "b1,Italiano B1,,Corso B1.,,non-formal,italian-language,migrants,Ponti,,,,,,,,,,"
        "FREQ=WEEKLY;BYDAY=MO,,,no,40,materiali,it,,,,,,,,,,",
    ]
    write(folder, {"programmes/export.csv": "\n".join(rows) + "\n"})

    kb = load_knowledge(folder)

    assert kb.errors == []
    gym = kb.programmes["ginnastica"]
    assert gym.title == {"it": "Ginnastica dolce", "en": "Gentle exercise"}
    assert gym.venue is not None and gym.venue.lat == pytest.approx(37.52)
    assert gym.schedule is not None and str(gym.schedule.start_date) == "2026-10-05"
    assert [(s.day, str(s.start), str(s.end)) for s in gym.schedule.weekly] == [
        ("mon", "09:30:00", "10:30:00"),
        ("wed", "09:30:00", "10:30:00"),
    ]
    assert gym.cost.free is True and gym.online is False
    assert gym.languages == ["it", "en"] and gym.age_min == 65 and gym.age_max is None
    assert gym.url == "https://example.org/g" and gym.contact.email == "c@example.org"
    b1 = kb.programmes["b1"]
    assert b1.cost.amount_eur == 40 and b1.cost.free is False
    assert kb.line_of("b1") == 4


def test_a_semicolon_separated_csv_from_an_italian_spreadsheet_is_read(folder: Path) -> None:
    header = CSV_HEADER.replace(",", ";")
    row = ";".join(
        ["x1", "Titolo", "", "Descrizione", "", "formal", '"reading;music"', "adults"]
        + ["Prov"]
        + [""] * 26
    )
    write(folder, {"programmes/export.csv": f"{header}\n{row}\n"})

    kb = load_knowledge(folder)

    assert kb.errors == []
    assert [str(t) for t in kb.programmes["x1"].topics] == ["reading", "music"]


def test_unchanged_files_are_reused_from_the_previous_load(folder: Path) -> None:
    first = load_knowledge(folder)
    write(folder, {"guides/scuola.md": GUIDE + "\nAltro testo.\n"})

    second = load_knowledge(folder, first)

    assert second.files["programmes/languages.yaml"] is first.files["programmes/languages.yaml"]
    assert second.files["guides/scuola.md"] is not first.files["guides/scuola.md"]
    assert second.files["guides/scuola.md"].sha256 != first.files["guides/scuola.md"].sha256


def test_a_deleted_file_leaves_the_knowledge_base(folder: Path) -> None:
    first = load_knowledge(folder)
    (folder / "events/open-days.yaml").unlink()

    second = load_knowledge(folder, first)

    assert "events/open-days.yaml" not in second.files
    assert "open-day" not in second.events
    assert second.errors == []


def test_check_folder_lists_every_problem_and_a_missing_general_contact(folder: Path) -> None:
    assert check_folder(folder) == []
    write(folder, {"contacts.yaml": CONTACTS.replace("kind: general", "kind: school")})
    write(folder, {"notes.docx": b"PK\x03\x04", "guides/photo.png": b"\x89PNG"})

    messages = [str(error) for error in check_folder(folder)]

    assert (
        "contacts.yaml: no contact has kind 'general': add one, for questions the folder "
        "cannot answer" in messages
    )
    assert any(m.startswith("notes.docx: this file is not read") for m in messages)
    assert (
        "guides/photo.png: this kind of file is not read here: guides/ takes .md, .txt, "
        ".pdf or .html files" in messages
    )


def test_a_missing_contacts_file_is_reported(folder: Path) -> None:
    (folder / "contacts.yaml").unlink()

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors] == [
        "contacts.yaml: the file is missing: the assistant needs contacts to point people to a "
        "person"
    ]
    assert "italian-a1" in kb.programmes


def test_a_missing_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    kb = load_knowledge(tmp_path / "nowhere")

    assert isinstance(kb, KnowledgeBase)
    assert kb.files == {}
    assert "does not exist" in kb.errors[0].message


def test_weekly_days_may_be_written_as_names_in_italian_or_english(folder: Path) -> None:
    text = PROGRAMMES.replace("{day: mon, start: 18:00, end: 20:00}", "{day: Giovedì, start: 9:00}")
    write(folder, {"programmes/languages.yaml": text.replace("- id: coding-club", "- id: c2")})

    kb = load_knowledge(folder)

    assert kb.errors == []
    assert kb.programmes["italian-a1"].schedule.weekly[0].day == "thu"  # type: ignore[union-attr]
