"""Compose step: the answer's parts from what the earlier steps decided.

Cards for programmes and events (`retrieval.records`), a readable passage for guides
(`retrieval.passage`), the ranked sources (one per document or record), the contact, helplines,
small talk and follow-up replies. The engine (`retrieval.engine`) routes; this module writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from learncity.content.models import all_texts, text_language
from learncity.i18n import t
from retrieval.cards import contact_line, describe_filters, record_facts
from retrieval.conversation import Context, pointed_place, without_cues
from retrieval.gate import Verdict
from retrieval.lexical import LANGUAGES as LEXICAL_LANGUAGES
from retrieval.lexical import tokenize
from retrieval.llm import LLMPhraser
from retrieval.llm import Passage as LLMPassage
from retrieval.passage import PassageComposer, section_body
from retrieval.rank import Ranked
from retrieval.records import Candidate, Catalogue, KnowledgeSource
from retrieval.types import Answer, Card, ContactInfo, Filters, Hit, Source
from retrieval.understanding import Detection, Understood

MAX_SOURCES = 5
CARDS_OVER_GUIDE = 0.85  # a record this close to the best guide makes a course question cards
RECORDS_NEAR = 0.4  # ...or this close, when its constraints (free, where, when) are about records
# A record whose title is this close to the question, and closer than the best guide's title by
# NAMED_TITLE_MARGIN, is the one the resident names ("dyslexia talk for parents"); set on the
# dev halves, where no guide question's best record came this close.
NAMED_TITLE = 0.6
NAMED_TITLE_MARGIN = 0.2
NAMED_WORDS = (2, 5)  # content words (stems) of a question that names a record by its title
SAME_LANGUAGE_RATIO = 0.9  # a guide in the question's language this close to the best wins
TWIN_TOPIC_SHARE = 0.5  # ...when it shares this much of its topics (a translation)
SNIPPET_CHARS = 300
MAX_FACTS = 2  # facts of one record quoted in answer to a detail its text holds


class Composer:
    """Write answers from the ranked documents, the verdict and the question as understood."""

    def __init__(
        self,
        *,
        knowledge: KnowledgeSource,
        catalogue: Catalogue,
        passages: PassageComposer,
        llm: LLMPhraser | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._catalogue = catalogue
        self._passages = passages
        self._llm = llm

    def compose(
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
        named = self._catalogue.records_for(wanted, parsed.implied_audiences)
        if not verdict.answer and not (named and not verdict.off_topic):
            return self.abstain(understood, ranked), "abstain"
        asks_records = parsed.wants_programmes or parsed.wants_events
        # "Aperta la domenica?" asks when a place opens (a guide), unless a record leads.
        hours_only = parsed.opening_hours and bool(ranked) and ranked[0].kind == "guide"
        if not hours_only and self._wants_cards(ranked, asks_records, wanted):
            carded = self._card_answer(understood, hits, ranked, now)
            if carded is not None:
                return carded, "cards"
        elif not hours_only and (carded := self._named_record(understood, hits, ranked, now)):
            return carded, "cards"
        guide = self._guide_answer(understood, hits, ranked, now)
        if guide is None:
            return self.abstain(understood, ranked), "abstain"
        return guide, "guide"

    def _wants_cards(
        self,
        ranked: Sequence[Ranked],
        asks_records: bool,
        wanted: Filters,
    ) -> bool:
        if not ranked:
            return False
        if ranked[0].kind in ("programme", "event"):
            return True
        best_record = next((doc.score for doc in ranked if doc.kind in ("programme", "event")), 0.0)
        # Free, where, when: constraints only records have (a course's teaching language is
        # also a guide's subject: "the master's degree taught in English").
        constrained = not replace(wanted, audiences=(), topics=(), languages=()).is_empty()
        if asks_records and constrained and best_record >= RECORDS_NEAR * ranked[0].score:
            return True  # "free evening lessons in Librino": the constraints are about records
        return asks_records and best_record >= CARDS_OVER_GUIDE * ranked[0].score

    def _card_answer(
        self, understood: Understood, hits: list[Hit], ranked: list[Ranked], now: dt.datetime
    ) -> Answer | None:
        lang, wanted = understood.lang, understood.filters
        chosen, relaxed = self._catalogue.choose(
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

    def _named_record(
        self, understood: Understood, hits: list[Hit], ranked: list[Ranked], now: dt.datetime
    ) -> Answer | None:
        """Answer with the record the words name, when one outmatches the best guide ("community
        garden plot", "repair cafe in de bibliotheek") or its title is all but repeated
        ("università della terza età iscrizione": its card, whatever filters the words suggest)."""
        record = outmatching_record(ranked)
        if record is not None:
            carded = self._card_answer(understood, hits, ranked, now)
            if carded is not None and carded.cards and carded.cards[0].id == record.key:
                return carded
        named = named_record(ranked) or worded_record(
            understood.question, ranked, self._record_titles
        )
        if named is None:
            return None
        card = self._catalogue.card(named.kind, named.key, lang=understood.lang, now=now)  # type: ignore[arg-type]
        if card is None:
            return None
        return Answer(
            question=understood.text,
            lang=understood.lang,
            text=t("answers.cards_intro", understood.lang),
            abstained=False,
            sources=self._sources([card], ranked, lang=understood.lang),
            cards=(card,),
            filters=understood.filters,
        )

    def _record_titles(self, doc: Ranked) -> list[str]:
        """Return a record's title in each of its languages."""
        _, record = self._catalogue.record(doc.key)
        return all_texts(record.title) if record is not None else [doc.title]

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
            asked = self._catalogue.asked_records(
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
                return self._catalogue.contact(doc.record_id, lang)
        return None

    def _listing(self, understood: Understood, hits: list[Hit], now: dt.datetime) -> Answer:
        lang, wanted = understood.lang, understood.filters
        listing = self._catalogue.event_listing(
            wanted, now, hits, lang=lang, by_time=understood.parsed.only_when
        )
        contact = None
        if not listing.cards:
            contact = self._catalogue.contact_for("general", lang)
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

    def abstain(self, understood: Understood, ranked: Sequence[Ranked]) -> Answer:
        lang = understood.lang
        contact = self._catalogue.contact_for("general", lang)
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

    def smalltalk(self, question: str, lang: str, intent: str) -> Answer:
        return Answer(
            question=question,
            lang=lang,
            text=t(f"answers.smalltalk_{intent}", lang),
            abstained=False,
            kind="smalltalk",
        )

    def helplines_only(self, question: str, lang: str) -> Answer:
        return Answer(
            question=question,
            lang=lang,
            text=t("answers.safeguarding_intro", lang),
            abstained=False,
            kind="safeguarding",
            helplines=tuple(self._catalogue.safeguarding_contacts(lang)),
            safeguarding=True,
        )

    def with_helplines(self, answer: Answer, detection: Detection | None) -> Answer:
        """Put the helplines first; a message of distress the folder cannot answer gets only them.

        The rest of the answer follows when there is one: a false alarm then costs one extra
        block, never the answer the resident asked for.
        """
        if detection is None:
            return answer
        if answer.abstained or answer.kind != "answer":
            helplines = self.helplines_only(answer.question, answer.lang)
            return replace(helplines, filters=answer.filters)
        return replace(
            answer,
            helplines=tuple(self._catalogue.safeguarding_contacts(answer.lang)),
            safeguarding=True,
        )

    def attribute(
        self, understood: Understood, conversation: Context, now: dt.datetime
    ) -> Answer | None:
        """Answer "quanto costa?" / "where is it?" about the records of the previous answer."""
        lang = understood.lang
        cards = [
            card
            for kind, record_id in conversation.records
            if kind in ("programme", "event")
            and (card := self._catalogue.card(kind, record_id, lang=lang, now=now)) is not None  # type: ignore[arg-type]
        ]
        if not cards:
            return None
        place = pointed_place(understood.question, len(cards))
        if place is not None:
            cards = [cards[place]]  # "il secondo quanto costa?": that one only
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

    def details(
        self, understood: Understood, conversation: Context, now: dt.datetime
    ) -> Answer | None:
        """Answer a question the records just shown answer in their own words ("serve il
        certificato medico?", "is there a discount for the unemployed?"): for each record whose
        text uses every content word of the question, the facts that use them. None when no
        record does, or the reply's language is one the index does not stem."""
        lang = understood.lang
        if lang not in LEXICAL_LANGUAGES:
            return None
        wanted = set(tokenize(without_cues(understood.question), (lang,)))
        if not wanted:
            return None
        found: list[tuple[Card, list[str]]] = []
        for kind, record_id in conversation.records:
            _, record = self._catalogue.record(record_id)
            card = self._catalogue.card(kind, record_id, lang=lang, now=now)  # type: ignore[arg-type]
            if record is None or card is None:
                continue
            facts = answering_facts(record_facts(record, card, lang), wanted, lang)
            if facts:
                found.append((card, facts))
        if not found:
            return None
        lines = [f"• {card.title}: {' '.join(facts)}" for card, facts in found]
        return Answer(
            question=understood.question,
            lang=lang,
            text=t("answers.follow_up_intro", lang) + "\n" + "\n".join(lines),
            abstained=False,
            sources=tuple(_card_source(card, 1.0) for card, _ in found),
            cards=tuple(card for card, _ in found),
            follow_up="attribute",
        )

    # --- parts -----------------------------------------------------------------------------------
    def _cards(self, chosen: Sequence[Candidate], lang: str, now: dt.datetime) -> list[Card]:
        return [self._catalogue.card_for(c.kind, c.record, lang, now, c.next_start) for c in chosen]

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
                found = self._catalogue.contact(doc.record_id, lang)
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


# --- helpers ---
def outmatching_record(ranked: Sequence[Ranked]) -> Ranked | None:
    """Return the best programme or event when it matches better than the best guide.

    A guide scores its best passage plus some support from its other sections, which a record
    (one passage) never has; so a record is compared passage to passage: by the fused score and
    by meaning alone, it must beat the guide's best section on both.
    """
    if not ranked or ranked[0].kind in ("programme", "event"):
        return None
    record = next((doc for doc in ranked if doc.kind in ("programme", "event")), None)
    guide = ranked[0]
    if record is None or record.best.score < guide.best.score or record.dense < guide.dense:
        return None
    return record


def named_record(ranked: Sequence[Ranked]) -> Ranked | None:
    """Return the programme or event whose title the question all but repeats, when a guide
    leads: its title is `NAMED_TITLE` close to the question and `NAMED_TITLE_MARGIN` closer
    than the guide's."""
    if not ranked or ranked[0].kind in ("programme", "event"):
        return None
    records = [doc for doc in ranked if doc.kind in ("programme", "event")]
    if not records:
        return None
    named = max(records, key=lambda doc: doc.best.title)
    floor = max(NAMED_TITLE, ranked[0].best.title + NAMED_TITLE_MARGIN)
    return named if named.best.title >= floor else None


def worded_record(
    question: str, ranked: Sequence[Ranked], titles: Callable[[Ranked], Sequence[str]]
) -> Ranked | None:
    """Return the best programme or event whose title, in one of its languages (`titles`), has
    every content word of a short question that names it ("SPID help desk" for the "SPID and
    online services help desk"), when a guide leads whose title does not have them all."""
    if not ranked or ranked[0].kind in ("programme", "event"):
        return None
    for lang in LEXICAL_LANGUAGES:
        wanted = set(tokenize(question, (lang,)))
        if not NAMED_WORDS[0] <= len(wanted) <= NAMED_WORDS[1]:
            continue
        if wanted <= set(tokenize(ranked[0].title, (lang,))):
            continue
        for doc in ranked:
            if doc.kind in ("programme", "event") and any(
                wanted <= set(tokenize(title, (lang,))) for title in titles(doc)
            ):
                return doc
    return None


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


def answering_facts(facts: Sequence[str], wanted: set[str], lang: str) -> list[str]:
    """Return the fewest facts (at most `MAX_FACTS`, in their order) that together use every
    stemmed word of `wanted`; [] when the facts do not use them all."""
    used = [set(tokenize(fact, (lang,))) & wanted for fact in facts]
    chosen: list[int] = []
    missing = set(wanted)
    while missing and len(chosen) < MAX_FACTS:
        best = max(range(len(facts)), key=lambda i: len(used[i] & missing))
        if not used[best] & missing:
            break
        chosen.append(best)
        missing -= used[best]
    return [facts[i] for i in sorted(chosen)] if not missing else []


def _attribute_of(card: Card, attribute: str) -> str:
    if attribute == "cost":
        return card.cost
    if attribute == "where":
        return card.where
    if attribute == "when":
        return card.when
    reach = card.contact or card.url or ""
    if attribute == "enrol":
        return " ".join(part for part in (card.enrolment, reach) if part)
    # "chi lo organizza?", "who do I call?": who runs it, and how to reach them.
    return " · ".join(part for part in (card.provider, reach) if part)


def _language_name(code: str, lang: str) -> str:
    """Return the name of language `code` in language `lang` (CLDR, via Babel)."""
    try:
        from babel import Locale

        name = Locale.parse(lang).languages.get(code)
    except (ValueError, TypeError, ImportError):
        name = None
    return name or code
