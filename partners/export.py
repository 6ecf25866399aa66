"""The city's offer as an iCalendar feed (events) or schema.org JSON-LD (events and courses).

Our own extras ride in places other readers ignore (`X-LEARNCITY-*` properties, `additionalType`,
`learncity:rrule`), so an exported file imports back to the same records (ids included: UIDs
are `<id>@learncity`, @ids `urn:learncity:<id>`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Event as VEvent
from icalendar import vRecur

from learncity.content import ics
from learncity.content.loader import KnowledgeBase
from learncity.content.models import Event, LearningType, LocalizedText, Programme, Venue, text_in
from partners.jsonld import RRULE_KEY
from partners.records import export_uid

PRODID = "-//Learning City Assistant//learncity partners export//EN"
_DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_ICAL_TO_DAY = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_SIMPLE_WEEKLY = re.compile(
    r"^FREQ=WEEKLY;BYDAY=((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*)$"
)


def select(
    kb: KnowledgeBase, *, topic: str | None = None, partner: str | None = None
) -> tuple[list[Programme], list[Event]]:
    """Return the programmes and events about `topic` and/or from `partner`'s folder."""

    def keep(record: Programme | Event) -> bool:
        if topic and topic not in {t.value for t in record.topics}:
            return False
        return not partner or kb.path_of(record.id).startswith(f"partners/{partner}/")

    programmes = [p for p in kb.programmes.values() if keep(p)]
    events = [e for e in kb.events.values() if keep(e)]
    return programmes, events


def _utc_until(rule: str, zone: ZoneInfo) -> str:
    """Return the rule with a local UNTIL written in UTC, as RFC 5545 wants with a TZID start."""

    def to_utc(match: re.Match[str]) -> str:
        local = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=zone)
        return f"UNTIL={local.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"

    return re.sub(r"UNTIL=(\d{8}T\d{6})(?!Z)", to_utc, rule)


def export_ics(events: Iterable[Event], *, zone: ZoneInfo, name: str = "Learning City") -> bytes:
    """Return an iCalendar feed with one VEVENT per event (series keep their RRULE/EXDATE)."""
    calendar = ics.new_calendar(PRODID, name=name)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for event in sorted(events, key=lambda e: e.id):
        event_zone = event.zone(zone)
        item = VEvent()
        item.add("uid", export_uid(event.id))
        item.add("dtstamp", stamp)
        start = ics.in_zone(event.start, event_zone)
        item.add("dtstart", start)
        if event.end is not None:
            item.add("dtend", ics.in_zone(event.end, event_zone))
        item.add("summary", text_in(event.title, event.lang))
        item.add("description", text_in(event.description, event.lang))
        if event.rrule:
            item.add("rrule", vRecur.from_ical(_utc_until(event.rrule, event_zone)))
        if event.exdates:
            item.add("exdate", [ics.in_zone(day, event_zone) for day in event.exdates])
        location = ics.location(event.venue, event.online, address=False)
        if location:
            item.add("location", location)
        if event.venue and event.venue.lat is not None and event.venue.lon is not None:
            item.add("geo", (event.venue.lat, event.venue.lon))
        url = event.url or event.booking_url
        if url:
            item.add("url", url)
        item.add("categories", [t.value for t in event.topics])
        if event.status == "cancelled":
            item.add("status", "CANCELLED")
        item.add("x-learncity-audiences", ",".join(a.value for a in event.audiences))
        item.add("x-learncity-learning-type", event.learning_type.value)
        item.add("x-learncity-lang", event.lang)
        if event.provider:
            item.add("x-learncity-provider", event.provider)
        calendar.add_component(item)
    return ics.finish(calendar)


# ---------------------------------------------------------------- JSON-LD


def _text(value: LocalizedText | None) -> Any:
    if isinstance(value, dict):
        return [{"@value": text, "@language": lang} for lang, text in value.items()]
    return value


def _place(venue: Venue | None) -> dict[str, Any] | None:
    if venue is None:
        return None
    place: dict[str, Any] = {"@type": "Place", "name": venue.name}
    if venue.address:
        place["address"] = venue.address
    if venue.lat is not None and venue.lon is not None:
        place["geo"] = {"@type": "GeoCoordinates", "latitude": venue.lat, "longitude": venue.lon}
    return place


