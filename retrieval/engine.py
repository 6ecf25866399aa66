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
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from langchain_core.embeddings import Embeddings

from learncity.content.models import Event, Programme
from learncity.i18n import supported_languages
from retrieval.compose import Composer
from retrieval.conversation import (
    MAX_FOLLOW_UP_WORDS,
    MAX_LEANING_WORDS,
    Context,
    Reading,
    asked_sentence,
    leaning_reading,
    read_follow_up,
    without_cues,
)
from retrieval.gate import RelevanceGate, TopicInventory, Verdict
from retrieval.language import EMBEDDED_LANGUAGES, Identified, LanguageIdentifier
from retrieval.lexical import LANGUAGES as LEXICAL_LANGUAGES
from retrieval.llm import LLMPhraser
from retrieval.passage import PassageComposer
from retrieval.query import QueryParser, merge_filters
from retrieval.rank import Ranked, rank_documents
from retrieval.records import Catalogue, KnowledgeSource
from retrieval.search import TITLE_WEIGHT, Searcher, Weights
from retrieval.smalltalk import SmalltalkDetector
from retrieval.types import Answer, Card, CardKind, ContactInfo, Filters, Hit
from retrieval.understanding import Detection, Safeguard, Understood
from retrieval.vocabulary import default_vocabulary

logger = logging.getLogger(__name__)

