"""Relevance gate: answer from the folder, or say honestly that it does not hold the answer.

Language-agnostic by design: it reads the cosine similarity between the question and the best
passages (the multilingual embedding puts a French question near the Italian page that answers
it), never a list of Italian or English words. Two checks:
- the best documents' similarity must reach a threshold calibrated on the score distributions of
  answerable and out-of-scope questions (dev halves in `benchmarks/answer_quality.py`);
- a question closer to a topic the folder does not cover (`data/out_of_scope.yaml`: weather,
  residence permits, taxes, medicine, shopping, ...) than to anything in the folder is out of
  scope, however many words it shares with a page.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.examples import ExampleBank
from retrieval.rank import Ranked
from retrieval.search import real_title

# Calibrated on the dev halves (sample, multilingual, out-of-scope sets): see docs/benchmarks.md.
DEFAULT_THRESHOLD = 0.20
# An off-topic example vetoes an answer when it is at least this close to the question and
# beats the folder's best passage by the margin.
OFF_TOPIC_MIN = 0.48
OFF_TOPIC_MARGIN = 0.0
# A passage this close to the question means the folder covers it, whatever it resembles.
COVERED = 0.45
# In the languages the index stems, a question most of whose words the folder does not use, with
# no close passage either, is about something else ("che tempo farà domani?").
LOW_COVERAGE = 0.4
WEAK = 0.3
TOP_DOCUMENTS = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to answer, the relevance it was decided on, and the off-topic label if any."""

    answer: bool
    relevance: float
    off_topic: str | None = None


def relevance_of(ranked: Sequence[Ranked]) -> float:
    """Return the best cosine similarity of the question with the top documents' passages."""
    return max((doc.dense for doc in ranked[:TOP_DOCUMENTS]), default=0.0)


class RelevanceGate:
    """Decide answer or abstain from the question's vector and the ranked documents."""

    def __init__(
        self,
        *,
        off_topics: ExampleBank | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = OFF_TOPIC_MARGIN,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold ({threshold}) must be between 0 and 1")
        self._off_topics = off_topics
        self._threshold = threshold
        self._margin = margin

    @property
    def threshold(self) -> float:
        """Return the relevance under which the assistant abstains."""
        return self._threshold

    def warm_up(self) -> None:
        """Embed the off-topic examples now."""
        if self._off_topics is not None:
            self._off_topics.warm_up()

    def judge(
        self,
        vector: np.ndarray | None,
        ranked: Sequence[Ranked],
        *,
        topic: float = 0.0,
        coverage: float | None = None,
    ) -> Verdict:
        """Return the verdict for a question with this vector and these ranked documents.

        `topic`: the question's similarity to the closest title or heading of the folder (what
        the folder says it is about), short texts compared with a short question. `coverage`:
        how much of the question's wording the folder uses (`BM25Index.coverage`), given only for
        questions in a language the index stems; None elsewhere.
        """
        relevance = relevance_of(ranked)
        if vector is None or not ranked:
            return Verdict(False, relevance)
        nearest = self._off_topics.nearest(vector) if self._off_topics is not None else None
        # The folder's evidence counts its words too: "come faccio lo SPID?" shares little
        # meaning with a page but names exactly what it is about.
        top = [hit for doc in ranked[:TOP_DOCUMENTS] for hit in doc.hits]
        evidence = max(relevance, topic, max((hit.dense + hit.lexical) / 2 for hit in top))
        if (
            nearest is not None
            and relevance < COVERED
            and nearest.similarity >= max(OFF_TOPIC_MIN, evidence + self._margin)
        ):
            return Verdict(False, relevance, nearest.label)
        if coverage is not None and coverage < LOW_COVERAGE and relevance < WEAK:
            return Verdict(False, relevance)
        return Verdict(relevance >= self._threshold, relevance)


class TopicInventory:
    """What the folder says it is about: every document title and section heading, embedded.

    Rebuilt when the indexed chunks change; titles already embedded are kept by text.
    """

    def __init__(self, *, embeddings: Embeddings) -> None:
        self._embeddings = embeddings
        self._vectors: dict[str, np.ndarray] = {}
        self._built: tuple[object, np.ndarray] | None = None
        self._lock = threading.Lock()

    def matrix(self, lexical: object) -> np.ndarray:
        """Return the title and heading vectors of the chunks the searcher holds now."""
        chunks = getattr(lexical, "chunks", None) or []
        with self._lock:
            if self._built is not None and self._built[0] is chunks:
                return self._built[1]
            names: set[str] = set()
            for chunk in chunks:
                section = str(chunk.metadata.get("section", "")).strip()
                heading = re.split(r"[›>]", section)[-1].strip() if section else ""
                names.update(n for n in (real_title(chunk), heading) if n)
            missing = sorted(name for name in names if name not in self._vectors)
            if missing:
                vectors = self._embeddings.embed_documents(missing)
                self._vectors.update(
                    zip(missing, np.asarray(vectors, dtype=np.float32), strict=True)
                )
            ordered = sorted(names)
            matrix = (
                np.vstack([self._vectors[name] for name in ordered])
                if ordered
                else np.zeros((0, 1), dtype=np.float32)
            )
            self._built = (chunks, matrix)
            return matrix
