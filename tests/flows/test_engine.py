"""The pure engine: answer, back, pause, resume, stale steps; a progress survives JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from flows import engine
from flows.definitions import FlowDefinition
from flows.errors import InvalidAnswer, StaleStep

NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)


def test_answer_back_pause_resume(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-quick"]
    progress = engine.start(flow, now=NOW)
    for value in (4, 2, 5):
        progress = engine.answer(flow, progress, value, now=NOW)
    assert engine.step(flow, progress).number == 4
    progress = engine.back(flow, progress, now=NOW)
    step = engine.step(flow, progress)
    assert (step.number, step.selected) == (3, 5)  # the earlier answer is shown
    progress = engine.answer(flow, progress, 1, now=NOW, at=2)
    assert progress.answers[flow.items[2].id] == 1
    paused = engine.pause(progress, now=NOW)
    restored = engine.Progress.model_validate_json(paused.model_dump_json())
    assert restored == paused
    resumed = engine.resume(flow, restored, now=NOW)
    assert not resumed.paused and engine.step(flow, resumed).number == 4
    for _ in range(6):
        resumed = engine.answer(flow, resumed, 3, now=NOW)
    assert engine.is_complete(flow, resumed)
    assert engine.finish(flow, resumed).competence("empathy").mean == 3


def test_back_on_the_first_question_stays(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-quick"]
    progress = engine.back(flow, engine.start(flow, now=NOW), now=NOW)
    assert progress.position == 0


def test_stale_and_invalid_answers_are_refused(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-quick"]
    progress = engine.answer(flow, engine.start(flow, now=NOW), 3, now=NOW, at=0)
    with pytest.raises(StaleStep, match="step 1, not at step 0"):
        engine.answer(flow, progress, 3, now=NOW, at=0)
    with pytest.raises(InvalidAnswer, match="9"):
        engine.answer(flow, progress, 9, now=NOW)
    with pytest.raises(ValueError, match="aware"):
        engine.start(flow, now=dt.datetime(2026, 1, 1))


def test_resume_fits_an_edited_definition(shipped: dict[str, FlowDefinition]) -> None:
    flow = shipped["lifecomp-quick"]
    progress = engine.start(flow, now=NOW)
    progress = progress.model_copy(update={"answers": {"gone": 3, "sr1": 4}, "position": 1})
    resumed = engine.resume(flow, progress, now=NOW)
    assert resumed.answers == {"sr1": 4} and resumed.position == 1
