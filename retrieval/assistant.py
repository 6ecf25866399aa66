"""The assistant: a question in a resident's words -> a grounded `Answer` (or an honest abstention).

- Programme and event questions: filters understood from the words (`retrieval.query`) are applied
  to the knowledge base's records (free, district, language, dates and times are hard constraints;
  audience and topic lift a record's rank), combined with the hybrid search score, and returned as
  cards; events are expanded to their next occurrence in the asked time window.
- Guide questions: the 1-3 sentences of the best passages that answer (`retrieval.compose`), with
  sources; optionally rephrased by a chat model that must cite them (`retrieval.llm`).
- Nothing relevant (`relevance`: best cosine, best BM25 and closest title or heading, scaled by
  the share of the question's words the folder knows, under the calibrated threshold): a plain
  "I don't have this" with the closest topics and the general contact from contacts.yaml. Never
  an unrelated answer.

No Telegram here: the bot, the terminal chat and the tests call the same methods.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

import numpy as np
from langchain_core.embeddings import Embeddings

from learncity.content.models import WEEKDAYS, Contact, Event, Programme, text_in
from learncity.i18n import normalize_language, t
from retrieval.compose import Composer
from retrieval.lexical import tokenize
from retrieval.lexical import words as tokenize_words
from retrieval.llm import LLMPhraser, Passage
from retrieval.query import QueryParser, detect_language, fold, merge_filters
from retrieval.types import (
    Answer,
    Card,
    CardKind,
    Chunk,
    ContactInfo,
    Filters,
    Hit,
    MetadataValue,
    Source,
)

if TYPE_CHECKING:
    from learncity.content.loader import KnowledgeBase

logger = logging.getLogger(__name__)

# Calibrated on benchmarks/questions/sample_eval.jsonl with benchmarks/sample_eval.py (its
# "suggested_threshold"): the relevance below which at most 5% of the answerable questions are
# refused, halfway to the next score. Settings.abstain_threshold (ABSTAIN_THRESHOLD) overrides it.
DEFAULT_ABSTAIN_THRESHOLD = 0.206
SEARCH_K = 50
MAX_QUESTION_CHARS = 500
RELEVANCE_HITS = 10
FUZZY_MIN_CHARS = 7
FUZZY_CUTOFF = 0.88
# Weights sum to 1; the topic part is the closest title or heading (see `topic_similarity`).
RELEVANCE_DENSE = 0.385
RELEVANCE_LEXICAL = 0.385
RELEVANCE_TOPIC = 0.23
# A question word counts fully as known to the folder when this many files (minus one) use it;
# a word in one file counts half, in two three quarters (see `coverage`).
WELL_KNOWN_FILES = 4
# Words residents use in questions that knowledge files rarely contain: not evidence of a topic
# the city does not cover.
_GENERIC_WORDS = frozenset(
    """son sons daughter daughters child kid kids mother father mum mom dad wife husband
    grandmother grandfather friend figlio figli figlia figlie bambino bambina madre padre mamma
    papa moglie marito nonna nonno amico amica get got need want would like know find best much
    many near nearby also really please thanks vorrei voglio posso devo serve servono sapere
    cerco trovare qualcosa qualcuno grazie ciao hello salve grandma grandpa granny nonnina
    nipote nipoti old""".split()  # noqa: SIM905
)
MAX_CARDS = 5
MAX_SOURCES = 3
# Cards must be nearly as relevant as the best one: no filler cards.
CARD_RELATIVE_FLOOR = 0.8
AUDIENCE_BOOST = 0.03
TOPIC_BOOST = 0.03
DEFAULT_EVENT_DAYS = 90
WEEKDAY_WINDOW = dt.timedelta(days=7)
NEXT_EVENTS_DAYS = 60
EVENT_HORIZON_DAYS = 731
SNIPPET_CHARS = 300
CARDS_OVER_GUIDE = 0.85
RELAX_RATIO = 0.8
FOCUS_RATIO = 0.75
_RECORD_KINDS = ("programme", "event")
SUMMARY_CHARS = 220
DOCUMENT_BEST = 0.5
DOCUMENT_PASSAGES = 3
TOPIC_LEAD = 0.03
# A passage in the question's language this close to the best one answers instead of it.
SAME_LANGUAGE_RATIO = 0.9
TWIN_TOPIC_SHARE = 0.5  # shared topics / all topics of the two guides


class Searcher(Protocol):
    """Anything that ranks chunks for a question (retrieval.search.HybridSearcher)."""

    def search(
        self, query: str, *, k: int, where: Mapping[str, MetadataValue] | None = None
    ) -> list[Hit]:
        """Return the k best chunks for the question."""
        ...


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


def time_of_day(moment: dt.datetime | dt.time) -> str:
    """Return "morning" (before 12), "afternoon" (12-17) or "evening" (from 17)."""
    hour = moment.hour
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 17 else "evening"


def _first_sentences(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end > limit // 3:
        return cut[: end + 1]
    return cut.rsplit(" ", 1)[0] + "…"


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    radius = 6371.0
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = math.radians(lat2 - lat1)
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


Route = Literal["listing", "abstain", "cards", "guide"]


@dataclass(frozen=True, slots=True)
class Traced:
    """An answer with the search hits and the relevance it was decided on."""

    answer: Answer
    hits: list[Hit]
    relevance: float
    route: Route  # which path answered: the threshold only decides "abstain" vs the others
    forced: bool = False  # answered whatever the relevance (an event listing, named records)


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: CardKind
    record: Programme | Event
    score: float
    next_start: dt.datetime | None


class Assistant:
    """Answer residents from the knowledge base, with sources, cards, or an honest abstention."""

    def __init__(
        self,
        *,
        knowledge: KnowledgeSource,
        searcher: Searcher,
        embeddings: Embeddings,
        zone: ZoneInfo,
        abstain_threshold: float | None = None,
        llm: LLMPhraser | None = None,
        default_lang: str = "it",
    ) -> None:
        if abstain_threshold is not None and not 0.0 <= abstain_threshold <= 1.0:
            raise ValueError(f"abstain_threshold ({abstain_threshold}) must be between 0 and 1")
        self._knowledge = knowledge
        self._searcher = searcher
        self._composer = Composer(embeddings=embeddings)
        self._embeddings = embeddings
        self._topic_lock = threading.Lock()
        self._topics: tuple[object, np.ndarray] | None = None
        self._topic_vectors: dict[str, np.ndarray] = {}
        self._zone = zone
        self._threshold = (
            DEFAULT_ABSTAIN_THRESHOLD if abstain_threshold is None else abstain_threshold
        )
        self._llm = llm
        self._default_lang = normalize_language(default_lang)
        self._parser_lock = threading.Lock()
        self._parser: tuple[int, QueryParser] | None = None
        self._buckets: tuple[object, dict[str, list[str]]] | None = None
        self._files: tuple[object, dict[str, frozenset[str]]] | None = None

    @property
    def abstain_threshold(self) -> float:
        """Return the fused score under which the assistant abstains."""
        return self._threshold

    @property
    def zone(self) -> ZoneInfo:
        """Return the city's time zone."""
        return self._zone

    def parser(self) -> QueryParser:
        """Return the query parser for the current knowledge base's districts."""
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

    def warm_up(self) -> None:
        """Load the date parser and split the guides' passages now, so the first answer is quick."""
        self.ask("corsi gratis a marzo", lang="it")
        self.ask("free events this weekend", lang="en")

    # --- answers ---------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        lang: str | None = None,
        filters: Filters | None = None,
        now: dt.datetime | None = None,
    ) -> Answer:
        """Answer a question from the knowledge base, or abstain with a human contact."""
        return self.trace(question, lang=lang, filters=filters, now=now).answer

    def trace(
        self,
        question: str,
        *,
        lang: str | None = None,
        filters: Filters | None = None,
        now: dt.datetime | None = None,
    ) -> Traced:
        """Answer like `ask`, and also return the hits and relevance behind it (for evaluation)."""
        started = time.perf_counter()
        moment = (now or dt.datetime.now(self._zone)).astimezone(self._zone)
        # A pasted page is not a question: its start says what it is about, and reading all
        # of it would keep everyone else waiting.
        text = question[:MAX_QUESTION_CHARS]
        language = normalize_language(lang) if lang else detect_language(text, self._default_lang)
        parsed = self.parser().parse(text, lang=language, now=moment)
        wanted = merge_filters(parsed.filters, filters)
        has_window = wanted.starts_after is not None or wanted.starts_before is not None
        if parsed.wants_events and wanted.weekdays and not has_window:
            # "What's on on Saturday?": the coming Saturday, not every Saturday of the season.
            wanted = replace(wanted, starts_after=moment, starts_before=moment + WEEKDAY_WINDOW)
            has_window = not parsed.wants_programmes
        # The folder's own words for a need named in the resident's words reach documents in
        # either language; the question alone still decides relevance (coverage, topics).
        hits = self._searcher.search(text, k=SEARCH_K) if text.strip() else []
        # One question vector for the topic check and the sentence choice (the searcher embeds
        # on its own, behind its interface).
        vector = np.asarray(self._embeddings.embed_query(text), dtype=np.float32) if hits else None
        relevance = self.relevance(text, hits, vector=vector, understood=parsed.understood_words)
        if parsed.expansion and hits:
            expanded = self._searcher.search(f"{text} {parsed.expansion}", k=SEARCH_K)
            relevance = max(
                relevance,
                self.relevance(text, expanded, vector=vector, understood=parsed.understood_words),
            )
            hits = expanded

        route: Route
        listing = has_window and (parsed.wants_events or parsed.only_when)
        # Below the threshold, a topic and audience some record has still make an answer.
        named = (
            not listing
            and relevance < self._threshold
            and self._records_for(wanted, parsed.implied_audiences)
        )
        forced = listing or named
        if listing:
            # "What's on this weekend?": the dates are the question, whatever the words score.
            route = "listing"
            answer = self._event_listing(
                text, language, wanted, moment, hits, by_time=parsed.only_when
            )
        elif relevance < self._threshold and not named:
            route = "abstain"
            answer = self._abstain(text, language, hits, wanted)
        else:
            carded = (
                self._card_answer(
                    text, language, hits, wanted, moment, implied=parsed.implied_audiences
                )
                if not parsed.opening_hours
                and self._wants_cards(hits, parsed.wants_programmes or parsed.wants_events, wanted)
                else None
            )
            route = "cards" if carded is not None else "guide"
            answer = carded or self._guide_answer(
                text,
                language,
                hits,
                wanted,
                moment,
                vector=vector,
                contact=parsed.wants_contact,
                when=parsed.wants_time,
                expansion=parsed.expansion,
                records=parsed.wants_programmes or parsed.wants_events,
                implied=parsed.implied_audiences,
            )
        answer = replace(
            answer, question=question, latency_ms=(time.perf_counter() - started) * 1000
        )
        return Traced(answer=answer, hits=hits, relevance=relevance, route=route, forced=forced)

    def coverage(self, question: str, *, understood: Iterable[str] = ()) -> float:
        """Return the share of the question's content words that occur in the knowledge base.

        A question about something the city's files never mention ("weather", "passport renewal")
        has words the index does not know; a word only one or two files use counts in part.
        Family words, question verbs, ages and years are not counted (a form's number, "730",
        is); a long word one typo away from a known one ("programazione") counts as known, and
        so do the `understood` words (a need recognised in the resident's words: "quit").
        """
        known_anyway = set(understood)
        lexical = getattr(self._searcher, "lexical", None)
        if lexical is None:
            return 1.0
        content = [
            word
            for word in dict.fromkeys(tokenize_words(question))
            if word not in _GENERIC_WORDS
            and len(word) > 2
            and (not word.isdigit() or _is_code(word))
            and (tokenize(word) or _is_code(word))
        ]
        if not content:
            return 1.0
        files = self._term_files(lexical)
        known = 0.0
        for word in content:
            terms = lexical.query_terms(word)
            if word in known_anyway:
                known += 1.0
            elif terms:
                # A word one or two files mention in passing ("pizza" in an event's prizes,
                # "rinnovo" only as "rinnovabili") is weak evidence the folder covers the topic.
                spread = max(len(files.get(term, ())) for term in terms)
                known += min(1.0, (spread + 1) / WELL_KNOWN_FILES) if files else 1.0
            elif self._near_known(word):
                known += 1.0
        return known / len(content)

    def _term_files(self, lexical: object) -> Mapping[str, frozenset[str]]:
        """Return, for each stemmed term of the index, the files whose chunks contain it."""
        chunks = getattr(lexical, "chunks", None)
        if not chunks:
            return {}
        with self._parser_lock:
            if self._files is not None and self._files[0] is chunks:
                return self._files[1]
        tokens: Mapping[str, list[str]] = getattr(lexical, "_cache", None) or {}
        found: dict[str, set[str]] = {}
        for chunk in chunks:
            path = str(chunk.metadata.get("path", ""))
            for term in set(tokens.get(chunk.id) or tokenize(chunk.text)):
                found.setdefault(term, set()).add(path)
        frozen = {term: frozenset(paths) for term, paths in found.items()}
        with self._parser_lock:
            self._files = (chunks, frozen)
        return frozen

    def _near_known(self, word: str) -> bool:
        """Return True when a long word is one typo away from a word of the index."""
        if len(word) < FUZZY_MIN_CHARS:
            return False
        vocabulary = _vocabulary(getattr(self._searcher, "lexical", None))
        if not vocabulary:
            return False
        with self._parser_lock:
            if self._buckets is None or self._buckets[0] is not vocabulary:
                buckets: dict[str, list[str]] = {}
                for term in vocabulary:
                    buckets.setdefault(term[:2], []).append(term)
                self._buckets = (vocabulary, buckets)
            buckets = self._buckets[1]
        for stem in {stem for stem in tokenize(word) if len(stem) >= FUZZY_MIN_CHARS - 2}:
            if difflib.get_close_matches(stem, buckets.get(stem[:2], []), n=1, cutoff=FUZZY_CUTOFF):
                return True
        return False

    def relevance(
        self,
        question: str,
        hits: Sequence[Hit],
        *,
        vector: np.ndarray | None = None,
        understood: Iterable[str] = (),
    ) -> float:
        """Return how well the knowledge base covers the question, in [0, 1] (abstain below).

        The best cosine similarity and the best BM25 score among the top hits (a cross-lingual
        question has its best cosine on one chunk and its best word match on another), scaled by
        the share of the question's words the index knows: BM25 is relative to the known words
        only, so alone it rates "weather in Catania" as high as a question about Catania.
        """
        if not hits:
            return 0.0
        top = hits[:RELEVANCE_HITS]
        dense = max(hit.dense for hit in top)
        lexical = max(hit.lexical for hit in top)
        topic = self.topic_similarity(question, vector=vector)
        score = RELEVANCE_DENSE * dense + RELEVANCE_LEXICAL * lexical + RELEVANCE_TOPIC * topic
        return score * self.coverage(question, understood=understood)

    def topic_similarity(self, question: str, *, vector: np.ndarray | None = None) -> float:
        """Return the cosine of the question with the closest title or heading in the folder.

        Titles and headings list what the city's files are about; a question near none of them
        ("best pizza in town", "tax return") is out of scope even when a passage shares words.
        """
        inventory = self._topic_inventory()
        if inventory is None or not len(inventory):
            return 0.0
        if vector is None:
            vector = np.asarray(self._embeddings.embed_query(question), dtype=np.float32)
        return float(np.max(inventory @ vector))

    def _topic_inventory(self) -> np.ndarray | None:
        """Return the vectors of every chunk title and section heading (cached by text)."""
        lexical = getattr(self._searcher, "lexical", None)
        chunks = getattr(lexical, "chunks", None)
        if not chunks:
            return None
        with self._topic_lock:
            if self._topics is not None and self._topics[0] is chunks:
                return self._topics[1]
            names: set[str] = set()
            for chunk in chunks:
                title = str(chunk.metadata.get("title", "")).strip()
                section = str(chunk.metadata.get("section", "")).strip()
                heading = re.split(r"[›>]", section)[-1].strip() if section else ""
                names.update(name for name in (title, heading) if name)
            missing = sorted(name for name in names if name not in self._topic_vectors)
            if missing:
                vectors = np.asarray(self._embeddings.embed_documents(missing), dtype=np.float32)
                self._topic_vectors.update(zip(missing, vectors, strict=True))
            ordered = sorted(names)
            matrix = (
                np.vstack([self._topic_vectors[name] for name in ordered])
                if ordered
                else np.zeros((0, 0), dtype=np.float32)
            )
            self._topics = (chunks, matrix)
            return matrix

    def _records_for(self, wanted: Filters, implied: Sequence[str]) -> bool:
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

    def _wants_cards(self, hits: Sequence[Hit], asks_for_records: bool, wanted: Filters) -> bool:
        """Return True for a programme or event question (cards), False for a guide question."""
        if not hits:
            return False
        if hits[0].chunk.metadata.get("kind") in _RECORD_KINDS:
            return True
        if asks_for_records and not replace(wanted, audiences=(), topics=()).is_empty():
            return True  # "free evening lessons in Librino": the constraints are about records
        best_record = next(
            (hit.score for hit in hits if hit.chunk.metadata.get("kind") in _RECORD_KINDS), 0.0
        )
        # "Corso di italiano gratis la sera" asks for courses even when a guide ranks first.
        return asks_for_records and best_record >= CARDS_OVER_GUIDE * hits[0].score

    def _abstain(self, question: str, lang: str, hits: Sequence[Hit], wanted: Filters) -> Answer:
        contact = self.contact_for("general", lang)
        suggestions: list[str] = []
        for hit in hits:
            title = str(hit.chunk.metadata.get("title", "")).strip()
            if title and title not in suggestions:
                suggestions.append(title)
            if len(suggestions) == 3:
                break
        text = t("answers.abstain", lang)
        if suggestions:
            text += (
                "\n\n"
                + t("answers.abstain_suggestions", lang)
                + "\n"
                + "\n".join(f"• {title}" for title in suggestions)
            )
        text += "\n\n" + _contact_line(contact)
        return Answer(
            question=question,
            lang=lang,
            text=text,
            abstained=True,
            contact=contact,
            suggestions=tuple(suggestions),
            filters=wanted,
        )

    def _guide_answer(
        self,
        question: str,
        lang: str,
        hits: Sequence[Hit],
        wanted: Filters,
        now: dt.datetime,
        *,
        vector: np.ndarray | None = None,
        contact: bool = False,
        when: bool = False,
        expansion: str = "",
        records: bool = False,
        implied: tuple[str, ...] = (),
    ) -> Answer:
        """Answer from the best guide passages; `records`: the question asks for courses or events.

        Asked for courses, the guide's extract is followed by the cards of the asked topic (and
        audience): a guide's introduction alone does not answer "corsi di ... per ...".
        """
        top = hits[0].score
        texts = _by_document(
            [hit for hit in hits if hit.chunk.metadata.get("kind") not in _RECORD_KINDS],
            wanted.topics,
        )
        passages = [hit for hit in texts if hit.score >= top * CARD_RELATIVE_FLOOR][:5]
        if not passages:
            passages = list(hits[:1])
        # A contact or record passage is quoted in the question's language only.
        passages = [replace(hit, chunk=language_view(hit.chunk, lang)) for hit in passages]
        passages = _question_language_first(passages, lang)
        # Sentences in one language: the question's when its passages lead.
        chosen = [hit for hit in passages[:3] if _lang_of(hit) == _lang_of(passages[0])]
        extract = self._composer.extract(
            question,
            [hit.chunk for hit in chosen],
            question_vector=vector,
            prefer_contacts=contact,
            prefer_times=when,
            expansion=expansion,
        )
        by_id = {hit.chunk.id: hit for hit in passages}
        ordered: list[Hit] = []
        if extract is not None:
            ordered = [by_id[chunk_id] for chunk_id in extract.chunk_ids]
        ordered += [hit for hit in passages if hit not in ordered]
        sources = self._sources(ordered, extract.text if extract else None)
        text = extract.text if extract is not None else _first_sentences(hits[0].chunk.text, 400)
        if self._llm is not None:
            phrased = self._llm.phrase(
                question,
                [
                    Passage(title=source.title, text=hit.chunk.text)
                    for source, hit in zip(sources, _distinct_by_path(ordered), strict=False)
                ],
                lang,
            )
            if phrased is not None:
                text = phrased.text
        asked = self._asked_records(hits, wanted, now, implied) if records else []
        if asked:
            cards = [self._card_for(c.kind, c.record, lang, now, c.next_start) for c in asked]
            text += "\n\n" + t("answers.cards_intro", lang) + "\n"
            text += "\n".join(_card_line(card) for card in cards)
        else:
            # A programme or event as relevant as the guide is worth showing too.
            cards = self._cards_from_hits(
                [hit for hit in hits if hit.score >= top * 0.9], wanted, now, lang, limit=3
            )
        return Answer(
            question=question,
            lang=lang,
            text=text,
            abstained=False,
            sources=tuple(sources),
            cards=tuple(cards),
            filters=wanted,
        )

    def _sources(self, hits: Sequence[Hit], snippet_first: str | None) -> list[Source]:
        kb = self._knowledge.current
        sources: list[Source] = []
        for hit in _distinct_by_path(hits):
            meta = hit.chunk.metadata
            path = str(meta.get("path", ""))
            url = meta.get("url")
            if not url and path in kb.guides:
                url = kb.guides[path].meta.source_url
            snippet = snippet_first if snippet_first and not sources else _snippet(hit.chunk)
            chunk_id = hit.chunk.id.split(_VIEW_MARK, 1)[0]
            sources.append(
                Source(
                    title=str(meta.get("title", path)),
                    path=path,
                    snippet=snippet,
                    score=round(hit.score, 4),
                    url=str(url) if url else None,
                    chunk_id=chunk_id,
                )
            )
            if len(sources) == MAX_SOURCES:
                break
        return sources

    def _card_answer(
        self,
        question: str,
        lang: str,
        hits: Sequence[Hit],
        wanted: Filters,
        now: dt.datetime,
        *,
        implied: tuple[str, ...] = (),
    ) -> Answer | None:
        chosen, relaxed = self._choose(hits, wanted, now, implied)
        if not chosen:
            return None
        cards = [self._card_for(c.kind, c.record, lang, now, c.next_start) for c in chosen]
        if relaxed:
            intro = t("answers.cards_relaxed", lang, filters=_describe_filters(wanted, lang))
        else:
            intro = t("answers.cards_intro", lang)
        text = intro + "\n" + "\n".join(_card_line(card) for card in cards)
        scores = {c.record.id: c.score for c in chosen}
        sources = [
            Source(
                title=card.title,
                path=card.path,
                snippet=card.summary,
                score=round(scores[card.id], 4),
                url=card.url,
            )
            for card in cards
        ]
        # Guide passages about as relevant as the cards are useful context: keep them as sources.
        guide_hits = [
            hit
            for hit in hits
            if hit.chunk.metadata.get("kind") not in ("programme", "event")
            and hit.score >= hits[0].score * 0.9
        ]
        sources += self._sources(guide_hits, None)[:1]
        return Answer(
            question=question,
            lang=lang,
            text=text,
            abstained=False,
            sources=tuple(sources),
            cards=tuple(cards),
            filters=wanted,
        )

    def _choose(
        self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime, implied: tuple[str, ...]
    ) -> tuple[list[_Candidate], bool]:
        """Return the records to show as cards, best first, and whether constraints were relaxed."""
        strict = _focus(self._rank(hits, wanted, now), wanted, implied)
        loose = _focus(self._rank(hits, _soft_only(wanted), now), wanted, implied)
        best_loose = loose[0].score if loose else 0.0
        relaxed = False
        candidates = strict
        # Only unrelated records meet every constraint ("free, in Librino" but no after-school
        # club there): show the relevant ones and say they do not meet everything.
        if not strict or strict[0].score < RELAX_RATIO * best_loose:
            candidates = loose
            relaxed = bool(loose) and wanted != _soft_only(wanted)
        if not candidates:
            return [], False
        best = candidates[0].score
        chosen = [c for c in candidates if c.score >= best * CARD_RELATIVE_FLOOR][:MAX_CARDS]
        return chosen, relaxed

    def _asked_records(
        self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime, implied: tuple[str, ...]
    ) -> list[_Candidate]:
        """Return the records of the asked topic (and audience) a guide-led answer must list.

        "Corsi di informatica per over 60?": the guide's overview ranks first, but the resident
        asked for courses; the folder's computer courses for seniors are the answer, whatever
        their words score against the guide's.
        """
        if not wanted.topics:
            return []
        chosen, _ = self._choose(hits, _soft_only(wanted), now, implied)
        audiences = set(wanted.audiences) - set(implied)
        return [
            c
            for c in chosen
            if set(wanted.topics) & {str(topic) for topic in c.record.topics}
            and (not audiences or (audiences | {"everyone"}) & {str(a) for a in c.record.audiences})
        ]

    def _event_listing(
        self,
        question: str,
        lang: str,
        wanted: Filters,
        now: dt.datetime,
        hits: Sequence[Hit],
        *,
        by_time: bool = False,
    ) -> Answer:
        """List the events in the asked window, those for the asked audience and topic first.

        None in the window: say so and list the next ones (same wishes, later dates; then
        without the time of day and weekdays; then without cost, place and language), so a
        resident always learns when something is on. `by_time`: the question names nothing
        but the window, so the soonest events come first rather than the closest words.
        """
        start = wanted.starts_after or now
        end = wanted.starts_before or start + dt.timedelta(days=DEFAULT_EVENT_DAYS)
        semantic: dict[str, float] = {}
        if not by_time:
            for hit in hits:
                record_id = hit.chunk.metadata.get("record_id")
                if isinstance(record_id, str):
                    semantic.setdefault(record_id, hit.score)
        chosen = self._events_in(
            replace(wanted, starts_after=start, starts_before=end), now, semantic, by_time=by_time
        )
        intro = t("answers.cards_intro", lang)
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
                chosen = self._events_in(relaxed, now, semantic, by_time=by_time)
                if chosen:
                    break
            intro = t("answers.events_none", lang) + " " + t("answers.events_next", lang)
        cards = [self._card_for("event", event, lang, now, when) for _, when, event in chosen]
        contact = None
        if not cards:
            contact = self.contact_for("general", lang)
            text = t("answers.events_none", lang) + "\n\n" + _contact_line(contact)
        else:
            text = intro + "\n" + "\n".join(_card_line(card) for card in cards)
        scores = {event.id: score for score, _, event in chosen}
        sources = [
            Source(
                title=card.title,
                path=card.path,
                snippet=card.summary,
                score=round(min(1.0, semantic.get(card.id, 0.0)), 4),
                url=card.url,
            )
            for card in sorted(cards, key=lambda card: -scores[card.id])
        ]
        return Answer(
            question=question,
            lang=lang,
            text=text,
            abstained=False,
            sources=tuple(sources),
            cards=tuple(cards),
            contact=contact,
            filters=wanted,
        )

    def _events_in(
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
            if not _fits_common(event, window):
                continue
            # Asked by its words ("concerti a dicembre"), a cancelled event is shown, cancelled.
            when = self._event_start(event, window, max(start, now), asked=not by_time)
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
            return sorted(found[:MAX_CARDS], key=lambda item: (item[1], item[2].id))
        return found[:MAX_CARDS]  # the asked-for event first ("talk on dyslexia in March")

    # --- ranking records -------------------------------------------------------------------------
    def _rank(self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime) -> list[_Candidate]:
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
            for kind, record in [self._record(record_id)]
            if record is not None
        ]
        # With hard constraints (free, when, where, language) a record the search did not reach
        # can still be the answer: it joins below every record the search found.
        floor: float | None = None
        if not replace(wanted, audiences=(), topics=()).is_empty():
            floor = min(semantic.values(), default=0.0) * 0.9
            pool += [("programme", p) for p in kb.programmes.values() if p.id not in semantic]
            pool += [("event", e) for e in kb.events.values() if e.id not in semantic]
        candidates: list[_Candidate] = []
        for kind, record in pool:
            base = semantic.get(record.id, floor)
            if base is None:
                continue
            next_start: dt.datetime | None = None
            if isinstance(record, Event):
                next_start = self._event_start(record, wanted, now, asked=True)
                if next_start is None:
                    continue
            elif not self._programme_fits(record, wanted, now):
                continue
            if not _fits_common(record, wanted):
                continue
            boost = 0.0
            if wanted.audiences and set(wanted.audiences) & {str(a) for a in record.audiences}:
                boost += AUDIENCE_BOOST
            topics = {str(topic) for topic in record.topics}
            if wanted.topics and set(wanted.topics) & topics:
                # A record only about the asked topic (an Italian course) before one that also
                # covers others (a language exchange).
                boost += TOPIC_BOOST * (1 + len(set(wanted.topics) & topics) / len(topics))
            candidates.append(_Candidate(kind, record, base + boost, next_start))
        candidates.sort(key=lambda c: (-c.score, c.next_start or now, c.record.id))
        return candidates

    def _record(self, record_id: str) -> tuple[CardKind, Programme | Event | None]:
        kb = self._knowledge.current
        if record_id in kb.programmes:
            return "programme", kb.programmes[record_id]
        if record_id in kb.events:
            return "event", kb.events[record_id]
        return "programme", None

    def _cards_from_hits(
        self, hits: Sequence[Hit], wanted: Filters, now: dt.datetime, lang: str, *, limit: int
    ) -> list[Card]:
        record_hits = [h for h in hits if h.chunk.metadata.get("kind") in ("programme", "event")]
        if not record_hits:
            return []
        candidates = self._rank(record_hits, replace(wanted, audiences=(), topics=()), now)
        return [
            self._card_for(c.kind, c.record, lang, now, c.next_start) for c in candidates[:limit]
        ]

    def _programme_fits(self, programme: Programme, wanted: Filters, now: dt.datetime) -> bool:
        schedule = programme.schedule
        if schedule is not None and schedule.end_date and schedule.end_date < now.date():
            return False  # over: never suggest a course that has ended
        slots = schedule.weekly if schedule is not None else []
        if wanted.time_of_day and not any(
            time_of_day(s.start) == wanted.time_of_day for s in slots
        ):
            return False
        if wanted.weekdays and not any(WEEKDAYS.index(s.day) in wanted.weekdays for s in slots):
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
            days = set()
            day = start.date()
            while day < end.date() or (day == end.date() and end.time() != dt.time()):
                days.add(day.weekday())
                day += dt.timedelta(days=1)
            if not any(WEEKDAYS.index(s.day) in days for s in slots):
                return False
        return True

    def _event_start(
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

    # --- browsing --------------------------------------------------------------------------------
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
            and self._programme_fits(programme, Filters(), moment)
        ]
        found.sort(key=lambda p: fold(text_in(p.title, lang)))
        page = found[offset : offset + limit]
        return [self._card_for("programme", p, lang, moment, None) for p in page], len(found)

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
            if not _fits_common(event, wanted):
                continue
            if wanted.audiences and not set(wanted.audiences) & {str(a) for a in event.audiences}:
                continue
            if wanted.topics and not set(wanted.topics) & {str(x) for x in event.topics}:
                continue
            occurrence = self._event_start(event, wanted, start)
            if occurrence is not None:
                found.append((occurrence, event))
        found.sort(key=lambda item: (item[0], item[1].id))
        return [self._card_for("event", event, lang, start, when) for when, event in found]

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
            if not self._programme_fits(programme, Filters(), moment):
                continue
            card = self._card_for("programme", programme, lang, moment, None)
            distance = _haversine_km(lat, lon, venue.lat, venue.lon)
            found.append((distance, replace(card, distance_km=round(distance, 2))))
        for event in kb.events.values():
            venue = event.venue
            if venue is None or venue.lat is None or venue.lon is None:
                continue
            when = self._event_start(event, Filters(), moment)
            if when is None:
                continue
            card = self._card_for("event", event, lang, moment, when)
            distance = _haversine_km(lat, lon, venue.lat, venue.lon)
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
            return self._card_for("programme", kb.programmes[record_id], lang, moment, None)
        if kind == "event" and record_id in kb.events:
            event = kb.events[record_id]
            return self._card_for(
                "event", event, lang, moment, event.next_occurrence(moment, self._zone)
            )
        return None

    def _card_for(
        self,
        kind: CardKind,
        record: Programme | Event,
        lang: str,
        now: dt.datetime,
        next_start: dt.datetime | None,
    ) -> Card:
        kb = self._knowledge.current
        lang = normalize_language(lang)
        try:
            path = kb.path_of(record.id)
        except KeyError:
            path = ""
        if isinstance(record, Event):
            when = _format_datetime(next_start, lang, self._zone) if next_start else ""
            cancelled = t("answers.cancelled", lang)
            if record.status == "cancelled" and cancelled not in text_in(record.title, lang):
                when = f"{cancelled} {when}".strip()
            url = record.booking_url or record.url or record.contact.url
        else:
            when = _format_schedule(record, lang)
            url = record.url or record.contact.url
            if next_start is None:
                next_start = _programme_next_start(record, now, self._zone)
        return Card(
            kind=kind,
            id=record.id,
            title=text_in(record.title, lang),
            summary=_first_sentences(text_in(record.description, lang), SUMMARY_CHARS),
            path=path,
            when=when,
            where=_format_where(record, lang),
            cost=_format_cost(record, lang),
            url=url,
            next_start=next_start,
        )

    # --- contacts --------------------------------------------------------------------------------
    def contact_for(self, kind: str, lang: str) -> ContactInfo:
        """Return the contact of this kind (else the general one, else the first in the file)."""
        contacts = list(self._knowledge.current.contacts)
        for wanted in (kind, "general"):
            for contact in contacts:
                if str(contact.kind) == wanted:
                    return _contact_info(contact, lang)
        if contacts:
            return _contact_info(contacts[0], lang)
        return ContactInfo(id="city", name=t("answers.city_contact", lang))

    def safeguarding_contacts(self, lang: str) -> list[ContactInfo]:
        """Return the helplines for danger or distress, emergency numbers first."""
        contacts = [c for c in self._knowledge.current.contacts if c.safeguarding]
        contacts.sort(key=lambda c: (str(c.kind) != "emergency", str(c.kind) != "helpline"))
        return [_contact_info(contact, lang) for contact in contacts]


