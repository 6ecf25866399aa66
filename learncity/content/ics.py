"""Building iCalendar (.ics) files: the calendar frame, local times, locations, the final bytes.

The one implementation both .ics writers use: "Add to calendar" files (`retrieval.calendar`)
and the partners' feed export (`partners.export`). Built on the `icalendar` library; this
module depends on the content models only (no retrieval, bot, flows, reminders or partners).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Calendar

from learncity.content.models import Venue

ONLINE = "Online"
"""The LOCATION of an online-only event or programme."""


def new_calendar(prodid: str, *, name: str | None = None) -> Calendar:
    """Return an empty VCALENDAR (PRODID, VERSION 2.0, GREGORIAN), named `name` if given."""
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name is not None:
        calendar.add("x-wr-calname", name)
    return calendar


def in_zone(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Return `moment` aware in `zone`: a naive time is read as `zone`'s wall-clock time."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def location(venue: Venue | None, online: bool, *, address: bool = True) -> str | None:
    """Return the LOCATION text: the venue (with address and district), "Online", or None.

    `address=False` writes the venue's name only ("Online" when it has none and is online).
    """
    if venue is None:
        return ONLINE if online else None
    if not address:
        return venue.name or (ONLINE if online else None)
    parts = [venue.name, venue.address or "", venue.district or ""]
    return ", ".join(part for part in parts if part)


def finish(calendar: Calendar) -> bytes:
    """Return the calendar's bytes, with a VTIMEZONE for every TZID it uses.

    With the VTIMEZONE components any calendar app reads the local times right.
    """
    calendar.add_missing_timezones()
    return calendar.to_ical()
