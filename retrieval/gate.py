"""Relevance gate: answer from the folder, or say honestly that it does not hold the answer.

Language-agnostic by design. It reads scores the multilingual embedding gives in any language,
never a list of Italian or English words:
- how close the question is to the best passages and to the folder's titles and headings;
- how close it is to topics the folder does not cover (`data/out_of_scope.yaml`: weather,
  residence permits, taxes, medicine, shopping, ...), and to what residents ask a learning
  city about (`data/in_scope.yaml`: courses, school, homework help, ...);
- where the index can tell (the languages it stems), how much of the question's wording the
  folder uses; elsewhere, that the question is in another language (whose scores run lower).
A logistic model weighs these (`data/gate.yaml`, fitted on the dev halves of the question sets
by `benchmarks/calibrate_gate.py`): the assistant answers when the probability that the folder
covers the question reaches the model's threshold (its own for languages the index cannot read,
whose scores run otherwise), or when a passage is very close (`COVERED`); never when an
uncovered topic is much closer (`UNCOVERED_MARGIN`) than the passages and learning questions.
In a language the embedding does not cover (Ukrainian, Romanian) every similarity runs low, so
only the comparison counts there: nearer a learning question than an uncovered topic answers.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import yaml
from langchain_core.embeddings import Embeddings

from retrieval.examples import ExampleBank, Nearest
from retrieval.rank import Ranked
from retrieval.search import real_title

TOP_DOCUMENTS = 3
# A passage this close to the question means the folder covers it, whatever else the question
# resembles (a guide about kayak rental answers "where can I rent a kayak?", though renting
# sounds like housing). No out-of-scope dev question came this close.
COVERED = 0.45
# ...unless the question is this much closer still to an uncovered topic: "how much are driving
# lessons?" comes 0.45 close to a passage naming the driving licence in passing, and 0.64 close
# to driving schools. Set between the dev halves: answerable questions at most 0.12 closer to an
# uncovered topic than to their passage, out-of-scope ones at least 0.18 (the school calendar).
# A question this much closer to an uncovered topic than to any passage and any learning
# question is never answered ("Wo kann ich den Führerschein machen?": 0.21), whatever the model
# says; no answerable dev question came closer than 0.12.
UNCOVERED_MARGIN = 0.15
# An abstention names the uncovered topic only when the question is this close to its examples
# and closer to them than to the folder ("domani" alone is no weather question: it lists events).
NAMED_OFF_TOPIC = 0.48
# A message's words (follow-up cue words aside) name a subject of their own when they are this
# close to a learning question ("wo kann ich Italienisch lernen?": 0.63). Set between the
# remainders of the dev conversations' follow-ups (at most 0.40: "es en sabado? trabajamos hasta
# tarde") and of new questions written in nine languages (at least 0.44).
NAMED_ON_TOPIC = 0.42
NEIGHBOURS = 3
MODEL_FILE = Path(__file__).parent / "data" / "gate.yaml"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the gate decides on, every value a score the embedding gives in any language."""

    relevance: float  # best cosine of the question with a passage of the top documents
    relevance_top: float  # mean of the top documents' best cosines
    topic: float  # cosine with the closest title or heading of the folder
    off_topic: float  # cosine with the closest example of an uncovered topic
    off_topic_top: float  # mean cosine with the closest uncovered-topic examples
    on_topic: float  # cosine with the closest example of a learning question
    on_topic_top: float  # mean cosine with the closest learning-question examples
    other_language: float  # 1 when the index cannot match the question's words
    coverage: float  # share of the question's wording the folder uses (0 in other languages)

    def values(self) -> list[float]:
        """Return the values in the order of `feature_names()`."""
        return [float(getattr(self, name)) for name in feature_names()]


def feature_names() -> list[str]:
    """Return the names of the evidence, in the model's order."""
    return [field.name for field in fields(Evidence)]


