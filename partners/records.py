"""What every source format shares: record ids, topic words, local times, the parsed result.

Parsers (ical, jsonld, tabular) turn a source into plain record dicts, then `Collector` builds
the project's own pydantic models from them, so a partner's listing is held to exactly the rules
of a staff-written file. Problems are `KnowledgeError`s (document, line, words); notes are too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from learncity.content.errors import KnowledgeError
from learncity.content.models import Audience, Event, LearningType, Programme, Topic
from learncity.content.problems import describe_error
from partners.errors import InvalidSource
from partners.registry import Partner

EXPORT_UID_DOMAIN = "learncity"  # our own export's UIDs: `<id>@learncity`
MAX_ID = 80

# Words partners put in CATEGORIES / keywords that mean one of our topics or audiences.
_SYNONYMS: dict[str, str] = {
    "lettura": "reading",
    "libri": "reading",
    "books": "reading",
    "musica": "music",
    "arte": "arts-culture",
    "cultura": "arts-culture",
    "art": "arts-culture",
    "culture": "arts-culture",
    "teatro": "arts-culture",
    "theatre": "arts-culture",
    "digitale": "digital-skills",
    "informatica": "digital-skills",
    "computer": "digital-skills",
    "lingue": "foreign-languages",
    "languages": "foreign-languages",
    "inglese": "foreign-languages",
    "italiano": "italian-language",
    "italian": "italian-language",
    "scienza": "science-technology",
    "science": "science-technology",
    "ambiente": "environment",
    "orto": "gardening",
    "volontariato": "volunteering",
    "cucina": "cooking",
    "storia": "history-heritage",
    "history": "history-heritage",
    "lavoro": "work-skills",
    "jobs": "work-skills",
    "salute": "health-wellbeing",
    "health": "health-wellbeing",
    "cittadinanza": "citizenship",
    "anziani": "seniors",
    "over-60": "seniors",
    "bambini": "children",
    "kids": "children",
    "famiglie": "families",
    "ragazzi": "teens",
    "giovani": "young-adults",
    "adulti": "adults",
    "genitori": "parents",
    "stranieri": "migrants",
    "migranti": "migrants",
    "donne": "women",
    "studenti": "students",
    "insegnanti": "teachers",
    "tutti": "everyone",
    "all": "everyone",
}
_TOPICS = {topic.value for topic in Topic}
_AUDIENCES = {audience.value for audience in Audience}


@dataclass
class Parsed:
    """A validated source: its records, their lines, and notes for the person importing."""

    programmes: list[Programme] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: list[KnowledgeError] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """Return every record id, programmes first."""
        return [p.id for p in self.programmes] + [e.id for e in self.events]


def export_uid(record_id: str, *, iri: bool = False) -> str:
    """Return the UID (or JSON-LD @id) our export gives a record; the importer reads it back."""
    return f"urn:{EXPORT_UID_DOMAIN}:{record_id}" if iri else f"{record_id}@{EXPORT_UID_DOMAIN}"


def record_id(partner: str, raw: str) -> str:
    """Return the stable record id of a source's UID or @id, prefixed by the partner.

    Our own export's UIDs (`<id>@learncity`) give back the id itself, so an exported file
    re-imports to the same records.
    """
    text = raw.strip().lower()
    ours = text.endswith(f"@{EXPORT_UID_DOMAIN}") or text.startswith(f"urn:{EXPORT_UID_DOMAIN}:")
    text = text.removeprefix(f"urn:{EXPORT_UID_DOMAIN}:")
    if "@" in text and "://" not in text:  # local@domain: the domain is the same in a feed
        text = text.rsplit("@", 1)[0] or text
    text = re.sub(r"^[a-z][a-z0-9+.-]*://(www\.)?", "", text)  # URLs: the scheme says nothing
    slug = re.sub(r"[^a-z0-9._-]+", "-", text).strip("-._")
    if not (ours and slug.startswith(f"{partner}-")):
        slug = f"{partner}-{slug}" if slug else partner
    if len(slug) > MAX_ID:  # keep it unique: a hash of the whole UID ends the shortened id
        digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:10]
        slug = f"{slug[: MAX_ID - 11].rstrip('-._')}-{digest}"
    return slug


def fallback_uid(*parts: object) -> str:
    """Return a stable stand-in for a missing UID, from the record's title and start."""
    return hashlib.sha1("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:16]


def classify_terms(terms: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Return (topics, audiences, unknown words) named by categories or keywords."""
    topics: list[str] = []
    audiences: list[str] = []
    unknown: list[str] = []
    for term in terms:
        word = re.sub(r"[\s_]+", "-", term.strip().lower())
        if not word:
            continue
        word = _SYNONYMS.get(word, word)
        if word in _TOPICS:
            if word not in topics:
                topics.append(word)
        elif word in _AUDIENCES:
            if word not in audiences:
                audiences.append(word)
        else:
            unknown.append(term.strip())
    return topics, audiences, unknown


@dataclass(frozen=True)
class LocalTime:
    """A start or end as the folder writes it: wall-clock time and, if not the city's, a zone."""

    value: dt.datetime  # naive, local to `zone` (or to the city)
    zone: str | None
    floating: bool = False  # the source gave no time zone: read as city time
    all_day: bool = False


def local_time(value: dt.date | dt.datetime, city: ZoneInfo, zone: str | None = None) -> LocalTime:
    """Return `value` as the folder's local time; `zone` forces the zone of a paired start."""
    if not isinstance(value, dt.datetime):
        return LocalTime(dt.datetime.combine(value, dt.time()), zone, all_day=True)
    if value.tzinfo is None:
        return LocalTime(value, zone, floating=zone is None)
    target = zone or getattr(value.tzinfo, "key", None)
    if target is None or target in ("UTC", "Etc/UTC"):
        target = city.key
    local = value.astimezone(ZoneInfo(target)).replace(tzinfo=None)
    return LocalTime(local, None if target == city.key else target)


def local_rrule(rule: str, zone: ZoneInfo) -> str:
    """Return an RRULE whose UNTIL is local wall time (the folder's rules have naive starts)."""

    def to_local(match: re.Match[str]) -> str:
        stamp = match.group(1)
        moment = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        return f"UNTIL={moment.astimezone(zone):%Y%m%dT%H%M%S}"

    return re.sub(r"UNTIL=(\d{8}T\d{6}Z)", to_local, rule)


class Collector:
    """Build the project's models from record dicts; gather problems and notes, then finish."""

    def __init__(self, *, document: str, partner: Partner, now: dt.datetime, city: ZoneInfo):
        self.document = document
        self.partner = partner
        self.now = now
        self.city = city
        self.problems: list[KnowledgeError] = []
        self.result = Parsed()

    def problem(self, line: int | None, message: str) -> None:
        """Record a problem: the source will be refused."""
        self.problems.append(KnowledgeError(self.document, line, message))

    def note(self, line: int | None, message: str) -> None:
        """Record something the person importing should know (the import goes on)."""
        self.result.notes.append(KnowledgeError(self.document, line, message))

    def fill_defaults(self, record: dict[str, Any], terms: Sequence[str], line: int | None) -> None:
        """Set topics, audiences, provider and language from the terms and the partner."""
        topics, audiences, unknown = classify_terms(terms)
        if unknown:
            self.note(line, f"'{record.get('id')}': categories not used: {', '.join(unknown)}")
        defaults = {
            "topics": topics or [t.value for t in self.partner.topics] or None,
            "audiences": audiences or [a.value for a in self.partner.audiences],
            "provider": self.partner.title,
            "lang": self.partner.lang,
        }
        for key, value in defaults.items():
            if record.get(key) is None:
                record[key] = value
        if not record.get("description"):
            record["description"] = record.get("title")

    def add(
        self,
        model: type[Programme] | type[Event],
        record: dict[str, Any],
        line: int | None,
        label: Callable[[Sequence[int | str]], tuple[str, int | None]] | None = None,
    ) -> None:
        """Validate one record; `label(loc)` gives the source field and line of an error."""
        clean = {key: value for key, value in record.items() if value is not None}
        if clean.get("topics") is None and "topics" in record:
            self.problem(
                line,
                f"'{clean.get('id')}': no category names a topic (allowed: "
                f"{', '.join(sorted(_TOPICS))}); add one, or set 'topics' for partner "
                f"'{self.partner.name}' in partners.yaml",
            )
            return
        try:
            built = model.model_validate(clean)
        except ValidationError as error:
            for problem in error.errors(include_url=False):
                subject, where = label(problem["loc"]) if label else (_field(problem["loc"]), None)
                self.problem(where or line, describe_error(problem, subject, model))
            return
        if built.id in self.result.lines:
            self.problem(
                line,
                f"id '{built.id}' comes twice in this source (first on line "
                f"{self.result.lines[built.id]}): each UID / @id must be used once",
            )
            return
        if self._past(built):
            self.note(line, f"'{built.id}' is in the past: not imported")
            return
        if isinstance(built, Programme):
            self.result.programmes.append(built)
        else:
            self.result.events.append(built)
        self.result.lines[built.id] = line or 0

    def _past(self, record: Programme | Event) -> bool:
        if isinstance(record, Event):
            since = self.now - record.duration()  # an event on now still counts
            return record.next_occurrence(since, self.city) is None
        schedule = record.schedule
        return bool(schedule and schedule.end_date and schedule.end_date < self.now.date())

    def finish(self) -> Parsed:
        """Return the records; raise InvalidSource when any problem was found."""
        if self.problems:
            raise InvalidSource(self.problems)
        if not self.result.ids and not self.result.notes:
            self.note(None, "the source holds no events or courses")
        return self.result


def _field(loc: Sequence[int | str]) -> str:
    keys = [str(part) for part in loc if isinstance(part, str)]
    return f"field '{'.'.join(keys)}'" if keys else "the record"


def learning_type_of(value: str | None, default: LearningType) -> str:
    """Return a learning type written by a partner, or the default."""
    return value if value in {t.value for t in LearningType} else default.value
