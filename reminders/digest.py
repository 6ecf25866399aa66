"""Weekly digest timing and content, and quiet hours; plain values, all times in the city's zone.

The digest is opt-in: at `weekday` `at` (default Monday 09:00 city time) each opted-in user gets the
events of the week (from that moment to Sunday night) matching their interests (any event when they
chose none). Quiet hours (default 21:00-08:00) hold back everything the user did not explicitly ask
for at that moment; the scheduler sends it when the quiet hours end.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from learncity.content.models import Event

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock_time(text: str) -> dt.time:
    """Parse "HH:MM" (24-hour clock)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"time {text!r} must be HH:MM on a 24-hour clock")
    return dt.time(int(match.group(1)), int(match.group(2)))


def at_local(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """Return the aware instant of wall-clock `time` on `day` in `zone` (gaps roll forward)."""
    # A round trip through UTC turns a wall time inside a DST gap into the real instant after it.
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


@dataclass(frozen=True)
class QuietHours:
    """A nightly window (e.g. 21:00-08:00, may cross midnight) in the city's zone."""

    start: dt.time
    end: dt.time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> QuietHours:
        """Parse "21:00-08:00"; an empty string or "off" gives no quiet hours (start == end)."""
        if text.strip().lower() in ("", "off", "none"):
            return cls(dt.time(0), dt.time(0), zone)
        parts = text.split("-")
        if len(parts) != 2:
            raise ValueError(f"quiet hours {text!r} must look like 21:00-08:00")
        return cls(parse_clock_time(parts[0]), parse_clock_time(parts[1]), zone)

    def contains(self, when: dt.datetime) -> bool:
        """Return True when `when` falls inside the quiet hours."""
        if self.start == self.end:
            return False
        local = when.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, when: dt.datetime) -> dt.datetime:
        """Return when the quiet hours around `when` end (`when` itself if not quiet)."""
        if not self.contains(when):
            return when
        local = when.astimezone(self.zone)
        day = local.date() if local.time() < self.end else local.date() + dt.timedelta(days=1)
        return at_local(day, self.end, self.zone)


@dataclass(frozen=True)
class DigestSchedule:
    """When the weekly digest goes out: a weekday (0 = Monday) and a local time."""

    weekday: int
    at: dt.time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"digest weekday ({self.weekday}) must be 0 (Monday) to 6 (Sunday)")

    def week_start(self, now: dt.datetime) -> dt.date:
        """Return the Monday of the week holding `now` (city time)."""
        local = now.astimezone(self.zone).date()
        return local - dt.timedelta(days=local.weekday())

    def week_key(self, now: dt.datetime) -> str:
        """Return the ISO week of `now` in the city, e.g. "2026-W13"."""
        year, week, _ = now.astimezone(self.zone).date().isocalendar()
        return f"{year}-W{week:02d}"

    def moment(self, now: dt.datetime) -> dt.datetime:
        """Return this week's digest instant (it may be before or after `now`)."""
        day = self.week_start(now) + dt.timedelta(days=self.weekday)
        return at_local(day, self.at, self.zone)

    def week_end(self, now: dt.datetime) -> dt.datetime:
        """Return the start of next Monday (city time): the digest is stale after it."""
        return at_local(self.week_start(now) + dt.timedelta(days=7), dt.time(0), self.zone)

    def next_moment(self, now: dt.datetime) -> dt.datetime:
        """Return the first digest instant strictly after `now`."""
        this_week = self.moment(now)
        if this_week > now:
            return this_week
        day = self.week_start(now) + dt.timedelta(days=7 + self.weekday)
        return at_local(day, self.at, self.zone)


@dataclass(frozen=True)
class DigestItem:
    """One event occurrence in a digest."""

    event: Event
    start: dt.datetime


def events_for_digest(
    events: Mapping[str, Event] | Iterable[Event],
    *,
    interests: Iterable[str],
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
    limit: int = 12,
) -> list[DigestItem]:
    """Return scheduled event occurrences in [start, end) matching any interest (all if none)."""
    wanted = set(interests)
    pool = events.values() if isinstance(events, Mapping) else events
    items: list[DigestItem] = []
    for event in pool:
        if event.status != "scheduled":
            continue
        if wanted and not wanted.intersection(str(topic) for topic in event.topics):
            continue
        items.extend(DigestItem(event, when) for when in event.occurrences(start, end, zone))
    items.sort(key=lambda item: (item.start, item.event.id))
    return items[:limit]
