"""iCalendar (.ics) files for "Add to calendar": one event occurrence, a series, or a programme.

Built with the `icalendar` library: each VEVENT has a stable UID, DTSTART/DTEND with the TZID of
the event's zone (and the matching VTIMEZONE), an RRULE where it recurs, LOCATION, URL and
DESCRIPTION in the resident's language.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Event as VEvent
from icalendar import vRecur

from learncity.content import ics
from learncity.content.models import (
    RULE_ANCHOR,
    Event,
    Programme,
    Schedule,
    WeeklySlot,
    text_in,
)

PRODID = "-//Learning City Assistant//learncity//EN"
UID_DOMAIN = "learncity"
_SERIES_YEARS = dt.timedelta(days=3653)  # a finite series is counted to its end within ten years


class NoScheduleError(ValueError):
    """A programme without weekly times (or with no session left) cannot go in a calendar."""

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id
        super().__init__(f"programme {record_id!r} has no weekly times to put in a calendar")


def event_ics(
    event: Event, occurrence_start: dt.datetime | None, zone: ZoneInfo, lang: str
) -> bytes:
    """Return an .ics for one occurrence of `event`, or for the whole series when None."""
    event_zone = event.zone(zone)
    calendar = ics.new_calendar(PRODID)
    item = VEvent()
    if occurrence_start is None:
        start = ics.in_zone(event.start, event_zone)
        item.add("uid", f"{event.id}@{UID_DOMAIN}")
        if event.rrule:
            item.add("rrule", vRecur.from_ical(event.rrule))
    else:
        start = occurrence_start.astimezone(event_zone)
        item.add("uid", f"{event.id}-{start:%Y%m%dT%H%M}@{UID_DOMAIN}")
    # Wall-clock duration: an occurrence after a daylight-saving change keeps its local hours.
    end = (start.replace(tzinfo=None) + event.duration()).replace(tzinfo=event_zone)
    item.add("dtstamp", dt.datetime.now(dt.UTC))
    item.add("dtstart", start)
    item.add("dtend", end)
    item.add("summary", text_in(event.title, lang))
    item.add("description", _description(text_in(event.description, lang), event.booking_url))
    location = ics.location(event.venue, event.online)
    if location:
        item.add("location", location)
    url = event.booking_url or event.url or event.contact.url
    if url:
        item.add("url", url)
    if event.status == "cancelled":
        item.add("status", "CANCELLED")
    calendar.add_component(item)
    return ics.finish(calendar)


def programme_ics(programme: Programme, zone: ZoneInfo, lang: str) -> bytes:
    """Return an .ics with one recurring VEVENT per weekly slot, as `Schedule.sessions` counts."""
    schedule = programme.schedule
    calendar = ics.new_calendar(PRODID)
    title = text_in(programme.title, lang)
    description = _description(text_in(programme.description, lang), programme.url)
    location = ics.location(programme.venue, programme.online)
    url = programme.url or programme.contact.url
    slots = schedule.weekly if schedule is not None else []
    for slot in slots:
        assert schedule is not None
        text = schedule.slot_rule(slot)
        start = _first_session(schedule, slot, zone)
        if text is None or start is None:
            continue  # the rule never falls on this slot's day, or its dates are over
        length = (
            dt.datetime.combine(start.date(), slot.end)
            - dt.datetime.combine(start.date(), slot.start)
            if slot.end
            else dt.timedelta(hours=2)
        )
        item = VEvent()
        item.add("uid", f"{programme.id}-{slot.day}-{slot.start:%H%M}@{UID_DOMAIN}")
        item.add("dtstamp", dt.datetime.now(dt.UTC))
        item.add("dtstart", start)
        item.add("dtend", (start.replace(tzinfo=None) + length).replace(tzinfo=zone))
        item.add("rrule", _slot_recur(schedule, slot, text, start, zone))
        item.add("summary", title)
        item.add("description", description)
        if location:
            item.add("location", location)
        if url:
            item.add("url", url)
        calendar.add_component(item)
    if not calendar.walk("VEVENT"):
        raise NoScheduleError(programme.id)
    return ics.finish(calendar)


def _first_session(schedule: Schedule, slot: WeeklySlot, zone: ZoneInfo) -> dt.datetime | None:
    # From the programme's first day (else the rule's anchor): DTSTART is its first session.
    first_day = min(schedule.start_date or RULE_ANCHOR, dt.datetime.now(zone).date())
    since = dt.datetime.combine(first_day, dt.time(), tzinfo=zone)
    found = schedule.sessions(since, since + _SERIES_YEARS, zone, slot=slot)
    return found[0] if found else None


def _slot_recur(
    schedule: Schedule, slot: WeeklySlot, text: str, start: dt.datetime, zone: ZoneInfo
) -> vRecur:
    """Return the slot's RRULE, ending (UNTIL, in UTC) where the programme's sessions end."""
    rule = vRecur.from_ical(text)
    if "COUNT" in rule or "UNTIL" in rule:
        # COUNT counts the rule's days across every slot, so one slot's share is only known by
        # counting: such a series ends on the last session `sessions` gives this slot.
        last = schedule.sessions(start, start + _SERIES_YEARS, zone, slot=slot)[-1]
        rule.pop("COUNT", None)
        rule["UNTIL"] = last.astimezone(dt.UTC)
    elif schedule.end_date:
        until = dt.datetime.combine(schedule.end_date, dt.time(23, 59, 59), tzinfo=zone)
        rule["UNTIL"] = until.astimezone(dt.UTC)
    return rule


def _description(text: str, url: str | None) -> str:
    return f"{text}\n\n{url}" if url else text
