"""Turn a loaded knowledge file into retrieval chunks: one per programme, event or contact, and
guide sections (long ones split by langchain's RecursiveCharacterTextSplitter).

A record's fields are rendered as readable sentences in each language the record is written in, so
a question in either language finds it; filter fields stay as flat metadata (Chroma keeps only
str/int/float/bool, lists joined with "|"). Chunk ids hash path, position and text: re-indexing an
unchanged file yields the same ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

from langchain_text_splitters import RecursiveCharacterTextSplitter

from learncity.content.chunks import Chunk, MetadataValue
from learncity.content.guides import Guide, title_from_filename
from learncity.content.knowledge_base import LoadedFile
from learncity.content.models import (
    Contact,
    ContactPoint,
    Cost,
    Event,
    EventStatus,
    LocalizedText,
    Programme,
    Venue,
    text_in,
)
from learncity.content.reading import file_sha256 as _bytes_sha256

__all__ = ["GUIDE_CHUNK_CHARS", "GUIDE_CHUNK_OVERLAP", "chunk_id", "chunks_for_file", "file_sha256"]

GUIDE_CHUNK_CHARS = 900
GUIDE_CHUNK_OVERLAP = 120

# Words used only to render records as index text (and the snippets shown from it); the bot's own
# phrases live in learncity/locales.
_LABELS: dict[str, dict[str, str]] = {
    "it": {
        "for": "Per chi",
        "ages": "età",
        "topics": "Argomenti",
        "type": "Tipo di apprendimento",
        "where": "Dove",
        "online": "online",
        "when": "Quando",
        "from": "dal",
        "to": "al",
        "cost": "Costo",
        "free": "gratuito",
        "languages": "Lingue",
        "accessibility": "Accessibilità",
        "enrol": "Come iscriversi",
        "contact": "Contatti",
        "provider": "Organizza",
        "booking": "Prenotazione",
        "capacity": "Posti",
        "cancelled": "ANNULLATO",
        "every": "ogni",
        "hours": "Orari",
        "phone": "tel.",
    },
    "en": {
        "for": "For",
        "ages": "ages",
        "topics": "Topics",
        "type": "Learning type",
        "where": "Where",
        "online": "online",
        "when": "When",
        "from": "from",
        "to": "to",
        "cost": "Cost",
        "free": "free",
        "languages": "Languages",
        "accessibility": "Accessibility",
        "enrol": "How to enrol",
        "contact": "Contact",
        "provider": "Run by",
        "booking": "Booking",
        "capacity": "Places",
        "cancelled": "CANCELLED",
        "every": "every",
        "hours": "Hours",
        "phone": "phone",
    },
}
_WORDS: dict[str, dict[str, str]] = {
    "it": {
        "everyone": "tutti",
        "children": "bambini",
        "teens": "ragazzi e adolescenti",
        "young-adults": "giovani",
        "families": "famiglie",
        "parents": "genitori",
        "adults": "adulti",
        "seniors": "anziani e over 65",
        "migrants": "migranti e stranieri",
        "job-seekers": "persone in cerca di lavoro e disoccupati",
        "people-with-disabilities": "persone con disabilità",
        "students": "studenti",
        "teachers": "insegnanti",
        "women": "donne",
        "italian-language": "lingua italiana",
        "foreign-languages": "lingue straniere",
        "digital-skills": "competenze digitali e informatica",
        "literacy": "alfabetizzazione",
        "school-support": "sostegno scolastico e doposcuola",
        "adult-education": "istruzione degli adulti",
        "university": "università",
        "work-skills": "competenze per il lavoro",
        "entrepreneurship": "imprenditorialità",
        "arts-culture": "arte e cultura",
        "music": "musica",
        "reading": "lettura",
        "science-technology": "scienza e tecnologia",
        "making": "fabbricazione digitale e fai da te",
        "environment": "ambiente",
        "gardening": "giardinaggio e orti",
        "health-wellbeing": "salute e benessere",
        "sport": "sport",
        "citizenship": "cittadinanza",
        "volunteering": "volontariato",
        "parenting": "genitorialità",
        "early-childhood": "prima infanzia",
        "history-heritage": "storia e patrimonio",
        "cooking": "cucina",
        "finance": "educazione finanziaria",
        "soft-skills": "competenze trasversali",
        "formal": "formale",
        "non-formal": "non formale",
        "informal": "informale",
    },
    "en": {
        "everyone": "everyone",
        "children": "children",
        "teens": "teenagers",
        "young-adults": "young adults",
        "families": "families",
        "parents": "parents",
        "adults": "adults",
        "seniors": "seniors and older people",
        "migrants": "migrants and foreigners",
        "job-seekers": "job seekers and unemployed people",
        "people-with-disabilities": "people with disabilities",
        "students": "students",
        "teachers": "teachers",
        "women": "women",
        "italian-language": "Italian language",
        "foreign-languages": "foreign languages",
        "digital-skills": "digital skills and computers",
        "literacy": "literacy",
        "school-support": "school support and homework help",
        "adult-education": "adult education",
        "university": "university",
        "work-skills": "work skills",
        "entrepreneurship": "entrepreneurship",
        "arts-culture": "arts and culture",
        "music": "music",
        "reading": "reading",
        "science-technology": "science and technology",
        "making": "making and maker spaces",
        "environment": "environment",
        "gardening": "gardening",
        "health-wellbeing": "health and wellbeing",
        "sport": "sport",
        "citizenship": "citizenship",
        "volunteering": "volunteering",
        "parenting": "parenting",
        "early-childhood": "early childhood",
        "history-heritage": "history and heritage",
        "cooking": "cooking",
        "finance": "financial education",
        "soft-skills": "soft skills",
        "formal": "formal",
        "non-formal": "non-formal",
        "informal": "informal",
    },
}
_LANGUAGE_NAMES = {
    "it": {"it": "italiano", "en": "inglese", "fr": "francese", "es": "spagnolo", "de": "tedesco",
           "ar": "arabo", "zh": "cinese", "uk": "ucraino", "ro": "rumeno", "sq": "albanese"},
    "en": {"it": "Italian", "en": "English", "fr": "French", "es": "Spanish", "de": "German",
           "ar": "Arabic", "zh": "Chinese", "uk": "Ukrainian", "ro": "Romanian", "sq": "Albanian"},
}  # fmt: skip
_DAYS = {
    "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MONTHS = {
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
_ORDINALS = {
    "it": {"1": "primo", "+1": "primo", "2": "secondo", "+2": "secondo", "3": "terzo",
           "+3": "terzo", "4": "quarto", "+4": "quarto", "-1": "ultimo"},
    "en": {"1": "first", "+1": "first", "2": "second", "+2": "second", "3": "third",
           "+3": "third", "4": "fourth", "+4": "fourth", "-1": "last"},
}  # fmt: skip
_FREQ = {
    "it": {"DAILY": "ogni giorno", "WEEKLY": "ogni settimana", "MONTHLY": "ogni mese",
           "YEARLY": "ogni anno"},
    "en": {"DAILY": "every day", "WEEKLY": "every week", "MONTHLY": "every month",
           "YEARLY": "every year"},
}  # fmt: skip


def file_sha256(source: bytes | Path) -> str:
    """Return the hex SHA-256 of a file's bytes, or of the file at a path."""
    return _bytes_sha256(source.read_bytes() if isinstance(source, Path) else source)


