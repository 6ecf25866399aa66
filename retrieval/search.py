"""Hybrid search: dense nearest neighbours fused with BM25 and title similarity.

Dense candidates come from an exact scan of the vectors in memory; above `EXACT_SCAN_LIMIT`
chunks Chroma's HNSW proposes them instead, and their cosines are still read exactly.

Every signal sits on an absolute scale, so the fused score means the same thing from one
question to the next:
- dense: cosine similarity of question and chunk (chunks carry their title and heading);
- lexical: the chunk's BM25 score divided by the highest score the question's terms could reach
  (see `retrieval.lexical`); when a question shares no words with the documents (an Italian
  question over English documents) it stays near zero and the dense side rules;
- title: cosine similarity of the question and the chunk's document title alone, which a long
  chunk body would otherwise drown ("which courses does the Master's in X offer?").
Identical chunk texts (the same section in several files) are returned once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from learncity.content.guides import title_from_filename
from retrieval.lexical import BM25Index, LexicalHit
from retrieval.store import IndexStoreError, VectorIndex
from retrieval.types import Chunk, Hit, MetadataValue

logger = logging.getLogger(__name__)

DENSE_WEIGHT = 0.5
LEXICAL_WEIGHT = 0.5
TITLE_WEIGHT = 0.15  # real titles only: a file name as title cost 5 points R@1 (UniQA dev)
CANDIDATES = 50
EXACT_SCAN_LIMIT = 20_000
"""Chunks up to which one matrix product finds the nearest ones faster than Chroma's HNSW.

The scan reads every vector (2 KB each): 2 ms at 10,431 chunks, 23 ms at 102,655, against
4.6 ms for HNSW there (one core; `docs/benchmarks.md`)."""


class Searcher(Protocol):
    """Anything that ranks chunks for a question."""

    def search(
        self,
        query: str,
        *,
        k: int,
        where: Mapping[str, MetadataValue] | None = None,
        weights: Weights | None = None,
        words: str | None = None,
    ) -> list[Hit]:
        """Return the k best chunks for the question (`words`: what to match word for word,
        when not the whole question)."""


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each signal counts in the fused score."""

    dense: float = DENSE_WEIGHT
    lexical: float = LEXICAL_WEIGHT
    title: float = TITLE_WEIGHT

    def __post_init__(self) -> None:
        if min(self.dense, self.lexical, self.title) < 0:
            raise ValueError(f"weights must not be negative: {self}")
        if self.dense + self.lexical + self.title <= 0:
            raise ValueError(f"at least one weight must be positive: {self}")


class _Titles:
    """Embeddings of document titles, cached by title text across refreshes."""

    def __init__(self) -> None:
        self._vectors: dict[str, np.ndarray] = {}
        # (matrix, row of each title), replaced in one assignment so searches see it whole.
        self.state: tuple[np.ndarray, dict[str, int]] = (np.zeros((0, 0), np.float32), {})

    def build(self, titles: Sequence[str], embeddings: Embeddings) -> None:
        wanted = [title for title in dict.fromkeys(titles) if title]
        missing = [title for title in wanted if title not in self._vectors]
        if missing:
            for title, vector in zip(missing, embeddings.embed_documents(missing), strict=True):
                self._vectors[title] = np.asarray(vector, dtype=np.float32)
        self._vectors = {title: self._vectors[title] for title in wanted}
        matrix = (
            np.vstack([self._vectors[title] for title in wanted])
            if wanted
            else np.zeros((0, 0), dtype=np.float32)
        )
        self.state = (matrix, {title: i for i, title in enumerate(wanted)})


