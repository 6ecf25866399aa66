"""What the sections share: the arguments, the product, its single answers, the sample index."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quality.baselines import IndexBaselines, open_baselines
from quality.common import log
from quality.product import AskRun, Product


@dataclass
class Context:
    """What the sections share: arguments, the product on the sample folder, its answers."""

    args: argparse.Namespace
    product: Product
    records: dict[str, str]
    data_root: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    single: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # question id -> answer
    single_run: AskRun | None = None
    baselines: IndexBaselines | None = None
    bare_ms: dict[str, float] = field(default_factory=dict)
    vectors: dict[str, Any] = field(default_factory=dict)



def sample_baselines(ctx: Context) -> IndexBaselines | None:
    """Open the sample index once for the dense baseline and the bare retrieval timings."""
    if ctx.baselines is None:
        ctx.baselines = open_baselines(ctx.product.data / "chroma") or False  # type: ignore[assignment]
    return ctx.baselines or None


def bare(ctx: Context, qid: str, question: str) -> Any:
    """Return the question's vector, timing embed + Chroma top 5 on the sample index once."""
    base = sample_baselines(ctx)
    if base is None:
        return None
    if qid not in ctx.vectors:
        vector, ms = base.embed_and_query(question)
        ctx.vectors[qid], ctx.bare_ms[qid] = vector, ms
    return ctx.vectors[qid]


def run_single_questions(ctx: Context, sets: dict[str, list[dict[str, Any]]]) -> None:
    """Ask every single question of the sample-folder sets in one `ask` process."""
    items = [(row["_qid"], str(row.get("question", ""))) for rows in sets.values() for row in rows]
    if not items:
        return
    log(f"asking {len(items)} questions on the knowledge folder")
    run = ctx.product.ask([question for _, question in items])
    ctx.single_run = run
    ctx.single = {qid: answer for (qid, _), answer in zip(items, run.answers, strict=True)}
    log(f"answered in {run.seconds:.1f} s (exit {run.returncode})")
