"""iCalendar (.ics) -> events, parsed with the `icalendar` library.

Read: VEVENT with UID, SUMMARY, DESCRIPTION, DTSTART/DTEND or DURATION (TZID, UTC, floating or
all-day), RRULE, EXDATE, LOCATION, GEO, URL, CATEGORIES, ORGANIZER, STATUS:CANCELLED, and the
X-LEARNCITY-* properties our own export adds (audiences, learning type, language). icalendar
gives no line numbers, so a small scanner maps each VEVENT's properties to their lines first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar.cal import Component

from learncity.content.errors import KnowledgeError
from learncity.content.models import Event
from partners.errors import InvalidSource
from partners.records import (
    Collector,
    Parsed,
    fallback_uid,
    local_rrule,
    local_time,
    record_id,
)
from partners.registry import Partner

_CONTENT_LINE = re.compile(
    r'^[A-Za-z0-9-]+(?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*:'
)
_DATE_PROPS = frozenset({"DTSTART", "DTEND", "EXDATE", "RDATE", "RECURRENCE-ID", "DUE"})
# Where a model field comes from in a VEVENT (for error messages).
_PROPERTY_OF = {
    "id": "UID",
    "title": "SUMMARY",
    "description": "DESCRIPTION",
    "start": "DTSTART",
    "end": "DTEND",
    "rrule": "RRULE",
    "exdates": "EXDATE",
    "venue": "LOCATION",
    "url": "URL",
    "topics": "CATEGORIES",
    "audiences": "CATEGORIES",
    "status": "STATUS",
    "learning_type": "X-LEARNCITY-LEARNING-TYPE",
    "lang": "X-LEARNCITY-LANG",
}


@dataclass
class _Block:
    """One VEVENT in the text: the line of BEGIN and of each property (first occurrence)."""

    begin: int
    lines: dict[str, int] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


def _scan(document: str, text: str) -> list[_Block]:
    """Return the VEVENT blocks; raise InvalidSource for lines that are not iCalendar."""
    logical: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line[:1] in (" ", "\t") and logical:
            start, previous = logical[-1]
            logical[-1] = (start, previous + line[1:])
        elif line.strip():
            logical.append((number, line))
    problems: list[KnowledgeError] = []
    if not logical or logical[0][1].strip().upper() != "BEGIN:VCALENDAR":
        first = logical[0][0] if logical else None
        raise InvalidSource(
            [
                KnowledgeError(
                    document, first, "not an iCalendar file: it must start with BEGIN:VCALENDAR"
                )
            ]
        )
    blocks: list[_Block] = []
    stack: list[tuple[str, int]] = []
    for number, line in logical:
        if not _CONTENT_LINE.match(line):
            problems.append(
                KnowledgeError(
                    document, number, f"'{line[:40]}' is not an iCalendar 'NAME:value' line"
                )
            )
            continue
        name = re.split(r"[;:]", line, maxsplit=1)[0].upper()
        value = line.split(":", 1)[1] if ":" in line else ""
        if name == "BEGIN":
            stack.append((value.strip().upper(), number))
            if value.strip().upper() == "VEVENT":
                blocks.append(_Block(begin=number))
        elif name == "END":
            if not stack or stack[-1][0] != value.strip().upper():
                opened = (
                    f" (BEGIN:{stack[-1][0]} is open since line {stack[-1][1]})" if stack else ""
                )
                problems.append(
                    KnowledgeError(
                        document, number, f"END:{value.strip()} without its BEGIN{opened}"
                    )
                )
                continue
            stack.pop()
        elif stack and stack[-1][0] == "VEVENT":
            blocks[-1].lines.setdefault(name, number)
            blocks[-1].raw.setdefault(name, _raw_value(line))
    for kind, number in stack:
        problems.append(
            KnowledgeError(document, number, f"BEGIN:{kind} is never closed with END:{kind}")
        )
    if problems:
        raise InvalidSource(problems)
    return blocks


def _raw_value(line: str) -> str:
    # The value starts after the first ':' outside quotes (parameters may quote ':').
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            return line[index + 1 :]
    return ""


def _texts(value: Any) -> list[str]:
    """Return the words of one or many CATEGORIES properties."""
    items = value if isinstance(value, list) else [value]
    words: list[str] = []
    for item in items:
        cats = getattr(item, "cats", None)
        words.extend(str(cat) for cat in (cats if cats is not None else [item]))
    return words


def _dates(value: Any) -> list[dt.date | dt.datetime]:
    items = value if isinstance(value, list) else [value]
    return [entry.dt for item in items for entry in getattr(item, "dts", [])]


def parse_ics(
    data: str, *, document: str, partner: Partner, now: dt.datetime, city: ZoneInfo
) -> Parsed:
    """Return the events of an iCalendar text; raise InvalidSource naming lines and properties."""
    blocks = _scan(document, data)
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as error:
        raise InvalidSource(
            [KnowledgeError(document, None, f"the calendar cannot be read: {error}")]
        ) from None
    components = list(calendar.walk("VEVENT"))
    collector = Collector(document=document, partner=partner, now=now, city=city)
    if len(components) != len(blocks):  # should not happen: lines are then unknown
        blocks = [_Block(begin=0) for _ in components]
    for component, block in zip(components, blocks, strict=True):
        _one_event(component, block, collector)
    return collector.finish()


def _one_event(component: Component, block: _Block, out: Collector) -> None:
    begin = block.begin or None

    def line(prop: str) -> int | None:
        return block.lines.get(prop, begin)

    broken = False
    for prop, message in getattr(component, "errors", []):
        prop = str(prop).upper()
        raw = block.raw.get(prop, "")
        if prop in _DATE_PROPS:
            out.problem(line(prop), f'{prop} "{raw}" is not a date (write e.g. 20261014T180000)')
        else:
            out.problem(line(prop), f'{prop} "{raw}" cannot be read: {message}')
        broken = True
    if broken:
        return
    if "RECURRENCE-ID" in component:
        out.note(begin, "a changed single date of a series (RECURRENCE-ID) is not imported")
        return
    uid = str(component.get("UID") or "").strip()
    if not uid:
        uid = fallback_uid(component.get("SUMMARY"), block.raw.get("DTSTART"))
        out.note(begin, "VEVENT without UID: its id comes from its title and start")
    if "DTSTART" not in component:
        out.problem(begin, f"VEVENT '{uid}' has no DTSTART")
        return
    start = local_time(component.decoded("DTSTART"), out.city)
    if start.floating:
        out.note(
            line("DTSTART"),
            f"'{uid}': DTSTART has no time zone: read as city time ({out.city.key})",
        )
    zone = ZoneInfo(start.zone) if start.zone else out.city
    paired = start.zone or (None if start.floating else out.city.key)
    end = None
    if "DTEND" in component:
        end = local_time(component.decoded("DTEND"), out.city, paired).value
    elif "DURATION" in component:
        end = start.value + component.decoded("DURATION")
    record: dict[str, Any] = {
        "id": record_id(out.partner.name, uid),
        "title": str(component.get("SUMMARY") or "").strip() or None,
        "description": str(component.get("DESCRIPTION") or "").strip() or None,
        "start": start.value,
        "end": end,
        "timezone": start.zone,
        "url": str(component.get("URL")) if component.get("URL") else None,
        "provider": _organizer(component) or _x(component, "X-LEARNCITY-PROVIDER"),
        "learning_type": _x(component, "X-LEARNCITY-LEARNING-TYPE"),
        "lang": _x(component, "X-LEARNCITY-LANG"),
    }
    if record["title"] is None:
        out.problem(
            line("SUMMARY") if "SUMMARY" in block.lines else begin,
            f"'{uid}': SUMMARY (the title) is missing",
        )
        return
    rule = component.get("RRULE")
    if rule is not None:
        rules = rule if isinstance(rule, list) else [rule]
        if len(rules) > 1:
            out.note(line("RRULE"), f"'{uid}': only the first of {len(rules)} RRULEs is used")
        record["rrule"] = local_rrule(rules[0].to_ical().decode(), zone)
    if "EXDATE" in component:
        record["exdates"] = [
            local_time(day, out.city, paired).value for day in _dates(component["EXDATE"])
        ]
    if str(component.get("STATUS") or "").upper() == "CANCELLED":
        record["status"] = "cancelled"
    location = str(component.get("LOCATION") or "").strip()
    if location:
        venue: dict[str, Any] = {"name": location}
        if "GEO" in component:
            geo = component.decoded("GEO")
            venue["lat"], venue["lon"] = geo[0], geo[1]
        record["venue"] = venue
    if location.lower() in ("online", "on-line", "zoom"):
        record["online"] = True
    audiences = _x(component, "X-LEARNCITY-AUDIENCES")
    terms = _texts(component["CATEGORIES"]) if "CATEGORIES" in component else []
    if audiences:
        record["audiences"] = audiences.split(",")
    out.fill_defaults(record, terms, begin)

    def label(loc: Sequence[int | str]) -> tuple[str, int | None]:
        key = next((part for part in loc if isinstance(part, str)), "")
        prop = _PROPERTY_OF.get(key)
        if prop is None:
            return "the VEVENT", begin
        return prop, line(prop)

    out.add(Event, record, begin, label)


def _organizer(component: Component) -> str | None:
    organizer = component.get("ORGANIZER")
    if organizer is None:
        return None
    name = getattr(organizer, "params", {}).get("CN")
    return str(name).strip() if name else None


def _x(component: Component, name: str) -> str | None:
    value = component.get(name)
    return str(value).strip() if value else None
