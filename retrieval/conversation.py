"""Conversation context: what the last answers were about, so "quanto costa?" has a subject.

A `Context` is small and plain (the last few questions, the records and documents of the last
answer, its language) and serialises to JSON, so the bot and the terminal chat keep it in the
database (`retrieval.context_store`) and a restart loses no conversation.

`FollowUp.read` tells whether a message leans on the previous answer:
- an *attribute* follow-up asks for a detail of the records just shown ("quanto costa?",
  "where is it?", "a che ora?", "come mi iscrivo?"): answered about those records;
- a *refinement* changes the previous question ("e sabato?", "and for children?", "e gratis?"):
  answered as the previous question with the new words.
Cue words per language live in `data/followups.yaml`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path

import yaml

from learncity.text import fold, word_pattern
from retrieval.types import Answer

MAX_TURNS = 4
MAX_FOLLOW_UP_WORDS = 7
# A longer message is read against the conversation only when, on its own, the folder would
# not answer it ("ok ma per iscriversi serve qualche documento particolare?").
MAX_LEANING_WORDS = 16
SUBJECT_RECORDS = 3  # records a follow-up may be about when the answer showed no cards
FOLLOWUPS_FILE = Path(__file__).parent / "data" / "followups.yaml"
ATTRIBUTES = ("cost", "where", "when", "enrol", "contact")


@dataclass(frozen=True, slots=True)
class Context:
    """The short memory of one conversation."""

    lang: str = ""
    questions: tuple[str, ...] = ()  # the last questions that were answered, oldest first
    records: tuple[tuple[str, str], ...] = ()  # (kind, id) of the cards of the last answer
    paths: tuple[str, ...] = ()  # the sources of the last answer, best first

    def remember(
        self,
        question: str,
        *,
        lang: str,
        records: tuple[tuple[str, str], ...],
        paths: tuple[str, ...],
    ) -> Context:
        """Return the context after an answer to `question` (the subject moves to its records)."""
        questions = (*self.questions, question)[-MAX_TURNS:]
        return replace(self, lang=lang, questions=questions, records=records, paths=paths)

    @property
    def last_question(self) -> str:
        """Return the last question answered, or ""."""
        return self.questions[-1] if self.questions else ""

    def to_json(self) -> str:
        """Return the context as JSON."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Context:
        """Return the context in `text`, or an empty one when it is missing or unreadable."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                lang=str(data.get("lang", "")),
                questions=tuple(str(q) for q in data.get("questions", ())),
                records=tuple((str(k), str(i)) for k, i in data.get("records", ())),
                paths=tuple(str(p) for p in data.get("paths", ())),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True, slots=True)
class Reading:
    """How a message relates to the conversation."""

    attribute: str | None = None  # cost, where, when, enrol, contact: a detail of the records
    refinement: bool = False  # the previous question, changed by these words


def _folded(text: str) -> str:
    """Return the text folded as cue words are (lower case, no accents, one space)."""
    return " ".join(fold(text).replace("’", "'").split())


@cache
def _cue_words() -> dict[str, list[str]]:
    data = yaml.safe_load(FOLLOWUPS_FILE.read_text(encoding="utf-8")) or {}
    merged: dict[str, list[str]] = {}
    for per_language in data.values():
        for name, words in (per_language or {}).items():
            merged.setdefault(str(name), []).extend(str(word) for word in words)
    return merged


@cache
def _cues() -> dict[str, re.Pattern[str]]:
    return {name: word_pattern(words) for name, words in _cue_words().items()}


@cache
def _any_cue() -> re.Pattern[str]:
    """Return one pattern of every cue word, longest first ("combien de temps" before
    "combien")."""
    return word_pattern([word for words in _cue_words().values() for word in words])


def _longest(pattern: re.Pattern[str], text: str) -> int:
    """Return the length of the longest match of `pattern` in `text` (0: none)."""
    return max((len(match.group(0)) for match in pattern.finditer(text)), default=0)


def read_follow_up(
    text: str, context: Context, *, longest: int = MAX_FOLLOW_UP_WORDS, weak: bool = False
) -> Reading:
    """Return how `text` leans on the previous answer (an empty Reading: it does not).

    Only messages of at most `longest` words are read: a longer one names its own subject.
    `weak`: words too common to mark a follow-up alone ("posso", "she") count as well.
    """
    if not context.questions:
        return Reading()
    folded = _folded(text)
    if len(folded.split()) > longest:
        return Reading()
    cues = _cues()
    # The longest cue decides: "combien de temps ?" asks how long, not how much.
    matched = {name: _longest(cues[name], folded) for name in ATTRIBUTES if name in cues}
    attribute = max(ATTRIBUTES, key=lambda name: matched.get(name, 0))
    if matched.get(attribute, 0):
        # About the records just shown; with none (a guide answered), the previous
        # question asked again with these words: the guide's section on costs, places...
        if context.records:
            return Reading(attribute=attribute)
        return Reading(refinement=True)
    if (pattern := cues.get("detail")) is not None and pattern.search(folded):
        return Reading(refinement=True)
    if (pattern := cues.get("continuation")) is not None and pattern.match(folded):
        return Reading(refinement=True)
    if (pattern := cues.get("pronoun")) is not None and pattern.search(folded):
        return Reading(refinement=True)
    if weak and (pattern := cues.get("weak")) is not None and pattern.search(folded):
        return Reading(refinement=True)
    return Reading()


_SENTENCE = re.compile(r"(?<=[?!.;])\s+")


PLACES = ("first", "second", "third")  # cue names of the records shown, in their order


def pointed_place(text: str, count: int) -> int | None:
    """Return the index of the record, among `count` just shown, that a message points at by
    its place ("il secondo quanto costa?", "where is the last one?"); None when it points at
    none of them."""
    folded = _folded(text)
    cues = _cues()
    for index, name in enumerate(PLACES):
        if index < count and (pattern := cues.get(name)) is not None and pattern.search(folded):
            return index
    if count > 1 and (pattern := cues.get("last")) is not None and pattern.search(folded):
        return count - 1
    return None


def asked_sentence(text: str) -> str:
    """Return the sentence of a message that asks the follow-up: the first with a cue word
    ("ok e che giorni sono?" in "ok e che giorni sono? io lavoro fino alle 17"); the whole
    message when one sentence or none has a cue. What the other sentences say ("io lavoro",
    "we live near piazza Duomo") tells about the resident, not a new subject."""
    sentences = [part for part in _SENTENCE.split(text.strip()) if part]
    if len(sentences) < 2:
        return text
    cues = _cues()
    for sentence in sentences:
        folded = _folded(sentence)
        if any(
            (pattern := cues.get(name)) is not None and pattern.search(folded)
            for name in (*ATTRIBUTES, "detail", "pronoun")
        ):
            return sentence
        if (pattern := cues.get("continuation")) is not None and pattern.match(folded):
            return sentence
    return text


def without_cues(text: str) -> str:
    """Return the message without its follow-up cue words: what is left names its subject, if
    any ("quanto costa l'abbonamento del bus?" -> "l'abbonamento del bus?")."""
    return " ".join(_any_cue().sub(" ", _folded(text)).split())


def leaning_reading(
    text: str,
    context: Context,
    *,
    answered: bool,
    off_topic: Callable[[], bool],
    own_subject: Callable[[], bool],
    uncovered_like: bool = False,
    bare: bool = False,
) -> Reading:
    """Return how a message leans on the conversation when `read_follow_up` found none, given
    what the folder alone made of it (`answered`; `off_topic`: asked only when the message
    would lean, whether it names an uncovered topic; `uncovered_like`: it is nearer one than a
    learning question) and whether its words name a subject of their own (`own_subject`, asked
    only when it decides).

    Up to `MAX_LEANING_WORDS`, a cue word decides as in a short message ("ok ma per iscriversi
    serve qualche documento particolare?") when the folder alone would not answer the message,
    or would but the message names no subject of its own. Without a cue, a message leans only
    when it names no subject ("mia figlia ha 15 anni, va bene lo stesso?"), is no nearer an
    uncovered topic, and the folder alone would not answer it or it is `bare` (short, no day
    or dates of its own: "c'è un laboratorio pomeridiano?"). An uncovered topic never leans.
    """
    if not context.questions or len(text.split()) > MAX_LEANING_WORDS:
        return Reading()
    cued = read_follow_up(text, context, longest=MAX_LEANING_WORDS, weak=True)
    if cued != Reading() and (not answered or not own_subject()):
        leaning = cued
    elif (answered and not bare) or uncovered_like or own_subject():
        return Reading()
    else:
        leaning = Reading(refinement=True)
    return Reading() if off_topic() else leaning


def subject_records(answer: Answer) -> tuple[tuple[str, str], ...]:
    """Return what a follow-up would be about: the answer's cards, else the records among its
    sources (a guide answered "SPID help desk"; "when is it open?" asks what the desk's card
    says), best first."""
    if answer.cards:
        return tuple((card.kind, card.id) for card in answer.cards)
    records = [
        (source.kind, source.record_id)
        for source in answer.sources
        if source.record_id and source.kind in ("programme", "event")
    ]
    return tuple(records[:SUBJECT_RECORDS])


def after_answer(context: Context, answer: Answer) -> Context:
    """Return the conversation after `answer`: small talk and abstentions change nothing.

    A follow-up about the records keeps the subject; a refinement ("e sabato?") becomes the
    question ("corsi di yoga e sabato?"), so the next refinement builds on it.
    """
    if answer.kind != "answer":
        return context
    records = subject_records(answer) or context.records
    paths = tuple(source.path for source in answer.sources)
    if answer.follow_up == "attribute":
        subject = context.last_question
        if answer.cards and set(records) < set(context.records):
            # "il secondo quanto costa?" answered about one of them: "e il primo?" still
            # counts from the list the resident saw.
            records, paths = context.records, context.paths
    elif answer.follow_up == "refinement":
        subject = f"{context.last_question} {answer.question}".strip()
    else:
        subject = answer.question
    return context.remember(subject, lang=answer.lang, records=records, paths=paths)