# --- helpers -------------------------------------------------------------------------------------
def _vocabulary(lexical: object) -> Mapping[str, float] | None:
    """Return the stemmed vocabulary of the BM25 index (its idf table), if it has one."""
    vocabulary = getattr(lexical, "vocabulary", None)
    if vocabulary is None:
        vocabulary = getattr(lexical, "_idf", None)  # until BM25Index exposes it publicly
    return vocabulary if isinstance(vocabulary, Mapping) else None


def _is_code(word: str) -> bool:
    """Return True for a number that names something ("730", "104"), not an age or a year."""
    return word.isdigit() and len(word) >= 3 and not re.fullmatch(r"(?:19|20)\d\d", word)


def _by_document(hits: Sequence[Hit], topics: Sequence[str] = ()) -> list[Hit]:
    """Order passages by their document's support, then by their own score.

    A guide whose several sections match is about the question; a guide with one matching
    paragraph that points elsewhere ("read the guide on early school leaving") is not. A
    document scores the mean of its best passage and its best three passages' mean, plus a
    small lead when its topics include one the question names ("learn Italian").
    """
    by_path: dict[str, list[float]] = {}
    on_topic: set[str] = set()
    for hit in hits:
        path = str(hit.chunk.metadata.get("path", ""))
        by_path.setdefault(path, []).append(hit.score)
        if set(topics) & set(str(hit.chunk.metadata.get("topics", "")).split("|")):
            on_topic.add(path)
    support = {
        path: DOCUMENT_BEST * scores[0]
        + (1 - DOCUMENT_BEST) * sum(scores[:DOCUMENT_PASSAGES]) / len(scores[:DOCUMENT_PASSAGES])
        + (TOPIC_LEAD if path in on_topic else 0.0)
        for path, scores in by_path.items()
    }
    return sorted(
        hits, key=lambda hit: (-support[str(hit.chunk.metadata.get("path", ""))], -hit.score)
    )


