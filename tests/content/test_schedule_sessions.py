"""Programme sessions: one interpreter (`Schedule.sessions`) for card, .ics and reminders.

`genitori-insieme` in the sample folder meets on the second Saturday of the month
(`FREQ=MONTHLY;BYDAY=2SA` with a Saturday slot); it used to come out as every Saturday.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar

from learncity.content.calendar import NoScheduleError, programme_ics
from learncity.content.loader import load_knowledge
from learncity.content.models import Programme, Schedule
from retrieval.cards import make_card
from tests.conftest import SAMPLE_KNOWLEDGE

ROME = ZoneInfo("Europe/Rome")
NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=ROME)  # a Monday; Saturdays: 7, 14, 21, 28


@pytest.fixture(scope="module")
def genitori() -> Programme:
    return load_knowledge(SAMPLE_KNOWLEDGE).programmes["genitori-insieme"]


def rome(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


def test_monthly_rule_gives_the_second_saturday_only(genitori: Programme) -> None:
    assert genitori.schedule is not None
    found = genitori.schedule.sessions(NOW, rome(2027, 2, 1), ROME)
    assert found == [rome(2026, 11, 14, 10), rome(2026, 12, 12, 10), rome(2027, 1, 9, 10)]


def test_card_next_start_is_the_second_saturday(genitori: Programme) -> None:
    card = make_card("programme", genitori, lang="en", now=NOW, next_start=None,
                     path="programmes/school-support.yaml", zone=ROME)
    assert card.next_start == rome(2026, 11, 14, 10)
    assert "second Saturday" in card.when


def test_ics_carries_the_monthly_rule_and_parses_back(genitori: Programme) -> None:
    [item] = Calendar.from_ical(programme_ics(genitori, ROME, "it")).walk("VEVENT")
    assert item["rrule"]["FREQ"] == ["MONTHLY"]
    assert item["rrule"]["BYDAY"] == ["2SA"]
    start = item.decoded("dtstart")
    assert item.decoded("dtend") - start == dt.timedelta(hours=2)
    # Expanded back from the file, the dates are those `sessions` gives.
    rule = rrulestr(item["rrule"].to_ical().decode(), dtstart=start)
    assert rule.between(NOW, rome(2027, 2, 1)) == genitori.schedule.sessions(  # type: ignore[union-attr]
        NOW, rome(2027, 2, 1), ROME
    )


def test_counted_series_splits_by_slot_and_ends_on_its_last_session() -> None:
    schedule = Schedule(
        start_date=dt.date(2026, 11, 2),
        rrule="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4",  # Mon 2, Wed 4, Mon 9, Wed 11 November
        weekly=[{"day": "mon", "start": "18:30"}, {"day": "wed", "start": "09:00"}],
    )
    assert schedule.sessions(NOW, rome(2027, 1, 1), ROME) == [
        rome(2026, 11, 2, 18, 30), rome(2026, 11, 4, 9), rome(2026, 11, 9, 18, 30),
        rome(2026, 11, 11, 9),
    ]
    programme = Programme(id="p", title="P", description="D", learning_type="non-formal",
                          topics=["literacy"], audiences=["adults"], provider="X",
                          schedule=schedule)
    items = Calendar.from_ical(programme_ics(programme, ROME, "en")).walk("VEVENT")
    ends = sorted(item["rrule"]["UNTIL"][0].astimezone(ROME) for item in items)
    assert ends == [rome(2026, 11, 9, 18, 30), rome(2026, 11, 11, 9)]
    assert all("COUNT" not in item["rrule"] for item in items)


def test_dates_bound_the_sessions_and_times_are_needed() -> None:
    weekly = Schedule(start_date=dt.date(2026, 11, 10), end_date=dt.date(2026, 11, 20),
                      weekly=[{"day": "tue", "start": "10:00"}])
    assert weekly.sessions(NOW, rome(2027, 1, 1), ROME) == [
        rome(2026, 11, 10, 10), rome(2026, 11, 17, 10)
    ]
    notes_only = Schedule(rrule="FREQ=MONTHLY;BYDAY=1MO")
    assert notes_only.sessions(NOW, rome(2027, 1, 1), ROME) == []
    programme = Programme(id="p", title="P", description="D", learning_type="non-formal",
                          topics=["literacy"], audiences=["adults"], provider="X",
                          schedule=notes_only)
    with pytest.raises(NoScheduleError, match="'p'"):
        programme_ics(programme, ROME, "en")
