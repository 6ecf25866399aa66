"""Reading an answer (abstained, sources, cards, latency) and the figures (R@k, MRR, shares)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def listed(answer: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    value = answer.get(key) if isinstance(answer, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def abstained(answer: dict[str, Any] | None) -> bool | None:
    """Return the answer's `abstained` flag, or None when it is missing."""
    value = answer.get("abstained") if isinstance(answer, dict) else None
    return value if isinstance(value, bool) else None


def card_ids(answer: dict[str, Any] | None) -> list[str]:
    """Return the ids of the answer's programme and event cards, in order."""
    return [
        str(c["id"]) for key in ("programmes", "events") for c in listed(answer, key) if c.get("id")
    ]


def ranked_units(answer: dict[str, Any] | None, records: dict[str, str]) -> list[set[str]]:
    """Return, best first, the keys (path, record id) of each source of a non-abstained answer."""
    if answer is None or abstained(answer) is not False:
        return []
    cards = card_ids(answer)
    units: list[set[str]] = []
    for source in listed(answer, "sources"):
        path = str(source.get("path") or "").removeprefix("./")
        keys = {path} if path else set()
        if source.get("record_id"):
            keys.add(str(source["record_id"]))
        elif "record_id" not in source:  # today's schema: the file's cards stand for its records
            keys.update(card for card in cards if records.get(card) == path)
        units.append(keys)
    return units


def rank_of(units: Sequence[set[str]], expected: set[str]) -> int | None:
    """Return the 1-based rank of the first unit that matches an expectation."""
    for number, keys in enumerate(units, start=1):
        if keys & expected:
            return number
    return None


def latency(answer: dict[str, Any] | None) -> float | None:
    """Return the answer's `latency_ms` when it is a number."""
    value = answer.get("latency_ms") if isinstance(answer, dict) else None
    return float(value) if isinstance(value, int | float) else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (nearest rank on the sorted values), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def share(hits: Iterable[bool]) -> float | None:
    """Return the share of true values, None for none."""
    items = list(hits)
    return round(sum(items) / len(items), 4) if items else None


def retrieval_figures(ranks: Sequence[int | None]) -> dict[str, float | None]:
    """Return R@1, R@3, R@5 and MRR of a list of ranks (None = not found)."""
    n = len(ranks)
    if not n:
        return {"r1": None, "r3": None, "r5": None, "mrr": None}
    return {
        "r1": round(sum(1 for r in ranks if r is not None and r <= 1) / n, 4),
        "r3": round(sum(1 for r in ranks if r is not None and r <= 3) / n, 4),
        "r5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4),
    }


def code_hit(keys: set[str], codes: Sequence[str]) -> bool:
    """Return whether one of the keys is a file whose name starts with a gold code."""
    names = [key.rsplit("/", 1)[-1] for key in keys]
    return any(name.startswith(f"{code}_") for name in names for code in codes)