def chunk_id(path: str, position: int, text: str) -> str:
    """Return the deterministic id of the chunk at `position` in the file at `path`."""
    return hashlib.sha256(f"{path}\x00{position}\x00{text}".encode()).hexdigest()


# Bump when the way files become chunks changes, so existing indexes re-embed every file once.
RENDERING_VERSION = "3"


def index_hash(file_sha256: str) -> str:
    """Return the hash the index keeps for a file: its content hash and the rendering version."""
    return f"{file_sha256}:r{RENDERING_VERSION}"


def chunks_for_file(
    loaded: LoadedFile,
    *,
    chunk_size: int = GUIDE_CHUNK_CHARS,
    chunk_overlap: int = GUIDE_CHUNK_OVERLAP,
) -> list[Chunk]:
    """Return the chunks of one file: one per programme, event or contact; guides by section."""
    if chunk_size < 1:
        raise ValueError(f"chunk size ({chunk_size}) must be at least 1")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(
            f"chunk overlap ({chunk_overlap}) must be at least 0 and less than "
            f"chunk size ({chunk_size})"
        )
    parts: list[tuple[str, dict[str, MetadataValue]]] = []
    for programme in loaded.programmes:
        parts.extend(_per_language(*_programme_part(programme)))
    for event in loaded.events:
        parts.extend(_per_language(*_event_part(event)))
    for contact in loaded.contacts:
        parts.extend(_per_language(*_contact_part(contact)))
    if loaded.guide is not None:
        parts.extend(_guide_parts(loaded.guide, chunk_size, chunk_overlap))
    chunks = []
    for position, (text, metadata) in enumerate(parts):
        metadata = {
            "path": loaded.path,
            "file_hash": loaded.sha256,
            "position": position,
            **metadata,
        }
        chunks.append(Chunk(id=chunk_id(loaded.path, position, text), text=text, metadata=metadata))
    return chunks


