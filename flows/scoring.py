"""Scoring: the mean per competence and per area, reverse items, bands, strengths and areas to grow.

Rules:
- a reverse-scored item counts as (lowest + highest - answer);
- a competence scores the mean of its answered items; an area the mean of its competences, so
  every competence weighs the same whatever its number of items;
- strengths are the highest competences and areas to grow the lowest, two of each, widened to
  include ties up to three; ties keep the order of the definition, so results are repeatable;
- when every competence scores the same there are no strengths or areas to grow (an even profile);
- answering every statement with the same button is flagged (`same_answers`), since with reverse
  items that usually means the statements were not read one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from statistics import fmean
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.definitions import FlowDefinition

PICK = 2  # strengths and areas to grow named in a result
PICK_WITH_TIES = 3  # at most this many when ties widen the pick
EPSILON = 1e-9


@dataclass(frozen=True)
class Score:
    """The mean of one competence or area and the band it falls in."""

    id: str
    mean: float
    band: int  # index into flow.scoring.bands
    answered: int  # items (for a competence) or competences (for an area) behind the mean


@dataclass(frozen=True)
class Result:
    """A scored questionnaire in plain values; competences and areas in definition order."""

    flow_id: str
    competences: tuple[Score, ...]
    areas: tuple[Score, ...]
    strengths: tuple[str, ...]  # competence ids, best first
    growth: tuple[str, ...]  # competence ids, lowest first
    same_answers: bool
    even: bool

    def competence(self, competence_id: str) -> Score:
        """Return the score of one competence."""
        for found in self.competences:
            if found.id == competence_id:
                return found
        raise KeyError(f"result of {self.flow_id!r} has no competence {competence_id!r}")

    def means(self) -> dict[str, float]:
        """Return competence and area means by id (what the history keeps)."""
        return {s.id: s.mean for s in (*self.competences, *self.areas)}


def item_value(value: int, *, reverse: bool, low: int, high: int) -> int:
    """Return the value an answer counts for (reverse items turned around)."""
    return low + high - value if reverse else value


def score(flow: FlowDefinition, answers: Mapping[str, int]) -> Result:
    """Score `answers` (item id -> scale value) against `flow`."""
    low, high = flow.scale.low, flow.scale.high
    by_competence: dict[str, list[int]] = {c.id: [] for c in flow.competences}
    for item in flow.items:
        if item.id in answers:
            counted = item_value(answers[item.id], reverse=item.reverse, low=low, high=high)
            by_competence[item.competence].append(counted)
    competences = tuple(
        Score(
            id=c.id,
            mean=fmean(values) if (values := by_competence[c.id]) else float(low),
            band=flow.scoring.band_index(fmean(values) if values else float(low)),
            answered=len(values),
        )
        for c in flow.competences
    )
    areas = []
    for area in flow.areas:
        means = [s.mean for s, c in zip(competences, flow.competences, strict=True)
                 if c.area == area.id and s.answered]
        mean = fmean(means) if means else float(low)
        areas.append(
            Score(id=area.id, mean=mean, band=flow.scoring.band_index(mean), answered=len(means))
        )
    given = [answers[item.id] for item in flow.items if item.id in answers]
    same_answers = len(given) > 1 and len(set(given)) == 1
    return _ranked_result(flow.id, competences, tuple(areas), same_answers=same_answers)


def _ranked_result(
    flow_id: str, competences: tuple[Score, ...], areas: tuple[Score, ...], *, same_answers: bool
) -> Result:
    """Return the result with its strengths and areas to grow picked."""
    answered = [s for s in competences if s.answered]
    even = bool(answered) and (
        max(s.mean for s in answered) - min(s.mean for s in answered) < EPSILON
    )
    strengths: tuple[str, ...] = ()
    growth: tuple[str, ...] = ()
    if answered and not even:
        strengths = _pick(answered, highest=True)
        growth = tuple(s for s in _pick(answered, highest=False) if s not in strengths)
    return Result(
        flow_id=flow_id,
        competences=competences,
        areas=areas,
        strengths=strengths,
        growth=growth,
        same_answers=same_answers,
        even=even,
    )


def _pick(scores: list[Score], *, highest: bool) -> tuple[str, ...]:
    """Return the top (or bottom) PICK ids, widened to ties up to PICK_WITH_TIES."""
    order = {s.id: position for position, s in enumerate(scores)}
    sign = -1.0 if highest else 1.0
    ranked = sorted(scores, key=lambda s: (sign * round(s.mean, 6), order[s.id]))
    if len(ranked) <= PICK:
        return tuple(s.id for s in ranked[:1])
    cutoff = ranked[PICK - 1].mean
    picked = [s for s in ranked if (s.mean >= cutoff - EPSILON if highest
                                    else s.mean <= cutoff + EPSILON)]
    return tuple(s.id for s in picked[:PICK_WITH_TIES])


def from_means(flow: FlowDefinition, means: Mapping[str, float]) -> Result:
    """Rebuild a result from saved competence means (the history keeps no single answers)."""
    competences = []
    for c in flow.competences:
        mean = means.get(c.id)
        competences.append(Score(
            id=c.id,
            mean=float(mean) if mean is not None else float(flow.scale.low),
            band=flow.scoring.band_index(float(mean) if mean is not None else flow.scale.low),
            answered=1 if mean is not None else 0,
        ))
    areas = []
    for area in flow.areas:
        values = [s.mean for s, c in zip(competences, flow.competences, strict=True)
                  if c.area == area.id and s.answered]
        mean = fmean(values) if values else float(flow.scale.low)
        areas.append(Score(id=area.id, mean=mean, band=flow.scoring.band_index(mean),
                           answered=len(values)))
    return _ranked_result(flow.id, tuple(competences), tuple(areas), same_answers=False)


def change(current: Mapping[str, float], previous: Mapping[str, float]) -> dict[str, float]:
    """Return current - previous for every id in both, rounded to one decimal."""
    return {
        key: round(current[key] - previous[key], 1)
        for key in current
        if key in previous
    }
