"""iCalendar (.ics) files for "Add to calendar": one event occurrence, a series, or a programme.

Built with the `icalendar` library: each VEVENT has a stable UID, DTSTART/DTEND with the TZID of
the event's zone (and the matching VTIMEZONE), an RRULE where it recurs, LOCATION, URL and
DESCRIPTION in the resident's language.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Calendar, vRecur
from icalendar import Event as VEvent

from learncity.content.models import WEEKDAYS, Event, Programme, Venue, text_in

PRODID = "-//Learning City Assistant//learncity//EN"
UID_DOMAIN = "learncity"
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class NoScheduleError(ValueError):
    """A programme without dates or weekly times cannot go in a calendar."""

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id
        super().__init__(f"programme {record_id!r} has no dated schedule to put in a calendar")


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    return calendar


def _location(venue: Venue | None, online: bool) -> str | None:
    if venue is None:
        return "Online" if online else None
    parts = [venue.name, venue.address or "", venue.district or ""]
    return ", ".join(part for part in parts if part)


def _finish(calendar: Calendar) -> bytes:
    # VTIMEZONE components for every TZID used, so any calendar app reads local times right.
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def event_ics(
    event: Event, occurrence_start: dt.datetime | None, zone: ZoneInfo, lang: str
) -> bytes:
    """Return an .ics for one occurrence of `event`, or for the whole series when None."""
    event_zone = event.zone(zone)
    calendar = _calendar()
    item = VEvent()
    if occurrence_start is None:
        start = _local(event.start, event_zone)
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
    location = _location(event.venue, event.online)
    if location:
        item.add("location", location)
    url = event.booking_url or event.url or event.contact.url
    if url:
        item.add("url", url)
    if event.status == "cancelled":
        item.add("status", "CANCELLED")
    calendar.add_component(item)
    return _finish(calendar)


def programme_ics(programme: Programme, zone: ZoneInfo, lang: str) -> bytes:
    """Return an .ics with one recurring VEVENT per weekly slot (or the schedule's RRULE)."""
    schedule = programme.schedule
    if schedule is None or not (schedule.weekly or (schedule.rrule and schedule.start_date)):
        raise NoScheduleError(programme.id)
    calendar = _calendar()
    title = text_in(programme.title, lang)
    description = _description(text_in(programme.description, lang), programme.url)
    location = _location(programme.venue, programme.online)
    url = programme.url or programme.contact.url
    first_day = schedule.start_date or dt.datetime.now(zone).date()
    until = (
        dt.datetime.combine(schedule.end_date, dt.time(23, 59, 59), tzinfo=zone)
        if schedule.end_date
        else None
    )
    slots: list[tuple[str, dt.datetime, dt.timedelta, vRecur]] = []
    if schedule.weekly:
        for slot in schedule.weekly:
            weekday = WEEKDAYS.index(slot.day)
            date = first_day + dt.timedelta(days=(weekday - first_day.weekday()) % 7)
            start = dt.datetime.combine(date, slot.start, tzinfo=zone)
            length = (
                dt.datetime.combine(date, slot.end) - dt.datetime.combine(date, slot.start)
                if slot.end
                else dt.timedelta(hours=2)
            )
            rule = vRecur(freq="WEEKLY", byday=_ICAL_DAYS[weekday])
            if until is not None:
                rule["until"] = until.astimezone(dt.UTC)
            slots.append((f"{programme.id}-{slot.day}-{slot.start:%H%M}", start, length, rule))
    else:
        assert schedule.rrule is not None
        rule_start = dt.datetime.combine(first_day, dt.time(9, 0))
        first = rrulestr(schedule.rrule, dtstart=rule_start)[0]
        start = first.replace(tzinfo=zone)
        rule = vRecur.from_ical(schedule.rrule)
        if until is not None and "UNTIL" not in rule and "COUNT" not in rule:
            rule["until"] = until.astimezone(dt.UTC)
        slots.append((programme.id, start, dt.timedelta(hours=2), rule))
    for uid, start, length, rule in slots:
        item = VEvent()
        item.add("uid", f"{uid}@{UID_DOMAIN}")
        item.add("dtstamp", dt.datetime.now(dt.UTC))
        item.add("dtstart", start)
        item.add("dtend", (start.replace(tzinfo=None) + length).replace(tzinfo=zone))
        item.add("rrule", rule)
        item.add("summary", title)
        item.add("description", description)
        if location:
            item.add("location", location)
        if url:
            item.add("url", url)
        calendar.add_component(item)
    return _finish(calendar)


def _description(text: str, url: str | None) -> str:
    return f"{text}\n\n{url}" if url else text
