"""Clocks: reminder code never calls `datetime.now()`, so tests and benchmarks control time."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> dt.datetime:
        """Return the current UTC time."""
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the clock needs an aware datetime, not {start!r}")
        self._now = start

    def now(self) -> dt.datetime:
        """Return the time the clock was set to."""
        return self._now

    def set(self, when: dt.datetime) -> None:
        """Jump to `when` (aware)."""
        if when.tzinfo is None:
            raise ValueError(f"the clock needs an aware datetime, not {when!r}")
        self._now = when

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock forward by `delta`."""
        self._now = self._now + delta
