"""The command line, the run of the chosen sections, the printed table and the JSON results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quality.common import ALL_SETS, QUESTIONS, REPO, RESULTS, SET_FILES, log
from quality.context import Context, run_single_questions
from quality.conversations import section_conversations
from quality.product import Product, default_command
from quality.sections import section_fresh, section_multilingual, section_oos, section_sample
from quality.sets import check_expectations, in_split, read_jsonl, record_files
from quality.speed import section_speed, section_synthetic
from quality.table import render
from quality.uniqa import section_uniqa

DESCRIPTION = "Answer quality through the product's own path: `learncity ask --json -`, one table."
"""The parser's description: the entry script's first docstring line."""


def find_dataset() -> Path | None:
    """Return the shared UniQA folder: ../shared/datasets/uniqa from this checkout or a parent."""
    for parent in [REPO, *REPO.parents]:
        candidate = parent / "shared" / "datasets" / "uniqa"
        if (candidate / "corpus").is_dir():
            return candidate
    return None


def load_average() -> list[float] | None:
    """Return the 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def build_parser(description: str = DESCRIPTION) -> argparse.ArgumentParser:
    """Return the command line's parser (the options and their help)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--sets",
        default=",".join(ALL_SETS),
        help=f"comma-separated sections (default all: {','.join(ALL_SETS)})",
    )
    parser.add_argument("--split", choices=("test", "dev", "both"), default="test")
    parser.add_argument(
        "--limit",
        type=int,
        default=400,
        help="UniQA questions per language and half (0 = all; default 400)",
    )
    parser.add_argument(
        "--knowledge",
        type=Path,
        default=REPO / "knowledge",
        help="knowledge folder of the checkout measured (default: this repo's)",
    )
    parser.add_argument(
        "--keep-data",
        type=Path,
        metavar="DIR",
        help="keep the indexes here and reuse them on the next run",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--learncity",
        help="the command to run (default: the console script "
        "next to this interpreter), e.g. 'python -m app.cli'",
    )
    parser.add_argument("--dataset", type=Path, default=find_dataset(), help="UniQA folder")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds one learncity process may take (default 1800)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="conversation processes at a time (default 1: the cores are shared)",
    )
    parser.add_argument(
        "--synthetic-100k",
        action="store_true",
        help="also measure whole-answer p95 on ~100,000 chunks (20-40 min)",
    )
    parser.add_argument("--synthetic-chunks", type=int, default=100_000, help=argparse.SUPPRESS)
    return parser


def parse_args(argv: Sequence[str] | None, description: str = DESCRIPTION) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = build_parser(description)
    args = parser.parse_args(argv)
    args.sets_list = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = sorted(set(args.sets_list) - set(ALL_SETS))
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(ALL_SETS)}")
    if not (args.knowledge / "contacts.yaml").exists() and not (args.knowledge / "guides").is_dir():
        parser.error(f"--knowledge {args.knowledge} does not look like a knowledge folder")
    if args.jobs < 1:
        parser.error(f"--jobs ({args.jobs}) must be at least 1")
    if args.limit < 0:
        parser.error(f"--limit ({args.limit}) must be 0 (all) or more")
    return args


def load_sets(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Return the chosen question sets (the requested half), each row with its file and `_qid`."""
    sets: dict[str, list[dict[str, Any]]] = {}
    for name, filenames in SET_FILES.items():
        wanted = name in args.sets_list or ("speed" in args.sets_list and name == "sample")
        if not wanted:
            continue
        rows = []
        for filename in filenames:
            found = read_jsonl(args.questions / filename)
            found = [r for r in found if in_split(r, args.split)]
            for row in found:
                row["_file"] = filename
            rows += found
        for number, row in enumerate(rows):
            row.setdefault("id", f"{name}-{number}")
            row["_qid"] = f"{name}:{row['id']}"
        sets[name] = rows
    return sets


def run_sections(ctx: Context, sets: dict[str, list[dict[str, Any]]]) -> None:
    """Index the knowledge folder, ask the single questions, run the chosen sections in order."""
    args = ctx.args
    seconds, line = ctx.product.index()
    log(f"knowledge folder indexed in {seconds:.1f} s: {line}")
    single = {k: v for k, v in sets.items() if k != "conversations"}
    run_single_questions(ctx, single)
    if "sample" in args.sets_list:
        section_sample(ctx, sets["sample"])
    if "uniqa" in args.sets_list:
        section_uniqa(ctx)
    if "multilingual" in args.sets_list:
        section_multilingual(ctx, sets["multilingual"])
    if "oos" in args.sets_list:
        section_oos(ctx, sets["oos"])
    if "fresh" in args.sets_list:
        section_fresh(ctx, sets["fresh"])
    if "conversations" in args.sets_list:
        for filename in SET_FILES["conversations"]:
            section_conversations(
                ctx, [r for r in sets["conversations"] if r["_file"] == filename], filename
            )
    if "speed" in args.sets_list:
        section_speed(ctx, [row for rows in single.values() for row in rows])
    if args.synthetic_100k:
        section_synthetic(ctx)


def write_results(
    ctx: Context,
    command: list[str],
    unknown: list[str],
    *,
    seconds: float,
    load_before: list[float] | None,
    load_after: list[float] | None,
) -> None:
    """Write the JSON results (command, date, machine, load, figures) to `--output`."""
    args = ctx.args
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "learncity": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "processor": platform.machine(),
        },
        "load_average_before": load_before,
        "load_average_after": load_after,
        "seconds": round(seconds, 1),
        "split": args.split,
        "limit": args.limit,
        "knowledge": str(args.knowledge.resolve()),
        "unknown_expectations": unknown,
        "table": ctx.rows,
        "table_markdown": render(ctx.rows, markdown=True),
        **{k: v for k, v in ctx.report.items()},
    }
    for section in result.values():
        if isinstance(section, dict):
            for key in [k for k in section if k.startswith("_")]:
                section.pop(key)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8"
    )
    log(f"wrote {args.output}")


def main(argv: Sequence[str] | None = None, description: str = DESCRIPTION) -> int:
    """Run the chosen sections, print one table, write the JSON results."""
    args = parse_args(argv, description)
    started = time.perf_counter()
    load_before = load_average()
    command = args.learncity.split() if args.learncity else default_command()
    keep = args.keep_data
    holder = None if keep else tempfile.TemporaryDirectory(prefix="answer-quality-")
    data_root = keep if keep else Path(holder.name)  # type: ignore[union-attr]
    data_root.mkdir(parents=True, exist_ok=True)
    try:
        product = Product(command, args.knowledge.resolve(), data_root / "sample", args.timeout)
        ctx = Context(args, product, record_files(args.knowledge), data_root)
        sets = load_sets(args)
        unknown = check_expectations(sets, args.knowledge)
        for item in unknown:
            log(f"warning: expectation names nothing in the knowledge folder: {item}")
        run_sections(ctx, sets)
    finally:
        if holder is not None:
            holder.cleanup()
    duration = time.perf_counter() - started
    print(render(ctx.rows, markdown=args.markdown))
    load_after = load_average()
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {duration / 60:.1f} min, load average "
        f"before {load_before} after {load_after}, {os.cpu_count()} CPUs"
    )
    write_results(
        ctx, command, unknown, seconds=duration, load_before=load_before, load_after=load_after
    )
    return 0
