"""Group unanswered questions by meaning, so staff see which gaps in the folder matter most."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Gap:
    """A group of similar unanswered questions: the most common wording and how many asked."""

    text: str
    count: int
    examples: tuple[str, ...]


def group_similar(
    texts: Sequence[str], vectors: Sequence[Sequence[float]], *, threshold: float = 0.6
) -> list[Gap]:
    """Group texts linked by a chain of cosine similarities >= `threshold`, largest group first.

    Single linkage over the similarity matrix (a few hundred questions at most), so the result does
    not depend on the order the questions came in.
    """
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    if not texts:
        return []
    raw = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    unit = raw / np.where(norms == 0, 1.0, norms)
    similar = (unit @ unit.T) >= threshold
    parent = list(range(len(texts)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for first, second in zip(*np.nonzero(np.triu(similar, k=1)), strict=True):
        parent[root(int(first))] = root(int(second))
    members: dict[int, list[int]] = {}
    for index in range(len(texts)):
        members.setdefault(root(index), []).append(index)
    gaps = []
    for group in members.values():
        wordings = Counter(" ".join(texts[i].lower().split()) for i in group)
        common = wordings.most_common(1)[0][0]
        text = next(texts[i] for i in group if " ".join(texts[i].lower().split()) == common)
        examples = tuple(dict.fromkeys(texts[i] for i in group))[:3]
        gaps.append(Gap(text=text, count=len(group), examples=examples))
    gaps.sort(key=lambda gap: (-gap.count, gap.text))
    return gaps
