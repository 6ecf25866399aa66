"""The knowledge folder's records as pydantic models: programmes, events, contacts, guide metadata.

Staff write these files; the models are the single definition of what a valid file holds.
`knowledge/README.md` documents the same fields and allowed values in plain words.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

Lang = Literal["it", "en"]  # the languages a record is mainly written in (and indexed in)
LANGUAGES: tuple[Lang, ...] = ("it", "en")
# Any language a text may be translated into: an ISO 639 code, "fr", "ar", "uk", "ckb".
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
LanguageCode = Annotated[str, StringConstraints(pattern=LANGUAGE_CODE.pattern)]
TEXT_FALLBACKS = ("en", "it")  # after the resident's language, in order

RecordId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


def _localized(value: object) -> object:
    # One plain-words error instead of pydantic's two (one per union branch) that staff cannot read.
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        if not value:
            raise ValueError("needs a text (in Italian 'it:', English 'en:' or another language)")
        texts: dict[str, str] = {}
        for key, text in value.items():
            key = str(key).strip().lower()
            if not LANGUAGE_CODE.match(key):
                raise ValueError(
                    f"'{key}' is not a language code; write two letters such as it, en, fr, ar, uk"
                )
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                raise ValueError(f"the '{key}' version should be a text")
            texts[key] = str(text)
        return texts
    raise ValueError("should be a text, or lines such as 'it:' and 'en:' each with a text")


# A text in one language ("Corso di italiano") or in several ({"it": "...", "en": "..."}).
LocalizedText = Annotated[str | dict[str, str], BeforeValidator(_localized)]


def _split_list(value: object) -> object:
    # Staff often write one value ("audiences: adults") or a comma list where YAML expects a list.
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;]", value) if part.strip()]
    return value


def _pick(value: dict[str, str], lang: str, fallback: str) -> str | None:
    for code in (lang, *TEXT_FALLBACKS, fallback):
        if value.get(code):
            return code
    return next((code for code, text in value.items() if text), None)


def text_in(value: LocalizedText | None, lang: str, fallback: str = "it") -> str:
    """Return the text of `value` in `lang`, else English, else Italian, else any language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    code = _pick(value, lang, fallback)
    return value[code] if code is not None else ""


def text_language(value: LocalizedText | None, lang: str, written_in: str = "it") -> str:
    """Return the language `text_in(value, lang)` is in (`written_in` for a one-language text).

    Callers compare it with `lang` to say so when they fall back ("described in Italian:").
    """
    if isinstance(value, dict):
        return _pick(value, lang, written_in) or written_in
    return written_in