_VIEW_MARK = "#"


def language_view(chunk: Chunk, lang: str) -> Chunk:
    """Return the block of a record chunk written in `lang` (the whole chunk when it has none).

    Record chunks hold every language of the record, one block each (metadata `langs`), so a
    question in either language finds them; a quote from one must be in one language.
    """
    langs = [code for code in str(chunk.metadata.get("langs", "")).split("|") if code]
    if len(langs) < 2 or lang not in langs:
        return chunk
    blocks = chunk.text.split("\n\n")
    if len(blocks) != len(langs):
        return chunk  # a block with blank lines of its own: keep the whole chunk
    return Chunk(
        id=f"{chunk.id}{_VIEW_MARK}{lang}",
        text=blocks[langs.index(lang)],
        metadata={**chunk.metadata, "lang": lang},
    )


def _lang_of(hit: Hit) -> str:
    return str(hit.chunk.metadata.get("lang", ""))


def _question_language_first(passages: list[Hit], lang: str) -> list[Hit]:
    """Put the passages in the question's language first when one is nearly as good.

    Guides often exist in both languages: an Italian question deserves the Italian one. When
    only the other language answers (a cross-lingual question), its passages stay first.
    """
    if not passages or _lang_of(passages[0]) == lang:
        return passages
    lead = _topics_of(passages[0])
    same = [
        hit
        for hit in passages
        if _lang_of(hit) == lang
        # The same guide in the other language covers the same topics, not merely a nearby one.
        and len(lead & _topics_of(hit)) >= TWIN_TOPIC_SHARE * len(lead | _topics_of(hit)) > 0
    ]
    if not same or same[0].score < SAME_LANGUAGE_RATIO * passages[0].score:
        return passages
    return same + [hit for hit in passages if hit not in same]


