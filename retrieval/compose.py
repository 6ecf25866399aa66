"""Extractive answers: the few sentences of the best passages that answer the question.

Each candidate sentence is scored by the cosine similarity of its embedding with the question's
plus the share of the question's content words it contains (stemmed, so "iscrivere" meets
"iscrizione"). Sentence vectors are cached by chunk id: a chunk is split and embedded once, the
first time it is among the best passages, so answers stay within the latency budget.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.lexical import tokenize
from retrieval.types import Chunk

SIMILARITY_WEIGHT = 0.7
OVERLAP_WEIGHT = 0.3
MAX_SENTENCES = 3
MIN_SENTENCE_CHARS = 25
# A second or third sentence joins only when it is nearly as good as the best one.
KEEP_RATIO = 0.8
CACHE_CHUNKS = 4096
FRAGMENT_PENALTY = 0.8
# A question in the text ("Are you between 16 and 29?") introduces an answer; it is not one.
QUESTION_PENALTY = 0.8
HEADING_MAX_CHARS = 60

# "Who can help?": a sentence that names whom to turn to, or how to reach them, answers it.
CONTACT_BONUS = 0.1
CONTACT_KEEP_RATIO = 0.6
TIME_BONUS = 0.1
_CONTACT = re.compile(
    r"\b(?:rivolg\w*|chiam\w*|contatt\w*|colloqui\w*|sportell\w*|uffici\w*"
    r"|numero verde|e-?mail|call\w*|contact\w*|phone\w*|helpline|desk|office|talk to|speak to"
    r"|ask (?:the|a|your))\b|\b\d{2,4}[ .]?\d{3}[ .]?\d{3,4}\b|@\w",
    re.IGNORECASE,
)
# "When?": a sentence with a month, a weekday, a date or an hour answers it.
_TIME = re.compile(
    r"\b(?:gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre"
    r"|novembre|dicembre|january|february|march|april|may|june|july|august|september|october"
    r"|november|december|luned\w*|marted\w*|mercoled\w*|gioved\w*|venerd\w*|sabato|domenica"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|entro|deadline|scadenza)\b"
    r"|\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}/\d{1,2}\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'«(\[]?[A-ZÀ-Ý0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_PAGE_MARK = re.compile(r"^(?:p\.|pag\.|page)\s*\d+$", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w))")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a chunk, with its place so the answer keeps the document's order."""

    chunk_id: str
    position: int
    text: str


@dataclass(frozen=True, slots=True)
class Extract:
    """The sentences chosen to answer, best chunk first, with their score."""

    sentences: tuple[Sentence, ...]
    score: float

    @property
    def text(self) -> str:
        """Return the sentences joined as one paragraph."""
        return " ".join(sentence.text for sentence in self.sentences)

    @property
    def chunk_ids(self) -> tuple[str, ...]:
        """Return the chunks the sentences came from, in order of first use."""
        return tuple(dict.fromkeys(sentence.chunk_id for sentence in self.sentences))


def plain(text: str) -> str:
    """Return Markdown text as plain words: no emphasis marks, links as their text."""
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())


def _looks_like_heading(line: str) -> bool:
    """Return True for a short line that starts with a capital and ends without punctuation."""
    return (
        len(line) <= HEADING_MAX_CHARS
        and line[0].isupper()
        and not line.endswith((".", "!", "?", ":", ";", ","))
        and not _BULLET.match(line)
    )


def blocks(text: str) -> list[str]:
    """Return paragraphs and list items, with hard-wrapped lines joined back."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(" ".join(current))
            current.clear()

    previous = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        after_sentence = not current or previous.endswith((".", "!", "?", ":", ";"))
        previous = line
        if not line:
            flush()
        elif _PAGE_MARK.match(line):
            continue
        elif after_sentence and _looks_like_heading(line):
            # A heading inside extracted text (PDF, plain text): not part of any sentence.
            flush()
        elif line.startswith("#") or _BULLET.match(line) or line.startswith("|"):
            flush()
            current.append(_BULLET.sub("", line.lstrip("#").strip()))
        else:
            current.append(line)
    flush()
    return blocks


def split_sentences(chunk: Chunk) -> list[str]:
    """Return the sentences of a chunk's body (its title and heading lines are left out)."""
    title = str(chunk.metadata.get("title", "")).strip()
    section = str(chunk.metadata.get("section", "")).strip()
    headers = {title, section} | {part.strip() for part in re.split(r"[›>]", section)}
    lines = chunk.text.splitlines()
    # Chunks start with the document title and the section heading (retrieval.chunking).
    while lines and (not lines[0].strip() or lines[0].strip() in headers):
        lines.pop(0)
    sentences: list[str] = []
    for raw_block in blocks("\n".join(lines)):
        block = plain(raw_block)
        if not block or block in headers:
            continue
        # Split before removing emphasis: "*Ho 17 anni.* Puoi..." is one question and answer.
        lead = ""  # a short label opening a block ("2. Valutazione.") belongs to what follows
        for index, raw_part in enumerate(_SENTENCE_END.split(" ".join(raw_block.split()))):
            part = plain(raw_part).strip()
            if lead:
                part, lead = f"{lead} {part}".strip(), ""
            if not part:
                continue
            if len(part) >= MIN_SENTENCE_CHARS or not sentences:
                sentences.append(part)
            elif index == 0:
                lead = part
            else:
                sentences[-1] = f"{sentences[-1]} {part}"
        if lead:
            sentences.append(lead)
    return sentences


