"""Plain values the assistant returns: an `Answer` with its sources and cards. No Telegram here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from learncity.content.chunks import Chunk, ChunkKind, MetadataValue

__all__ = [
    "Answer", "AnswerKind", "Card", "CardKind", "Chunk", "ChunkKind", "ContactInfo", "Filters",
    "Hit", "MetadataValue", "Passage", "Source",
]

CardKind = Literal["programme", "event"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an answer came from: a knowledge file (path relative to the knowledge dir)."""

    title: str
    path: str
    snippet: str
    score: float
    url: str | None = None
    chunk_id: str | None = None
    record_id: str | None = None  # the programme, event or contact, None for a guide
    kind: str = "guide"


@dataclass(frozen=True, slots=True)
class Card:
    """A programme or event card: enough to decide, with ids for Details and reminders."""

    kind: CardKind
    id: str
    title: str
    summary: str
    path: str
    when: str = ""  # human-readable schedule in the answer's language
    where: str = ""
    cost: str = ""
    url: str | None = None
    enrolment: str = ""  # how to enrol, in the answer's language when the record has it
    contact: str = ""  # the provider's phone and e-mail
    provider: str = ""  # who runs it ("CPIA Catania 1")
    next_start: dt.datetime | None = None
    distance_km: float | None = None
    reason: str = ""  # why it is suggested (recommendations), empty for plain answers


@dataclass(frozen=True, slots=True)
class ContactInfo:
    """A human to turn to, rendered from contacts.yaml in the answer's language."""

    id: str
    name: str
    phone: str | None = None
    email: str | None = None
    url: str | None = None
    hours: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    """Constraints understood from the question or chosen from a menu; None: no constraint."""

    audiences: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    free_only: bool = False
    districts: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # of instruction
    learning_types: tuple[str, ...] = ()
    starts_after: dt.datetime | None = None
    starts_before: dt.datetime | None = None
    time_of_day: Literal["morning", "afternoon", "evening"] | None = None
    weekdays: tuple[int, ...] = ()  # 0 = Monday

    def is_empty(self) -> bool:
        """Return True when nothing constrains the results."""
        return self == Filters()


@dataclass(frozen=True, slots=True)
class Passage:
    """The part of a guide that answers: its section's relevant paragraphs, in document order."""

    title: str
    heading: str
    text: str
    path: str
    lang: str
    url: str | None = None
    chunk_id: str | None = None
    full: str = ""  # the whole section when `text` is a part of it ("read more"), else ""


AnswerKind = Literal["answer", "abstain", "smalltalk", "safeguarding"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the assistant says to a question, in structured parts each adapter renders.

    `text` is the lead in the resident's language (an introduction to the cards, the guide
    passage, the abstention, a reply to small talk); the cards, passage, helplines, contact and
    sources are separate parts, never repeated inside `text`.
    """

    question: str
    lang: str
    text: str
    abstained: bool
    sources: tuple[Source, ...] = ()
    cards: tuple[Card, ...] = ()
    contact: ContactInfo | None = None
    suggestions: tuple[str, ...] = ()  # closest topics, offered when abstaining
    filters: Filters = field(default_factory=Filters)
    latency_ms: float = 0.0
    kind: AnswerKind = "answer"
    passage: Passage | None = None
    helplines: tuple[ContactInfo, ...] = ()  # first, when the message signals danger or distress
    safeguarding: bool = False
    follow_up: str = ""  # "attribute" or "refinement" when answered about the previous answer


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk found for a query, with the fused score and its parts (for tuning and abstention)."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    title: float = 0.0  # cosine of the query and the chunk's document title (0: not compared)
