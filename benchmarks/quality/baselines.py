"""Baselines on the product's own Chroma index: BM25 and plain dense retrieval, by document."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quality.common import COLLECTION, REPO, log


class IndexBaselines:
    """BM25 and plain dense retrieval over the chunks of a product's Chroma store, by document."""

    def __init__(self, chroma_dir: Path) -> None:
        import chromadb
        import numpy as np
        from chromadb.config import Settings as ChromaSettings

        self._np = np
        client = chromadb.PersistentClient(
            path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        names = [c.name if hasattr(c, "name") else str(c) for c in client.list_collections()]
        name = COLLECTION if COLLECTION in names else (names[0] if names else COLLECTION)
        self.collection = client.get_collection(name)
        self.units: list[str] = []  # per chunk: the unit documents are ranked by
        self.paths: list[str] = []
        texts: list[str] = []
        vectors: list[Any] = []
        total = self.collection.count()
        for offset in range(0, total, 2000):
            page = self.collection.get(
                include=["documents", "metadatas", "embeddings"], limit=2000, offset=offset
            )
            embedded = page["embeddings"] if page["embeddings"] is not None else []
            for text, metadata, vector in zip(
                page["documents"] or [], page["metadatas"] or [], embedded, strict=True
            ):
                metadata = metadata or {}
                path = str(metadata.get("path", ""))
                record = metadata.get("record_id")
                self.paths.append(path)
                self.units.append(f"{path}#{record}" if record else path)
                texts.append(text or "")
                vectors.append(vector)
        matrix = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.matrix = matrix / np.where(norms == 0, 1, norms)
        self.chunks = len(texts)
        self._texts = texts
        self._bm25: Any = None
        self._encoder: Any = None

    def encoder(self) -> Any:
        """Return the product's embedding model (the same one the index was built with)."""
        if self._encoder is None:
            sys.path.insert(0, str(REPO))
            from retrieval.embedding import UniversalSentenceEncoder

            self._encoder = UniversalSentenceEncoder()
            self._encoder.warm_up()
        return self._encoder

    def _documents(self, order: Iterable[int], k: int) -> list[str]:
        ranked: list[str] = []
        for index in order:
            unit = self.units[index]
            if unit not in ranked:
                ranked.append(unit)
                if len(ranked) == k:
                    break
        return ranked

    def embed_and_query(self, question: str) -> tuple[Any, float]:
        """Embed a question and ask Chroma for the top 5 chunks; return the vector and the ms."""
        encoder = self.encoder()
        started = time.perf_counter()
        vector = self._np.asarray(encoder.embed_query(question), dtype=self._np.float32)
        self.collection.query(query_embeddings=vector[None, :], n_results=5)
        return vector, (time.perf_counter() - started) * 1000

    def dense(self, vector: Any, k: int = 10) -> list[str]:
        """Return the k best units by their best chunk's cosine similarity (exact scan)."""
        norm = float(self._np.linalg.norm(vector)) or 1.0
        scores = self.matrix @ (vector / norm)
        return self._documents(self._np.argsort(-scores), k)

    def bm25(self, question: str, k: int = 10) -> list[str]:
        """Return the k best units by their best chunk's BM25 score (bm25s, it+en stopwords)."""
        import bm25s
        from bm25s import stopwords

        stop = sorted(set(stopwords.STOPWORDS_EN) | set(stopwords.STOPWORDS_ITALIAN))
        if self._bm25 is None:
            self._bm25 = bm25s.BM25()
            self._bm25.index(
                bm25s.tokenize(self._texts, stopwords=stop, show_progress=False),
                show_progress=False,
            )
        tokens = bm25s.tokenize([question], stopwords=stop, show_progress=False)
        if not tokens.vocab:
            return []
        found, scores = self._bm25.retrieve(tokens, k=min(200, self.chunks), show_progress=False)
        order = [int(i) for i, s in zip(found[0], scores[0], strict=True) if s > 0]
        return self._documents(order, k)


def unit_keys(unit: str) -> set[str]:
    """Return the keys (path, record id) of a baseline unit `path#record`."""
    path, _, record = unit.partition("#")
    return {path, record} if record else {path}


def open_baselines(chroma_dir: Path) -> IndexBaselines | None:
    """Open a product's Chroma store for the baselines; None (and a warning) when it cannot be."""
    try:
        return IndexBaselines(chroma_dir)
    except Exception as error:  # noqa: BLE001 - a store the new engine changed must not stop the run
        log(f"warning: no baselines, cannot read the Chroma store in {chroma_dir}: {error!r}")
        return None
