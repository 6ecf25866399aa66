"""Staff input that would cost unbounded work or mean the wrong time is refused at validation."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from learncity.content.loader import load_knowledge
from learncity.content.models import CITY_ZONE, Event
from tests.content.test_bad_input import EVENT, GOOD, messages
from tests.content.test_loader import CSV_HEADER, PROGRAMMES, write


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(tmp_path / "knowledge", GOOD)


def event_with(line: str, *, start: str = "2026-06-20 18:00") -> str:
    return EVENT.replace("2026-06-20 18:00", start) + (f"  {line}\n" if line else "")


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=SECONDLY", "repeats every second"),
        ("FREQ=MINUTELY;INTERVAL=5", "repeats every minute"),
        ("FREQ=HOURLY", "repeats every hour"),
        ("FREQ=DAILY;BYHOUR=8,9,10", "BYHOUR, BYMINUTE and BYSECOND are not used here"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "never gives a date"),
    ],
)
def test_a_rule_finer_than_daily_or_impossible_is_refused_at_its_line(
    folder: Path, rule: str, words: str
) -> None:
    write(folder, {"events/summer.yaml": event_with(f"rrule: {rule}")})

    started = time.perf_counter()
    kb = load_knowledge(folder)

    assert time.perf_counter() - started < 5  # checked from the text, not by expanding it
    [error] = kb.errors
    assert (error.path, error.line) == ("events/summer.yaml", 7)
    assert words in error.message
    assert "open-day" in kb.events  # the other files serve


def test_a_programme_schedule_rule_is_bounded_too(folder: Path) -> None:
    text = PROGRAMMES.replace("    weekly:\n", "    rrule: FREQ=MINUTELY\n    weekly:\n")
    write(folder, {"programmes/languages.yaml": text})

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors if e.path == "programmes/languages.yaml"] == [
        "programmes/languages.yaml:12: field 'schedule.rrule': rrule FREQ=MINUTELY repeats every "
        "minute: rules may repeat at most daily (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY); for "
        "several times a day, write one event per time"
    ]


def test_occurrences_are_expanded_lazily_within_the_window_only() -> None:
    event = Event.model_validate(
        {
            "id": "daily",
            "title": "Ogni giorno",
            "description": "x",
            "topics": ["reading"],
            "audiences": ["adults"],
            "start": "2020-01-01 10:00",
            "rrule": "FREQ=DAILY",  # endless: only the window asked for is expanded
        }
    )
    after = dt.datetime(2027, 3, 1, tzinfo=CITY_ZONE)

    started = time.perf_counter()
    week = event.occurrences(after, after + dt.timedelta(days=7), CITY_ZONE)

    assert time.perf_counter() - started < 1
    assert len(week) == 7 and week[0] == dt.datetime(2027, 3, 1, 10, tzinfo=CITY_ZONE)
    # Across the spring change the wall-clock time stays 10:00.
    spring = event.occurrences(
        dt.datetime(2027, 3, 27, tzinfo=CITY_ZONE),
        dt.datetime(2027, 3, 30, tzinfo=CITY_ZONE),
        CITY_ZONE,
    )
    assert [s.hour for s in spring] == [10, 10, 10]


def test_a_time_in_the_daylight_saving_gap_is_reported(folder: Path) -> None:
    write(folder, {"events/summer.yaml": event_with("", start="2027-03-28 02:30")})

    kb = load_knowledge(folder)

    assert messages(kb.errors) == [
        "events/summer.yaml:6: field 'start': start 2027-03-28 02:30 does not exist in "
        "Europe/Rome: clocks jump forward that night (from 02:00 to 03:00); choose another time"
    ]


def test_a_z_suffix_where_city_time_is_meant_is_reported(folder: Path) -> None:
    write(folder, {"events/summer.yaml": event_with("", start='"2026-06-20T18:00:00Z"')})

    kb = load_knowledge(folder)

    [error] = kb.errors
    assert (error.path, error.line) == ("events/summer.yaml", 6)
    assert "ends in Z, which means UTC" in error.message
    assert "without the Z" in error.message


def test_an_explicit_offset_is_still_accepted(folder: Path) -> None:
    write(folder, {"events/summer.yaml": event_with("", start='"2026-06-20T18:00:00+02:00"')})

    assert load_knowledge(folder).errors == []


def test_age_min_above_age_max_is_reported_in_yaml_and_csv(folder: Path) -> None:
    ages = "  cost: {free: true}\n  age_min: 30\n  age_max: 18\n"
    text = PROGRAMMES.replace("  cost: {free: true}\n", ages)
    row = "ages,Titolo,,Descrizione,,formal,reading,adults,Prov" + "," * 24 + "65,18,it"
    write(
        folder,
        {"programmes/languages.yaml": text, "programmes/export.csv": f"{CSV_HEADER}\n{row}\n"},
    )

    kb = load_knowledge(folder)

    assert messages(e for e in kb.errors if e.path.startswith("programmes/")) == [
        "programmes/export.csv:2: age_max 18 is below age_min 65",
        "programmes/languages.yaml:1: age_max 18 is below age_min 30",
    ]