class _Dense:
    """All chunk vectors in memory: exact cosines by matrix products, no round trip to Chroma.

    Chroma stays the persistent store. Up to `exact_limit` chunks (UniQA: 10k chunks, 20 MB) an
    exact scan takes about a millisecond, less than one approximate Chroma query; above it the
    index's HNSW names the candidates and their cosines are read from the rows in memory.
    """

    def __init__(
        self,
        chunks: list[Chunk],
        matrix: np.ndarray,
        *,
        index: VectorIndex | None = None,
        exact_limit: int | None = EXACT_SCAN_LIMIT,
    ) -> None:
        self.chunks = chunks
        self.matrix = matrix
        large = exact_limit is not None and len(chunks) > exact_limit
        self._index = index if large else None
        self._rows = {chunk.id: row for row, chunk in enumerate(chunks)} if self._index else {}

    def query(
        self, vector: np.ndarray, k: int, where: Mapping[str, MetadataValue] | None
    ) -> list[Hit]:
        if not self.chunks:
            return []
        if self._index is not None:
            try:
                return self._approximate(self._index, vector, k, where)
            except IndexStoreError as error:
                logger.warning("the vector index did not answer (%s): scanning every vector", error)
        sims = self.matrix @ vector
        if where:
            allowed = np.fromiter(
                (
                    all(c.metadata.get(key) == value for key, value in where.items())
                    for c in self.chunks
                ),
                dtype=bool,
                count=len(self.chunks),
            )
            sims = np.where(allowed, sims, -np.inf)
        count = min(k, int(np.isfinite(sims).sum()))
        if count == 0:
            return []
        top = np.argpartition(-sims, count - 1)[:count]
        top = top[np.argsort(-sims[top], kind="stable")]
        return self._hits(top, sims[top])

    def _approximate(
        self,
        index: VectorIndex,
        vector: np.ndarray,
        k: int,
        where: Mapping[str, MetadataValue] | None,
    ) -> list[Hit]:
        """Rank HNSW's candidates by their exact cosine (ids the snapshot lacks are skipped)."""
        ids = index.nearest_ids(vector.tolist(), k, dict(where) if where else None)
        rows = np.fromiter((self._rows[i] for i in ids if i in self._rows), dtype=np.int64)
        if not len(rows):
            return []
        sims = self.matrix[rows] @ vector
        order = np.argsort(-sims, kind="stable")
        return self._hits(rows[order], sims[order])

    def _hits(self, rows: np.ndarray, sims: np.ndarray) -> list[Hit]:
        return [
            Hit(chunk=self.chunks[row], score=float(sim), dense=float(sim))
            for row, sim in zip(rows.tolist(), sims.tolist(), strict=True)
        ]


class HybridSearcher:
    """Rank chunks by a weighted sum of cosine, normalised BM25 and title similarity.

    `Hit.score = w_dense * cosine + w_lexical * bm25 / ceiling + w_title * title_cosine`, with
    `Hit.dense` and `Hit.lexical` holding the first two parts before weighting. The score is
    comparable across questions, so it can drive abstention: run a labelled set of answerable
    and out-of-scope questions through `search`, and pick the threshold on the top hit's score
    that abstains on most out-of-scope ones while keeping wrong abstentions within budget.
    """

    def __init__(
        self,
        *,
        index: VectorIndex,
        embeddings: Embeddings,
        lexical: BM25Index | None = None,
        dense_weight: float = DENSE_WEIGHT,
        lexical_weight: float = LEXICAL_WEIGHT,
        title_weight: float = TITLE_WEIGHT,
        candidates: int = CANDIDATES,
        exact_limit: int | None = EXACT_SCAN_LIMIT,
    ) -> None:
        """`exact_limit=None` scans every vector at any size (questions never wait on the index)."""
        if candidates < 1:
            raise ValueError(f"candidates ({candidates}) must be at least 1")
        self._weights = Weights(dense_weight, lexical_weight, title_weight)
        self._index = index
        self._embeddings = embeddings
        self._lexical = lexical if lexical is not None else BM25Index()
        self._titles = _Titles()
        self._dense: _Dense | None = None
        self._candidates = candidates
        self._exact_limit = exact_limit
        self._fresh = False

    @property
    def lexical(self) -> BM25Index:
        """Return the BM25 index this searcher fuses with."""
        return self._lexical

    @property
    def weights(self) -> Weights:
        """Return the fusion weights."""
        return self._weights

    def with_weights(self, *, dense: float, lexical: float, title: float = 0.0) -> HybridSearcher:
        """Return a searcher over the same (already built) indexes with other weights."""
        other = HybridSearcher(
            index=self._index,
            embeddings=self._embeddings,
            lexical=self._lexical,
            dense_weight=dense,
            lexical_weight=lexical,
            title_weight=title,
            candidates=self._candidates,
            exact_limit=self._exact_limit,
        )
        other._titles = self._titles
        other._dense = self._dense
        other._fresh = self._fresh
        return other

    def refresh(self) -> None:
        """Rebuild BM25 and title vectors from the vector index (call after it changed)."""
        chunks, matrix = self._index.export()
        self._lexical.build(chunks)
        self._titles.build([real_title(chunk) for chunk in chunks], self._embeddings)
        self._dense = _Dense(chunks, matrix, index=self._index, exact_limit=self._exact_limit)
        self._fresh = True
        logger.debug("search refreshed over %d chunks", len(chunks))

    def search(
        self,
        query: str,
        *,
        k: int,
        where: Mapping[str, MetadataValue] | None = None,
        weights: Weights | None = None,
        words: str | None = None,
    ) -> list[Hit]:
        """Return the k best chunks for the question, best first, identical texts once.

        `weights` replaces the fusion weights for this question (a question in a language the
        documents are not written in gains nothing from word matches: dense only). `words`:
        what to match word for word instead of the whole question (in such a language, only
        its codes and names: "A2", "SPID").
        """
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        if not query.strip():
            return []
        if not self._fresh:
            self.refresh()
        weights = weights or self._weights
        pool = max(k, self._candidates)
        vector = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        dense = self._dense
        dense_hits = (
            (dense.query(vector, pool, where) if dense is not None else [])
            if weights.dense > 0 or weights.title > 0
            else []
        )
        matched = query if words is None else words
        lexical_hits = self._lexical.search(matched, pool, where) if weights.lexical > 0 else []
        title_similarity: dict[str, float] = {}
        matrix, rows = self._titles.state
        if weights.title > 0 and rows:
            sims = matrix @ vector
            title_similarity = {title: float(sims[row]) for title, row in rows.items()}
        hits = fuse(dense_hits, lexical_hits, weights=weights, pool=pool, titles=title_similarity)
        return _distinct(hits, k)


