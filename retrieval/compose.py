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
HEADING_MAX_CHARS = 60

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'«(\[]?[A-ZÀ-Ý0-9])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_PAGE_MARK = re.compile(r"^(?:p\.|pag\.|page)\s*\d+$", re.IGNORECASE)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


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


def _blocks(text: str) -> list[str]:
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
    for block in _blocks("\n".join(lines)):
        block = plain(block)
        if not block or block in headers:
            continue
        for part in _SENTENCE_END.split(block):
            part = part.strip()
            if len(part) >= MIN_SENTENCE_CHARS or (part and not sentences):
                sentences.append(part)
            elif sentences and part:
                sentences[-1] = f"{sentences[-1]} {part}"
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
    ) -> Extract | None:
        """Return the best sentences of `chunks` (best chunk first) for `question`, or None."""
        if not chunks:
            return None
        vector = np.asarray(
            question_vector if question_vector is not None else self._embed([question])[0],
            dtype=np.float32,
        )
        terms = set(tokenize(question))
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
                if sentence[0].islower():
                    # A fragment (text extracted from a PDF cut mid-sentence) reads badly alone.
                    score *= FRAGMENT_PENALTY
                scored.append((score, Sentence(chunk.id, position, sentence)))
        if not scored:
            return None
        scored.sort(key=lambda item: -item[0])
        best_score, best = scored[0]
        chosen = [best]
        for score, candidate in scored[1:]:
            if len(chosen) >= self._max_sentences or score < KEEP_RATIO * best_score:
                break
            # Keep the answer in one place: only sentences of chunks already used, or adjacent.
            if candidate.chunk_id == best.chunk_id or score >= 0.95 * best_score:
                chosen.append(candidate)
        order = {chunk.id: index for index, chunk in enumerate(chunks)}
        chosen.sort(key=lambda item: (order[item.chunk_id], item.position))
        return Extract(sentences=tuple(chosen), score=best_score)