@dataclass(frozen=True, slots=True)
class GateModel:
    """A logistic model over standardised evidence, and the probability needed to answer."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    threshold_other_languages: float  # for questions in a language the index cannot read

    def __post_init__(self) -> None:
        size = len(feature_names())
        if not len(self.mean) == len(self.scale) == len(self.weights) == size:
            raise ValueError(f"the gate model needs {size} means, scales and weights")
        for threshold in (self.threshold, self.threshold_other_languages):
            if not 0.0 < threshold < 1.0:
                raise ValueError(f"threshold ({threshold}) must be between 0 and 1")
        if any(value <= 0 for value in self.scale):
            raise ValueError("every scale of the gate model must be positive")

    @classmethod
    def from_file(cls, path: Path = MODEL_FILE) -> GateModel:
        """Read the model written by `benchmarks/calibrate_gate.py`, naming the file in errors."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        try:
            if list(data["features"]) != feature_names():
                raise ValueError(f"features must be {feature_names()}")
            return cls(
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                weights=tuple(float(v) for v in data["weights"]),
                bias=float(data["bias"]),
                threshold=float(data["threshold"]),
                threshold_other_languages=float(
                    data.get("threshold_other_languages", data["threshold"])
                ),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from error

    def probability(self, evidence: Evidence) -> float:
        """Return the probability that the folder covers a question with this evidence."""
        score = self.bias + sum(
            weight * (value - mean) / scale
            for value, mean, scale, weight in zip(
                evidence.values(), self.mean, self.scale, self.weights, strict=True
            )
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, score))))

    def with_threshold(self, threshold: float) -> GateModel:
        """Return the same model answering from another probability, in every language."""
        return GateModel(self.mean, self.scale, self.weights, self.bias, threshold, threshold)

    def threshold_for(self, evidence: Evidence) -> float:
        """Return the probability a question with this evidence needs to be answered."""
        if evidence.other_language >= 1.0:
            return self.threshold_other_languages
        return self.threshold


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to answer, the relevance and probability it was decided on, the uncovered topic."""

    answer: bool
    relevance: float
    off_topic: str | None = None
    confidence: float = 0.0
    evidence: Evidence | None = None


def forced(relevance: float, off_topic: float, on_topic: float) -> bool | None:
    """Return the verdict these similarities force whatever the model says: False when an
    uncovered topic is `UNCOVERED_MARGIN` closer than any passage and learning question, True
    when a passage is `COVERED` close and no uncovered topic that much closer; None otherwise."""
    if off_topic >= max(relevance, on_topic) + UNCOVERED_MARGIN:
        return False
    if relevance >= COVERED and off_topic < relevance + UNCOVERED_MARGIN:
        return True
    return None


def _closest(bank: ExampleBank | None, vector: np.ndarray) -> list[Nearest]:
    return bank.closest(vector, NEIGHBOURS) if bank is not None else []


def _names(
    bank: ExampleBank | None, other: ExampleBank | None, vector: np.ndarray, floor: float
) -> bool:
    """Return True when `vector` is at least `floor` close to an example of `bank` and closer
    to it than to any example of `other`."""
    mine = _closest(bank, vector)
    theirs = _closest(other, vector)
    if not mine:
        return False
    nearest = mine[0].similarity
    return nearest >= floor and nearest > (theirs[0].similarity if theirs else 0.0)


def _mean_similarity(nearest: Sequence[Nearest]) -> float:
    return float(np.mean([n.similarity for n in nearest])) if nearest else 0.0


def relevance_of(ranked: Sequence[Ranked]) -> float:
    """Return the best cosine similarity of the question with the top documents' passages."""
    return max((doc.dense for doc in ranked[:TOP_DOCUMENTS]), default=0.0)


class RelevanceGate:
    """Decide answer or abstain from the question's vector and the ranked documents."""

    def __init__(
        self,
        *,
        off_topics: ExampleBank | None = None,
        on_topics: ExampleBank | None = None,
        model: GateModel | None = None,
        threshold: float | None = None,
    ) -> None:
        model = model if model is not None else GateModel.from_file()
        self._model = model if threshold is None else model.with_threshold(threshold)
        self._off_topics = off_topics
        self._on_topics = on_topics

    @property
    def threshold(self) -> float:
        """Return the probability of being covered under which the assistant abstains."""
        return self._model.threshold

    def warm_up(self) -> None:
        """Embed the off-topic examples now."""
        for bank in (self._off_topics, self._on_topics):
            if bank is not None:
                bank.warm_up()

    def evidence(
        self,
        vector: np.ndarray,
        ranked: Sequence[Ranked],
        *,
        topic: float = 0.0,
        coverage: float | None = None,
    ) -> tuple[Evidence, str | None]:
        """Return the evidence for a question, and the uncovered topic it is closest to."""
        top = ranked[:TOP_DOCUMENTS]
        nearest = _closest(self._off_topics, vector)
        learning = _closest(self._on_topics, vector)
        evidence = Evidence(
            relevance=relevance_of(ranked),
            relevance_top=float(np.mean([doc.dense for doc in top])) if top else 0.0,
            topic=topic,
            off_topic=nearest[0].similarity if nearest else 0.0,
            off_topic_top=_mean_similarity(nearest),
            on_topic=learning[0].similarity if learning else 0.0,
            on_topic_top=_mean_similarity(learning),
            other_language=1.0 if coverage is None else 0.0,
            coverage=coverage or 0.0,
        )
        return evidence, (nearest[0].label if nearest else None)

    def names_uncovered(self, vector: np.ndarray) -> bool:
        """Return True when `vector` names a topic the folder does not cover: it is at least
        `NAMED_OFF_TOPIC` close to one and closer to it than to any learning question."""
        return _names(self._off_topics, self._on_topics, vector, NAMED_OFF_TOPIC)

    def names_learning_topic(self, vector: np.ndarray) -> bool:
        """Return True when `vector` names a learning subject: at least `NAMED_ON_TOPIC` close to
        a learning question and closer to one than to any uncovered topic."""
        return _names(self._on_topics, self._off_topics, vector, NAMED_ON_TOPIC)

    def judge(
        self,
        vector: np.ndarray | None,
        ranked: Sequence[Ranked],
        *,
        topic: float = 0.0,
        coverage: float | None = None,
        embedded: bool = True,
    ) -> Verdict:
        """Return the verdict for a question with this vector and these ranked documents.

        `topic`: the question's similarity to the closest title or heading of the folder.
        `coverage`: how much of the question's wording the folder uses (`BM25Index.coverage`),
        given only for questions in a language the index stems; None elsewhere.
        `embedded`: False for a language the embedding does not cover (Ukrainian, Romanian):
        its similarities all run low, so the question is answered when it is at least as
        close to a learning question as to an uncovered topic, whatever the model says.
        """
        relevance = relevance_of(ranked)
        if vector is None or not ranked:
            return Verdict(False, relevance)
        evidence, label = self.evidence(vector, ranked, topic=topic, coverage=coverage)
        confidence = self._model.probability(evidence)
        decided = forced(evidence.relevance, evidence.off_topic, evidence.on_topic)
        answer = confidence >= self._model.threshold_for(evidence) if decided is None else decided
        if not embedded and decided is not False:
            answer = answer or evidence.on_topic >= evidence.off_topic
        named = evidence.off_topic >= max(NAMED_OFF_TOPIC, relevance)
        off_topic = label if not answer and named else None
        return Verdict(answer, relevance, off_topic, confidence, evidence)


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
