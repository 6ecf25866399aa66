"""Keyword search while the Chroma server is unreachable; hybrid search again once it is back.

`HybridSearcher` keeps every chunk vector in memory, read from Chroma when the index changes;
questions never go to Chroma. Chroma matters at a start and at a reload. When the server does not
answer then (`ChromaVectorIndex.reachable()` says so), `KeywordFallback` answers with BM25 over
the chunks of the knowledge base now serving (which come from the folder, not from Chroma) and
logs one warning. The relevance gate decides by meaning (cosine), so the keyword candidates get
their cosine with the question from the local embedding model (cached by text; the candidates
come from the words only). Every `retry` seconds a question starts one background attempt to
come back: when the server answers, the knowledge is reloaded (the index synced) and the hybrid
state refreshed, and one line says so.

When the server answers, every call goes to the `HybridSearcher` unchanged: the ranking is the
same as without this class.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.lexical import BM25Index
from retrieval.search import CANDIDATES, HybridSearcher, Weights, fuse
from retrieval.store import IndexStoreError
from retrieval.types import Chunk, Hit, MetadataValue

if TYPE_CHECKING:
    from learncity.content.loader import KnowledgeBase
    from retrieval.knowledge_service import ReloadReport

logger = logging.getLogger(__name__)

RETRY_SECONDS = 10.0


def folder_chunks(kb: KnowledgeBase) -> list[Chunk]:
    """Return the chunks of every file of the knowledge base, stamped as the indexer stores them."""
    from learncity.content.documents import chunks_for_file, index_hash

    chunks: list[Chunk] = []
    for path, loaded in kb.files.items():
        file_hash = index_hash(loaded.sha256)
        chunks.extend(
            replace(chunk, metadata={**chunk.metadata, "path": path, "file_hash": file_hash})
            for chunk in chunks_for_file(loaded)
        )
    return chunks


class KeywordFallback:
    """A `Searcher` that degrades to keyword search while the vector index is unreachable."""

    def __init__(
        self,
        *,
        hybrid: HybridSearcher,
        embeddings: Embeddings,
        knowledge: Callable[[], KnowledgeBase],
        reachable: Callable[[], bool],
        recover: Callable[[], object],
        name: str = "the vector index",
        retry: float = RETRY_SECONDS,
    ) -> None:
        if retry <= 0:
            raise ValueError(f"retry ({retry}) must be positive")
        self._hybrid = hybrid
        self._embeddings = embeddings
        self._knowledge = knowledge
        self._reachable = reachable
        self._recover = recover
        self._name = name
        self._retry = retry
        self._degraded = False
        self._keyword: tuple[object, BM25Index] | None = None  # (knowledge base, its BM25)
        self._vectors: dict[str, np.ndarray] = {}  # chunk text -> vector, for the gate
        self._lock = threading.Lock()
        self._recovering = False
        self._last_try = 0.0

    @property
    def degraded(self) -> bool:
        """Return True while answers come from keyword search only."""
        return self._degraded

    @property
    def lexical(self) -> BM25Index:
        """Return the BM25 index answers use now (the engine reads its coverage and titles)."""
        return self._keyword_index() if self._degraded else self._hybrid.lexical

    @property
    def weights(self) -> Weights:
        """Return the fusion weights."""
        return self._hybrid.weights

    def refresh(self) -> None:
        """Rebuild the hybrid state from the index; degrade instead of failing if it is away."""
        try:
            self._hybrid.refresh()
        except IndexStoreError as error:
            if self._reachable():
                raise  # a store that answers but fails: the caller reports it, as before
            self.degrade(_first_line(error))
            return
        if self._degraded:
            self._degraded = False
            logger.warning("%s answers again: back to hybrid search", self._name)

    def on_reload(self, report: ReloadReport) -> None:
        """Degrade when a reload could not reach the index (the folder changed meanwhile)."""
        if report.index.failed and not self._reachable():
            self.degrade("a reload could not write the index")

    def degrade(self, reason: str) -> None:
        """Answer with keyword search until the index answers again (one log line)."""
        with self._lock:
            if self._degraded:
                return
            self._degraded = True
            self._last_try = time.monotonic()
        logger.warning(
            "%s is unreachable: answering with keyword search (BM25 over the knowledge folder) "
            "until it is back (%s)", self._name, reason,
        )

    def search(
        self,
        query: str,
        *,
        k: int,
        where: Mapping[str, MetadataValue] | None = None,
        weights: Weights | None = None,
        words: str | None = None,
    ) -> list[Hit]:
        """Return the k best chunks: hybrid when the index answered, keyword search otherwise."""
        if not self._degraded:
            try:
                return self._hybrid.search(query, k=k, where=where, weights=weights, words=words)
            except IndexStoreError as error:  # never refreshed yet, and the index is away
                if self._reachable():
                    raise
                self.degrade(_first_line(error))
        self._try_later()
        return self._keyword_search(words or query, k=k, where=where, weights=weights)

    def recover(self) -> bool:
        """Reload and refresh now if the index answers; return True when back to hybrid."""
        try:
            if not self._reachable():
                return False
            self._recover()  # sync (or follow) the folder now that the index answers
            if self._degraded:
                self.refresh()
        except Exception as error:  # the next question tries again
            logger.info("%s is not back yet: %s", self._name, error)
        finally:
            self._recovering = False
        return not self._degraded

    def _try_later(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._recovering or now - self._last_try < self._retry:
                return
            self._recovering = True
            self._last_try = now
        threading.Thread(target=self.recover, name="vector-index-recover", daemon=True).start()

    def _keyword_index(self) -> BM25Index:
        kb = self._knowledge()
        state = self._keyword
        if state is None or state[0] is not kb:
            index = BM25Index()
            index.build(folder_chunks(kb))
            state = (kb, index)
            self._keyword = state
        return state[1]

    def _keyword_search(
        self,
        query: str,
        *,
        k: int,
        where: Mapping[str, MetadataValue] | None,
        weights: Weights | None,
    ) -> list[Hit]:
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        if not query.strip():
            return []
        pool = max(k, CANDIDATES)
        lexical_hits = self._keyword_index().search(query, pool, where)
        if not lexical_hits:
            return []
        vector = np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        cosines = self._cosines(vector, [hit.chunk for hit in lexical_hits])
        dense_hits = [
            Hit(chunk=hit.chunk, score=cosine, dense=cosine)
            for hit, cosine in zip(lexical_hits, cosines, strict=True)
        ]
        hits = fuse(dense_hits, lexical_hits, weights=weights or self._hybrid.weights, pool=pool)
        return _distinct(hits, k)

    def _cosines(self, vector: np.ndarray, chunks: Sequence[Chunk]) -> list[float]:
        missing = list(dict.fromkeys(c.text for c in chunks if c.text not in self._vectors))
        if missing:
            embedded = self._embeddings.embed_documents(missing)
            for text, value in zip(missing, embedded, strict=True):
                self._vectors[text] = np.asarray(value, dtype=np.float32)
        return [float(self._vectors[chunk.text] @ vector) for chunk in chunks]


def _distinct(hits: Sequence[Hit], k: int) -> list[Hit]:
    """Keep the first hit of each chunk text, as the hybrid search does."""
    seen: set[str] = set()
    result: list[Hit] = []
    for hit in hits:
        if hit.chunk.text not in seen:
            seen.add(hit.chunk.text)
            result.append(hit)
        if len(result) == k:
            break
    return result


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
