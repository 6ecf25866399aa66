"""The knowledge folder's records as pydantic models: programmes, events, contacts.

Staff write these files; the models are the single definition of what a valid file holds.
`knowledge/README.md` documents the same fields and allowed values in plain words.

The vocabulary (`vocabulary`), texts (`texts`), repeat rules (`rules`), schedules (`schedule`)
and guide front matter (`guide_meta`) live in their own modules; their public names are
importable from here too, where callers have always imported them.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from pydantic import Field, ValidationInfo, field_validator, model_validator

from learncity.content.guide_meta import GuideMeta
from learncity.content.rules import (
    CITY_ZONE,
    ICAL_DAYS,
    MAX_OCCURRENCES,
    MAX_OCCURRENCES_IN_TWO_YEARS,
    RULE_ANCHOR,
    check_city_time,
    check_rrule,
    wall_time,
)
from learncity.content.schedule import Schedule, WeeklySlot
from learncity.content.strict import Strict
from learncity.content.texts import (
    LANGUAGE_CODE,
    LANGUAGES,
    TEXT_FALLBACKS,
    Lang,
    LanguageCode,
    LocalizedText,
    all_texts,
    text_in,
    text_language,
)
from learncity.content.vocabulary import (
    DAY_NAMES,
    WEEKDAYS,
    Audience,
    ContactKind,
    EventStatus,
    LearningType,
    RecordId,
    Skill,
    Topic,
    Weekday,
)

__all__ = [
    "CITY_ZONE",
    "DAY_NAMES",
    "ICAL_DAYS",
    "LANGUAGES",
    "LANGUAGE_CODE",
    "MAX_OCCURRENCES",
    "MAX_OCCURRENCES_IN_TWO_YEARS",
    "RULE_ANCHOR",
    "TEXT_FALLBACKS",
    "WEEKDAYS",
    "Audience",
    "Contact",
    "ContactKind",
    "ContactPoint",
    "ContactsFile",
    "Cost",
    "Event",
    "EventStatus",
    "GuideMeta",
    "Lang",
    "LanguageCode",
    "LearningType",
    "LocalizedText",
    "Programme",
    "RecordId",
    "Schedule",
    "Skill",
    "Strict",
    "Topic",
    "Venue",
    "Weekday",
    "WeeklySlot",
    "all_texts",
    "check_city_time",
    "text_in",
    "text_language",
    "wall_time",
]


class Venue(Strict):
    """Where something happens."""

    name: str
    address: str | None = None
    district: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self) -> Venue:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("venue needs both lat and lon, or neither")
        return self


class ContactPoint(Strict):
    """How to reach a provider."""

    phone: str | None = None
    email: str | None = None
    url: str | None = None


class Cost(Strict):
    """Free, or an amount in euro, with an optional note (reductions, materials)."""

    free: bool = False
    amount_eur: float | None = Field(default=None, ge=0)
    notes: LocalizedText | None = None

    @model_validator(mode="after")
    def _free_or_amount(self) -> Cost:
        if self.free and self.amount_eur:
            raise ValueError("cost cannot be free and have an amount")
        return self


class Programme(Strict):
    """A course, workshop, service or programme (formal, non-formal or informal learning)."""

    id: RecordId
    title: LocalizedText
    description: LocalizedText
    learning_type: LearningType
    topics: list[Topic] = Field(min_length=1)
    audiences: list[Audience] = Field(min_length=1)
    provider: str
    venue: Venue | None = None
    online: bool = False
    schedule: Schedule | None = None
    cost: Cost = Field(default_factory=lambda: Cost())
    languages: list[str] = Field(default_factory=lambda: ["it"])  # of instruction, ISO 639-1
    accessibility: LocalizedText | None = None
    enrolment: LocalizedText | None = None
    contact: ContactPoint = Field(default_factory=ContactPoint)
    skills: list[Skill] = Field(default_factory=list)
    age_min: int | None = Field(default=None, ge=0, le=120)
    age_max: int | None = Field(default=None, ge=0, le=120)
    lang: Lang = "it"  # the language the record is written in
    url: str | None = None

    @model_validator(mode="after")
    def _ages_in_order(self) -> Programme:
        if self.age_min is not None and self.age_max is not None and self.age_max < self.age_min:
            raise ValueError(f"age_max {self.age_max} is below age_min {self.age_min}")
        return self


class Event(Strict):
    """A dated event, one-off or recurring (RRULE), in a time zone (default: the city's)."""

    id: RecordId
    title: LocalizedText
    description: LocalizedText
    learning_type: LearningType = LearningType.INFORMAL
    topics: list[Topic] = Field(min_length=1)
    audiences: list[Audience] = Field(min_length=1)
    provider: str | None = None
    venue: Venue | None = None
    online: bool = False
    timezone: str | None = None  # before start: the start's checks read it
    start: dt.datetime  # local time of the (first) occurrence; an explicit offset is also accepted
    end: dt.datetime | None = None
    rrule: str | None = None  # e.g. "FREQ=WEEKLY;BYDAY=SA"
    exdates: list[dt.datetime] = Field(default_factory=list)  # local starts the rule skips
    booking_url: str | None = None
    capacity: int | None = Field(default=None, ge=1)
    cost: Cost = Field(default_factory=lambda: Cost())
    languages: list[str] = Field(default_factory=lambda: ["it"])
    accessibility: LocalizedText | None = None
    contact: ContactPoint = Field(default_factory=ContactPoint)
    skills: list[Skill] = Field(default_factory=list)
    programme_id: RecordId | None = None
    status: EventStatus = EventStatus.SCHEDULED
    lang: Lang = "it"
    url: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_and_clock(cls, value: object) -> object:
        # Staff write "2026-03-14 9:00" or "2026-03-14 18.30"; the parser wants two-digit hours.
        if isinstance(value, str):
            if re.search(r"\d[zZ]\s*$", value):
                raise ValueError(
                    f"'{value.strip()}' ends in Z, which means UTC (one or two hours off "
                    "Catania time): write the time as it is in the city, without the Z"
                )
            match = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2})[:.](\d{2})(.*)", value)
            if match:
                day, hour, minute, rest = match.groups()
                return f"{day} {int(hour):02d}:{minute}{rest.strip()}"
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone '{value}' (write e.g. Europe/Rome)") from error
        return value

    @field_validator("rrule")
    @classmethod
    def _bounded_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("start")
        return check_rrule(value, start if isinstance(start, dt.datetime) else None)

    @field_validator("start", "end")
    @classmethod
    def _exists_in_city_time(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        zone_name = info.data.get("timezone")
        check_city_time(
            value, str(info.field_name), ZoneInfo(zone_name) if zone_name else CITY_ZONE
        )
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> Event:
        naive_start = self.start.replace(tzinfo=None)
        if self.end is not None and self.end.replace(tzinfo=None) <= naive_start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    def zone(self, city_zone: ZoneInfo) -> ZoneInfo:
        """Return the event's own time zone, else the city's."""
        return ZoneInfo(self.timezone) if self.timezone else city_zone

    def duration(self) -> dt.timedelta:
        """Return how long one occurrence lasts (two hours when no end is given)."""
        if self.end is None:
            return dt.timedelta(hours=2)
        return self.end.replace(tzinfo=None) - self.start.replace(tzinfo=None)

    def occurrences(
        self, after: dt.datetime, before: dt.datetime, city_zone: ZoneInfo
    ) -> list[dt.datetime]:
        """Return the aware start times in [after, before), expanding the RRULE in local time."""
        zone = self.zone(city_zone)
        first = self.start if self.start.tzinfo else self.start.replace(tzinfo=zone)
        first_local = first.astimezone(zone).replace(tzinfo=None)
        if not self.rrule:
            return [first] if after <= first < before else []
        rule = rrulestr(self.rrule, dtstart=first_local)
        lo = after.astimezone(zone).replace(tzinfo=None)
        hi = before.astimezone(zone).replace(tzinfo=None)
        skipped = {
            d.astimezone(zone).replace(tzinfo=None) if d.tzinfo else d for d in self.exdates
        }  # dates a repeating event skips (holidays), in the same local time
        found: list[dt.datetime] = []
        # Lazily, from the first start after `lo`, stopping at `hi` (and at a hard cap): the
        # rule was checked at validation, this only bounds a window asked for by mistake.
        for start in rule.xafter(lo - dt.timedelta(hours=3), inc=True):
            if start >= hi + dt.timedelta(hours=3) or len(found) >= MAX_OCCURRENCES:
                break
            if start in skipped:
                continue
            aware = start.replace(tzinfo=zone)  # wall-clock time stays right across DST
            if after <= aware < before:
                found.append(aware)
        return found

    def next_occurrence(self, now: dt.datetime, city_zone: ZoneInfo) -> dt.datetime | None:
        """Return the first start at or after `now`, within two years."""
        found = self.occurrences(now, now + dt.timedelta(days=731), city_zone)
        return found[0] if found else None


class Contact(Strict):
    """A human contact or helpline (contacts.yaml)."""

    id: RecordId
    name: LocalizedText
    kind: ContactKind
    description: LocalizedText | None = None
    phone: str | None = None
    email: str | None = None
    url: str | None = None
    hours: LocalizedText | None = None
    topics: list[Topic] = Field(default_factory=list)
    safeguarding: bool = False  # shown at once to messages that signal danger or distress


class ContactsFile(Strict):
    """The whole contacts.yaml."""

    contacts: list[Contact] = Field(min_length=1)