def fuse(
    dense_hits: Sequence[Hit],
    lexical_hits: Sequence[LexicalHit],
    *,
    weights: Weights = Weights(),  # noqa: B008 - frozen, safe as a default
    pool: int = CANDIDATES,
    titles: Mapping[str, float] | None = None,
) -> list[Hit]:
    """Merge dense and BM25 candidates into one ranking by weighted absolute scores."""
    chunks: dict[str, Chunk] = {}
    dense: dict[str, float] = {}
    lexical: dict[str, float] = {}
    for hit in dense_hits:
        chunks[hit.chunk.id] = hit.chunk
        dense[hit.chunk.id] = hit.dense
    for lexical_hit in lexical_hits:
        chunks.setdefault(lexical_hit.chunk.id, lexical_hit.chunk)
        lexical[lexical_hit.chunk.id] = lexical_hit.normalised
    # A chunk outside a full dense pool is at most as similar as the last one in it.
    dense_floor = min(dense.values()) if len(dense) >= pool else 0.0
    titles = titles or {}
    hits = []
    for chunk_id, chunk in chunks.items():
        d = dense.get(chunk_id, dense_floor)
        lex = lexical.get(chunk_id, 0.0)
        title = titles.get(real_title(chunk), 0.0) if weights.title else 0.0
        score = weights.dense * d + weights.lexical * lex + weights.title * title
        hits.append(Hit(chunk=chunk, score=score, dense=d, lexical=lex, title=title))
    hits.sort(key=lambda hit: (-hit.score, hit.chunk.id))
    return hits


def real_title(chunk: Chunk) -> str:
    """Return the chunk's document title, "" when it is only the file's name (it says nothing)."""
    title = str(chunk.metadata.get("title", ""))
    path = str(chunk.metadata.get("path", ""))
    return "" if path and title == title_from_filename(path) else title


def _distinct(hits: Sequence[Hit], k: int) -> list[Hit]:
    """Keep the first hit of each chunk text: the same section in several files shows once."""
    seen: set[str] = set()
    result: list[Hit] = []
    for hit in hits:
        if hit.chunk.text in seen:
            continue
        seen.add(hit.chunk.text)
        result.append(hit)
        if len(result) == k:
            break
    return result