def _common(record: Programme | Event) -> dict[str, Any]:
    node: dict[str, Any] = {
        "name": _text(record.title),
        "description": _text(record.description),
        "keywords": ",".join(t.value for t in record.topics),
        "audience": [{"@type": "Audience", "audienceType": a.value} for a in record.audiences],
        "inLanguage": list(record.languages),
        "additionalType": f"learncity:learning-type/{record.learning_type.value}",
    }
    if record.cost.free:
        node["isAccessibleForFree"] = True
    elif record.cost.amount_eur is not None:
        node["offers"] = {"@type": "Offer", "price": record.cost.amount_eur, "priceCurrency": "EUR"}
    if record.url:
        node["url"] = record.url
    return node


def _event_node(event: Event, zone: ZoneInfo) -> dict[str, Any]:
    event_zone = event.zone(zone)
    node: dict[str, Any] = {"@type": "Event", "@id": export_uid(event.id, iri=True)}
    node |= _common(event)
    node["startDate"] = ics.in_zone(event.start, event_zone).isoformat()
    if event.end is not None:
        node["endDate"] = ics.in_zone(event.end, event_zone).isoformat()
    status = "EventCancelled" if event.status == "cancelled" else "EventScheduled"
    node["eventStatus"] = f"https://schema.org/{status}"
    if event.online:
        node["eventAttendanceMode"] = "https://schema.org/OnlineEventAttendanceMode"
    place = _place(event.venue)
    if place:
        node["location"] = place
    if event.provider:
        node["organizer"] = {"@type": "Organization", "name": event.provider}
    if event.rrule:
        node[RRULE_KEY] = event.rrule  # exact; the Schedule below is for other readers
        match = _SIMPLE_WEEKLY.match(event.rrule)
        schedule: dict[str, Any] = {"@type": "Schedule", "repeatFrequency": "P1W"}
        if match:
            schedule["byDay"] = [
                f"https://schema.org/{_ICAL_TO_DAY[d]}" for d in match.group(1).split(",")
            ]
        if event.exdates:
            schedule["exceptDate"] = [ics.in_zone(d, event_zone).isoformat() for d in event.exdates]
        node["eventSchedule"] = schedule
    if event.capacity:
        node["maximumAttendeeCapacity"] = event.capacity
    return node


def _course_node(programme: Programme) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "Course", "@id": export_uid(programme.id, iri=True)}
    node |= _common(programme)
    if programme.learning_type == LearningType.FORMAL:
        node["educationalCredentialAwarded"] = "yes"
    node["provider"] = {"@type": "Organization", "name": programme.provider}
    instance: dict[str, Any] = {"@type": "CourseInstance"}
    if programme.online:
        instance["courseMode"] = "online"
    place = _place(programme.venue)
    if place:
        instance["location"] = place
    schedule = programme.schedule
    if schedule is not None:
        if schedule.start_date:
            instance["startDate"] = schedule.start_date.isoformat()
        if schedule.end_date:
            instance["endDate"] = schedule.end_date.isoformat()
        groups: dict[tuple[str, str | None], list[str]] = {}
        for slot in schedule.weekly:
            key = (f"{slot.start:%H:%M}", f"{slot.end:%H:%M}" if slot.end else None)
            groups.setdefault(key, []).append(f"https://schema.org/{_DAY_NAMES[slot.day]}")
        schedules = []
        for (start, end), days in groups.items():
            item: dict[str, Any] = {
                "@type": "Schedule",
                "repeatFrequency": "P1W",
                "byDay": days,
                "startTime": start,
            }
            if end:
                item["endTime"] = end
            schedules.append(item)
        if schedules:
            instance["courseSchedule"] = schedules[0] if len(schedules) == 1 else schedules
    if len(instance) > 1:
        node["hasCourseInstance"] = instance
    return node


def export_jsonld(
    programmes: Iterable[Programme], events: Iterable[Event], *, zone: ZoneInfo
) -> str:
    """Return a JSON-LD document: an @graph of Course and Event nodes."""
    graph = [_course_node(p) for p in sorted(programmes, key=lambda p: p.id)]
    graph += [_event_node(e, zone) for e in sorted(events, key=lambda e: e.id)]
    return (
        json.dumps(
            {"@context": "https://schema.org", "@graph": graph}, ensure_ascii=False, indent=2
        )
        + "\n"
    )
