"""Compose step for guides: a short passage a person can read, not a sentence out of context.

The passage comes from the best section of the best guide: its paragraphs and list items that
answer the question, in the document's order, under the section's heading, at most
`MAX_CHARS` characters; the whole section stays one tap away ("read more"). A list item keeps
its own question and answer together ("Ho 17 anni e ho lasciato la scuola. Puoi iscriverti…"),
so a FAQ line is never quoted as if the assistant said it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.blocks import blocks, plain
from retrieval.lexical import tokenize
from retrieval.types import Chunk, Passage

MAX_CHARS = 700
CACHE_CHUNKS = 4096
SIMILARITY_WEIGHT = 0.7
OVERLAP_WEIGHT = 0.3
KEEP_RATIO = 0.75  # a further block joins when it is nearly as relevant as the best one
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'«(\[]?[A-ZÀ-Ý0-9])")


@dataclass(frozen=True, slots=True)
class _Section:
    body: str
    units: list[str]
    vectors: np.ndarray


def section_body(chunk: Chunk) -> str:
    """Return a guide chunk's text without its title and heading lines."""
    head, separator, body = chunk.text.partition("\n\n")
    return body.strip() if separator else chunk.text.strip()


class PassageComposer:
    """Choose the paragraphs of a guide section that answer a question."""

    def __init__(self, *, embeddings: Embeddings, max_chars: int = MAX_CHARS) -> None:
        if max_chars < 80:
            raise ValueError(f"max_chars ({max_chars}) must be at least 80")
        self._embeddings = embeddings
        self._max_chars = max_chars
        self._cache: OrderedDict[str, _Section] = OrderedDict()
        self._lock = threading.Lock()

    def _section(self, chunk: Chunk) -> _Section:
        with self._lock:
            found = self._cache.get(chunk.id)
            if found is not None:
                self._cache.move_to_end(chunk.id)
                return found
        body = section_body(chunk)
        units = [plain(block) for block in blocks(body)]
        units = [unit for unit in units if unit]
        # A section short enough to show whole needs no choosing, so no vectors.
        vectors = (
            np.asarray(self._embeddings.embed_documents(units), dtype=np.float32)
            if units and not self._fits(units)
            else np.zeros((0, 1), dtype=np.float32)
        )
        section = _Section(body=body, units=units, vectors=vectors)
        with self._lock:
            self._cache[chunk.id] = section
            while len(self._cache) > CACHE_CHUNKS:
                self._cache.popitem(last=False)
        return section

    def compose(self, question: str, vector: np.ndarray, chunk: Chunk) -> Passage:
        """Return the passage of `chunk` that answers `question` (its vector given)."""
        section = self._section(chunk)
        meta = chunk.metadata
        text = self._select(question, vector, section)
        return Passage(
            title=str(meta.get("title", "")),
            heading=str(meta.get("section", "")),
            text=text,
            path=str(meta.get("path", "")),
            lang=str(meta.get("lang", "")),
            url=str(meta["url"]) if meta.get("url") else None,
            chunk_id=chunk.id,
            full=plain(section.body) if len(text) < len(plain(section.body)) else "",
        )

    def _select(self, question: str, vector: np.ndarray, section: _Section) -> str:
        units = section.units
        if not units:
            return ""
        if self._fits(units):
            return "\n".join(units)
        scores = self._scores(question, vector, units, section.vectors)
        best = int(np.argmax(scores))
        if len(units[best]) > self._max_chars:
            return _cut(units[best], self._max_chars)
        chosen = {best}
        used = len(units[best])
        for index in np.argsort(-scores, kind="stable"):
            index = int(index)
            if index in chosen or scores[index] < KEEP_RATIO * scores[best]:
                continue
            if used + len(units[index]) + 1 > self._max_chars:
                continue
            chosen.add(index)
            used += len(units[index]) + 1
        # A unit ending in ":" introduces the next one (its list): keep them together.
        for index in sorted(chosen):
            following = index + 1
            if (
                units[index].endswith(":")
                and following < len(units)
                and following not in chosen
                and used + len(units[following]) + 1 <= self._max_chars
            ):
                chosen.add(following)
                used += len(units[following]) + 1
        return "\n".join(units[index] for index in sorted(chosen))

    def _fits(self, units: Sequence[str]) -> bool:
        """Return True when the units, one per line, fit in a passage whole."""
        return sum(len(unit) + 1 for unit in units) <= self._max_chars

    @staticmethod
    def _scores(
        question: str, vector: np.ndarray, units: Sequence[str], vectors: np.ndarray
    ) -> np.ndarray:
        terms = set(tokenize(question))
        overlap = np.array(
            [len(terms & set(tokenize(unit))) / len(terms) if terms else 0.0 for unit in units],
            dtype=np.float32,
        )
        similarity = vectors @ vector if len(vectors) else np.zeros(len(units), np.float32)
        return SIMILARITY_WEIGHT * similarity + OVERLAP_WEIGHT * overlap


def _cut(text: str, limit: int) -> str:
    """Return the first sentences of `text` that fit in `limit` characters."""
    sentences = _SENTENCE_END.split(text)
    kept: list[str] = []
    for sentence in sentences:
        if sum(len(part) + 1 for part in kept) + len(sentence) > limit:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"