SEARCH_K = 50
AGREED_WITHIN = 5  # see `_agreed_record`; set on the dev conversations
MAX_QUESTION_CHARS = 500
WEEKDAY_WINDOW = dt.timedelta(days=7)
SWITCH_CONFIDENCE = 0.9  # to reply in another language than the conversation's
SWITCH_WORDS = 3
PARSED = ("it", "en")  # the languages whose filters and dates the question parser reads
# Meaning alone, for a question in a language the index does not stem: the passage's and the
# title's cosine (both language-agnostic), no word matches.
MEANING_ONLY = Weights(dense=1.0, lexical=0.0, title=TITLE_WEIGHT)
DENSE_ONLY = Weights(dense=1.0, lexical=0.0, title=0.0)
# Codes and acronyms, the same in every language: "A2", "B1", "3D", "SPID", "CPIA".
_CODE = re.compile(r"(?<!\w)(?:[A-Za-z]+\d+\w*|\d+[A-Za-z]+\w*|[A-Z]{3,})(?!\w)")
CODE_WEIGHT = 0.5  # any weight from 0.25 to 1 gave the same dev figures
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


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
        self._default_lang = default_lang
        self.catalogue = Catalogue(knowledge=knowledge, zone=zone)
        self._composer = Composer(
            knowledge=knowledge,
            catalogue=self.catalogue,
            passages=PassageComposer(embeddings=embeddings),
            llm=llm,
        )
        self._topics = TopicInventory(embeddings=embeddings)
        self._parser_lock = threading.Lock()
        self._parser: tuple[int, QueryParser] | None = None

    @property
    def zone(self) -> ZoneInfo:
        """Return the city's time zone."""
        return self._zone

    @property
    def abstain_threshold(self) -> float:
        """Return the probability of being covered under which the engine abstains."""
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
            answer = self._composer.smalltalk(question, understood.lang, "capabilities")
            return self._done(answer, started, [], Verdict(False, 0.0), "smalltalk")
        intent = (
            self._smalltalk.intent(question, understood.vector)
            if detection is None and not understood.reading.refinement
            else None
        )
        if intent is not None:
            answer = self._composer.smalltalk(question, understood.lang, intent)
            return self._done(answer, started, [], Verdict(True, 1.0), "smalltalk")
        answered = self._about_records(understood, conversation, moment) or self._details(
            understood, conversation, moment
        )
        if answered is not None:
            answer = self._composer.with_helplines(answered, detection)
            return self._done(answer, started, [], Verdict(True, 1.0), "follow-up")
        hits, ranked, verdict = self._search(understood)
        if not verdict.answer and self._adds_no_subject(understood):
            # "¿cuánto cuesta?" after a guide answered: the subject is the previous question's,
            # which the folder covers; cost words alone must not make it sound like another.
            verdict = replace(verdict, answer=True)
        leaning = self._leaning(understood, verdict, conversation)
        if leaning.attribute is not None:
            # A longer message the folder alone does not answer well asks about the records.
            about = replace(understood, reading=leaning)
            if (answered := self._about_records(about, conversation, moment)) is not None:
                answer = self._composer.with_helplines(answered, detection)
                return self._done(answer, started, [], Verdict(True, 1.0), "follow-up")
        elif leaning.refinement and not (verdict.answer and _new_record(ranked, conversation)):
            # A message whose own words lead to a record not shown yet ("e il concerto di natale
            # si fa quest'anno?") asks about it; otherwise, the previous question changed by
            # these words, when that is answered.
            again = self._understand(question, lang, filters, moment, conversation, leaning)
            found = self._search(again)
            if found[2].answer and _agreed_record(ranked, found[1], conversation):
                # "he also loves acting, something like that for him?": its own words lead to
                # a new record that the previous question changed by them finds as well.
                verdict = found[2]
            elif found[2].answer:
                understood, (hits, ranked, verdict) = again, found
        answer, route = self._composer.compose(understood, hits, ranked, verdict, moment)
        follow_up = "refinement" if understood.reading.refinement else ""
        answer = replace(answer, question=question, follow_up=follow_up)
        return self._done(
            self._composer.with_helplines(answer, detection), started, ranked, verdict, route
        )

    def _about_records(
        self, understood: Understood, conversation: Context, moment: dt.datetime
    ) -> Answer | None:
        """Answer a detail ("quanto costa?") about the records of the previous answer, or None
        when the message asks none or those records are gone."""
        if understood.reading.attribute is None:
            return None
        return self._composer.attribute(understood, conversation, moment)

    def _details(
        self, understood: Understood, conversation: Context, moment: dt.datetime
    ) -> Answer | None:
        """Answer a detail that the records just shown hold in their own words ("serve il
        certificato medico?", "is there a discount for the unemployed?"), when the message names
        no subject, day or time of its own ("e sabato?" asks for Saturday's activities, not
        whether these mention Saturday)."""
        question = understood.question
        if not conversation.records or len(question.split()) > MAX_LEANING_WORDS:
            return None
        own = understood.parsed  # the message's own words, unless read with the previous ones
        if understood.text != question:
            lang = understood.lang if understood.lang in PARSED else None
            own = self._query_parser().parse(question, lang=lang, now=moment)
        wanted = own.filters
        if own.names_subject() or wanted.weekdays or wanted.time_of_day:
            return None
        if wanted.audiences and read_follow_up(question, conversation).attribute is None:
            return None  # "and for children?" asks for children's activities, not these
        if wanted.starts_after is not None or wanted.starts_before is not None:
            return None
        return self._composer.details(understood, conversation, moment)

    def _adds_no_subject(self, understood: Understood) -> bool:
        """Return True when a refinement's words, cue words aside, name no subject of their own,
        neither a learning one nor an uncovered one."""
        if not understood.reading.refinement:
            return False
        rest = self._without_cues(understood.question)
        return not (
            self._gate_names(rest, uncovered=True) or self._gate_names(rest, uncovered=False)
        )

    def _search(self, understood: Understood) -> tuple[list[Hit], list[Ranked], Verdict]:
        """Retrieve, rank and judge: the hits, the documents best first, answer or abstain."""
        hits = self._retrieve(understood)
        ranked = rank_documents(hits)
        verdict = self._gate.judge(
            understood.vector,
            ranked,
            topic=self._topic(understood.vector),
            coverage=self._coverage(understood),
            embedded=understood.written is None or understood.written in EMBEDDED_LANGUAGES,
        )
        return hits, ranked, verdict

    def _leaning(self, understood: Understood, verdict: Verdict, conversation: Context) -> Reading:
        """Return how a message that read no follow-up cue leans on the conversation."""
        if understood.reading != Reading():
            return Reading()  # already read as a follow-up
        asked = asked_sentence(understood.question)
        rest = cache(lambda: self._without_cues(asked))
        lang = understood.written or understood.lang
        return leaning_reading(
            understood.question,
            conversation,
            answered=verdict.answer,
            off_topic=lambda: self._gate_names(rest(), uncovered=True),
            own_subject=lambda: (
                self._query_parser().parse(asked, lang=lang).names_subject()
                if lang in PARSED
                else self._gate_names(rest(), uncovered=False)
            ),
            uncovered_like=_nearer_uncovered(verdict),
            bare=_bare(understood),
        )

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
        reading: Reading | None = None,
    ) -> Understood:
        """Read the question; `reading` says how it leans on the conversation (else its cues)."""
        text = " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", question)).split())
        text = text[:MAX_QUESTION_CHARS]
        chosen = lang or conversation.lang  # the resident's setting or the conversation's
        identified = self._languages.identify(text)
        written = identified.lang if identified is not None else None
        language = _reply_language(
            identified, text, chosen or self._default_lang, strict=bool(chosen)
        )
        parser_lang = language if language in PARSED else None
        reading = reading if reading is not None else read_follow_up(text, conversation)
        rest = cache(lambda: self._without_cues(text))
        if reading.attribute is not None and (
            self._names_subject(text, written or language, now, rest)
            or self._gate_names(rest(), uncovered=True)
        ):
            # "where can I learn English?" asks about English courses, "quanto costa
            # l'abbonamento del bus?" about a bus pass: not about the records just shown.
            reading = Reading()
        searched = text
        if reading.refinement:
            searched = f"{conversation.last_question} {text}"[-MAX_QUESTION_CHARS:]
        parsed = self._query_parser().parse(searched, lang=parser_lang, now=now)
        if searched != text:
            # "e sabato?" after "il repair cafe venerdì?": the new day replaces the old one.
            own = self._query_parser().parse(text, lang=parser_lang, now=now).filters
            parsed = replace(parsed, filters=_replaced(parsed.filters, own))
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

    def _names_subject(
        self, text: str, lang: str, now: dt.datetime, rest: Callable[[], np.ndarray | None]
    ) -> bool:
        """Return True when the message's own words name what it is about: the parser tells in
        the languages it reads; elsewhere, the words left without cue words (`rest`) are a
        learning subject ("gdzie mogę uczyć się angielskiego?"). `lang`: the language it is
        written in."""
        if lang in default_vocabulary().languages:
            # A language with its own vocabulary file: its words tell ("¿dónde queda
            # exactamente?" names nothing, "¿y clases de cerámica?" names a subject).
            parser_lang = lang if lang in PARSED else None
            return self._query_parser().parse(text, lang=parser_lang, now=now).names_subject()
        return self._gate_names(rest(), uncovered=False)

    def _gate_names(self, rest: np.ndarray | None, *, uncovered: bool) -> bool:
        """Return True when a message's words without cue words (`rest`, None: nothing left)
        name a topic the folder does not cover (`uncovered`), or else a learning subject."""
        if rest is None:
            return False
        if uncovered:
            return self._gate.names_uncovered(rest)
        return self._gate.names_learning_topic(rest)

    def _without_cues(self, text: str) -> np.ndarray | None:
        """Return the vector of a message without its follow-up cue words (None: nothing left)."""
        rest = without_cues(text)
        if not any(char.isalnum() for char in rest):
            return None
        return np.asarray(self._embeddings.embed_query(rest), dtype=np.float32)

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
            # words match Italian pages by accident. Meaning alone ranks it; in a language the
            # embedding does not cover (Ukrainian, Romanian) titles mean no more than passages,
            # so the passage's cosine alone, as plain dense retrieval.
            weights = MEANING_ONLY if written in EMBEDDED_LANGUAGES else DENSE_ONLY
            # "italyanca A2 sinavi": a code means the same in every language.
            codes = " ".join(_CODE.findall(understood.question))
            if codes:
                weights = replace(weights, lexical=CODE_WEIGHT)
            return self._searcher.search(text, k=SEARCH_K, weights=weights, words=codes or None)
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


