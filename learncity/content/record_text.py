"""Records rendered as index text: a programme, event or contact as readable sentences per
language, with its filter fields as flat metadata (Chroma keeps only str/int/float/bool)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from learncity.content.chunks import MetadataValue
from learncity.content.index_words import (
    DAY_CODES,
    DAYS,
    FREQ,
    LABELS,
    LANGUAGE_NAMES,
    MONTHS,
    ORDINALS,
    RRULE_DAYS,
    WORDS,
)
from learncity.content.models import (
    Contact,
    ContactPoint,
    Cost,
    Event,
    EventStatus,
    LocalizedText,
    Programme,
    Schedule,
    Venue,
    text_in,
)


def per_language(
    blocks: list[tuple[str, str]], metadata: dict[str, MetadataValue]
) -> list[tuple[str, dict[str, MetadataValue]]]:
    """Return the part of a record: its language blocks in one chunk, its own language first.

    `langs` names the blocks' languages in order, so an answer can quote the block in the
    resident's language (`retrieval.assistant.language_view`). One chunk per language was
    tried and cost cross-lingual ranking (R@1 0.77 -> 0.56 on benchmarks/sample_eval.py):
    record chunks crowded out the guides.
    """
    return [
        (
            "\n\n".join(text for _, text in blocks),
            {**metadata, "langs": "|".join(lang for lang, _ in blocks)},
        )
    ]


def _languages_of(lang: str, *texts: LocalizedText | None) -> list[str]:
    """Return the indexed languages (it, en) the record has texts in, its own language first.

    Translations into other languages are shown to residents (`text_in`) but not indexed: the
    labels below exist in Italian and English only.
    """
    found: list[str] = []
    for text in texts:
        codes = list(text) if isinstance(text, dict) else [lang] if text else []
        found.extend(code for code in codes if code not in found and code in LABELS)
    found.sort(key=lambda code: code != lang)
    return found or [lang]


def _words(codes: Iterable[str], lang: str) -> str:
    return ", ".join(WORDS[lang].get(str(code), str(code)) for code in codes)


def _date(day: dt.date, lang: str) -> str:
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def _when_at(moment: dt.datetime, lang: str) -> str:
    return f"{DAYS[lang][moment.weekday()]} {_date(moment.date(), lang)}, {moment:%H:%M}"


def _rrule_words(rrule: str, lang: str) -> str:
    parts = dict(
        part.split("=", 1)
        for part in rrule.upper().removeprefix("RRULE:").split(";")
        if "=" in part
    )
    words = FREQ[lang].get(parts.get("FREQ", ""), "")
    days = [
        _byday(code, lang) for code in parts.get("BYDAY", "").split(",") if code[-2:] in RRULE_DAYS
    ]
    if days:
        words = f"{words}: {', '.join(days)}" if words else ", ".join(days)
    if "UNTIL" in parts:
        until = parts["UNTIL"][:8]
        words += f" ({LABELS[lang]['to']} {until[6:8]}/{until[4:6]}/{until[:4]})"
    return words


def _byday(code: str, lang: str) -> str:
    day = DAYS[lang][RRULE_DAYS.index(code[-2:])]
    ordinal = ORDINALS[lang].get(code[:-2], "")
    if ordinal and day == "domenica":  # the only feminine weekday in Italian
        ordinal = ordinal[:-1] + "a"
    return f"{ordinal} {day}".strip()


def _cost(cost: Cost, lang: str) -> str:
    labels = LABELS[lang]
    if cost.free:
        text = labels["free"]
    elif cost.amount_eur is not None:
        text = f"{cost.amount_eur:g} €"
    else:
        text = ""
    notes = text_in(cost.notes, lang)
    return f"{text} ({notes})" if text and notes else text or notes


def _venue(venue: Venue | None, online: bool, lang: str) -> str:
    pieces = []
    if venue is not None:
        place = ", ".join(p for p in (venue.name, venue.address) if p)
        pieces.append(f"{place} ({venue.district})" if venue.district else place)
    if online:
        pieces.append(LABELS[lang]["online"])
    return "; ".join(pieces)


def _contact(point: ContactPoint, lang: str) -> str:
    pieces = []
    if point.phone:
        pieces.append(f"{LABELS[lang]['phone']} {point.phone}")
    pieces.extend(value for value in (point.email, point.url) if value)
    return ", ".join(pieces)


def _language_names(codes: Iterable[str], lang: str) -> str:
    return ", ".join(LANGUAGE_NAMES[lang].get(code, code) for code in codes)


def _ages(low: int | None, high: int | None, lang: str) -> str:
    if low is None and high is None:
        return ""
    span = f"{low or 0}-{high}" if high is not None else f"{low}+"
    return f" ({LABELS[lang]['ages']} {span})"


def _lines(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{label}: {value}" for label, value in pairs if value]


def _filters(
    *,
    audiences: Iterable[str],
    topics: Iterable[str],
    venue: Venue | None,
    free: bool,
) -> dict[str, MetadataValue]:
    metadata: dict[str, MetadataValue] = {
        "audiences": "|".join(str(a) for a in audiences),
        "topics": "|".join(str(t) for t in topics),
        "free": free,
    }
    if venue is not None and venue.district:
        metadata["district"] = venue.district
    if venue is not None and venue.lat is not None and venue.lon is not None:
        metadata["lat"], metadata["lon"] = venue.lat, venue.lon
    return metadata


# ---------------------------------------------------------------- records


def _schedule_words(schedule: Schedule | None, lang: str) -> list[str]:
    """Return the pieces of a programme's "when": its dates, weekly slots, rule and notes."""
    when: list[str] = []
    if schedule is None:
        return when
    labels = LABELS[lang]
    if schedule.start_date and schedule.end_date:
        when.append(
            f"{labels['from']} {_date(schedule.start_date, lang)} "
            f"{labels['to']} {_date(schedule.end_date, lang)}"
        )
    elif schedule.start_date:
        when.append(f"{labels['from']} {_date(schedule.start_date, lang)}")
    slots = [
        f"{DAYS[lang][DAY_CODES.index(slot.day)]} {slot.start:%H:%M}"
        + (f"-{slot.end:%H:%M}" if slot.end else "")
        for slot in schedule.weekly
    ]
    if slots:
        when.append(", ".join(slots))
    if schedule.rrule:
        when.append(_rrule_words(schedule.rrule, lang))
    if schedule.notes:
        when.append(text_in(schedule.notes, lang))
    return when