def all_texts(value: LocalizedText | None) -> list[str]:
    """Return every language version of `value` (for indexing)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [text for text in value.values() if text]


class LearningType(StrEnum):
    """Formal (schools, CPIA), non-formal (courses, workshops), informal (events, libraries)."""

    FORMAL = "formal"
    NON_FORMAL = "non-formal"
    INFORMAL = "informal"


class Audience(StrEnum):
    """Who a programme or event is for."""

    EVERYONE = "everyone"
    CHILDREN = "children"
    TEENS = "teens"
    YOUNG_ADULTS = "young-adults"
    FAMILIES = "families"
    PARENTS = "parents"
    ADULTS = "adults"
    SENIORS = "seniors"
    MIGRANTS = "migrants"
    JOB_SEEKERS = "job-seekers"
    PEOPLE_WITH_DISABILITIES = "people-with-disabilities"
    STUDENTS = "students"
    TEACHERS = "teachers"
    WOMEN = "women"


class Topic(StrEnum):
    """What a programme or event is about (used for browsing and filters)."""

    ITALIAN_LANGUAGE = "italian-language"
    FOREIGN_LANGUAGES = "foreign-languages"
    DIGITAL_SKILLS = "digital-skills"
    LITERACY = "literacy"
    SCHOOL_SUPPORT = "school-support"
    ADULT_EDUCATION = "adult-education"
    UNIVERSITY = "university"
    WORK_SKILLS = "work-skills"
    ENTREPRENEURSHIP = "entrepreneurship"
    ARTS_CULTURE = "arts-culture"
    MUSIC = "music"
    READING = "reading"
    SCIENCE_TECHNOLOGY = "science-technology"
    MAKING = "making"
    ENVIRONMENT = "environment"
    GARDENING = "gardening"
    HEALTH_WELLBEING = "health-wellbeing"
    SPORT = "sport"
    CITIZENSHIP = "citizenship"
    VOLUNTEERING = "volunteering"
    PARENTING = "parenting"
    EARLY_CHILDHOOD = "early-childhood"
    HISTORY_HERITAGE = "history-heritage"
    COOKING = "cooking"
    FINANCE = "finance"
    SOFT_SKILLS = "soft-skills"


class Skill(StrEnum):
    """Competence codes a programme develops: LifeComp areas and DigComp areas."""

    SELF_REGULATION = "self-regulation"
    FLEXIBILITY = "flexibility"
    WELLBEING = "wellbeing"
    EMPATHY = "empathy"
    COMMUNICATION = "communication"
    COLLABORATION = "collaboration"
    GROWTH_MINDSET = "growth-mindset"
    CRITICAL_THINKING = "critical-thinking"
    MANAGING_LEARNING = "managing-learning"
    DIGITAL_INFORMATION = "digital-information"
    DIGITAL_COMMUNICATION = "digital-communication"
    DIGITAL_CONTENT = "digital-content"
    DIGITAL_SAFETY = "digital-safety"
    DIGITAL_PROBLEM_SOLVING = "digital-problem-solving"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Day names staff may write instead of the codes, in English and Italian.
DAY_NAMES: dict[str, Weekday] = {
    name: code
    for code, names in zip(
        WEEKDAYS,
        (
            ("monday", "lun", "lunedì", "lunedi"),
            ("tuesday", "mar", "martedì", "martedi"),
            ("wednesday", "mer", "mercoledì", "mercoledi"),
            ("thursday", "gio", "giovedì", "giovedi"),
            ("friday", "ven", "venerdì", "venerdi"),
            ("saturday", "sab", "sabato"),
            ("sunday", "dom", "domenica"),
        ),
        strict=True,
    )
    for name in names
}


class Strict(BaseModel):
    """Base for records: unknown fields are an error, so a typo is reported instead of ignored."""

    # Numbers become text where text is expected (a phone number, an id such as 2026).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)

    @field_validator(
        "topics", "audiences", "audience", "languages", "skills", mode="before", check_fields=False
    )
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return _split_list(value)


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


class WeeklySlot(Strict):
    """A weekly meeting: day and local start/end time."""

    day: Weekday
    start: dt.time
    end: dt.time | None = None

    @field_validator("day", mode="before")
    @classmethod
    def _day_name(cls, value: object) -> object:
        if isinstance(value, str):
            return DAY_NAMES.get(value.strip().lower(), value.strip().lower())
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        # Staff write 9:00 or 18.30; the time parser wants 09:00 and 18:30.
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})\s*", value)
            if match:
                return f"{int(match.group(1)):02d}:{match.group(2)}"
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> WeeklySlot:
        if self.end is not None and self.end <= self.start:
            raise ValueError(
                f"end time {self.end:%H:%M} must be after start time {self.start:%H:%M}"
            )
        return self


MAX_OCCURRENCES_IN_TWO_YEARS = 1000
"""More starts than this in two years is a mistake (every hour, every minute), not a city event."""

CITY_ZONE = ZoneInfo("Europe/Rome")
"""The zone staff write times in (knowledge/README.md); an event's `timezone` overrides it."""

_TOO_FINE = {"SECONDLY": "every second", "MINUTELY": "every minute", "HOURLY": "every hour"}
_TWO_YEARS = dt.timedelta(days=731)
_PROBE_YEARS = 8  # a rule with no date in 8 years is impossible (such as 30 February)


def _rule_parts(value: str) -> dict[str, str]:
    """Return the NAME=value parts of an RRULE (upper-case names; a leading 'RRULE:' is dropped)."""
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        name, _, rest = part.partition("=")
        parts[name.strip().upper()] = rest.strip()
    return parts