# Filters a refinement replaces rather than adds to ("e sabato?", "e la mattina?", "e a Librino?").
_REPLACED = ("weekdays", "time_of_day", "districts", "audiences")


def _replaced(previous: Filters, own: Filters) -> Filters:
    """Return the filters of a refined question, the message's own day, time and place first."""
    changes = {name: getattr(own, name) for name in _REPLACED if getattr(own, name)}
    if own.starts_after is not None or own.starts_before is not None:
        changes.update(starts_after=own.starts_after, starts_before=own.starts_before)
    return replace(previous, **changes)


def _new_record(ranked: list[Ranked], conversation: Context) -> bool:
    """Return True when the best match is a programme or event the conversation has not shown."""
    shown = {record_id for _, record_id in conversation.records}
    return bool(ranked) and ranked[0].kind in ("programme", "event") and ranked[0].key not in shown


def _agreed_record(own: list[Ranked], refined: list[Ranked], conversation: Context) -> bool:
    """Return True when a message's own best match is a record the conversation has not shown
    and its refined reading ranks among its first `AGREED_WITHIN` documents too."""
    if not _new_record(own, conversation):
        return False
    return any(doc.key == own[0].key for doc in refined[:AGREED_WITHIN])


def _bare(understood: Understood) -> bool:
    """Return True for a short message that names no day or dates ("c'è un laboratorio
    pomeridiano?" after a question about a child's dyslexia; "what's on Saturday?" is not)."""
    wanted = understood.filters
    dated = bool(wanted.weekdays) or wanted.starts_after is not None
    return len(understood.question.split()) <= MAX_FOLLOW_UP_WORDS and not dated


def _nearer_uncovered(verdict: Verdict) -> bool:
    """Return True when the question is nearer an uncovered topic than a learning question."""
    evidence = verdict.evidence
    return evidence is not None and evidence.off_topic > evidence.on_topic


def _reply_language(found: Identified | None, text: str, fallback: str, *, strict: bool) -> str:
    """Return the language to reply in: the question's own when it can be told for sure.

    A short or unsure message keeps the language the resident chose or the conversation is
    in ("ok", "e sabato?"): `strict` asks for a sure identification before switching. A
    language with no message catalogue is answered in English, the most widely read.
    """
    if found is None:
        return fallback
    if (
        strict
        and found.lang != fallback
        and (found.confidence < SWITCH_CONFIDENCE or len(text.split()) < SWITCH_WORDS)
    ):
        return fallback
    return found.lang if found.lang in supported_languages() else "en"