class Composer:
    """Choose the 1-3 sentences of the best chunks that answer a question."""

    def __init__(
        self,
        *,
        embeddings: Embeddings,
        max_sentences: int = MAX_SENTENCES,
        cache_chunks: int = CACHE_CHUNKS,
    ) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences ({max_sentences}) must be at least 1")
        self._embeddings = embeddings
        self._max_sentences = max_sentences
        self._cache_size = cache_chunks
        self._cache: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        embed_array = getattr(self._embeddings, "embed_array", None)
        if embed_array is not None:
            return np.asarray(embed_array(list(texts)), dtype=np.float32)
        return np.asarray(self._embeddings.embed_documents(list(texts)), dtype=np.float32)

    def _sentences(self, chunks: Sequence[Chunk]) -> list[tuple[list[str], np.ndarray]]:
        """Return each chunk's sentences and their vectors, embedding the unseen chunks at once."""
        with self._lock:
            missing = [chunk for chunk in chunks if chunk.id not in self._cache]
        if missing:
            split = [split_sentences(chunk) for chunk in missing]
            flat = [sentence for sentences in split for sentence in sentences]
            vectors = self._embed(flat) if flat else np.zeros((0, 512), dtype=np.float32)
            with self._lock:
                start = 0
                for chunk, sentences in zip(missing, split, strict=True):
                    self._cache[chunk.id] = (sentences, vectors[start : start + len(sentences)])
                    start += len(sentences)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            found = []
            for chunk in chunks:
                self._cache.move_to_end(chunk.id)
                found.append(self._cache[chunk.id])
            return found

    def warm(self, chunks: Sequence[Chunk]) -> None:
        """Split and embed these chunks now, so their first answer does not wait."""
        self._sentences(chunks)

    def extract(
        self,
        question: str,
        chunks: Sequence[Chunk],
        *,
        question_vector: Sequence[float] | np.ndarray | None = None,
        prefer_contacts: bool = False,
        prefer_times: bool = False,
        expansion: str = "",
    ) -> Extract | None:
        """Return the best sentences of `chunks` (best chunk first) for `question`, or None.

        `prefer_contacts`: the question asks whom to turn to, so sentences naming a service to
        contact, or a phone number or e-mail, rank higher; `prefer_times`: the question asks
        when, so sentences with a date, month, weekday or hour rank higher. `expansion`: the
        folder's words for the question's need (`retrieval.query.CONCEPTS`), counted as the
        question's words.
        """
        if not chunks:
            return None
        vector = np.asarray(
            question_vector if question_vector is not None else self._embed([question])[0],
            dtype=np.float32,
        )
        terms = set(tokenize(f"{question} {expansion}" if expansion else question))
        scored: list[tuple[float, Sentence]] = []
        for rank, (chunk, (sentences, vectors)) in enumerate(
            zip(chunks, self._sentences(chunks), strict=True)
        ):
            if not sentences:
                continue
            similarity = vectors @ vector
            for position, sentence in enumerate(sentences):
                words = set(tokenize(sentence))
                overlap = len(terms & words) / len(terms) if terms else 0.0
                # Later chunks ranked lower by retrieval need a clearly better sentence to win.
                score = (
                    SIMILARITY_WEIGHT * float(similarity[position]) + OVERLAP_WEIGHT * overlap
                ) * (1.0 - 0.05 * rank)
                if prefer_contacts and _CONTACT.search(sentence):
                    score += CONTACT_BONUS
                if prefer_times and _TIME.search(sentence):
                    score += TIME_BONUS
                if sentence[0].islower():
                    # A fragment (text extracted from a PDF cut mid-sentence) reads badly alone.
                    score *= FRAGMENT_PENALTY
                if sentence.rstrip().endswith("?"):
                    score *= QUESTION_PENALTY
                scored.append((score, Sentence(chunk.id, position, sentence)))
        if not scored:
            return None
        scored.sort(key=lambda item: -item[0])
        best_score, best = scored[0]
        chosen = [best]
        for score, candidate in scored[1:]:
            if len(chosen) >= self._max_sentences:
                break
            # Keep the answer in one place: only sentences of chunks already used, or adjacent.
            same_place = candidate.chunk_id == best.chunk_id
            if score >= KEEP_RATIO * best_score and (same_place or score >= 0.95 * best_score):
                chosen.append(candidate)
            elif (
                prefer_contacts
                and same_place
                and score >= CONTACT_KEEP_RATIO * best_score
                and _CONTACT.search(candidate.text)
            ):
                # The other people to turn to listed beside the best one.
                chosen.append(candidate)
        order = {chunk.id: index for index, chunk in enumerate(chunks)}
        chosen.sort(key=lambda item: (order[item.chunk_id], item.position))
        chosen = self._complete(chosen, chunks)
        return Extract(sentences=tuple(chosen), score=best_score)

    def _complete(self, chosen: list[Sentence], chunks: Sequence[Chunk]) -> list[Sentence]:
        """Add the sentence after a chosen one ending in ":" or "?" (its list, its answer)."""
        by_id = {chunk.id: chunk for chunk in chunks}
        complete: list[Sentence] = []
        for sentence in chosen:
            if sentence not in complete:
                complete.append(sentence)
            if not sentence.text.rstrip().endswith((":", "?")):
                continue
            with self._lock:
                cached = self._cache.get(sentence.chunk_id)
            texts = cached[0] if cached else split_sentences(by_id[sentence.chunk_id])
            following = sentence.position + 1
            if following < len(texts):
                after = Sentence(sentence.chunk_id, following, texts[following])
                if after not in complete and after not in chosen:
                    complete.append(after)
        return complete
