"""schema.org JSON-LD (.jsonld / .json) -> events and programmes.

Read: an object, a list, or an `@graph`; `Event` and its subtypes (`EducationEvent`...) become
events, `Course` with `hasCourseInstance` (`courseSchedule`, `startDate`/`endDate`, `location`,
`courseMode`) becomes one programme per instance; `Place`, `Offer` / `isAccessibleForFree`,
`organizer` / `provider`, `keywords` / `about` / `audience` fill the record. Nodes given only by
`{"@id": ...}` are looked up in the document. Unknown `@type`s are skipped with a note. JSON has
no line per field once parsed, so problems name the node and field: `@graph[1].startDate`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from learncity.content.errors import KnowledgeError
from learncity.content.models import DAY_NAMES, Event, Programme
from partners.errors import InvalidSource
from partners.records import (
    Collector,
    Parsed,
    fallback_uid,
    learning_type_of,
    local_time,
    record_id,
)
from partners.registry import Partner

EVENT_TYPES = frozenset(
    {
        "Event",
        "EducationEvent",
        "ChildrensEvent",
        "SocialEvent",
        "LiteraryEvent",
        "MusicEvent",
        "ExhibitionEvent",
        "Festival",
        "TheaterEvent",
        "ScreeningEvent",
        "VisualArtsEvent",
        "DanceEvent",
        "FoodEvent",
        "SportsEvent",
        "BusinessEvent",
        "Hackathon",
        "ComedyEvent",
        "CourseInstance",
    }
)
# Nodes that describe something else (a place, an organiser): read where they are referenced.
SUPPORTING_TYPES = frozenset(
    {
        "Place",
        "Organization",
        "Person",
        "Schedule",
        "Offer",
        "PostalAddress",
        "GeoCoordinates",
        "VirtualLocation",
        "WebSite",
        "WebPage",
        "Library",
        "EducationalOrganization",
        "LocalBusiness",
        "CivicStructure",
        "Audience",
    }
)
_ICAL_DAYS = {
    "mon": "MO",
    "tue": "TU",
    "wed": "WE",
    "thu": "TH",
    "fri": "FR",
    "sat": "SA",
    "sun": "SU",
}
_SHORT_DAYS = {
    "mo": "mon",
    "tu": "tue",
    "we": "wed",
    "th": "thu",
    "fr": "fri",
    "sa": "sat",
    "su": "sun",
}
# Model field -> JSON-LD property, for error messages.
_PROPERTY_OF = {
    "id": "@id",
    "title": "name",
    "description": "description",
    "start": "startDate",
    "end": "endDate",
    "venue": "location",
    "topics": "keywords",
    "audiences": "audience",
    "provider": "organizer",
    "cost": "offers",
    "url": "url",
    "rrule": "eventSchedule",
    "schedule": "hasCourseInstance",
    "languages": "inLanguage",
    "capacity": "maximumAttendeeCapacity",
}


def _types(node: dict[str, Any]) -> list[str]:
    raw = node.get("@type", [])
    values = raw if isinstance(raw, list) else [raw]
    return [re.split(r"[/:#]", str(value))[-1] for value in values if value]


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class _Document:
    """The nodes of a JSON-LD document, with @id look-up."""

    def __init__(self, data: Any) -> None:
        self.nodes: list[tuple[str, dict[str, Any]]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.skipped_other: list[tuple[str, Any]] = []
        self._collect(data, "")

    def _collect(self, data: Any, path: str) -> None:
        if isinstance(data, list):
            for number, item in enumerate(data):
                self._collect(item, f"{path}[{number}]")
        elif isinstance(data, dict):
            if "@graph" in data:
                self._collect(data["@graph"], f"{path}@graph" if not path else f"{path}.@graph")
                return
            self.nodes.append((path or "the document", data))
            self._index(data)
        else:
            self.skipped_other.append((path or "the document", data))

    def _index(self, node: Any) -> None:
        if isinstance(node, dict):
            if "@id" in node and len(node) > 1:
                self.by_id.setdefault(str(node["@id"]), node)
            for value in node.values():
                self._index(value)
        elif isinstance(node, list):
            for item in node:
                self._index(item)

    def resolve(self, value: Any) -> Any:
        """Return the node a bare {"@id": ...} reference points to (or the value itself)."""
        if isinstance(value, dict) and set(value) == {"@id"}:
            return self.by_id.get(str(value["@id"]), value)
        if isinstance(value, str) and value in self.by_id:
            return self.by_id[value]
        return value


def parse_jsonld(
    data: str, *, document: str, partner: Partner, now: dt.datetime, city: ZoneInfo
) -> Parsed:
    """Return the events and programmes of a JSON-LD text; raise InvalidSource naming fields."""
    try:
        tree = json.loads(data)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} (column {error.colno})"
        raise InvalidSource([KnowledgeError(document, error.lineno, message)]) from None
    doc = _Document(tree)
    out = Collector(document=document, partner=partner, now=now, city=city)
    referenced = {id(doc.resolve(ref)) for ref in _references(tree)}
    for path, node in doc.nodes:
        types = set(_types(node))
        if types & (EVENT_TYPES - {"CourseInstance"}):
            _JsonEvent(doc, out, path, node).build()
        elif "Course" in types:
            _course(doc, out, path, node)
        elif types & (SUPPORTING_TYPES | {"CourseInstance"}):
            if id(node) not in referenced and "CourseInstance" in types:
                out.note(None, f"{path}: a CourseInstance outside a Course is not imported")
        else:
            shown = ", ".join(sorted(types)) or "(none)"
            out.note(None, f"{path}: @type {shown} is not imported (skipped)")
    for path, value in doc.skipped_other:
        out.note(None, f"{path}: '{str(value)[:40]}' is not a schema.org object (skipped)")
    return out.finish()


def _references(tree: Any) -> list[Any]:
    found: list[Any] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if set(node) == {"@id"}:
                found.append(node)
            stack.extend(v for k, v in node.items() if k != "@graph")
            stack.extend(_list(node.get("@graph")))
        elif isinstance(node, list):
            stack.extend(node)
    return found


# ---------------------------------------------------------------- values


class _Bad(ValueError):
    """A value that cannot be read; the message names the property."""


def _text(value: Any) -> str | dict[str, str] | None:
    """Return a text, or {"it": ..., "en": ...} from language-tagged values."""
    items = _list(value)
    if not items:
        return None
    if len(items) == 1 and not isinstance(items[0], dict):
        return str(items[0]).strip() or None
    texts: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and "@value" in item:
            lang = str(item.get("@language", "it"))[:2].lower()
            if lang in ("it", "en"):
                texts.setdefault(lang, str(item["@value"]).strip())
        elif isinstance(item, str):
            texts.setdefault("it", item.strip())
    return texts or None


def _name(value: Any, doc: _Document) -> str | None:
    for item in _list(value):
        item = doc.resolve(item)
        if isinstance(item, dict) and item.get("name"):
            text = _text(item["name"])
            return text if isinstance(text, str) else (next(iter(text.values())) if text else None)
        if isinstance(item, str) and item.strip():
            return item.strip()
    return None


def _moment(node: dict[str, Any], key: str, path: str) -> dt.date | dt.datetime | None:
    raw = node.get(key)
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(
            f'{path}.{key} "{text}" is not a date (write e.g. 2027-03-14T18:00:00+01:00)'
        ) from None


def _terms(node: dict[str, Any], doc: _Document) -> list[str]:
    terms: list[str] = []
    for keyword in _list(node.get("keywords")):
        terms.extend(part for part in re.split(r"[,;]", str(keyword)) if part.strip())
    for about in _list(node.get("about")):
        name = _name(about, doc)
        if name:
            terms.append(name)
    for audience in _list(node.get("audience")):
        audience = doc.resolve(audience)
        if isinstance(audience, dict):
            terms.extend(
                str(a) for a in _list(audience.get("audienceType") or audience.get("name"))
            )
        elif isinstance(audience, str):
            terms.append(audience)
    return terms


def _venue(value: Any, doc: _Document) -> tuple[dict[str, Any] | None, bool]:
    """Return (venue, online) from a location."""
    venue: dict[str, Any] | None = None
    online = False
    for item in _list(value):
        item = doc.resolve(item)
        if isinstance(item, str):
            venue = venue or {"name": item}
            continue
        if not isinstance(item, dict):
            continue
        if "VirtualLocation" in _types(item):
            online = True
            continue
        address = doc.resolve(item.get("address"))
        if isinstance(address, dict):
            parts = [address.get("streetAddress"), address.get("addressLocality")]
            address_text = ", ".join(str(p) for p in parts if p) or None
        else:
            address_text = str(address) if address else None
        name = _name(item, doc) or address_text
        if not name:
            continue
        venue = {"name": name, "address": address_text}
        geo = doc.resolve(item.get("geo"))
        if isinstance(geo, dict) and geo.get("latitude") is not None:
            venue["lat"], venue["lon"] = geo.get("latitude"), geo.get("longitude")
    return venue, online


def _cost(node: dict[str, Any], doc: _Document) -> dict[str, Any] | None:
    if node.get("isAccessibleForFree") in (True, "true", "True"):
        return {"free": True}
    for offer in _list(node.get("offers")):
        offer = doc.resolve(offer)
        if not isinstance(offer, dict) or offer.get("price") in (None, ""):
            continue
        price = str(offer["price"]).replace(",", ".")
        try:
            amount = float(price)
        except ValueError:
            return {"amount_eur": price}  # the model says it is not a number, with the value
        return {"free": True} if amount == 0 else {"amount_eur": amount}
    return None


def _languages(node: dict[str, Any]) -> list[str] | None:
    codes = []
    for item in _list(node.get("inLanguage")):
        code = item.get("alternateName") if isinstance(item, dict) else item
        if code:
            codes.append(str(code)[:2].lower())
    return codes or None


RRULE_KEY = "learncity:rrule"  # our export's exact repeat rule, where a Schedule cannot say it


def _learning_type(node: dict[str, Any]) -> str | None:
    for value in _list(node.get("additionalType")):
        match = re.search(r"learning-type/(formal|non-formal|informal)$", str(value))
        if match:
            return match.group(1)
    return None


def _days(schedule: dict[str, Any]) -> list[str]:
    days = []
    for item in _list(schedule.get("byDay")):
        word = re.split(r"[/:#]", str(item))[-1].strip().lower()
        day = DAY_NAMES.get(word) or _SHORT_DAYS.get(word) or (word if word in _ICAL_DAYS else None)
        if day:
            days.append(day)
    return days


# ---------------------------------------------------------------- records


def _label(path: str) -> Any:
    def label(loc: Sequence[int | str]) -> tuple[str, int | None]:
        key = next((part for part in loc if isinstance(part, str)), "")
        return f"{path}.{_PROPERTY_OF.get(key, key)}", None

    return label


class _JsonEvent:
    def __init__(self, doc: _Document, out: Collector, path: str, node: dict[str, Any]) -> None:
        self.doc, self.out, self.path, self.node = doc, out, path, node

    def build(self) -> None:
        node, out, path = self.node, self.out, self.path
        try:
            start_raw = _moment(node, "startDate", path)
            end_raw = _moment(node, "endDate", path)
        except _Bad as error:
            out.problem(None, str(error))
            return
        uid = str(node.get("@id") or "").strip()
        if not uid:
            uid = fallback_uid(node.get("name"), node.get("startDate"))
            out.note(None, f"{path}: no @id: its id comes from its name and startDate")
        if start_raw is None:
            out.problem(None, f"{path}.startDate is required but missing")
            return
        start = local_time(start_raw, out.city)
        if start.floating:
            out.note(None, f"{path}.startDate has no time zone: read as city time ({out.city.key})")
        paired = start.zone or (None if start.floating else out.city.key)
        venue, online = _venue(node.get("location"), self.doc)
        mode = str(node.get("eventAttendanceMode", ""))
        record: dict[str, Any] = {
            "id": record_id(out.partner.name, uid),
            "title": _text(node.get("name")),
            "description": _text(node.get("description")),
            "start": start.value,
            "end": local_time(end_raw, out.city, paired).value if end_raw else None,
            "timezone": start.zone,
            "venue": venue,
            "online": online or "Online" in mode or None,
            "url": str(node["url"]) if node.get("url") else None,
            "provider": _name(node.get("organizer"), self.doc),
            "cost": _cost(node, self.doc),
            "languages": _languages(node),
            "capacity": node.get("maximumAttendeeCapacity"),
        }
        if "EventCancelled" in str(node.get("eventStatus", "")):
            record["status"] = "cancelled"
        record["learning_type"] = _learning_type(node)
        schedule = self.doc.resolve(node.get("eventSchedule"))
        if node.get(RRULE_KEY):
            record["rrule"] = str(node[RRULE_KEY])
        elif isinstance(schedule, dict):
            record["rrule"] = self._rrule(schedule, start.zone)
        if isinstance(schedule, dict) and schedule.get("exceptDate"):
            try:
                days = [
                    _moment({"d": d}, "d", f"{path}.eventSchedule.exceptDate")
                    for d in _list(schedule["exceptDate"])
                ]
            except _Bad as error:
                out.problem(None, str(error))
                return
            record["exdates"] = [local_time(d, out.city, paired).value for d in days if d]
        out.fill_defaults(record, _terms(node, self.doc), None)
        out.add(Event, record, None, _label(path))

    def _rrule(self, schedule: dict[str, Any], zone: str | None) -> str | None:
        days = _days(schedule)
        frequency = str(schedule.get("repeatFrequency", "P1W")).upper()
        if not days or frequency not in ("P1W", "WEEKLY", "P7D"):
            self.out.note(
                None, f"{self.path}.eventSchedule: only weekly schedules with byDay are read"
            )
            return None
        rule = f"FREQ=WEEKLY;BYDAY={','.join(_ICAL_DAYS[d] for d in days)}"
        try:
            until = _moment(schedule, "endDate", f"{self.path}.eventSchedule")
        except _Bad as error:
            self.out.problem(None, str(error))
            return None
        if until is not None:
            day = until if not isinstance(until, dt.datetime) else until.date()
            rule += f";UNTIL={day:%Y%m%d}T235959"
        return rule


def _course(doc: _Document, out: Collector, path: str, node: dict[str, Any]) -> None:
    uid = str(node.get("@id") or "").strip()
    if not uid:
        uid = fallback_uid(node.get("name"), node.get("provider"))
        out.note(None, f"{path}: no @id: its id comes from its name")
    base_id = record_id(out.partner.name, uid)
    instances = [doc.resolve(item) for item in _list(node.get("hasCourseInstance"))]
    instances = [item for item in instances if isinstance(item, dict)] or [{}]
    for number, instance in enumerate(instances, start=1):
        where = f"{path}.hasCourseInstance[{number - 1}]" if instance else path
        venue, online = _venue(instance.get("location"), doc)
        mode = " ".join(str(m).lower() for m in _list(instance.get("courseMode")))
        record: dict[str, Any] = {
            "id": base_id if len(instances) == 1 else f"{base_id[:76]}-{number}",
            "title": _text(node.get("name")),
            "description": _text(node.get("description")),
            "learning_type": learning_type_of(
                "formal" if node.get("educationalCredentialAwarded") else _learning_type(node),
                out.partner.learning_type,
            ),
            "provider": _name(node.get("provider"), doc),
            "venue": venue,
            "online": online or "online" in mode or None,
            "cost": _cost(node, doc) or _cost(instance, doc),
            "languages": _languages(node),
            "url": str(node["url"]) if node.get("url") else None,
        }
        try:
            record["schedule"] = _course_schedule(doc, instance, where)
        except _Bad as error:
            out.problem(None, str(error))
            continue
        out.fill_defaults(record, _terms(node, doc), None)
        out.add(Programme, record, None, _label(where))


def _course_schedule(doc: _Document, instance: dict[str, Any], path: str) -> dict[str, Any] | None:
    if not instance:
        return None
    schedules = [doc.resolve(s) for s in _list(instance.get("courseSchedule"))]
    schedules = [s for s in schedules if isinstance(s, dict)] or [{}]
    schedule = schedules[0]
    first = _moment(instance, "startDate", path) or _moment(
        schedule, "startDate", f"{path}.courseSchedule"
    )
    last = _moment(instance, "endDate", path) or _moment(
        schedule, "endDate", f"{path}.courseSchedule"
    )
    result: dict[str, Any] = {
        "start_date": first.date() if isinstance(first, dt.datetime) else first,
        "end_date": last.date() if isinstance(last, dt.datetime) else last,
    }
    days = _days(schedule)
    weekly = [
        {"day": day, "start": str(each["startTime"])[:5]}
        | ({"end": str(each["endTime"])[:5]} if each.get("endTime") else {})
        for each in schedules
        if each.get("startTime")
        for day in _days(each)
    ]
    if weekly:
        result["weekly"] = weekly
    elif days:
        result["rrule"] = f"FREQ=WEEKLY;BYDAY={','.join(_ICAL_DAYS[d] for d in days)}"
    return {key: value for key, value in result.items() if value is not None} or None
