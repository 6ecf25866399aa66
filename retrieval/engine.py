"""The answer engine: a question in a resident's words -> a grounded `Answer`, or an honest "no".

It reads top to bottom like the pipeline it runs:

1. understand: the question's language, small talk, a follow-up of the conversation, the
   filters and dates in its words (`retrieval.language`, `smalltalk`, `conversation`, `query`);
2. retrieve: one question vector, dense + BM25 fused over the chunks (`retrieval.search`);
3. rank: chunks -> documents and records, best first (`retrieval.rank`);
4. gate: answer or abstain, by meaning, in any language (`retrieval.gate`);
5. compose: cards for programmes and events (`retrieval.records`), a readable passage for
   guides (`retrieval.passage`), sources, contact.

Safeguarding runs before all of it, on every surface, because every surface calls this engine.
No Telegram here: the bot, the terminal chat and `learncity ask` call the same `ask`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
from langchain_core.embeddings import Embeddings

from learncity.content.models import Event, Programme, text_language
from learncity.i18n import supported_languages, t
from retrieval.cards import contact_line, describe_filters
from retrieval.conversation import Context, Reading, read_follow_up
from retrieval.gate import RelevanceGate, TopicInventory, Verdict
from retrieval.language import LanguageIdentifier
from retrieval.lexical import LANGUAGES as LEXICAL_LANGUAGES
from retrieval.llm import LLMPhraser
from retrieval.llm import Passage as LLMPassage
from retrieval.passage import PassageComposer, section_body
from retrieval.query import ParsedQuestion, QueryParser, merge_filters
from retrieval.rank import Ranked, rank_documents
from retrieval.records import Candidate, Catalogue, KnowledgeSource
from retrieval.search import Searcher, Weights
from retrieval.smalltalk import SmalltalkDetector
from retrieval.types import Answer, Card, CardKind, ContactInfo, Filters, Hit, Source

logger = logging.getLogger(__name__)

SEARCH_K = 50
MAX_QUESTION_CHARS = 500
MAX_SOURCES = 5
WEEKDAY_WINDOW = dt.timedelta(days=7)
CARDS_OVER_GUIDE = 0.85  # a record this close to the best guide makes a course question cards
RECORDS_NEAR = 0.4  # ...or this close, when its constraints (free, where, when) are about records
SAME_LANGUAGE_RATIO = 0.9  # a guide in the question's language this close to the best wins
TWIN_TOPIC_SHARE = 0.5  # ...when it shares this much of its topics (a translation)
SNIPPET_CHARS = 300
SWITCH_CONFIDENCE = 0.9  # to reply in another language than the conversation's
SWITCH_WORDS = 3
DENSE_ONLY = Weights(dense=1.0, lexical=0.0, title=0.0)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


class Detection(Protocol):
    """What a safeguarding classifier found (learncity.safeguarding.Detection)."""

    @property
    def urgent(self) -> bool:
        """Return True when only the helplines should follow."""
        ...


Safeguard = Callable[[str, "np.ndarray | None"], Detection | None]


@dataclass(frozen=True, slots=True)
class Understood:
    """The question as the engine reads it."""

    text: str  # what is searched: the question, or the previous one refined by it
    question: str  # the message as written, cleaned of invisible characters
    lang: str  # the language to reply in
    written: str | None  # the language the question is written in, when it can be told
    parsed: ParsedQuestion
    filters: Filters
    reading: Reading
    vector: np.ndarray | None


@dataclass(frozen=True, slots=True)
class Traced:
    """An answer with what it was decided on (for evaluation and tuning)."""

    answer: Answer
    ranked: list[Ranked]
    verdict: Verdict
    route: str


class AnswerEngine:
    """Answer residents from the knowledge base, with sources, cards, or an honest abstention."""

    def __init__(
        self,
        *,
        knowledge: KnowledgeSource,
        searcher: Searcher,
        embeddings: Embeddings,
        zone: ZoneInfo,
        gate: RelevanceGate,
        smalltalk: SmalltalkDetector,
        languages: LanguageIdentifier,
        safeguard: Safeguard | None = None,
        llm: LLMPhraser | None = None,
        default_lang: str = "it",
    ) -> None:
        self._knowledge = knowledge
        self._searcher = searcher
        self._embeddings = embeddings
        self._zone = zone
        self._gate = gate
        self._smalltalk = smalltalk
        self._languages = languages
        self._safeguard = safeguard
        self._llm = llm
        self._default_lang = default_lang
        self._passages = PassageComposer(embeddings=embeddings)
        self._topics = TopicInventory(embeddings=embeddings)
        self.catalogue = Catalogue(knowledge=knowledge, zone=zone)
        self._parser_lock = threading.Lock()
        self._parser: tuple[int, QueryParser] | None = None

    @property
    def zone(self) -> ZoneInfo:
        """Return the city's time zone."""
        return self._zone

    @property
    def abstain_threshold(self) -> float:
        """Return the relevance under which the engine abstains."""
        return self._gate.threshold

    def warm_up(self) -> None:
        """Load every model and the date parser now, so the first resident does not wait."""
        self._languages.warm_up()
        self._gate.warm_up()
        self._smalltalk.warm_up()
        if self._safeguard is not None:
            self._safeguard("buongiorno", None)
        self.ask("corsi gratis a marzo", lang="it")
        self.ask("free events this weekend", lang="en")

    # --- the pipeline ----------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        lang: str | None = None,
        filters: Filters | None = None,
        now: dt.datetime | None = None,
        context: Context | None = None,
    ) -> Answer:
        """Answer a question (in the light of the conversation so far, when `context` is given)."""
        return self.trace(question, lang=lang, filters=filters, now=now, context=context).answer

    def trace(
        self,
        question: str,
        *,
        lang: str | None = None,
        filters: Filters | None = None,
        now: dt.datetime | None = None,
        context: Context | None = None,
    ) -> Traced:
        """Answer like `ask`, and return the ranking and verdict behind the answer."""
        started = time.perf_counter()
        moment = (now or dt.datetime.now(self._zone)).astimezone(self._zone)
        conversation = context or Context()
        understood = self._understand(question, lang, filters, moment, conversation)
        detection = self._safety(understood)
        if understood.vector is None and detection is None:
            # Only emoji, punctuation or invisible characters: say what the assistant can do.
            answer = self._smalltalk_answer(question, understood.lang, "capabilities")
            return self._done(answer, started, [], Verdict(False, 0.0), "smalltalk")
        intent = (
            self._smalltalk.intent(question, understood.vector)
            if detection is None and not understood.reading.refinement
            else None
        )
        if intent is not None:
            answer = self._smalltalk_answer(question, understood.lang, intent)
            return self._done(answer, started, [], Verdict(True, 1.0), "smalltalk")
        if understood.reading.attribute is not None:
            about = self._attribute_answer(understood, conversation, moment)
            if about is not None:
                answer = self._with_helplines(about, detection)
                return self._done(answer, started, [], Verdict(True, 1.0), "follow-up")
        hits = self._retrieve(understood)
        ranked = rank_documents(hits)
        verdict = self._gate.judge(
            understood.vector,
            ranked,
            topic=self._topic(understood.vector),
            coverage=self._coverage(understood),
        )
        answer, route = self._compose(understood, hits, ranked, verdict, moment)
        follow_up = "refinement" if understood.reading.refinement else ""
        answer = replace(answer, question=question, follow_up=follow_up)
        return self._done(self._with_helplines(answer, detection), started, ranked, verdict, route)

    def _safety(self, understood: Understood) -> Detection | None:
        """Return what danger or distress the message signals (its own words, not the context)."""
        if self._safeguard is None or not understood.question:
            return None
        own_vector = None if understood.reading.refinement else understood.vector
        return self._safeguard(understood.question, own_vector)

    def _done(
        self, answer: Answer, started: float, ranked: list[Ranked], verdict: Verdict, route: str
    ) -> Traced:
        latency = (time.perf_counter() - started) * 1000
        return Traced(replace(answer, latency_ms=latency), ranked, verdict, route)

    # --- 1. understand ---------------------------------------------------------------------------
    def _understand(
        self,
        question: str,
        lang: str | None,
        filters: Filters | None,
        now: dt.datetime,
        conversation: Context,
    ) -> Understood:
        text = " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", question)).split())
        text = text[:MAX_QUESTION_CHARS]
        chosen = lang or conversation.lang  # the resident's setting or the conversation's
        identified = self._languages.identify(text)
        written = identified.lang if identified is not None else None
        language = self._language(text, chosen or self._default_lang, strict=bool(chosen))
        reading = read_follow_up(text, conversation)
        searched = text
        if reading.refinement:
            searched = f"{conversation.last_question} {text}"[-MAX_QUESTION_CHARS:]
        parser_lang = language if language in ("it", "en") else None
        parsed = self._query_parser().parse(searched, lang=parser_lang, now=now)
        wanted = merge_filters(parsed.filters, filters)
        has_window = wanted.starts_after is not None or wanted.starts_before is not None
        if parsed.wants_events and wanted.weekdays and not has_window:
            # "What's on on Saturday?": the coming Saturday, not every Saturday of the season.
            wanted = replace(wanted, starts_after=now, starts_before=now + WEEKDAY_WINDOW)
        vector = (
            np.asarray(self._embeddings.embed_query(searched), dtype=np.float32)
            if any(char.isalnum() for char in searched)
            else None
        )
        return Understood(searched, text, language, written, parsed, wanted, reading, vector)

    def _language(self, text: str, fallback: str, *, strict: bool) -> str:
        """Return the language to reply in: the question's own when it can be told for sure.

        A short or unsure message keeps the language the resident chose or the conversation is
        in ("ok", "e sabato?"): `strict` asks for a sure identification before switching. A
        language with no message catalogue is answered in English, the most widely read.
        """
        found = self._languages.identify(text)
        if found is None:
            return fallback
        if (
            strict
            and found.lang != fallback
            and (found.confidence < SWITCH_CONFIDENCE or len(text.split()) < SWITCH_WORDS)
        ):
            return fallback
        return found.lang if found.lang in supported_languages() else "en"

    def _query_parser(self) -> QueryParser:
        kb = self._knowledge.current
        with self._parser_lock:
            if self._parser is None or self._parser[0] != id(kb):
                records: list[Programme | Event] = [*kb.programmes.values(), *kb.events.values()]
                districts = {
                    record.venue.district
                    for record in records
                    if record.venue is not None and record.venue.district
                }
                self._parser = (id(kb), QueryParser(districts=districts, zone=self._zone))
            return self._parser[1]

    # --- 2. retrieve -----------------------------------------------------------------------------
    def _retrieve(self, understood: Understood) -> list[Hit]:
        if understood.vector is None:
            return []
        text = understood.text
        if understood.parsed.expansion:
            # The folder's own words for a need named in the resident's words.
            text = f"{text} {understood.parsed.expansion}"
        written = understood.written
        if written is not None and written not in LEXICAL_LANGUAGES:
            # Word matching only works in the languages the index stems: a Polish question's
            # words match Italian pages by accident. Meaning alone ranks it.
            return self._searcher.search(text, k=SEARCH_K, weights=DENSE_ONLY)
        return self._searcher.search(text, k=SEARCH_K)

    def _coverage(self, understood: Understood) -> float | None:
        """Return how much of the question's wording the folder uses, where words can tell."""
        lexical = getattr(self._searcher, "lexical", None)
        written = understood.written
        if lexical is None or (written is not None and written not in LEXICAL_LANGUAGES):
            return None
        return float(lexical.coverage(understood.text))

    def _topic(self, vector: np.ndarray | None) -> float:
        """Return the question's cosine with the closest title or heading of the folder."""
        if vector is None:
            return 0.0
        matrix = self._topics.matrix(getattr(self._searcher, "lexical", None))
        return float(np.max(matrix @ vector)) if len(matrix) else 0.0

    # --- 5. compose ------------------------------------------------------------------------------
    def _compose(
        self,
        understood: Understood,
        hits: list[Hit],
        ranked: list[Ranked],
        verdict: Verdict,
        now: dt.datetime,
    ) -> tuple[Answer, str]:
        parsed, wanted = understood.parsed, understood.filters
        has_window = wanted.starts_after is not None or wanted.starts_before is not None
        if has_window and (parsed.wants_events or (parsed.only_when and not verdict.off_topic)):
            # "What's on this weekend?": the dates are the question, whatever the words score.
            return self._listing(understood, hits, now), "listing"
        named = self.catalogue.records_for(wanted, parsed.implied_audiences)
        if not verdict.answer and not (named and not verdict.off_topic):
            return self._abstain(understood, ranked), "abstain"
        # "When is it open?" after a guide answer asks what a programme or event card says.
        asks_records = (
            parsed.wants_programmes or parsed.wants_events or understood.reading.about_records
        )
        # "Aperta la domenica?" asks when a place opens (a guide), unless a record leads.
        hours_only = parsed.opening_hours and bool(ranked) and ranked[0].kind == "guide"
        near = understood.reading.about_records
        if not hours_only and self._wants_cards(ranked, asks_records, wanted, near_records=near):
            carded = self._card_answer(understood, hits, ranked, now)
            if carded is not None:
                return carded, "cards"
        guide = self._guide_answer(understood, hits, ranked, now)
        if guide is None:
            return self._abstain(understood, ranked), "abstain"
        return guide, "guide"

    def _wants_cards(
        self,
        ranked: Sequence[Ranked],
        asks_records: bool,
        wanted: Filters,
        *,
        near_records: bool = False,
    ) -> bool:
        if not ranked:
            return False
        if ranked[0].kind in ("programme", "event"):
            return True
        best_record = next((doc.score for doc in ranked if doc.kind in ("programme", "event")), 0.0)
        # Free, where, when: constraints only records have (a course's teaching language is
        # also a guide's subject: "the master's degree taught in English").
        constrained = not replace(wanted, audiences=(), topics=(), languages=()).is_empty()
        if (
            asks_records
            and (constrained or near_records)
            and best_record >= RECORDS_NEAR * ranked[0].score
        ):
            return True  # "free evening lessons in Librino": the constraints are about records
        return asks_records and best_record >= CARDS_OVER_GUIDE * ranked[0].score

    def _card_answer(
        self, understood: Understood, hits: list[Hit], ranked: list[Ranked], now: dt.datetime
    ) -> Answer | None:
        lang, wanted = understood.lang, understood.filters
        chosen, relaxed = self.catalogue.choose(
            hits, wanted, now, understood.parsed.implied_audiences
        )
        if not chosen:
            return None
        cards = self._cards(chosen, lang, now)
        intro = (
            t("answers.cards_relaxed", lang, filters=describe_filters(wanted, lang))
            if relaxed
            else t("answers.cards_intro", lang)
        )
        fallback = _fallback_language(chosen, lang)
        if fallback is not None:
            name = _language_name(fallback, lang)
            intro = f"{intro}\n{t('answers.described_in', lang, language=name)}"
        return Answer(
            question=understood.text,
            lang=lang,
            text=intro,
            abstained=False,
            sources=self._sources(cards, ranked, lang=lang),
            cards=tuple(cards),
            filters=wanted,
        )

    def _guide_answer(
        self, understood: Understood, hits: list[Hit], ranked: list[Ranked], now: dt.datetime
    ) -> Answer | None:
        lang = understood.lang
        guides = [doc for doc in ranked if doc.kind not in ("programme", "event", "contact")]
        contact = self._asked_contact(understood, ranked, lang)
        if not guides or understood.vector is None:
            return None
        lead = _in_language(guides, lang)
        passage = self._passages.compose(understood.text, understood.vector, lead.best.chunk)
        text = passage.text
        if self._llm is not None:
            phrased = self._llm.phrase(
                understood.text,
                [LLMPassage(title=doc.title, text=doc.best.chunk.text) for doc in guides[:3]],
                lang,
            )
            if phrased is not None:
                text = phrased.text
        cards: list[Card] = []
        if understood.parsed.wants_programmes or understood.parsed.wants_events:
            # "Corsi di informatica per over 60?": a guide leads, the courses are the answer.
            asked = self.catalogue.asked_records(
                hits, understood.filters, now, understood.parsed.implied_audiences
            )
            cards = self._cards(asked, lang, now)
        intro = ""
        if passage.lang and passage.lang != lang:
            intro = t("answers.described_in", lang, language=_language_name(passage.lang, lang))
        ordered = [lead, *[doc for doc in ranked if doc is not lead]]
        return Answer(
            question=understood.text,
            lang=lang,
            text=intro,
            abstained=False,
            sources=self._sources(cards, ordered, lang=lang, first_snippet=text),
            cards=tuple(cards),
            filters=understood.filters,
            passage=replace(passage, text=text),
            contact=contact,
        )

    def _asked_contact(
        self, understood: Understood, ranked: Sequence[Ranked], lang: str
    ) -> ContactInfo | None:
        """Return the office a "who do I turn to?" question names, when it ranks near the top."""
        if not understood.parsed.wants_contact:
            return None
        for doc in ranked[:3]:
            if doc.kind == "contact" and doc.record_id:
                return self.catalogue.contact(doc.record_id, lang)
        return None

    def _listing(self, understood: Understood, hits: list[Hit], now: dt.datetime) -> Answer:
        lang, wanted = understood.lang, understood.filters
        listing = self.catalogue.event_listing(
            wanted, now, hits, lang=lang, by_time=understood.parsed.only_when
        )
        contact = None
        if not listing.cards:
            contact = self.catalogue.contact_for("general", lang)
            text = t("answers.events_none", lang)
        elif listing.none_in_window:
            text = t("answers.events_none", lang) + " " + t("answers.events_next", lang)
        else:
            text = t("answers.cards_intro", lang)
        ordered = sorted(listing.cards, key=lambda card: -listing.scores.get(card.id, 0.0))
        return Answer(
            question=understood.text,
            lang=lang,
            text=text,
            abstained=False,
            sources=tuple(_card_source(card, listing.scores.get(card.id, 0.0)) for card in ordered),
            cards=listing.cards,
            contact=contact,
            filters=wanted,
        )

    def _abstain(self, understood: Understood, ranked: Sequence[Ranked]) -> Answer:
        lang = understood.lang
        contact = self.catalogue.contact_for("general", lang)
        suggestions = tuple(dict.fromkeys(doc.title for doc in ranked[:5] if doc.title))[:3]
        return Answer(
            question=understood.text,
            lang=lang,
            text=t("answers.abstain", lang),
            abstained=True,
            contact=contact,
            suggestions=suggestions,
            filters=understood.filters,
            kind="abstain",
        )

    def _smalltalk_answer(self, question: str, lang: str, intent: str) -> Answer:
        return Answer(
            question=question,
            lang=lang,
            text=t(f"answers.smalltalk_{intent}", lang),
            abstained=False,
            kind="smalltalk",
        )

    def _helplines_only(self, question: str, lang: str) -> Answer:
        return Answer(
            question=question,
            lang=lang,
            text=t("answers.safeguarding_intro", lang),
            abstained=False,
            kind="safeguarding",
            helplines=tuple(self.catalogue.safeguarding_contacts(lang)),
            safeguarding=True,
        )

    def _with_helplines(self, answer: Answer, detection: Detection | None) -> Answer:
        """Put the helplines first; a message of distress the folder cannot answer gets only them.

        The rest of the answer follows when there is one: a false alarm then costs one extra
        block, never the answer the resident asked for.
        """
        if detection is None:
            return answer
        if answer.abstained or answer.kind != "answer":
            helplines = self._helplines_only(answer.question, answer.lang)
            return replace(helplines, filters=answer.filters)
        return replace(
            answer,
            helplines=tuple(self.catalogue.safeguarding_contacts(answer.lang)),
            safeguarding=True,
        )

    def _attribute_answer(
        self, understood: Understood, conversation: Context, now: dt.datetime
    ) -> Answer | None:
        """Answer "quanto costa?" / "where is it?" about the records of the previous answer."""
        lang = understood.lang
        cards = [
            card
            for kind, record_id in conversation.records
            if kind in ("programme", "event")
            and (card := self.catalogue.card(kind, record_id, lang=lang, now=now)) is not None  # type: ignore[arg-type]
        ]
        if not cards:
            return None
        attribute = understood.reading.attribute or ""
        lines = [
            f"• {card.title}: {_attribute_of(card, attribute) or t('answers.see_details', lang)}"
            for card in cards
        ]
        return Answer(
            question=understood.text,
            lang=lang,
            text=t("answers.follow_up_intro", lang) + "\n" + "\n".join(lines),
            abstained=False,
            sources=tuple(_card_source(card, 1.0) for card in cards),
            cards=tuple(cards),
            follow_up="attribute",
        )

    # --- parts -----------------------------------------------------------------------------------
    def _cards(self, chosen: Sequence[Candidate], lang: str, now: dt.datetime) -> list[Card]:
        return [self.catalogue.card_for(c.kind, c.record, lang, now, c.next_start) for c in chosen]

    def _sources(
        self,
        cards: Sequence[Card],
        ranked: Sequence[Ranked],
        *,
        lang: str,
        first_snippet: str = "",
    ) -> tuple[Source, ...]:
        """Return the ranked list shown: the answer's own documents first, one per document."""
        kb = self._knowledge.current
        sources: list[Source] = [_card_source(card, 1.0) for card in cards]
        seen = {card.id for card in cards}
        for doc in ranked:
            if len(sources) >= MAX_SOURCES:
                break
            if doc.key in seen:
                continue
            seen.add(doc.key)
            meta = doc.best.chunk.metadata
            url = meta.get("url")
            if not url and doc.path in kb.guides:
                url = kb.guides[doc.path].meta.source_url
            snippet = first_snippet if first_snippet and len(sources) == len(cards) else ""
            if doc.kind == "contact" and doc.record_id:
                found = self.catalogue.contact(doc.record_id, lang)
                snippet = contact_line(found) if found is not None else snippet
            sources.append(
                Source(
                    title=doc.title or doc.path,
                    path=doc.path,
                    snippet=snippet or _snippet(doc.best),
                    score=round(doc.score, 4),
                    url=str(url) if url else None,
                    chunk_id=doc.best.chunk.id,
                    record_id=doc.record_id,
                    kind=doc.kind,
                )
            )
        return tuple(sources)

    # --- menus and cards the adapters show -------------------------------------------------------
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
        return self.catalogue.browse(
            audience=audience, topic=topic, lang=lang, offset=offset, limit=limit, now=now
        )

    def events_between(
        self, start: dt.datetime, end: dt.datetime, *, lang: str, filters: Filters | None = None
    ) -> list[Card]:
        """Return the events with an occurrence in [start, end), soonest first."""
        return self.catalogue.events_between(start, end, lang=lang, filters=filters)

    def nearest(
        self, lat: float, lon: float, *, lang: str, limit: int = 5, now: dt.datetime | None = None
    ) -> list[Card]:
        """Return programmes and upcoming events nearest to (lat, lon), with their distance."""
        return self.catalogue.nearest(lat, lon, lang=lang, limit=limit, now=now)

    def card(
        self, kind: CardKind, record_id: str, *, lang: str, now: dt.datetime | None = None
    ) -> Card | None:
        """Return the card of one programme or event, or None when it no longer exists."""
        return self.catalogue.card(kind, record_id, lang=lang, now=now)

    def contact_for(self, kind: str, lang: str) -> ContactInfo:
        """Return the contact of this kind (else the general one)."""
        return self.catalogue.contact_for(kind, lang)

    def safeguarding_contacts(self, lang: str) -> list[ContactInfo]:
        """Return the helplines for danger or distress, emergency numbers first."""
        return self.catalogue.safeguarding_contacts(lang)


