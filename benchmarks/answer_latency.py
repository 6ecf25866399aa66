"""Whole-answer latency (filters, hybrid retrieval, cards or extractive composition, abstention)
next to the bare dense retrieval (embed the question + Chroma top-5) on the same index.

    nice -n 5 python benchmarks/answer_latency.py   # writes results/answer_latency.json
    python benchmarks/answer_latency.py --knowledge DIR --questions FILE.jsonl --rounds 1

Questions are the eval set's (one per line, JSON with "question" and optional "lang"); each round
asks all of them once, after a warm-up, in one process. Target (issue 2): p95 <= 60 ms, 2 cores.
`measure_answers` and `measure_bare_retrieval` are importable for larger corpora.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from retrieval.assistant import Assistant
    from retrieval.store import VectorIndex

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "benchmarks" / "questions" / "sample_eval.jsonl"
RESULTS = REPO / "benchmarks" / "results" / "answer_latency.json"
TARGET_P95_MS = 60.0


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Return p50, p95, mean and max in milliseconds."""
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "mean_ms": round(statistics.fmean(values), 2),
        "max_ms": round(max(values), 2),
    }


def measure_answers(
    assistant: Assistant, questions: Sequence[tuple[str, str | None]], rounds: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Ask every question `rounds` times; return the wall-clock latency summary and answer kinds."""
    times: list[float] = []
    kinds: Counter[str] = Counter()
    for _ in range(rounds):
        for question, lang in questions:
            started = time.perf_counter()
            answer = assistant.ask(question, lang=lang)
            times.append((time.perf_counter() - started) * 1000)
            kinds["abstained" if answer.abstained else "cards" if answer.cards else "guide"] += 1
    return summary(times), dict(kinds)


def measure_bare_retrieval(
    embeddings: Embeddings, index: VectorIndex, questions: Sequence[str], rounds: int, k: int = 5
) -> dict[str, float]:
    """Time the vanilla query path: embed the question, Chroma nearest neighbours."""
    times: list[float] = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            index.query(embeddings.embed_query(question), k)
            times.append((time.perf_counter() - started) * 1000)
    return summary(times)


def main(argv: list[str] | None = None) -> int:
    """Index, warm up, measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=REPO / "knowledge")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from learncity.app import build_services
    from learncity.settings import Settings

    questions: list[tuple[str, str | None]] = []
    for line in args.questions.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            questions.append((record["question"], record.get("lang")))
    with tempfile.TemporaryDirectory(prefix="learncity-latency-") as data:
        services = build_services(Settings(knowledge_dir=args.knowledge, data_dir=Path(data)))
        reload = services.knowledge.reload()
        services.assistant.warm_up()
        # One untimed pass: sentence vectors of the passages are cached after first use.
        measure_answers(services.assistant, questions, 1)
        answers, kinds = measure_answers(services.assistant, questions, args.rounds)
        bare = measure_bare_retrieval(
            services.embeddings, services.index, [q for q, _ in questions], args.rounds
        )
        services.close()
    load = os.getloadavg()
    results: dict[str, Any] = {
        "command": "python benchmarks/answer_latency.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(load[0], 2),
        },
        "chunks": reload.index.chunks,
        "questions": len(questions),
        "rounds": args.rounds,
        "answer": answers,
        "answer_kinds": kinds,
        "bare_dense_retrieval": bare,
        "target_p95_ms": TARGET_P95_MS,
        "target_met": answers["p95_ms"] <= TARGET_P95_MS,
    }
    print(f"{'path':<24}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}{'max ms':>10}")
    for name, values in (("whole answer", answers), ("bare dense retrieval", bare)):
        print(
            f"{name:<24}{values['n']:>6}{values['p50_ms']:>10}{values['p95_ms']:>10}"
            f"{values['mean_ms']:>10}{values['max_ms']:>10}"
        )
    print(f"answers: {kinds}; {reload.index.chunks} chunks; load average {load[0]:.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
