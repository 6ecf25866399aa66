"""A programme's schedule: weekly slots, an optional RRULE, and the sessions they give.

`Schedule.sessions` is the single interpreter of when a programme's sessions take place.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from pydantic import Field, ValidationInfo, field_validator, model_validator

from learncity.content.rules import (
    ICAL_DAYS,
    MAX_OCCURRENCES,
    RULE_ANCHOR,
    TWO_YEARS,
    check_rrule,
    rule_parts,
    wall_time,
)
from learncity.content.strict import Strict
from learncity.content.texts import LocalizedText
from learncity.content.vocabulary import DAY_NAMES, WEEKDAYS, Weekday


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
        return check_rrule(value, dt.datetime.combine(anchor, dt.time()))

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
        parts = rule_parts(text)
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
        found = self.sessions(now, now + TWO_YEARS, zone)
        return found[0] if found else None

    def slot_rule(self, slot: WeeklySlot) -> str | None:
        """Return the RRULE of one slot's sessions (the rule narrowed to its weekday), or None."""
        text = self.rule()
        if text is None:
            return None
        parts = rule_parts(text)
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