def _topics_of(hit: Hit) -> set[str]:
    return {topic for topic in str(hit.chunk.metadata.get("topics", "")).split("|") if topic}


def _distinct_by_path(hits: Iterable[Hit]) -> list[Hit]:
    seen: set[str] = set()
    found = []
    for hit in hits:
        path = str(hit.chunk.metadata.get("path", ""))
        if path not in seen:
            seen.add(path)
            found.append(hit)
    return found


def _snippet(chunk: Any) -> str:
    lines = chunk.text.splitlines()
    body = " ".join(lines[1:]) if len(lines) > 1 else chunk.text
    return _first_sentences(body, SNIPPET_CHARS)


def _focus(
    candidates: list[_Candidate], wanted: Filters, implied: tuple[str, ...]
) -> list[_Candidate]:
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


def _soft_only(wanted: Filters) -> Filters:
    """Return the filters without the hard constraints (only audiences and topics kept)."""
    return Filters(audiences=wanted.audiences, topics=wanted.topics)


def _fits_common(record: Programme | Event, wanted: Filters) -> bool:
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


def _contact_info(contact: Contact, lang: str) -> ContactInfo:
    return ContactInfo(
        id=contact.id,
        name=text_in(contact.name, lang),
        phone=contact.phone,
        email=contact.email,
        url=contact.url,
        hours=text_in(contact.hours, lang) or None,
        description=text_in(contact.description, lang) or None,
    )