def _check_rrule(value: str | None, start: dt.datetime | None = None) -> str | None:
    """Return the rule if it is valid and bounded; raise ValueError in words otherwise.

    Work is bounded before any date is computed: finer than daily is refused from the text,
    a rule that can never give a date is caught on a yearly probe (cheap), and only then are
    the starts of the first two years counted, lazily, stopping at the limit.
    """
    if value is None:
        return None
    if "\n" in value.strip() or "DTSTART" in value.upper():
        raise ValueError(
            f"write only the repeat rule, on one line (e.g. FREQ=WEEKLY;BYDAY=FR), not {value!r}"
        )
    parts = _rule_parts(value)
    freq = parts.get("FREQ", "").upper()
    if freq in _TOO_FINE:
        raise ValueError(
            f"rrule FREQ={freq} repeats {_TOO_FINE[freq]}: rules may repeat at most daily "
            "(FREQ=DAILY, WEEKLY, MONTHLY or YEARLY); for several times a day, write one "
            "event per time"
        )
    if "BYSECOND" in parts or "BYMINUTE" in parts or "BYHOUR" in parts:
        raise ValueError(
            "rrule BYHOUR, BYMINUTE and BYSECOND are not used here: the time of day comes "
            "from 'start'; for several times a day, write one event per time"
        )
    first = (start or dt.datetime(2026, 1, 1)).replace(tzinfo=None)
    try:
        rule = rrulestr(value, dtstart=first)
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise ValueError(f"not a valid iCalendar RRULE: {value!r} ({error})") from error
    if not isinstance(rule, rrule):
        raise ValueError(f"write one repeat rule, not a set of rules: {value!r}")
    probe = {
        key: val
        for key, val in parts.items()
        if key in ("BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")
    }
    if probe:
        # Same day filters, yearly: at most a few thousand cheap steps even when nothing matches.
        text = ";".join(["FREQ=YEARLY", *(f"{key}={val}" for key, val in probe.items())])
        try:
            yearly = rrulestr(text, dtstart=first.replace(month=1, day=1))
        except (ValueError, TypeError, KeyError, OverflowError):
            yearly = None
        horizon = first.replace(year=first.year + _PROBE_YEARS)
        if isinstance(yearly, rrule) and yearly.before(horizon) is None:
            raise ValueError(f"rrule {value!r} never gives a date (check BYMONTH and BYMONTHDAY)")
    limit = first + _TWO_YEARS
    for count, when in enumerate(rule, start=1):
        if when >= limit:
            break
        if count > MAX_OCCURRENCES_IN_TWO_YEARS:
            raise ValueError(
                f"rrule {value!r} gives more than {MAX_OCCURRENCES_IN_TWO_YEARS} dates in two "
                "years: repeat at most daily, or split it into several events"
            )
    return value


def check_city_time(value: dt.datetime, field: str, zone: ZoneInfo) -> None:
    """Raise ValueError if a local time does not exist in `zone` (the spring-forward hour)."""
    if value.tzinfo is not None:
        return
    aware = value.replace(tzinfo=zone)
    back = aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    if back != value:
        raise ValueError(
            f"{field} {value:%Y-%m-%d %H:%M} does not exist in {zone.key}: clocks jump forward "
            f"that night (from {value:%H}:00 to {back:%H}:00); choose another time"
        )


MAX_OCCURRENCES = 5000
"""At most this many starts are expanded for one event in one window (bounded work per answer)."""

ICAL_DAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # in WEEKDAYS order
RULE_ANCHOR = dt.date(2026, 1, 1)
"""Where a programme's counting rule (INTERVAL, COUNT) starts when it has no start_date."""


def wall_time(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """Return the aware instant of wall-clock `time` on `day` in `zone` (DST gaps roll forward)."""
    # A round trip through UTC turns a wall time inside a DST gap into the real instant after it.
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC).astimezone(zone)



