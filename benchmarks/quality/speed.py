"""Speed: whole-answer latency next to bare retrieval, and the optional ~100,000-chunk corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quality.baselines import open_baselines
from quality.common import UNIQA_LANGS, log
from quality.context import Context, bare, sample_baselines
from quality.metrics import latency, percentile
from quality.product import Product
from quality.sets import build_uniqa_folder, uniqa_questions
from quality.table import speed_row


def section_speed(ctx: Context, single_rows: list[dict[str, Any]]) -> None:
    """Whole-answer latency next to bare retrieval, on the sample index and on UniQA's."""
    run = ctx.single_run
    detail: dict[str, Any] = {}
    if run is not None:
        for row in single_rows:
            bare(ctx, row["_qid"], str(row.get("question", "")))
        whole = [v for a in run.answers[1:] if (v := latency(a)) is not None]
        bare_ms = list(ctx.bare_ms.values())
        base = sample_baselines(ctx)
        chunks = base.chunks if base is not None else None
        detail["sample_folder"] = {
            "answers": len(whole),
            "whole_p50_ms": percentile(whole, 50),
            "whole_p95_ms": percentile(whole, 95),
            "bare_p50_ms": percentile(bare_ms, 50),
            "bare_p95_ms": percentile(bare_ms, 95),
            "chunks": chunks,
        }
        ctx.rows.append(speed_row(f"knowledge folder ({chunks} chunks)", whole, bare_ms))
    uniqa = ctx.report.get("uniqa", {})
    if uniqa.get("latency"):
        detail["uniqa"] = uniqa["latency"]
        ctx.rows.append(
            speed_row(f"UniQA ({uniqa['chunks']} chunks)", uniqa["_whole"], uniqa["_bare"])
        )
    ctx.report["speed"] = detail


def section_synthetic(ctx: Context) -> None:
    """Whole-answer p95 on a ~100,000-chunk corpus made of UniQA documents with perturbed titles."""
    args = ctx.args
    folder = ctx.data_root / "synthetic-knowledge"
    documents = build_uniqa_folder(Path(args.knowledge), args.dataset, folder)
    chunks_per_copy = ctx.report.get("uniqa", {}).get("chunks") or 10_000
    copies = max(1, -(-args.synthetic_chunks // chunks_per_copy))
    districts = ["Librino", "Nesima", "Ognina", "Picanello", "Cibali", "Barriera", "Trappeto"]
    for copy in range(1, copies):
        for source in sorted((folder / "guides" / "uniqa").rglob("*.txt")):
            if "/copy" in source.as_posix():
                continue
            lines = source.read_text(encoding="utf-8").splitlines()
            if lines:
                lines[0] = f"{lines[0]} - edizione {copy} ({districts[copy % len(districts)]})"
            rel = source.relative_to(folder / "guides" / "uniqa")
            target = folder / "guides" / "uniqa" / f"copy{copy:02d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    product = Product(
        ctx.product.command, folder, ctx.data_root / "synthetic", max(ctx.product.timeout, 4 * 3600)
    )
    log(f"synthetic: {documents * copies} documents in {copies} copies; indexing (slow)")
    seconds, line = product.index()
    log(f"synthetic: indexed in {seconds:.0f} s: {line}")
    questions = [
        q["question"]
        for lang in UNIQA_LANGS
        for q in uniqa_questions(args.dataset, lang, "test", 100)
    ]
    run = product.ask(questions)
    whole = [v for a in run.answers[1:] if (v := latency(a)) is not None]
    base = open_baselines(product.data / "chroma")
    bare_ms = [base.embed_and_query(q)[1] for q in questions] if base else []
    ctx.report["synthetic"] = {
        "copies": copies,
        "index_seconds": round(seconds, 1),
        "index_report": line,
        "chunks": base.chunks if base else None,
        "whole_p50_ms": percentile(whole, 50),
        "whole_p95_ms": percentile(whole, 95),
        "bare_p95_ms": percentile(bare_ms, 95),
    }
    chunks = base.chunks if base else "?"
    ctx.rows.append(speed_row(f"synthetic UniQA x{copies} ({chunks} chunks)", whole, bare_ms))
