"""The pure flow engine: start, answer, back, pause, resume, score. No I/O, no Telegram.

A `Progress` is a plain value: the store saves it as JSON after every answer, so a restart (or a
crash) in the middle of a questionnaire loses nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import AwareDatetime, BaseModel, ConfigDict

from flows.definitions import FlowDefinition, Item
from flows.errors import InvalidAnswer, StaleStep
from flows.scoring import Result, score


class Progress(BaseModel):
    """Where one person is in one flow: the answers so far and the step being asked."""

    model_config = ConfigDict(frozen=True)

    flow_id: str
    version: int
    position: int = 0  # index of the item being asked; == number of items when complete
    answers: dict[str, int] = {}
    started_at: AwareDatetime
    updated_at: AwareDatetime
    paused: bool = False


@dataclass(frozen=True)
class Step:
    """The question to ask now, in plain values (the adapters localise and render it)."""

    flow_id: str
    index: int  # 0-based, also the step token in buttons
    number: int  # 1-based, for "4/9"
    total: int
    item: Item
    selected: int | None  # the earlier answer when the person went back


def start(flow: FlowDefinition, *, now: dt.datetime) -> Progress:
    """Return a fresh progress at the first question."""
    _aware(now)
    return Progress(flow_id=flow.id, version=flow.version, started_at=now, updated_at=now)


def is_complete(flow: FlowDefinition, progress: Progress) -> bool:
    """Return whether every item has an answer."""
    return progress.position >= len(flow.items) and all(
        item.id in progress.answers for item in flow.items
    )


def step(flow: FlowDefinition, progress: Progress) -> Step:
    """Return the question to ask now (the progress must not be complete)."""
    if is_complete(flow, progress):
        raise StaleStep(flow.id, progress.position, progress.position)
    item = flow.items[progress.position]
    return Step(
        flow_id=flow.id,
        index=progress.position,
        number=progress.position + 1,
        total=len(flow.items),
        item=item,
        selected=progress.answers.get(item.id),
    )


def answer(
    flow: FlowDefinition,
    progress: Progress,
    value: int,
    *,
    now: dt.datetime,
    at: int | None = None,
) -> Progress:
    """Record `value` for the current item and move on; `at` guards against stale buttons."""
    _aware(now)
    if at is not None and at != progress.position:
        raise StaleStep(flow.id, progress.position, at)
    if is_complete(flow, progress) or progress.position >= len(flow.items):
        raise StaleStep(flow.id, progress.position, progress.position if at is None else at)
    if value not in flow.scale.values():
        raise InvalidAnswer(flow.id, value)
    item = flow.items[progress.position]
    answers = {**progress.answers, item.id: value}
    return progress.model_copy(
        update={
            "answers": answers,
            "position": _advance(flow, answers, progress.position),
            "updated_at": now,
            "paused": False,
        }
    )


def back(flow: FlowDefinition, progress: Progress, *, now: dt.datetime) -> Progress:
    """Return to the previous question (stay on the first one)."""
    _aware(now)
    position = max(0, min(progress.position, len(flow.items)) - 1)
    return progress.model_copy(update={"position": position, "updated_at": now, "paused": False})


def pause(progress: Progress, *, now: dt.datetime) -> Progress:
    """Mark the progress paused (it is kept as is, to resume later)."""
    _aware(now)
    return progress.model_copy(update={"paused": True, "updated_at": now})


def resume(flow: FlowDefinition, progress: Progress, *, now: dt.datetime) -> Progress:
    """Continue a saved progress, fitting it to the flow as it is now (staff may have edited it)."""
    _aware(now)
    known = {item.id: item for item in flow.items}
    valid = set(flow.scale.values())
    answers = {
        item_id: value
        for item_id, value in progress.answers.items()
        if item_id in known and value in valid
    }
    position = min(progress.position, len(flow.items))
    if position < len(flow.items) and flow.items[position].id in answers:
        position = _next_unanswered(flow, answers, position)
    elif position >= len(flow.items):
        position = _next_unanswered(flow, answers, 0)
    return progress.model_copy(
        update={
            "answers": answers,
            "position": position,
            "version": flow.version,
            "paused": False,
            "updated_at": now,
        }
    )


def finish(flow: FlowDefinition, progress: Progress) -> Result:
    """Score a complete progress."""
    if not is_complete(flow, progress):
        raise StaleStep(flow.id, progress.position, len(flow.items))
    return score(flow, progress.answers)


def _advance(flow: FlowDefinition, answers: dict[str, int], position: int) -> int:
    """Return the next position: the following item (showing any earlier answer), else a gap."""
    if position + 1 < len(flow.items):
        return position + 1
    return _next_unanswered(flow, answers, 0)


def _next_unanswered(flow: FlowDefinition, answers: dict[str, int], start_at: int) -> int:
    """Return the first unanswered item from `start_at` on, wrapping; len(items) when none."""
    count = len(flow.items)
    for offset in range(count):
        position = (start_at + offset) % count
        if flow.items[position].id not in answers:
            return position
    return count


def _aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"the flow engine needs an aware datetime, not {now!r}")