def _contact_line(contact: ContactInfo) -> str:
    parts = [contact.name]
    parts += [value for value in (contact.phone, contact.email, contact.url) if value]
    line = " · ".join(parts)
    return f"{line} ({contact.hours})" if contact.hours else line


def _card_line(card: Card) -> str:
    details = " · ".join(part for part in (card.when, card.where, card.cost) if part)
    return f"• {card.title}" + (f" — {details}" if details else "")


def _format_datetime(moment: dt.datetime, lang: str, zone: ZoneInfo) -> str:
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


def _format_date(date: dt.date, lang: str) -> str:
    return f"{date.day} {t(f'answers.months.{date.month - 1}', lang)} {date.year}"


def _format_schedule(programme: Programme, lang: str) -> str:
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
                start=_format_date(schedule.start_date, lang),
                end=_format_date(schedule.end_date, lang),
            )
        )
    elif schedule.start_date:
        parts.append(t("answers.from_date", lang, start=_format_date(schedule.start_date, lang)))
    elif schedule.end_date:
        parts.append(t("answers.until_date", lang, end=_format_date(schedule.end_date, lang)))
    if not parts and schedule.notes:
        parts.append(_first_sentences(text_in(schedule.notes, lang), 120))
    return ", ".join(parts)


def _format_where(record: Programme | Event, lang: str) -> str:
    venue = record.venue
    if venue is None:
        return t("answers.online", lang) if record.online else ""
    parts = [venue.name]
    if venue.district and fold(venue.district) not in fold(venue.name):
        parts.append(venue.district)
    return ", ".join(parts)