class Schedule(Strict):
    """When a programme runs: a date range with weekly slots, an RRULE, or a plain note."""

    start_date: dt.date | None = None
    end_date: dt.date | None = None
    weekly: list[WeeklySlot] = Field(default_factory=list)
    rrule: str | None = None
    notes: LocalizedText | None = None

    @field_validator("rrule")
    @classmethod
    def _bounded_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("start_date")
        anchor = start if isinstance(start, dt.date) else RULE_ANCHOR
        return _check_rrule(value, dt.datetime.combine(anchor, dt.time()))

    @model_validator(mode="after")
    def _dates_in_order(self) -> Schedule:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self

    def rule(self) -> str | None:
        """Return the repeat rule of the sessions: the `rrule`, else weekly on the slots' days."""
        if self.rrule:
            return self.rrule
        days = sorted({WEEKDAYS.index(slot.day) for slot in self.weekly})
        return "FREQ=WEEKLY;BYDAY=" + ",".join(ICAL_DAYS[day] for day in days) if days else None

    def sessions(
        self,
        between_start: dt.datetime,
        between_end: dt.datetime,
        zone: ZoneInfo,
        *,
        slot: WeeklySlot | None = None,
    ) -> list[dt.datetime]:
        """Return the aware session starts in [between_start, between_end), in `zone`'s wall time.

        The weekly slots give the hours; the `rrule` (if any) picks the days, and a rule day meets
        the slots on its weekday (`FREQ=MONTHLY;BYDAY=2SA` with a Saturday slot: the second
        Saturday of the month). `start_date`/`end_date` bound both. A rule counts from
        `start_date` (else RULE_ANCHOR when it counts: INTERVAL or COUNT). Without weekly times
        there is no session to count (the notes say when). `slot`: that slot's sessions only.
        """
        slots = [slot] if slot is not None else self.weekly
        text = self.rule()
        if not slots or text is None or between_end <= between_start:
            return []
        hours: dict[int, list[dt.time]] = {}
        for each in slots:
            hours.setdefault(WEEKDAYS.index(each.day), []).append(each.start)
        first = between_start.astimezone(zone).date()
        last = between_end.astimezone(zone).date()
        if self.start_date:
            first = max(first, self.start_date)
        if self.end_date:
            last = min(last, self.end_date)
        if last < first:
            return []
        parts = _rule_parts(text)
        anchor = self.start_date or (RULE_ANCHOR if {"INTERVAL", "COUNT"} & parts.keys() else first)
        rule = rrulestr(text, dtstart=dt.datetime.combine(min(anchor, first), dt.time()))
        found: list[dt.datetime] = []
        # Lazily, day by day from the window's first day, stopping at its last (and at a hard cap).
        for day in rule.xafter(dt.datetime.combine(first, dt.time()), inc=True):
            if day.date() > last or len(found) >= MAX_OCCURRENCES:
                break
            for start in sorted(hours.get(day.weekday(), ())):
                aware = wall_time(day.date(), start, zone)
                if between_start <= aware < between_end:
                    found.append(aware)
        return found[:MAX_OCCURRENCES]

    def next_session(self, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
        """Return the first session at or after `now`, within two years."""
        found = self.sessions(now, now + _TWO_YEARS, zone)
        return found[0] if found else None

    def slot_rule(self, slot: WeeklySlot) -> str | None:
        """Return the RRULE of one slot's sessions (the rule narrowed to its weekday), or None."""
        text = self.rule()
        if text is None:
            return None
        parts = _rule_parts(text)
        code = ICAL_DAYS[WEEKDAYS.index(slot.day)]
        if "BYDAY" in parts:
            kept = [d.strip().upper() for d in parts["BYDAY"].split(",")]
            kept = [d for d in kept if d.endswith(code)]
            if not kept:
                return None  # the rule never falls on this slot's weekday
            parts["BYDAY"] = ",".join(kept)
        else:
            parts["BYDAY"] = code
        return ";".join(f"{name}={value}" for name, value in parts.items())


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


class EventStatus(StrEnum):
    """Whether an event still takes place."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


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
        return _check_rrule(value, start if isinstance(start, dt.datetime) else None)

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


class ContactKind(StrEnum):
    """What a contact is for; `general` is the fallback when the folder has no answer."""

    GENERAL = "general"
    SCHOOL = "school"
    HELPLINE = "helpline"
    EMERGENCY = "emergency"
    ADULT_EDUCATION = "adult-education"
    MIGRANTS = "migrants"
    DISABILITY = "disability"
    YOUTH = "youth"
    LIBRARY = "library"
    DIGITAL = "digital"


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


class GuideMeta(Strict):
    """Optional front matter of a guide (Markdown or text); every field may be omitted."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    title: str | None = None
    audience: list[Audience] = Field(
        default_factory=list, validation_alias=AliasChoices("audience", "audiences")
    )
    topics: list[Topic] = Field(default_factory=list)
    language: LanguageCode | None = Field(
        default=None, validation_alias=AliasChoices("language", "lang")
    )
    source_url: str | None = None
    last_updated: dt.date | None = None
