"""The conversations section: one `ask --session` process per conversation, follow-up turns."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from quality.common import log
from quality.context import Context
from quality.metrics import abstained, card_ids, listed, ranked_units, share
from quality.product import AskRun
from quality.sections import smalltalk_ok
from quality.sets import expected_of
from quality.table import fmt


def section_conversations(ctx: Context, rows: list[dict[str, Any]], filename: str) -> None:
    """Follow-up turns whose first source or cards hold the expected record, one session each."""
    label = f"{filename}, " + ("dev+test" if ctx.args.split == "both" else ctx.args.split)
    key = filename.removesuffix(".jsonl")
    if not ctx.product.supports_session():
        log("conversations: `ask --session` not supported by this learncity")
        ctx.report[key] = {"supported": False}
        ctx.rows.append(
            {
                "section": "conversations",
                "subset": label,
                "n": len(rows),
                "other": "not supported (no `ask --session`)",
            }
        )
        return
    outcomes: dict[str, list[bool]] = {kind: [] for kind in TURN_KINDS}
    follow_source: list[bool] = []
    detail_rows: list[dict[str, Any]] = []
    for detail in converse_all(ctx, rows):
        kind = turn_kind(detail)
        outcomes[kind].append(detail["ok"])
        if kind == "follow_up":
            follow_source.append(detail["_first_ok"])
        detail.pop("_first_ok", None)
        detail_rows.append(detail)
    follow, first_turns = outcomes["follow_up"], outcomes["first"]
    oos, smalltalk = outcomes["out_of_scope"], outcomes["smalltalk"]
    ctx.report[key] = {
        "supported": True,
        "conversations": len(rows),
        "follow_ups": len(follow),
        "follow_up_right": share(follow),
        "follow_up_first_source_right": share(follow_source),
        "first_turn_right": share(first_turns),
        "out_of_scope_turns": len(oos),
        "out_of_scope_abstained": share(oos),
        "smalltalk_turns": len(smalltalk),
        "smalltalk_right": share(smalltalk),
        "rows": detail_rows,
    }
    row: dict[str, Any] = {
        "section": "conversations",
        "subset": f"follow-up turns, {label}",
        "n": len(follow),
        "r1": share(follow_source),
        "other": f"first source or cards right: {fmt(share(follow))}; "
        f"first turns: {fmt(share(first_turns))}" + other_turns_note(oos, smalltalk),
    }
    if oos:
        row["oos_abstain"] = share(oos)
    ctx.rows.append(row)


TURN_KINDS = ("first", "follow_up", "out_of_scope", "smalltalk")
"""The kinds of turn a conversation's figures are counted by."""


def turn_kind(detail: dict[str, Any]) -> str:
    """Return a turn's kind: out_of_scope or smalltalk when marked so, else first or follow_up."""
    if detail.get("kind") in ("out_of_scope", "smalltalk"):
        return str(detail["kind"])
    return "follow_up" if detail["turn"] else "first"


def other_turns_note(oos: list[bool], smalltalk: list[bool]) -> str:
    """Return the row's note on out-of-scope and small-talk turns ("" when a set has none)."""
    parts = []
    if oos:
        parts.append(f"out-of-scope turns abstained: {sum(oos)}/{len(oos)}")
    if smalltalk:
        parts.append(f"small-talk turns right: {sum(smalltalk)}/{len(smalltalk)}")
    return "".join(f"; {part}" for part in parts)


def converse_all(ctx: Context, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield each turn's outcome (`_first_ok`: its first source is right), conversation by
    conversation, running `--jobs` `ask --session` processes at a time."""
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")

    def converse(item: tuple[int, dict[str, Any]]) -> tuple[dict[str, Any], list[Any], AskRun]:
        number, row = item
        turns = [t for t in row.get("turns", []) if isinstance(t, dict)]
        run = ctx.product.ask(
            [str(t.get("question", "")) for t in turns],
            session=f"aq-{run_id}-{row.get('id', number)}",
        )
        return row, turns, run

    with ThreadPoolExecutor(max_workers=ctx.args.jobs) as pool:  # each thread runs one process
        for done, (row, turns, run) in enumerate(pool.map(converse, enumerate(rows)), start=1):
            for position, (turn, answer) in enumerate(zip(turns, run.answers, strict=True)):
                yield turn_outcome(ctx, row, position, turn, answer)
            if done % 10 == 0:
                log(f"conversations: {done}/{len(rows)}")


def turn_outcome(
    ctx: Context,
    row: dict[str, Any],
    position: int,
    turn: dict[str, Any],
    answer: dict[str, Any] | None,
) -> dict[str, Any]:
    """Return one turn's detail row. A turn marked `out_of_scope` is right when the answer
    abstained, one marked `smalltalk` when it is small talk; any other turn when its first
    source or its cards hold the expected record."""
    if turn.get("out_of_scope") or turn.get("smalltalk"):
        kind = "smalltalk" if turn.get("smalltalk") else "out_of_scope"
        ok = smalltalk_ok(answer) if kind == "smalltalk" else abstained(answer) is True
        return {
            "id": row.get("id"),
            "turn": position,
            "kind": kind,
            "question": turn.get("question"),
            "ok": ok,
            "sources": len(listed(answer, "sources")),
            "abstained": abstained(answer),
            "_first_ok": False,
        }
    expected = expected_of(turn)
    units = ranked_units(answer, ctx.records)
    first_ok = bool(units and units[0] & expected)
    ok = first_ok or bool(set(card_ids(answer)) & expected and abstained(answer) is False)
    return {
        "id": row.get("id"),
        "turn": position,
        "question": turn.get("question"),
        "ok": ok,
        "first_source": sorted(units[0]) if units else None,
        "cards": card_ids(answer)[:5],
        "abstained": abstained(answer),
        "_first_ok": first_ok,
    }