# ---------------------------------------------------------------- rendering helpers


def _per_language(
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
        found.extend(code for code in codes if code not in found and code in _LABELS)
    found.sort(key=lambda code: code != lang)
    return found or [lang]


def _words(codes: Iterable[str], lang: str) -> str:
    return ", ".join(_WORDS[lang].get(str(code), str(code)) for code in codes)


def _date(day: dt.date, lang: str) -> str:
    return f"{day.day} {_MONTHS[lang][day.month - 1]} {day.year}"


def _when_at(moment: dt.datetime, lang: str) -> str:
    return f"{_DAYS[lang][moment.weekday()]} {_date(moment.date(), lang)}, {moment:%H:%M}"


def _rrule_words(rrule: str, lang: str) -> str:
    parts = dict(
        part.split("=", 1)
        for part in rrule.upper().removeprefix("RRULE:").split(";")
        if "=" in part
    )
    words = _FREQ[lang].get(parts.get("FREQ", ""), "")
    days = [
        _byday(code, lang) for code in parts.get("BYDAY", "").split(",") if code[-2:] in _RRULE_DAYS
    ]
    if days:
        words = f"{words}: {', '.join(days)}" if words else ", ".join(days)
    if "UNTIL" in parts:
        until = parts["UNTIL"][:8]
        words += f" ({_LABELS[lang]['to']} {until[6:8]}/{until[4:6]}/{until[:4]})"
    return words


def _byday(code: str, lang: str) -> str:
    day = _DAYS[lang][_RRULE_DAYS.index(code[-2:])]
    ordinal = _ORDINALS[lang].get(code[:-2], "")
    if ordinal and day == "domenica":  # the only feminine weekday in Italian
        ordinal = ordinal[:-1] + "a"
    return f"{ordinal} {day}".strip()


def _cost(cost: Cost, lang: str) -> str:
    labels = _LABELS[lang]
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
        pieces.append(_LABELS[lang]["online"])
    return "; ".join(pieces)


def _contact(point: ContactPoint, lang: str) -> str:
    pieces = []
    if point.phone:
        pieces.append(f"{_LABELS[lang]['phone']} {point.phone}")
    pieces.extend(value for value in (point.email, point.url) if value)
    return ", ".join(pieces)


def _language_names(codes: Iterable[str], lang: str) -> str:
    return ", ".join(_LANGUAGE_NAMES[lang].get(code, code) for code in codes)


def _ages(low: int | None, high: int | None, lang: str) -> str:
    if low is None and high is None:
        return ""
    span = f"{low or 0}-{high}" if high is not None else f"{low}+"
    return f" ({_LABELS[lang]['ages']} {span})"


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


def _programme_part(programme: Programme) -> tuple[list[tuple[str, str]], dict[str, MetadataValue]]:
    blocks: list[tuple[str, str]] = []
    for lang in _languages_of(programme.lang, programme.title, programme.description):
        labels = _LABELS[lang]
        ages = _ages(programme.age_min, programme.age_max, lang)
        when = []
        schedule = programme.schedule
        if schedule is not None:
            if schedule.start_date and schedule.end_date:
                when.append(
                    f"{labels['from']} {_date(schedule.start_date, lang)} "
                    f"{labels['to']} {_date(schedule.end_date, lang)}"
                )
            elif schedule.start_date:
                when.append(f"{labels['from']} {_date(schedule.start_date, lang)}")
            slots = [
                f"{_DAYS[lang][_DAY_CODES.index(slot.day)]} {slot.start:%H:%M}"
                + (f"-{slot.end:%H:%M}" if slot.end else "")
                for slot in schedule.weekly
            ]
            if slots:
                when.append(", ".join(slots))
            if schedule.rrule:
                when.append(_rrule_words(schedule.rrule, lang))
            if schedule.notes:
                when.append(text_in(schedule.notes, lang))
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


def _event_part(event: Event) -> tuple[list[tuple[str, str]], dict[str, MetadataValue]]:
    blocks: list[tuple[str, str]] = []
    for lang in _languages_of(event.lang, event.title, event.description):
        labels = _LABELS[lang]
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


def _contact_part(contact: Contact) -> tuple[list[tuple[str, str]], dict[str, MetadataValue]]:
    blocks: list[tuple[str, str]] = []
    for lang in _languages_of("it", contact.name, contact.description, contact.hours):
        labels = _LABELS[lang]
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


# ---------------------------------------------------------------- guides


LEAD_CHARS = 160


def _guide_header(guide: Guide) -> str:
    """Return the line every chunk of a guide starts with: what the whole document is about.

    A guide with a real title (front matter, a heading, a PDF's or page's title) has it. A plain
    file named only by its file name ("2086_dettagli_it.txt") is introduced by its first lines
    instead, which name what it is about: a section deep inside then still says which course,
    service or place it belongs to.
    """
    if guide.title != title_from_filename(guide.path):
        return guide.title
    lead: list[str] = []
    for raw in guide.text.splitlines():
        line = raw.strip()
        if not line or not any(char.isalnum() for char in line):
            continue
        if lead and sum(len(part) for part in lead) + len(line) > LEAD_CHARS:
            break
        lead.append(line[:LEAD_CHARS])
    return " · ".join([guide.title, *lead])


def _guide_parts(
    guide: Guide, chunk_size: int, chunk_overlap: int
) -> list[tuple[str, dict[str, MetadataValue]]]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, keep_separator=True
    )
    base: dict[str, MetadataValue] = {
        "kind": "guide",
        "title": guide.title,
        "lang": guide.lang,
        "audiences": "|".join(str(a) for a in guide.meta.audience),
        "topics": "|".join(str(t) for t in guide.meta.topics),
    }
    if guide.meta.source_url:
        base["url"] = guide.meta.source_url
    if guide.meta.last_updated:
        base["last_updated"] = guide.meta.last_updated.isoformat()
    parts = []
    header = _guide_header(guide)
    for heading, body in guide.sections:
        prefix = header if not heading or heading == guide.title else f"{header}\n{heading}"
        for piece in splitter.split_text(body):
            parts.append((f"{prefix}\n\n{piece.strip()}", {**base, "section": heading}))
    return parts
