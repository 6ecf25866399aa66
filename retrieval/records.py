"""Records: which programmes and events answer a question, under its filters and dates.

The rank step finds documents; for programme and event questions this module turns them into
records that pass the hard constraints (free, district, language, dates, time of day), lifts the
asked audience and topic, expands events to their occurrence in the asked window, and makes the
cards. The bot's menus (/courses, /events, a shared location) use the same catalogue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from learncity.content.models import WEEKDAYS, Event, Programme, text_in
from learncity.i18n import t
from retrieval.cards import (
    contact_info,
    haversine_km,
    make_card,
    time_of_day,
)
from retrieval.lexical import fold
from retrieval.types import Card, CardKind, ContactInfo, Filters, Hit

if TYPE_CHECKING:
    from learncity.content.loader import KnowledgeBase

MAX_CARDS = 5
LISTING_CARDS = 12  # "what's on in December?": the window is the question, show more of it
# Cards must be nearly as relevant as the best one: no filler cards.
CARD_RELATIVE_FLOOR = 0.8
AUDIENCE_BOOST = 0.03
TOPIC_BOOST = 0.03
DEFAULT_EVENT_DAYS = 90
NEXT_EVENTS_DAYS = 60
EVENT_HORIZON_DAYS = 731
RELAX_RATIO = 0.8
# Records of the asked topic or audience are kept apart only when the best of them scores within
# this share of the best record: words said in passing in a long message ("italian payslips")
# must not push aside the record that fits (0.75 until the natural conversation set's dev half).
FOCUS_RATIO = 0.9


class KnowledgeSource(Protocol):
    """Holds the current knowledge base (retrieval.knowledge_service.KnowledgeService)."""

    @property
    def current(self) -> KnowledgeBase:
        """Return the knowledge base now serving."""
        ...


class StaticKnowledge:
    """A knowledge source that never changes (tests, one-off scripts)."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self._knowledge = knowledge

    @property
    def current(self) -> KnowledgeBase:
        """Return the knowledge base."""
        return self._knowledge


@dataclass(frozen=True, slots=True)
class Candidate:
    """A programme or event that may answer, with its score and next start."""

    kind: CardKind
    record: Programme | Event
    score: float
    next_start: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Listing:
    """Events found for a time window: the cards, whether none was in the window, a contact."""

    cards: tuple[Card, ...]
    scores: Mapping[str, float]
    none_in_window: bool