def programme_part(programme: Programme) -> tuple[list[tuple[str, str]], dict[str, MetadataValue]]:
    blocks: list[tuple[str, str]] = []
    for lang in _languages_of(programme.lang, programme.title, programme.description):
        labels = LABELS[lang]
        ages = _ages(programme.age_min, programme.age_max, lang)
        when = _schedule_words(programme.schedule, lang)
        lines = [text_in(programme.title, lang), text_in(programme.description, lang)]
        lines += _lines(
            [
                (labels["for"], _words(programme.audiences, lang) + ages),
                (labels["topics"], _words(programme.topics, lang)),
                (labels["type"], _words([programme.learning_type], lang)),
                (labels["where"], _venue(programme.venue, programme.online, lang)),
                (labels["when"], "; ".join(w for w in when if w)),
                (labels["cost"], _cost(programme.cost, lang)),
                (labels["languages"], _language_names(programme.languages, lang)),
                (labels["accessibility"], text_in(programme.accessibility, lang)),
                (labels["enrol"], text_in(programme.enrolment, lang)),
                (labels["contact"], _contact(programme.contact, lang)),
                (labels["provider"], programme.provider),
            ]
        )
        blocks.append((lang, "\n".join(line for line in lines if line)))
    metadata: dict[str, MetadataValue] = {
        "kind": "programme",
        "record_id": programme.id,
        "title": text_in(programme.title, programme.lang),
        "lang": programme.lang,
        "learning_type": str(programme.learning_type),
        "online": programme.online,
        "languages": "|".join(programme.languages),
        **_filters(
            audiences=programme.audiences,
            topics=programme.topics,
            venue=programme.venue,
            free=programme.cost.free,
        ),
    }
    url = programme.url or programme.contact.url
    if url:
        metadata["url"] = url
    return blocks, metadata


