"""Add to calendar: the .ics files parse back with icalendar and say the right thing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from learncity.content.calendar import NoScheduleError, event_ics, programme_ics
from learncity.content.models import Event, Programme

ROME = ZoneInfo("Europe/Rome")


def storytime() -> Event:
    return Event(
        id="ev-storytime",
        title={"it": "Letture ad alta voce", "en": "Read-aloud stories"},
        description={"it": "Storie per bambini", "en": "Stories for children"},
        topics=["reading"],
        audiences=["children"],
        start=dt.datetime(2026, 10, 3, 10, 30),
        end=dt.datetime(2026, 10, 3, 12, 0),
        rrule="FREQ=WEEKLY;BYDAY=SA",
        venue={"name": "Biblioteca civica", "address": "Via Etnea 1", "district": "Centro storico"},
        booking_url="https://example.org/storytime",
    )


def only_event(data: bytes):  # type: ignore[no-untyped-def]
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def test_one_occurrence_keeps_local_time_and_zone_across_dst() -> None:
    event = storytime()
    # 7 November is after the October switch to winter time: still 10:30 on the wall clock.
    occurrence = event.occurrences(
        dt.datetime(2026, 11, 1, tzinfo=ROME), dt.datetime(2026, 11, 10, tzinfo=ROME), ROME
    )[0]
    item = only_event(event_ics(event, occurrence, ROME, "en"))
    start = item.decoded("dtstart")
    assert item["dtstart"].params["TZID"] == "Europe/Rome"
    assert (start.date(), start.hour, start.minute) == (dt.date(2026, 11, 7), 10, 30)
    assert item.decoded("dtend") - start == dt.timedelta(minutes=90)
    assert str(item["summary"]) == "Read-aloud stories"
    assert "Biblioteca civica" in str(item["location"])
    assert str(item["url"]) == "https://example.org/storytime"
    assert "Stories for children" in str(item["description"])
    assert str(item["uid"]).startswith("ev-storytime-20261107T1030@")
    assert "RRULE" not in item


def test_whole_series_carries_the_rrule() -> None:
    item = only_event(event_ics(storytime(), None, ROME, "it"))
    assert item["rrule"].to_ical() == b"FREQ=WEEKLY;BYDAY=SA"
    assert str(item["summary"]) == "Letture ad alta voce"
    assert str(item["uid"]) == "ev-storytime@learncity"


def test_programme_has_one_weekly_event_per_slot_until_its_end() -> None:
    programme = Programme(
        id="ita-evening",
        title="Italiano la sera",
        description="Corso serale",
        learning_type="non-formal",
        topics=["italian-language"],
        audiences=["migrants"],
        provider="Esempio",
        venue={"name": "Centro civico", "district": "Librino"},
        schedule={
            "start_date": "2026-10-05",
            "end_date": "2027-05-28",
            "weekly": [
                {"day": "mon", "start": "18:30", "end": "20:30"},
                {"day": "wed", "start": "18:30", "end": "20:30"},
            ],
        },
        url="https://example.org/ita",
    )
    calendar = Calendar.from_ical(programme_ics(programme, ROME, "it"))
    events = calendar.walk("VEVENT")
    assert len(events) == 2
    days = sorted(event["rrule"]["BYDAY"][0] for event in events)
    assert days == ["MO", "WE"]
    first = min(event.decoded("dtstart") for event in events)
    assert first == dt.datetime(2026, 10, 5, 18, 30, tzinfo=ROME)
    until = events[0]["rrule"]["UNTIL"][0]
    assert until.date() in (dt.date(2027, 5, 28), dt.date(2027, 5, 29))
    assert calendar.walk("VTIMEZONE"), "the zone must travel with the file"


def test_programme_without_schedule_is_refused_with_its_id() -> None:
    programme = Programme(
        id="help-desk",
        title="Sportello",
        description="Su appuntamento",
        learning_type="informal",
        topics=["digital-skills"],
        audiences=["adults"],
        provider="Comune",
    )
    with pytest.raises(NoScheduleError, match="help-desk"):
        programme_ics(programme, ROME, "it")
