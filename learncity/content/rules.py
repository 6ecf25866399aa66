"""Repeat rules and city time: checking an RRULE is bounded, wall-clock instants, DST gaps.

The limits here keep every expansion of a staff-written rule cheap (no rule finer than daily,
none that never gives a date, at most a bounded number of starts).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MAX_OCCURRENCES_IN_TWO_YEARS = 1000
"""More starts than this in two years is a mistake (every hour, every minute), not a city event."""

CITY_ZONE = ZoneInfo("Europe/Rome")
"""The zone staff write times in (knowledge/README.md); an event's `timezone` overrides it."""

_TOO_FINE = {"SECONDLY": "every second", "MINUTELY": "every minute", "HOURLY": "every hour"}
TWO_YEARS = dt.timedelta(days=731)
_PROBE_YEARS = 8  # a rule with no date in 8 years is impossible (such as 30 February)


def rule_parts(value: str) -> dict[str, str]:
    """Return the NAME=value parts of an RRULE (upper-case names; a leading 'RRULE:' is dropped)."""
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        name, _, rest = part.partition("=")
        parts[name.strip().upper()] = rest.strip()
    return parts


def check_rrule(value: str | None, start: dt.datetime | None = None) -> str | None:
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
    parts = rule_parts(value)
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
    limit = first + TWO_YEARS
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
