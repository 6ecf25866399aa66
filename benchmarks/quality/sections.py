"""The sections on the knowledge folder's answers: sample, multilingual, out of scope, fresh."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from quality.baselines import IndexBaselines, unit_keys
from quality.common import COVERED
from quality.context import Context, bare, sample_baselines
from quality.metrics import abstained, listed, rank_of, ranked_units, retrieval_figures, share
from quality.sets import expected_of, halves, in_split, is_oos
from quality.table import fmt


def section_sample(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """R@1, R@5, MRR, wrong abstentions and out-of-scope abstentions per half of sample_eval."""
    detail: dict[str, Any] = {}
    for half in halves(ctx.args.split):
        chosen = [row for row in rows if row.get("split") == half]
        answerable = [row for row in chosen if not is_oos(row)]
        oos = [row for row in chosen if is_oos(row)]
        ranks = [
            rank_of(ranked_units(ctx.single.get(r["_qid"]), ctx.records), expected_of(r))
            for r in answerable
        ]
        figures = retrieval_figures(ranks)
        wrong = share(abstained(ctx.single.get(r["_qid"])) is not False for r in answerable)
        refused = share(abstained(ctx.single.get(r["_qid"])) is True for r in oos)
        detail[half] = {
            **figures,
            "answerable": len(answerable),
            "out_of_scope": len(oos),
            "answerable_abstained": wrong,
            "out_of_scope_abstained": refused,
            "misses": [
                {
                    "id": r["id"],
                    "question": r["question"],
                    "rank": rank,
                    "abstained": abstained(ctx.single.get(r["_qid"])),
                    "sources": [
                        sorted(u) for u in ranked_units(ctx.single.get(r["_qid"]), ctx.records)
                    ][:3],
                }
                for r, rank in zip(answerable, ranks, strict=True)
                if rank != 1
            ],
        }
        ctx.rows.append(
            {
                "section": "sample folder",
                "subset": f"{half} ({len(answerable)} + {len(oos)} out of scope)",
                "n": len(chosen),
                "r1": figures["r1"],
                "r5": figures["r5"],
                "mrr": figures["mrr"],
                "wrong_abstain": wrong,
                "oos_abstain": refused,
            }
        )
    ctx.report["sample"] = detail


def multilingual_rows(
    ctx: Context, rows: list[dict[str, Any]], base: IndexBaselines | None
) -> list[dict[str, Any]]:
    """Return per question: its rank, the plain dense rank ("n/a" without baselines), abstained."""
    per_row: list[dict[str, Any]] = []
    for row in rows:
        answer = ctx.single.get(row["_qid"])
        rank = None if is_oos(row) else rank_of(ranked_units(answer, ctx.records), expected_of(row))
        dense_rank: int | str | None = "n/a"
        if not is_oos(row) and base is not None:
            vector = bare(ctx, row["_qid"], row["question"])
            dense_rank = rank_of([unit_keys(u) for u in base.dense(vector, 5)], expected_of(row))
        per_row.append(
            {
                "id": row["id"],
                "lang": row.get("lang"),
                "split": row.get("split"),
                "oos": is_oos(row),
                "rank": rank,
                "dense_rank": dense_rank,
                "abstained": abstained(answer),
                "question": row["question"],
            }
        )
    return per_row


def multilingual_summary(items: list[dict[str, Any]], dense: bool) -> dict[str, Any]:
    """Return n, top 3, wrong and out-of-scope abstentions, and the dense top 3 (when `dense`)."""
    answerable = [i for i in items if not i["oos"]]
    oos = [i for i in items if i["oos"]]
    return {
        "n": len(items),
        "top3": share(i["rank"] is not None and i["rank"] <= 3 for i in answerable),
        "wrong_abstain": share(i["abstained"] is not False for i in answerable),
        "oos_abstain": share(i["abstained"] is True for i in oos),
        "dense_top3": None
        if not dense
        else share(isinstance(i["dense_rank"], int) and i["dense_rank"] <= 3 for i in answerable),
    }


def section_multilingual(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """Right source in the first 3 per language group, abstentions, and plain dense top 3."""
    base = sample_baselines(ctx)
    per_row = multilingual_rows(ctx, rows, base)
    groups: list[tuple[str, tuple[str, ...]]] = [("10 covered languages", COVERED)]
    groups += [("uk (not covered)", ("uk",)), ("ro (not covered)", ("ro",))]
    detail: dict[str, Any] = {"rows": per_row}
    label = "dev+test" if ctx.args.split == "both" else ctx.args.split
    chosen: list[tuple[str, str, list[dict[str, Any]]]] = [
        (f"{half}:{name}", f"{name}, {half}",
         [i for i in per_row if i["lang"] in langs and i["split"] == half])
        for half in halves(ctx.args.split)
        for name, langs in groups
    ]
    chosen += [
        (f"{label}:{lang}", f"{lang}, {label}",
         [i for i in per_row if i["lang"] == lang and in_split(i, ctx.args.split)])
        for lang in COVERED
    ]
    for key, subset, items in chosen:
        figures = multilingual_summary(items, base is not None)
        detail[key] = figures
        ctx.rows.append(
            {
                "section": "multilingual",
                "subset": subset,
                **figures,
                "other": f"plain dense top 3: {fmt(figures['dense_top3'])}",
            }
        )
    ctx.report["multilingual"] = detail


def smalltalk_ok(answer: dict[str, Any] | None) -> bool:
    """Return whether a smalltalk line got a friendly reply (kind smalltalk, or no sources)."""
    kind = answer.get("kind") if isinstance(answer, dict) else None
    return kind == "smalltalk" or (
        abstained(answer) is False
        and isinstance(answer, dict)
        and isinstance(answer.get("sources"), list)
        and not answer["sources"]
    )


def oos_outcomes(
    ctx: Context, rows: list[dict[str, Any]]
) -> tuple[dict[str, list[bool]], list[bool], list[dict[str, Any]]]:
    """Return per language the abstentions, the friendly smalltalk replies, and the misses."""
    by_lang: dict[str, list[bool]] = defaultdict(list)
    friendly: list[bool] = []
    misses: list[dict[str, Any]] = []
    for row in rows:
        answer = ctx.single.get(row["_qid"])
        miss: dict[str, Any] = {"id": row["id"], "question": row["question"]}
        if row.get("smalltalk"):
            ok = smalltalk_ok(answer)
            friendly.append(ok)
            miss |= {"abstained": abstained(answer), "sources": len(listed(answer, "sources"))}
        else:
            ok = abstained(answer) is True
            by_lang[str(row.get("lang"))].append(ok)
            miss["sources"] = [s.get("path") for s in listed(answer, "sources")][:3]
        if not ok:
            misses.append(miss)
    return by_lang, friendly, misses


def section_oos(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """Abstained share of out-of-scope questions per language; friendly smalltalk replies."""
    label = "dev+test" if ctx.args.split == "both" else ctx.args.split
    by_lang, friendly, misses = oos_outcomes(ctx, rows)
    every = [value for values in by_lang.values() for value in values]
    detail: dict[str, Any] = {"all": {"n": len(every), "abstained": share(every)}}
    ctx.rows.append(
        {
            "section": "out of scope",
            "subset": f"all languages, {label}",
            "n": len(every),
            "oos_abstain": share(every),
        }
    )
    for lang in sorted(by_lang, key=lambda code: (code not in ("en", "it"), code)):
        detail[lang] = {"n": len(by_lang[lang]), "abstained": share(by_lang[lang])}
        ctx.rows.append(
            {
                "section": "out of scope",
                "subset": f"{lang}, {label}",
                "n": len(by_lang[lang]),
                "oos_abstain": share(by_lang[lang]),
            }
        )
    detail["smalltalk"] = {"n": len(friendly), "friendly": share(friendly)}
    detail["misses"] = misses
    ctx.rows.append(
        {
            "section": "smalltalk",
            "subset": f"greetings, thanks, 'what can you do', {label}",
            "n": len(friendly),
            "other": f"friendly reply (no abstention, no sources): {fmt(share(friendly))}",
        }
    )
    ctx.report["out_of_scope"] = detail


def section_fresh(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """The fresh sets: answerable (right source first / in the first 3, wrongly abstained) and
    out of scope (abstained), for Italian and English and for the other languages, per half."""
    per_row = []
    for row in rows:
        answer = ctx.single.get(row["_qid"])
        outside = is_oos(row)
        rank = None if outside else rank_of(ranked_units(answer, ctx.records), expected_of(row))
        per_row.append(
            {
                "id": row["id"],
                "lang": row.get("lang"),
                "split": row.get("split"),
                "oos": outside,
                "rank": rank,
                "abstained": abstained(answer),
            }
        )
    detail: dict[str, Any] = {"rows": per_row}
    groups = [("it, en", ("it", "en")), ("other languages", None)]
    for half in halves(ctx.args.split):
        for name, langs in groups:
            chosen = [
                i
                for i in per_row
                if i["split"] == half
                and ((i["lang"] in langs) if langs else i["lang"] not in ("it", "en"))
            ]
            answerable = [i for i in chosen if not i["oos"]]
            oos = [i for i in chosen if i["oos"]]
            figures = {
                "n": len(chosen),
                "r1": share(i["rank"] == 1 for i in answerable),
                "top3": share(i["rank"] is not None and i["rank"] <= 3 for i in answerable),
                "wrong_abstain": share(i["abstained"] is not False for i in answerable),
                "oos_abstain": share(i["abstained"] is True for i in oos),
            }
            detail[f"{half}:{name}"] = figures
            ctx.rows.append(
                {
                    "section": "fresh sets",
                    "subset": f"{name}, {half} ({len(answerable)} + {len(oos)} out of scope)",
                    **figures,
                }
            )
    ctx.report["fresh"] = detail