def event_part(event: Event) -> tuple[list[tuple[str, str]], dict[str, MetadataValue]]:
    blocks: list[tuple[str, str]] = []
    for lang in _languages_of(event.lang, event.title, event.description):
        labels = LABELS[lang]
        when = _when_at(event.start, lang)
        if event.end is not None:
            when += (
                f"-{event.end:%H:%M}"
                if event.end.date() == event.start.date()
                else (f" - {_when_at(event.end, lang)}")
            )
        if event.rrule:
            when += f"; {_rrule_words(event.rrule, lang)}"
        title = text_in(event.title, lang)
        if event.status == EventStatus.CANCELLED:
            title = f"{labels['cancelled']}: {title}"
        booking = event.booking_url or ""
        lines = [title, text_in(event.description, lang)]
        lines += _lines(
            [
                (labels["for"], _words(event.audiences, lang)),
                (labels["topics"], _words(event.topics, lang)),
                (labels["where"], _venue(event.venue, event.online, lang)),
                (labels["when"], when),
                (labels["cost"], _cost(event.cost, lang)),
                (labels["languages"], _language_names(event.languages, lang)),
                (labels["accessibility"], text_in(event.accessibility, lang)),
                (labels["booking"], booking),
                (labels["capacity"], str(event.capacity) if event.capacity else ""),
                (labels["contact"], _contact(event.contact, lang)),
                (labels["provider"], event.provider or ""),
            ]
        )
        blocks.append((lang, "\n".join(line for line in lines if line)))
    metadata: dict[str, MetadataValue] = {
        "kind": "event",
        "record_id": event.id,
        "title": text_in(event.title, event.lang),
        "lang": event.lang,
        "learning_type": str(event.learning_type),
        "online": event.online,
        "languages": "|".join(event.languages),
        "start": event.start.isoformat(),
        "recurring": bool(event.rrule),
        "status": str(event.status),
        **_filters(
            audiences=event.audiences, topics=event.topics, venue=event.venue, free=event.cost.free
        ),
    }
    if event.programme_id:
        metadata["programme_id"] = event.programme_id
    url = event.url or event.booking_url or event.contact.url
    if url:
        metadata["url"] = url
    return blocks, metadata


def contact_part(contact: Contact) -> tuple[list[tuple[str, str]], dict[str, MetadataValue]]:
    blocks: list[tuple[str, str]] = []
    for lang in _languages_of("it", contact.name, contact.description, contact.hours):
        labels = LABELS[lang]
        reach = _contact(
            ContactPoint(phone=contact.phone, email=contact.email, url=contact.url), lang
        )
        lines = [text_in(contact.name, lang), text_in(contact.description, lang)]
        lines += _lines(
            [
                (labels["contact"], reach),
                (labels["hours"], text_in(contact.hours, lang)),
                (labels["topics"], _words(contact.topics, lang)),
            ]
        )
        blocks.append((lang, "\n".join(line for line in lines if line)))
    metadata: dict[str, MetadataValue] = {
        "kind": "contact",
        "record_id": contact.id,
        "title": text_in(contact.name, "it"),
        "lang": "it",
        "contact_kind": str(contact.kind),
        "safeguarding": contact.safeguarding,
        "topics": "|".join(str(t) for t in contact.topics),
    }
    if contact.url:
        metadata["url"] = contact.url
    return blocks, metadata
