"""Rank step: chunks found for a question -> the documents and records they belong to, best first.

A resident is shown sources, not chunks: one entry per guide (its path) or per programme, event
or contact (its record id). A document scores its best chunk plus a little of its next best
ones, so a guide whose several sections match the question outranks one that shares a single
passage with it (tuned on the UniQA dev half, `benchmarks/answer_quality.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.types import Hit

# Weights of a document's best, second and third chunk scores.
SUPPORT_WEIGHTS = (1.0, 0.2, 0.1)


@dataclass(frozen=True, slots=True)
class Ranked:
    """One document or record with its chunks found for the question, best chunk first."""

    key: str  # the record id, or the file's path for a guide
    kind: str  # guide, programme, event, contact
    path: str
    title: str
    score: float
    hits: tuple[Hit, ...]

    @property
    def record_id(self) -> str | None:
        """Return the record id, None for a guide."""
        return None if self.kind == "guide" else self.key

    @property
    def best(self) -> Hit:
        """Return the best chunk of this document."""
        return self.hits[0]

    @property
    def dense(self) -> float:
        """Return the best cosine similarity of the question with one of its chunks."""
        return max(hit.dense for hit in self.hits)

    @property
    def lang(self) -> str:
        """Return the language of the best chunk."""
        return str(self.best.chunk.metadata.get("lang", ""))


def key_of(hit: Hit) -> str:
    """Return the document or record a chunk belongs to."""
    meta = hit.chunk.metadata
    record_id = meta.get("record_id")
    if meta.get("kind") != "guide" and isinstance(record_id, str) and record_id:
        return record_id
    return str(meta.get("path", ""))


def rank_documents(
    hits: Sequence[Hit], *, weights: Sequence[float] = SUPPORT_WEIGHTS
) -> list[Ranked]:
    """Group chunks by document or record and rank those by their weighted best scores."""
    grouped: dict[str, list[Hit]] = {}
    for hit in hits:
        grouped.setdefault(key_of(hit), []).append(hit)
    ranked = []
    for key, found in grouped.items():
        found.sort(key=lambda hit: -hit.score)
        meta = found[0].chunk.metadata
        ranked.append(
            Ranked(
                key=key,
                kind=str(meta.get("kind", "guide")),
                path=str(meta.get("path", "")),
                title=str(meta.get("title", "")),
                score=sum(w * hit.score for w, hit in zip(weights, found, strict=False)),
                hits=tuple(found),
            )
        )
    ranked.sort(key=lambda doc: (-doc.score, doc.key))
    return ranked
