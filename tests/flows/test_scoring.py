"""Scoring: reverse items, bands, ties, all-same answers, strengths and areas to grow."""

from __future__ import annotations

import pytest

from flows.definitions import FlowDefinition
from flows.scoring import score


def _answers(
    flow: FlowDefinition, by_competence: dict[str, int], default: int = 3
) -> dict[str, int]:
    """Answer so each competence's *counted* value is as given (reverse items turned round)."""
    answers = {}
    for item in flow.items:
        wanted = by_competence.get(item.competence, default)
        answers[item.id] = flow.scale.low + flow.scale.high - wanted if item.reverse else wanted
    return answers


def test_reverse_items_count_the_other_way(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-full"]
    # sr1, sr2 agree (5); sr3 is reverse: agreeing (5) means little self-regulation.
    answers = {item.id: 3 for item in flow.items}
    answers.update({"sr1": 5, "sr2": 5, "sr3": 5})
    result = score(flow, answers)
    assert result.competence("self-regulation").mean == pytest.approx((5 + 5 + 1) / 3)
    answers["sr3"] = 1
    assert score(flow, answers).competence("self-regulation").mean == pytest.approx(5.0)


def test_area_mean_weighs_each_competence_the_same(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-full"]
    result = score(flow, _answers(flow, {"empathy": 5, "communication": 2, "collaboration": 2}))
    social = next(area for area in result.areas if area.id == "social")
    assert social.mean == pytest.approx(3.0)


@pytest.mark.parametrize(("mean", "label"), [(1.0, "Room to grow"), (2.49, "Room to grow"),
                                              (2.5, "Growing"), (3.49, "Growing"),
                                              (3.5, "A strength"), (5.0, "A strength")])
def test_bands_have_inclusive_lower_bounds(shipped: dict[str, FlowDefinition], mean: float,
                                           label: str) -> None:
    flow = shipped["lifecomp-full"]
    band = flow.scoring.bands[flow.scoring.band_index(mean)]
    assert band.label["en"] == label  # type: ignore[index]
    assert band.advice


def test_mean_of_thirds_reaches_the_band(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-full"]
    answers = _answers(flow, {})
    answers.update({"em1": 4, "em2": 3, "em3": 2})  # em3 reverse -> 4: mean 11/3 = 3.67
    result = score(flow, answers)
    assert flow.scoring.bands[result.competence("empathy").band].label["en"] == "A strength"  # type: ignore[index]


def test_strengths_and_growth_are_highest_and_lowest(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-quick"]
    result = score(flow, _answers(flow, {"empathy": 5, "collaboration": 4, "wellbeing": 1,
                                         "critical-thinking": 2}))
    assert result.strengths == ("empathy", "collaboration")
    assert result.growth == ("wellbeing", "critical-thinking")
    assert not result.even and not result.same_answers


def test_ties_are_widened_and_keep_definition_order(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-quick"]
    answers = _answers(flow, {"self-regulation": 5, "empathy": 5, "growth-mindset": 5,
                              "managing-learning": 5, "wellbeing": 1})
    result = score(flow, answers)
    # Four tie for best: the first three in definition order, every time.
    assert result.strengths == ("self-regulation", "empathy", "growth-mindset")
    assert result.growth[0] == "wellbeing"
    assert score(flow, dict(reversed(list(answers.items())))) == result


def test_all_same_answers_are_flagged(shipped: dict[str, FlowDefinition]) -> None:
    full = shipped["lifecomp-full"]
    result = score(full, {item.id: 4 for item in full.items})
    assert result.same_answers
    # With reverse items the same button everywhere does not give an even profile...
    assert result.competence("self-regulation").mean == pytest.approx((4 + 4 + 2) / 3)
    quick = shipped["lifecomp-quick"]
    even = score(quick, {item.id: 3 for item in quick.items})
    # ...without them it does: no strengths, no areas to grow.
    assert even.same_answers and even.even
    assert even.strengths == () and even.growth == ()
