"""Answer quality on the sample folder: the own question set, through the whole assistant.

Indexes a copy-free temp index of `knowledge/`, asks every question of
benchmarks/questions/sample_eval.jsonl (in-scope and out-of-scope, it/en, cross-lingual) and
reports R@1, R@5, MRR (rank of the first right source file among the files the answer offers,
then the files of the remaining hits), the abstention rates, by language and cross-lingual, the
answer latency, and the abstention threshold this set suggests (`calibrate`).

    nice -n 5 python benchmarks/sample_eval.py        # writes benchmarks/results/sample_eval.json

Targets (issue 2): R@5 >= 0.95, MRR >= 0.85, >= 90% of out-of-scope abstained, <= 5% of the
answerable ones wrongly abstained.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "benchmarks" / "questions" / "sample_eval.jsonl"
RESULTS = REPO / "benchmarks" / "results" / "sample_eval.json"
TARGETS = {"r@5": 0.95, "mrr": 0.85, "out_of_scope_abstained": 0.90, "in_scope_abstained": 0.05}


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=REPO / "knowledge")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from learncity.app import build_services
    from learncity.cli import calibrate, evaluate, load_questions, print_report
    from learncity.settings import Settings

    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="learncity-eval-") as data:
        services = build_services(Settings(knowledge_dir=args.knowledge, data_dir=Path(data)))
        started = time.perf_counter()
        reload = services.knowledge.reload()
        index_seconds = time.perf_counter() - started
        services.assistant.warm_up()
        report: dict[str, Any] = evaluate(services.assistant, questions)
        services.close()
    report["suggested_threshold"] = calibrate(report["rows"])
    report.pop("rows")
    print_report(report, sys.stdout)
    for miss in report["misses"]:
        print(f"  miss: {json.dumps(miss, ensure_ascii=False)}")
    checks = {
        "r@5": report["r@5"] >= TARGETS["r@5"],
        "mrr": report["mrr"] >= TARGETS["mrr"],
        "out_of_scope_abstained": report["out_of_scope_abstained"]
        >= TARGETS["out_of_scope_abstained"],
        "in_scope_abstained": report["in_scope_abstained"] <= TARGETS["in_scope_abstained"],
    }
    print("targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in checks.items()))
    results = {
        "command": "python benchmarks/sample_eval.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
        },
        "knowledge": str(args.knowledge.relative_to(REPO))
        if args.knowledge.is_relative_to(REPO)
        else str(args.knowledge),
        "questions_file": str(args.questions.relative_to(REPO))
        if args.questions.is_relative_to(REPO)
        else str(args.questions),
        "index": {
            "files": reload.files,
            "chunks": reload.index.chunks,
            "seconds": round(index_seconds, 2),
            "problems": [str(error) for error in reload.errors],
        },
        "targets": TARGETS,
        "targets_met": checks,
        **report,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