class Catalogue:
    """Programmes and events of the current knowledge base, filtered, ranked and carded."""

    def __init__(self, *, knowledge: KnowledgeSource, zone: ZoneInfo) -> None:
        self._knowledge = knowledge
        self._zone = zone

    @property
    def zone(self) -> ZoneInfo:
        """Return the city's time zone."""
        return self._zone

    def card_for(
        self,
        kind: CardKind,
        record: Programme | Event,
        lang: str,
        now: dt.datetime,
        next_start: dt.datetime | None,
    ) -> Card:
        """Return the card of a record (its path from the knowledge base)."""
        try:
            path = self._knowledge.current.path_of(record.id)
        except KeyError:
            path = ""
        return make_card(
            kind, record, lang=lang, now=now, next_start=next_start, path=path, zone=self._zone
        )

    def records_for(self, wanted: Filters, implied: Sequence[str]) -> bool:
        """Return True when the question names a topic and an audience some record has both of.

        "My grandma wants to learn WhatsApp" shares few words with the course text, but asks
        for digital skills for seniors: the folder covers it, whatever the words score.
        """
        audiences = set(wanted.audiences) - set(implied)
        if not wanted.topics or not audiences:
            return False
        kb = self._knowledge.current
        records: list[Programme | Event] = [*kb.programmes.values(), *kb.events.values()]
        return any(
            set(wanted.topics) & {str(x) for x in record.topics}
            and audiences & {str(a) for a in record.audiences}
            for record in records
        )

    def choose(
        self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime, implied: tuple[str, ...]
    ) -> tuple[list[Candidate], bool]:
        """Return the records to show as cards, best first, and whether constraints were relaxed."""
        strict = focus(self.rank(hits, wanted, now), wanted, implied)
        loose = focus(self.rank(hits, soft_only(wanted), now), wanted, implied)
        best_loose = loose[0].score if loose else 0.0
        relaxed = False
        candidates = strict
        # Only unrelated records meet every constraint ("free, in Librino" but no after-school
        # club there): show the relevant ones and say they do not meet everything.
        if not strict or strict[0].score < RELAX_RATIO * best_loose:
            candidates = loose
            relaxed = bool(loose) and wanted != soft_only(wanted)
        if not candidates:
            return [], False
        best = candidates[0].score
        chosen = [c for c in candidates if c.score >= best * CARD_RELATIVE_FLOOR][:MAX_CARDS]
        return chosen, relaxed

    def asked_records(
        self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime, implied: tuple[str, ...]
    ) -> list[Candidate]:
        """Return the records of the asked topic (and audience) a guide-led answer must list.

        "Corsi di informatica per over 60?": the guide's overview ranks first, but the resident
        asked for courses; the folder's computer courses for seniors are the answer, whatever
        their words score against the guide's.
        """
        if not wanted.topics:
            return []
        chosen, _ = self.choose(hits, soft_only(wanted), now, implied)
        audiences = set(wanted.audiences) - set(implied)
        on_topic = [c for c in chosen if set(wanted.topics) & {str(t) for t in c.record.topics}]
        if not audiences:
            return on_topic
        # Made for the asked audience first, unless the search clearly prefers another record
        # (as in `focus`); open to everyone only when none is made for it.
        made_for = [c for c in on_topic if audiences & {str(a) for a in c.record.audiences}]
        if made_for and made_for[0].score < FOCUS_RATIO * on_topic[0].score:
            return on_topic
        return made_for or [
            c for c in on_topic if "everyone" in {str(a) for a in c.record.audiences}
        ]

    def event_listing(
        self,
        wanted: Filters,
        now: dt.datetime,
        hits: Sequence[Hit],
        *,
        lang: str,
        by_time: bool = False,
    ) -> Listing:
        """List the events in the asked window, those for the asked audience and topic first.

        None in the window: list the next ones (same wishes, later dates; then without the time
        of day and weekdays; then without cost, place and language), so a resident always
        learns when something is on. `by_time`: the question names nothing but the window, so
        the soonest events come first rather than the closest words.
        """
        start = wanted.starts_after or now
        end = wanted.starts_before or start + dt.timedelta(days=DEFAULT_EVENT_DAYS)
        semantic: dict[str, float] = {}
        if not by_time:
            for hit in hits:
                record_id = hit.chunk.metadata.get("record_id")
                if isinstance(record_id, str):
                    semantic.setdefault(record_id, hit.score)
        chosen = self.events_in(
            replace(wanted, starts_after=start, starts_before=end), now, semantic, by_time=by_time
        )
        none_in_window = not chosen
        if not chosen:
            later = replace(
                wanted,
                starts_after=max(end, now),
                starts_before=max(end, now) + dt.timedelta(days=NEXT_EVENTS_DAYS),
            )
            for relaxed in (
                later,
                replace(later, time_of_day=None, weekdays=()),
                replace(
                    later,
                    time_of_day=None,
                    weekdays=(),
                    free_only=False,
                    districts=(),
                    languages=(),
                ),
            ):
                chosen = self.events_in(relaxed, now, semantic, by_time=by_time)
                if chosen:
                    break
        cards = tuple(self.card_for("event", event, lang, now, when) for _, when, event in chosen)
        scores = {event.id: min(1.0, semantic.get(event.id, 0.0)) for _, _, event in chosen}
        return Listing(cards=cards, scores=scores, none_in_window=none_in_window)

    def events_in(
        self,
        window: Filters,
        now: dt.datetime,
        semantic: Mapping[str, float],
        *,
        by_time: bool,
    ) -> list[tuple[float, dt.datetime, Event]]:
        """Return up to MAX_CARDS (score, start, event) in the window, best or soonest first."""
        kb = self._knowledge.current
        start = window.starts_after or now
        found: list[tuple[float, dt.datetime, Event]] = []
        for event in kb.events.values():
            if not fits_common(event, window):
                continue
            # Asked by its words ("concerti a dicembre"), a cancelled event is shown, cancelled.
            when = self.event_start(event, window, max(start, now), asked=not by_time)
            if when is None:
                continue
            score = semantic.get(event.id, 0.0)
            audiences = {str(a) for a in event.audiences}
            if window.audiences and set(window.audiences) & audiences:
                score += 1.0
            elif window.audiences and "everyone" in audiences:
                score += 0.5  # open to all: after the events made for them
            if window.topics and set(window.topics) & {str(x) for x in event.topics}:
                score += 1.0
            found.append((score, when, event))
        if found and (window.audiences or window.topics):
            # Events for the asked audience or topic, else those open to everyone; never
            # children's coding for "events for seniors".
            best = max(score for score, _, _ in found)
            floor = 1.0 if best >= 1.0 else 0.5
            found = [item for item in found if item[0] >= floor]
        if found and not by_time:
            # The question says which events: only those about as close to its words as the
            # best, never the rest of the month's programme.
            best_words = max(semantic.get(event.id, 0.0) for _, _, event in found)
            found = [
                item
                for item in found
                if semantic.get(item[2].id, 0.0) >= CARD_RELATIVE_FLOOR * best_words
            ]
        found.sort(key=lambda item: (-item[0], item[1], item[2].id))
        if by_time:
            return sorted(found[:LISTING_CARDS], key=lambda item: (item[1], item[2].id))
        return found[:MAX_CARDS]  # the asked-for event first ("talk on dyslexia in March")

    def rank(self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime) -> list[Candidate]:
        """Return programmes and events that pass the hard filters, best first."""
        kb = self._knowledge.current
        semantic: dict[str, float] = {}
        for hit in hits:
            record_id = hit.chunk.metadata.get("record_id")
            if isinstance(record_id, str) and record_id not in semantic:
                semantic[record_id] = hit.score
        pool: list[tuple[CardKind, Programme | Event]] = [
            (kind, record)
            for record_id in semantic
            for kind, record in [self.record(record_id)]
            if record is not None
        ]
        # With hard constraints (free, when, where, language) a record the search did not reach
        # can still be the answer: it joins below every record the search found.
        floor: float | None = None
        if not replace(wanted, audiences=(), topics=()).is_empty():
            floor = min(semantic.values(), default=0.0) * 0.9
            pool += [("programme", p) for p in kb.programmes.values() if p.id not in semantic]
            pool += [("event", e) for e in kb.events.values() if e.id not in semantic]
        candidates: list[Candidate] = []
        for kind, record in pool:
            base = semantic.get(record.id, floor)
            if base is None:
                continue
            next_start: dt.datetime | None = None
            if isinstance(record, Event):
                next_start = self.event_start(record, wanted, now, asked=True)
                if next_start is None:
                    continue
            elif not self.programme_fits(record, wanted, now):
                continue
            if not fits_common(record, wanted):
                continue
            boost = 0.0
            if wanted.audiences and set(wanted.audiences) & {str(a) for a in record.audiences}:
                boost += AUDIENCE_BOOST
            topics = {str(topic) for topic in record.topics}
            if wanted.topics and set(wanted.topics) & topics:
                # A record only about the asked topic (an Italian course) before one that also
                # covers others (a language exchange).
                boost += TOPIC_BOOST * (1 + len(set(wanted.topics) & topics) / len(topics))
            candidates.append(Candidate(kind, record, base + boost, next_start))
        candidates.sort(key=lambda c: (-c.score, c.next_start or now, c.record.id))
        return candidates

    def record(self, record_id: str) -> tuple[CardKind, Programme | Event | None]:
        kb = self._knowledge.current
        if record_id in kb.programmes:
            return "programme", kb.programmes[record_id]
        if record_id in kb.events:
            return "event", kb.events[record_id]
        return "programme", None

    def cards_from_hits(
        self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime, lang: str, *, limit: int
    ) -> list[Card]:
        record_hits = [h for h in hits if h.chunk.metadata.get("kind") in ("programme", "event")]
        if not record_hits:
            return []
        candidates = self.rank(record_hits, replace(wanted, audiences=(), topics=()), now)
        return [
            self.card_for(c.kind, c.record, lang, now, c.next_start) for c in candidates[:limit]
        ]

    def programme_fits(self, programme: Programme, wanted: Filters, now: dt.datetime) -> bool:
        schedule = programme.schedule
        if schedule is not None and schedule.end_date and schedule.end_date < now.date():
            return False  # over: never suggest a course that has ended
        slots = schedule.weekly if schedule is not None else []
        # A programme with no weekly times (only notes: "evenings, Monday to Friday") cannot be
        # ruled out by the hour or the day asked: unknown is not "no".
        if slots and wanted.time_of_day and not any(
            wanted.time_of_day in periods_of(s.start, s.end) for s in slots
        ):
            return False
        if (
            slots
            and wanted.weekdays
            and not any(WEEKDAYS.index(s.day) in wanted.weekdays for s in slots)
        ):
            return False
        start, end = wanted.starts_after, wanted.starts_before
        if start is None and end is None:
            return True
        if schedule is None:
            return True  # an ongoing service with no dates runs in any window
        if end is not None and schedule.start_date and schedule.start_date >= end.date():
            return False
        if start is not None and schedule.end_date and schedule.end_date < start.date():
            return False
        if slots and start is not None and end is not None and end - start < dt.timedelta(days=7):
            # "This weekend": a session must fall in the window (a monthly group is not on
            # every Saturday); the schedule's one interpreter says when sessions are.
            return bool(schedule.sessions(start, end, self._zone))
        return True

    def event_start(
        self, event: Event, wanted: Filters, now: dt.datetime, *, asked: bool = False
    ) -> dt.datetime | None:
        """Return the event's first start in the wanted window (None: not on then).

        `asked`: the resident asked about this event, so a cancelled one is shown (as cancelled)
        and, with no window in the question, its next date however far ahead.
        """
        if event.status == "cancelled" and not asked:
            return None
        start = wanted.starts_after or now
        default_days = EVENT_HORIZON_DAYS if asked else DEFAULT_EVENT_DAYS
        end = wanted.starts_before or start + dt.timedelta(days=default_days)
        # An event that has started but not ended still counts as "on" now.
        for occurrence in event.occurrences(start - event.duration(), end, self._zone):
            if occurrence + event.duration() <= now:
                continue
            local = occurrence.astimezone(self._zone)
            if wanted.time_of_day and time_of_day(local) != wanted.time_of_day:
                continue
            if wanted.weekdays and local.weekday() not in wanted.weekdays:
                continue
            return occurrence
        return None

    def browse(
        self,
        *,
        audience: str | None = None,
        topic: str | None = None,
        lang: str,
        offset: int = 0,
        limit: int = 5,
        now: dt.datetime | None = None,
    ) -> tuple[list[Card], int]:
        """Return one page of programmes for an audience and/or topic, and how many there are."""
        if offset < 0 or limit < 1:
            raise ValueError(f"offset ({offset}) must be >= 0 and limit ({limit}) >= 1")
        moment = (now or dt.datetime.now(self._zone)).astimezone(self._zone)
        kb = self._knowledge.current
        found = [
            programme
            for programme in kb.programmes.values()
            if (audience is None or audience in {str(a) for a in programme.audiences})
            and (topic is None or topic in {str(x) for x in programme.topics})
            and self.programme_fits(programme, Filters(), moment)
        ]
        found.sort(key=lambda p: fold(text_in(p.title, lang)))
        page = found[offset : offset + limit]
        return [self.card_for("programme", p, lang, moment, None) for p in page], len(found)

    def events_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        lang: str,
        filters: Filters | None = None,
    ) -> list[Card]:
        """Return the events with an occurrence in [start, end), soonest first."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        wanted = replace(filters or Filters(), starts_after=start, starts_before=end)
        kb = self._knowledge.current
        found: list[tuple[dt.datetime, Event]] = []
        for event in kb.events.values():
            if not fits_common(event, wanted):
                continue
            if wanted.audiences and not set(wanted.audiences) & {str(a) for a in event.audiences}:
                continue
            if wanted.topics and not set(wanted.topics) & {str(x) for x in event.topics}:
                continue
            occurrence = self.event_start(event, wanted, start)
            if occurrence is not None:
                found.append((occurrence, event))
        found.sort(key=lambda item: (item[0], item[1].id))
        return [self.card_for("event", event, lang, start, when) for when, event in found]

    def nearest(
        self, lat: float, lon: float, *, lang: str, limit: int = 5, now: dt.datetime | None = None
    ) -> list[Card]:
        """Return programmes and upcoming events nearest to (lat, lon), with their distance."""
        moment = (now or dt.datetime.now(self._zone)).astimezone(self._zone)
        kb = self._knowledge.current
        found: list[tuple[float, Card]] = []
        for programme in kb.programmes.values():
            venue = programme.venue
            if venue is None or venue.lat is None or venue.lon is None:
                continue
            if not self.programme_fits(programme, Filters(), moment):
                continue
            card = self.card_for("programme", programme, lang, moment, None)
            distance = haversine_km(lat, lon, venue.lat, venue.lon)
            found.append((distance, replace(card, distance_km=round(distance, 2))))
        for event in kb.events.values():
            venue = event.venue
            if venue is None or venue.lat is None or venue.lon is None:
                continue
            when = self.event_start(event, Filters(), moment)
            if when is None:
                continue
            card = self.card_for("event", event, lang, moment, when)
            distance = haversine_km(lat, lon, venue.lat, venue.lon)
            found.append((distance, replace(card, distance_km=round(distance, 2))))
        found.sort(key=lambda item: (item[0], item[1].id))
        return [card for _, card in found[:limit]]

    def card(
        self, kind: CardKind, record_id: str, *, lang: str, now: dt.datetime | None = None
    ) -> Card | None:
        """Return the card of one programme or event, or None when it no longer exists."""
        moment = (now or dt.datetime.now(self._zone)).astimezone(self._zone)
        kb = self._knowledge.current
        if kind == "programme" and record_id in kb.programmes:
            return self.card_for("programme", kb.programmes[record_id], lang, moment, None)
        if kind == "event" and record_id in kb.events:
            event = kb.events[record_id]
            return self.card_for(
                "event", event, lang, moment, event.next_occurrence(moment, self._zone)
            )
        return None

    def contact_for(self, kind: str, lang: str) -> ContactInfo:
        """Return the contact of this kind (else the general one, else the first in the file)."""
        contacts = list(self._knowledge.current.contacts)
        for wanted in (kind, "general"):
            for contact in contacts:
                if str(contact.kind) == wanted:
                    return contact_info(contact, lang)
        if contacts:
            return contact_info(contacts[0], lang)
        return ContactInfo(id="city", name=t("answers.city_contact", lang))

    def contact(self, contact_id: str, lang: str) -> ContactInfo | None:
        """Return the contact with this id in `lang`, or None when the folder has none."""
        for contact in self._knowledge.current.contacts:
            if contact.id == contact_id:
                return contact_info(contact, lang)
        return None

    def safeguarding_contacts(self, lang: str) -> list[ContactInfo]:
        """Return the helplines for danger or distress, emergency numbers first."""
        contacts = [c for c in self._knowledge.current.contacts if c.safeguarding]
        contacts.sort(key=lambda c: (str(c.kind) != "emergency", str(c.kind) != "helpline"))
        return [contact_info(contact, lang) for contact in contacts]


# --- helpers ---
def periods_of(start: dt.time, end: dt.time | None) -> set[str]:
    """Return the parts of the day a weekly slot runs in (16:30-21:30: afternoon and evening)."""
    found = {time_of_day(start)}
    if end is not None:
        last = (dt.datetime.combine(dt.date.min, end) - dt.timedelta(minutes=1)).time()
        found.add(time_of_day(last))
        if time_of_day(start) == "morning" and time_of_day(last) == "evening":
            found.add("afternoon")
    return found


def focus(
    candidates: list[Candidate], wanted: Filters, implied: tuple[str, ...]
) -> list[Candidate]:
    """Keep the records of the asked topic, then audience, when some relevant records have them.

    "Doposcuola" asks for school support: other free things in the district are not an answer.
    Audiences only guessed from family words ("for my mother") are not enforced.
    """
    focused = candidates
    asked_audiences = set(wanted.audiences) - set(implied)
    for asked, field in ((set(wanted.topics), "topics"), (asked_audiences, "audiences")):
        if not asked:
            continue
        matching = [
            c for c in focused if asked & {str(value) for value in getattr(c.record, field)}
        ]
        # ...unless the search clearly prefers another record ("youth band concert" is an event
        # for everyone, not one labelled for teens).
        if matching and matching[0].score >= FOCUS_RATIO * focused[0].score:
            focused = matching
    return focused


def soft_only(wanted: Filters) -> Filters:
    """Return the filters without the hard constraints (only audiences and topics kept)."""
    return Filters(audiences=wanted.audiences, topics=wanted.topics)


def fits_common(record: Programme | Event, wanted: Filters) -> bool:
    """Check the constraints programmes and events share: cost, district, language, type."""
    if wanted.free_only and not record.cost.free:
        return False
    if wanted.districts:
        district = record.venue.district if record.venue else None
        if not district or fold(district) not in {fold(d) for d in wanted.districts}:
            return False
    if wanted.languages and not set(wanted.languages) & set(record.languages):
        return False
    return not (wanted.learning_types and str(record.learning_type) not in wanted.learning_types)