def _format_cost(record: Programme | Event, lang: str) -> str:
    cost = record.cost
    if cost.free:
        return t("answers.free", lang)
    if cost.amount_eur is not None:
        amount = (
            f"{cost.amount_eur:g}" if lang == "en" else f"{cost.amount_eur:g}".replace(".", ",")
        )
        return t("answers.cost_amount", lang, amount=amount)
    return _first_sentences(text_in(cost.notes, lang), 80) if cost.notes else ""


def _programme_next_start(
    programme: Programme, now: dt.datetime, zone: ZoneInfo
) -> dt.datetime | None:
    """Return the next weekly meeting of a programme within its dates, if it has weekly times."""
    schedule = programme.schedule
    if schedule is None or not schedule.weekly:
        return None
    first = max(now.date(), schedule.start_date or now.date())
    best: dt.datetime | None = None
    for slot in schedule.weekly:
        day = first + dt.timedelta(days=(WEEKDAYS.index(slot.day) - first.weekday()) % 7)
        start = dt.datetime.combine(day, slot.start, tzinfo=zone)
        if start < now:
            start = dt.datetime.combine(day + dt.timedelta(days=7), slot.start, tzinfo=zone)
        if schedule.end_date and start.date() > schedule.end_date:
            continue
        if best is None or start < best:
            best = start
    return best


def _describe_filters(wanted: Filters, lang: str) -> str:
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
