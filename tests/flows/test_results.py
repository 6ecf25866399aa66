"""Recommendations, the chart, the results history with change since last time, /forget."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from flows.definitions import FlowDefinition
from flows.recommend import recommend
from flows.scoring import score
from flows.service import FlowService, ResultsView
from learncity.content.models import Programme
from tests.flows.conftest import Clock


def _finish(service: FlowService, user: int, flow_id: str, values: list[int],
            lang: str = "en") -> ResultsView:
    service.start(user, flow_id, lang=lang)
    outcome = None
    for index, value in enumerate(values):
        outcome = service.answer(user, flow_id, value, at=index, lang=lang)
    assert isinstance(outcome, ResultsView)
    return outcome


def test_recommendations_follow_skills_with_reasons(
    shipped: dict[str, FlowDefinition], programmes: dict[str, Programme]
) -> None:
    flow = shipped["lifecomp-quick"]
    # quick items: sr1 fl1 wb2 em1 co1 cl1 gm2 ct2 ml1; low managing learning and growth mindset.
    result = score(flow, dict(zip([i.id for i in flow.items], [4, 4, 4, 5, 5, 4, 1, 3, 1],
                                  strict=True)))
    picks = recommend(flow, result, programmes)
    grow = [p for p in picks if p.kind == "grow"]
    strength = [p for p in picks if p.kind == "strength"]
    assert 2 <= len(grow) <= 3 and len(strength) == 1
    assert {p.competence for p in grow} <= set(result.growth)
    for pick in grow:
        assert set(pick.skills) & {"growth-mindset", "managing-learning"} or pick.topics
        assert pick.competence in programmes[pick.programme_id].skills or pick.topics
    assert strength[0].competence in result.strengths
    assert len({p.programme_id for p in picks}) == len(picks)
    # A children-only programme is never suggested to the person taking the check.
    assert "english-kids-library" not in {p.programme_id for p in picks}


def test_results_say_why_and_compare_with_last_time(
    make_service: Callable[[], FlowService], clock: Clock
) -> None:
    service = make_service()
    first = _finish(service, 1, "lifecomp-quick", [4, 4, 4, 5, 5, 2, 1, 3, 1])
    assert first.previous is None and first.suggestions
    assert all(s.reason for s in first.suggestions)
    assert "reflection tool, not a test" in first.text
    clock.now = clock.now.replace(month=11)
    second = _finish(service, 1, "lifecomp-full", [3] * 27)
    assert second.previous is not None
    assert "since March" in second.text
    assert second.changes["collaboration"] == pytest.approx(3 - 2 + 0.0, abs=0.2)
    italian = service.last_results(1, "lifecomp-full", lang="it")
    assert italian is not None and "(ultima volta: marzo)" in italian.text


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("lang", ["it", "en"])
@pytest.mark.parametrize("flow_id", ["lifecomp-full", "digcomp-quick"])
def test_chart_renders_in_both_languages(make_service: Callable[[], FlowService], lang: str,
                                         flow_id: str) -> None:
    service = make_service()
    total = len(service.definition(flow_id).items)
    view = _finish(service, 2, flow_id, [(n % 4) + 1 for n in range(total)], lang)
    png = service.chart(view, lang=lang)
    width, height = _png_size(png)
    assert 500 <= width <= 1000 and 300 <= height <= 1000
    assert len(png) > 10_000


def test_forget_deletes_progress_and_results(make_service: Callable[[], FlowService]) -> None:
    service = make_service()
    _finish(service, 3, "digcomp-quick", [2] * 10)
    service.start(3, "lifecomp-quick", lang="en")
    described = service.describe_user(3)
    assert described["assessment_results"] and described["assessments_in_progress"]
    assert service.forget_user(3) == 2
    assert service.describe_user(3) == {"assessments_in_progress": [], "assessment_results": []}
