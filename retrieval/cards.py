"""Cards: a programme or event as a resident reads it (when, where, cost), in their language.

Pure formatting of content records into `retrieval.types.Card` and short lines; no search here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

from learncity.content.models import WEEKDAYS, Contact, Event, Programme, text_in
from learncity.i18n import normalize_language, t
from learncity.text import fold
from retrieval.types import Card, CardKind, ContactInfo, Filters

SUMMARY_CHARS = 220
COST_NOTES_CHARS = 120


def time_of_day(moment: dt.datetime | dt.time) -> str:
    """Return "morning" (before 12), "afternoon" (12-17) or "evening" (from 17)."""
    hour = moment.hour
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 17 else "evening"


def first_sentences(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end > limit // 3:
        return cut[: end + 1]
    return cut.rsplit(" ", 1)[0] + "…"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    radius = 6371.0
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = math.radians(lat2 - lat1)
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def contact_info(contact: Contact, lang: str) -> ContactInfo:
    return ContactInfo(
        id=contact.id,
        name=text_in(contact.name, lang),
        phone=contact.phone,
        email=contact.email,
        url=contact.url,
        hours=text_in(contact.hours, lang) or None,
        description=text_in(contact.description, lang) or None,
    )


def contact_line(contact: ContactInfo) -> str:
    parts = [contact.name]
    parts += [value for value in (contact.phone, contact.email, contact.url) if value]
    line = " · ".join(parts)
    return f"{line} ({contact.hours})" if contact.hours else line


def card_line(card: Card) -> str:
    details = " · ".join(part for part in (card.when, card.where, card.cost) if part)
    return f"• {card.title}" + (f" — {details}" if details else "")


def format_datetime(moment: dt.datetime, lang: str, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return t(
        "answers.date_format",
        lang,
        weekday=t(f"answers.weekdays.{local.weekday()}", lang),
        day=local.day,
        month=t(f"answers.months.{local.month - 1}", lang),
        year=local.year,
        time=f"{local:%H:%M}",
    )


def format_date(date: dt.date, lang: str) -> str:
    return f"{date.day} {t(f'answers.months.{date.month - 1}', lang)} {date.year}"


def format_schedule(programme: Programme, lang: str) -> str:
    schedule = programme.schedule
    if schedule is None:
        return ""
    parts: list[str] = []
    if schedule.weekly:
        by_time: dict[str, list[str]] = {}
        for slot in schedule.weekly:
            hours = f"{slot.start:%H:%M}" + (f"–{slot.end:%H:%M}" if slot.end else "")
            by_time.setdefault(hours, []).append(
                t(f"answers.weekdays.{WEEKDAYS.index(slot.day)}", lang)
            )
        parts.append(", ".join(f"{'/'.join(days)} {hours}" for hours, days in by_time.items()))
    if schedule.start_date and schedule.end_date:
        parts.append(
            t(
                "answers.from_to",
                lang,
                start=format_date(schedule.start_date, lang),
                end=format_date(schedule.end_date, lang),
            )
        )
    elif schedule.start_date:
        parts.append(t("answers.from_date", lang, start=format_date(schedule.start_date, lang)))
    elif schedule.end_date:
        parts.append(t("answers.until_date", lang, end=format_date(schedule.end_date, lang)))
    if schedule.notes and (not parts or schedule.rrule):
        # A rule narrows the weekly times ("the second Saturday"): the notes say it in words.
        parts.append(first_sentences(text_in(schedule.notes, lang), 120))
    return ", ".join(parts)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def record_facts(record: Programme | Event, card: Card, lang: str) -> list[str]:
    """Return what a record says in `lang`, one fact each: its description's sentences, its
    times, place (with its address), cost with its notes, enrolment, accessibility and contact
    (`card`: the record's card in `lang`)."""
    facts = [
        *_SENTENCE_END.split(" ".join(text_in(record.description, lang).split())),
        card.when,
        card.where,
        card.cost,
        *_SENTENCE_END.split(" ".join(card.enrolment.split())),
        text_in(record.accessibility, lang) if record.accessibility else "",
        card.contact,
    ]
    return [fact for fact in facts if fact]


def format_where(record: Programme | Event, lang: str) -> str:
    venue = record.venue
    if venue is None:
        return t("answers.online", lang) if record.online else ""
    parts = [venue.name]
    if venue.address and fold(venue.address) not in fold(venue.name):
        parts.append(venue.address)  # "where is it?" wants the street, not only the place
    if venue.district and fold(venue.district) not in fold(", ".join(parts)):
        parts.append(venue.district)
    return ", ".join(parts)


def format_cost(record: Programme | Event, lang: str) -> str:
    """Return what taking part costs: free or the amount, with the record's cost notes
    ("€180 · 50% discount for unemployed people..."): a fee without its exemptions misleads."""
    cost = record.cost
    notes = first_sentences(text_in(cost.notes, lang), COST_NOTES_CHARS) if cost.notes else ""
    if cost.free:
        head = t("answers.free", lang)
    elif cost.amount_eur is not None:
        amount = (
            f"{cost.amount_eur:g}" if lang == "en" else f"{cost.amount_eur:g}".replace(".", ",")
        )
        head = t("answers.cost_amount", lang, amount=amount)
    else:
        return notes
    return f"{head} · {notes}" if notes else head


def programme_next_start(
    programme: Programme, now: dt.datetime, zone: ZoneInfo
) -> dt.datetime | None:
    """Return the programme's next session (see `Schedule.sessions`), if it has weekly times."""
    schedule = programme.schedule
    return schedule.next_session(now, zone) if schedule is not None else None


def describe_filters(wanted: Filters, lang: str) -> str:
    parts: list[str] = []
    if wanted.free_only:
        parts.append(t("answers.filter_free", lang))
    if wanted.time_of_day:
        parts.append(t(f"answers.filter_{wanted.time_of_day}", lang))
    if wanted.starts_after or wanted.starts_before or wanted.weekdays:
        parts.append(t("answers.filter_when", lang))
    if wanted.languages:
        parts.append(t("answers.filter_language", lang, languages=", ".join(wanted.languages)))
    if wanted.districts:
        parts.append(t("answers.filter_district", lang, districts=", ".join(wanted.districts)))
    return ", ".join(parts)


def make_card(
    kind: CardKind,
    record: Programme | Event,
    *,
    lang: str,
    now: dt.datetime,
    next_start: dt.datetime | None,
    path: str,
    zone: ZoneInfo,
) -> Card:
    """Return the card of a programme or event in `lang` (`next_start`: the date to show)."""
    lang = normalize_language(lang)
    if isinstance(record, Event):
        when = format_datetime(next_start, lang, zone) if next_start else ""
        cancelled = t("answers.cancelled", lang)
        if record.status == "cancelled" and cancelled not in text_in(record.title, lang):
            when = f"{cancelled} {when}".strip()
        url = record.booking_url or record.url or record.contact.url
    else:
        when = format_schedule(record, lang)
        url = record.url or record.contact.url
        if next_start is None:
            next_start = programme_next_start(record, now, zone)
    return Card(
        kind=kind,
        id=record.id,
        title=text_in(record.title, lang),
        summary=first_sentences(text_in(record.description, lang), SUMMARY_CHARS),
        path=path,
        when=when,
        where=format_where(record, lang),
        cost=format_cost(record, lang),
        url=url,
        enrolment=text_in(record.enrolment, lang) if isinstance(record, Programme) else "",
        contact=" · ".join(part for part in (record.contact.phone, record.contact.email) if part),
        provider=record.provider or "",
        next_start=next_start,
    )
