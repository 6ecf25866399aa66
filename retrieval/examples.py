"""Labelled example sentences, embedded once, to compare a question with by meaning.

Used for what words cannot tell in every language: small talk, and topics the folder does not
cover. The examples live in YAML files (`label: [sentence, ...]`) that staff and developers can
extend without code; the embedding is multilingual, so an example in one language also catches
the same idea in another.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from langchain_core.embeddings import Embeddings

# Example banks embedded once per model and process (several services in one process, as in
# tests and benchmarks, share them).
_EMBEDDED: dict[tuple[int, tuple[str, ...]], np.ndarray] = {}
_EMBEDDED_LOCK = threading.Lock()


def embedded(embeddings: Embeddings, texts: list[str]) -> np.ndarray:
    """Return the vectors of `texts` (one row each), embedding them once per model."""
    key = (id(embeddings), tuple(texts))
    with _EMBEDDED_LOCK:
        found = _EMBEDDED.get(key)
    if found is None:
        vectors = embeddings.embed_documents(texts) if texts else []
        found = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        with _EMBEDDED_LOCK:
            _EMBEDDED[key] = found
    return found


@dataclass(frozen=True, slots=True)
class Nearest:
    """The label of the example closest to a vector, and their cosine similarity."""

    label: str
    similarity: float


def load_examples(path: Path) -> dict[str, list[str]]:
    """Read `label: [sentence, ...]` from a YAML file, with the file named in any error."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or not all(
        isinstance(items, list) and all(isinstance(item, str) for item in items)
        for items in data.values()
    ):
        raise ValueError(f"{path}: expected 'label: [sentence, ...]' entries")
    return {str(label): list(items) for label, items in data.items()}


class ExampleBank:
    """Example sentences by label; `nearest(vector)` finds the closest one (embedded lazily)."""

    def __init__(self, *, embeddings: Embeddings, examples: dict[str, list[str]]) -> None:
        self._embeddings = embeddings
        self._labels = [label for label, items in examples.items() for _ in items]
        self._texts = [text for items in examples.values() for text in items]
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, *, embeddings: Embeddings) -> ExampleBank:
        """Return the bank of the examples in a YAML file."""
        return cls(embeddings=embeddings, examples=load_examples(path))

    @property
    def labels(self) -> list[str]:
        """Return the label of each example sentence, in the order of `texts`."""
        return list(self._labels)

    @property
    def texts(self) -> list[str]:
        """Return every example sentence."""
        return list(self._texts)

    def _vectors(self) -> np.ndarray:
        with self._lock:
            if self._matrix is None:
                self._matrix = embedded(self._embeddings, self._texts)
            return self._matrix

    def warm_up(self) -> None:
        """Embed the examples now."""
        self._vectors()

    def nearest(self, vector: np.ndarray) -> Nearest | None:
        """Return the example closest to `vector`, or None when the bank is empty."""
        closest = self.closest(vector, 1)
        return closest[0] if closest else None

    def closest(self, vector: np.ndarray, count: int) -> list[Nearest]:
        """Return the `count` examples closest to `vector`, closest first."""
        matrix = self._vectors()
        if not len(matrix):
            return []
        similarities = matrix @ vector
        rows = np.argsort(-similarities)[:count]
        return [Nearest(self._labels[row], float(similarities[row])) for row in rows]