# --- helpers -------------------------------------------------------------------------------------
def _in_language(guides: Sequence[Ranked], lang: str) -> Ranked:
    """Return the best guide, or the same guide in the question's language when nearly as good.

    "The same guide" is one about the same topics (a translation), never a nearby guide that
    happens to be in the question's language.
    """
    best = guides[0]
    if best.lang == lang:
        return best
    for doc in guides[1:6]:
        if doc.lang == lang and doc.score >= SAME_LANGUAGE_RATIO * best.score and _twins(best, doc):
            return doc
    return best


def _topics(doc: Ranked) -> set[str]:
    return {topic for topic in str(doc.best.chunk.metadata.get("topics", "")).split("|") if topic}


def _twins(one: Ranked, other: Ranked) -> bool:
    """Return True when two guides cover mostly the same topics (one translates the other)."""
    first, second = _topics(one), _topics(other)
    return bool(first) and len(first & second) >= TWIN_TOPIC_SHARE * len(first | second)


def _fallback_language(chosen: Sequence[Candidate], lang: str) -> str | None:
    """Return the language the cards fall back to when none is described in `lang`."""
    written = {text_language(c.record.description, lang, c.record.lang) for c in chosen}
    if not chosen or lang in written:
        return None
    return sorted(written)[0]


def _snippet(hit: Hit) -> str:
    text = " ".join(section_body(hit.chunk).split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _card_source(card: Card, score: float) -> Source:
    return Source(
        title=card.title,
        path=card.path,
        snippet=card.summary,
        score=round(score, 4),
        url=card.url,
        record_id=card.id,
        kind=card.kind,
    )


def _attribute_of(card: Card, attribute: str) -> str:
    if attribute == "cost":
        return card.cost
    if attribute == "where":
        return card.where
    if attribute == "when":
        return card.when
    return card.url or ""


def _language_name(code: str, lang: str) -> str:
    """Return the name of language `code` in language `lang` (CLDR, via Babel)."""
    try:
        from babel import Locale

        name = Locale.parse(lang).languages.get(code)
    except (ValueError, TypeError, ImportError):
        name = None
    return name or code
