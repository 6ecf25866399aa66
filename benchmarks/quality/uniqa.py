"""The UniQA section: its documents indexed by the product, asked through the app, baselines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quality.baselines import IndexBaselines, open_baselines, unit_keys
from quality.common import UNIQA_LANGS, log
from quality.context import Context
from quality.metrics import (
    abstained,
    code_hit,
    latency,
    percentile,
    ranked_units,
    retrieval_figures,
    share,
)
from quality.product import Product
from quality.sets import build_uniqa_folder, halves, uniqa_questions

Buckets = dict[tuple[str, str], dict[str, list[Any]]]
"""Per (language, half): the ranks of ours, "bm25" and "dense", and the abstentions."""


def section_uniqa(ctx: Context) -> None:
    """UniQA through the app path, with BM25 and plain dense baselines on the same index."""
    args = ctx.args
    if args.dataset is None or not (args.dataset / "corpus").is_dir():
        log("uniqa: data set not found; pass --dataset")
        ctx.rows.append({"section": "UniQA", "subset": "-", "other": "data set not found"})
        return
    folder = ctx.data_root / "uniqa-knowledge"
    documents = build_uniqa_folder(Path(args.knowledge), args.dataset, folder)
    product = Product(ctx.product.command, folder, ctx.data_root / "uniqa", ctx.product.timeout)
    log(f"uniqa: {documents} documents; indexing")
    seconds, line = product.index()
    log(f"uniqa: indexed in {seconds:.1f} s: {line}")
    questions = [
        q
        for half in halves(args.split)
        for lang in UNIQA_LANGS
        for q in uniqa_questions(args.dataset, lang, half, args.limit)
    ]
    log(f"uniqa: asking {len(questions)} questions")
    run = product.ask([q["question"] for q in questions])
    log(f"uniqa: answered in {run.seconds:.1f} s")
    base = open_baselines(product.data / "chroma")
    if base is not None:
        log(f"uniqa: baselines over {base.chunks} chunks")
    latencies = [v for a in run.answers[1:] if (v := latency(a)) is not None]
    per, bare_ms = score_questions(questions, run.answers, base)
    detail: dict[str, Any] = {
        "documents": documents,
        "index_seconds": round(seconds, 1),
        "index_report": line,
        "chunks": base.chunks if base else None,
        "answer_seconds": round(run.seconds, 1),
    }
    for half in halves(args.split):
        for lang in UNIQA_LANGS:
            detail[f"{half}:{lang}"] = add_rows(ctx, per[(lang, half)], lang, half, base)
    detail["latency"] = {
        "whole_p50_ms": percentile(latencies, 50),
        "whole_p95_ms": percentile(latencies, 95),
        "bare_p50_ms": percentile(bare_ms, 50),
        "bare_p95_ms": percentile(bare_ms, 95),
        "answers": len(latencies),
    }
    detail["_whole"], detail["_bare"] = latencies, bare_ms  # for the speed rows; not written
    ctx.report["uniqa"] = detail


def first_hit(units: Sequence[set[str]], codes: Sequence[str]) -> int | None:
    """Return the 1-based rank of the first unit naming a gold programme code."""
    return next((n for n, keys in enumerate(units, 1) if code_hit(keys, codes)), None)


def score_questions(
    questions: Sequence[dict[str, Any]],
    answers: Sequence[dict[str, Any] | None],
    base: IndexBaselines | None,
) -> tuple[Buckets, list[float]]:
    """Return the ranks per (language, half) of ours and the baselines, and the bare timings."""
    per: Buckets = defaultdict(lambda: defaultdict(list))
    bare_ms: list[float] = []
    for question, answer in zip(questions, answers, strict=True):
        codes = question["gold_codes"]
        bucket = per[(question["lang"], question["split"])]
        bucket["ours"].append(first_hit(ranked_units(answer, {}), codes))
        bucket["abstained"].append(abstained(answer) is not False)
        if base is None:
            continue
        vector, ms = base.embed_and_query(question["question"])
        bare_ms.append(ms)
        dense = [unit_keys(u) for u in base.dense(vector, 5)]
        lexical = [unit_keys(u) for u in base.bm25(question["question"], 5)]
        bucket["dense"].append(first_hit(dense, codes))
        bucket["bm25"].append(first_hit(lexical, codes))
    return per, bare_ms


def add_rows(
    ctx: Context, bucket: dict[str, list[Any]], lang: str, half: str, base: IndexBaselines | None
) -> dict[str, Any]:
    """Add the table rows of one language and half (ours, baselines, ours / BM25); return detail."""
    kinds = ("ours", "bm25", "dense")
    figures_of: list[dict[str, Any]] = [retrieval_figures(bucket[kind]) for kind in kinds]
    ours, bm25, plain = figures_of
    n = len(bucket["ours"])
    where = f"{lang}, {half} (by programme code)"
    ctx.rows.append(
        {
            "section": "UniQA via app",
            "subset": f"{where}: ours",
            "n": n,
            "r1": ours["r1"],
            "r5": ours["r5"],
            "mrr": ours["mrr"],
            "wrong_abstain": share(bucket["abstained"]),
        }
    )
    if base is not None:
        for name, figures in (("BM25 by document", bm25), ("plain dense by document", plain)):
            ctx.rows.append(
                {
                    "section": "UniQA via app",
                    "subset": f"{where}: {name}",
                    "n": n,
                    "r1": figures["r1"],
                    "r5": figures["r5"],
                    "mrr": figures["mrr"],
                }
            )

        def ratio(key: str) -> str:
            return f"{ours[key] / bm25[key]:.2f}" if ours[key] and bm25[key] else "-"

        ctx.rows.append(
            {
                "section": "UniQA via app",
                "subset": f"{where}: ours / BM25",
                "n": n,
                "r1": ratio("r1"),
                "r5": ratio("r5"),
                "mrr": ratio("mrr"),
            }
        )
    return {
        "n": n,
        "ours": ours,
        "bm25": bm25,
        "dense": plain,
        "abstained": share(bucket["abstained"]),
    }
