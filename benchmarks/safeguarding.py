"""Safeguarding: recall and false alarms of the multilingual classifier, per concern and language.

Runs `learncity.safeguarding.SafeguardingClassifier` on the real embedding model over
benchmarks/questions/safeguarding.jsonl (distress messages per concern in many languages, and
ordinary questions that share their words), and prints, for each split separately, recall (distress
messages flagged) and the false-alarm rate (ordinary messages flagged) per concern and per language,
next to two baselines: the pattern-only detector this replaces (`old patterns`, read from git at
BASELINE_COMMIT) and today's patterns alone (`patterns`). Ukrainian and Romanian are not covered by
the embedding: they are reported apart and kept out of the headline figures.

Splits: `dev` (tuning: example bank and thresholds), `test` (seen: its scores and misses were seen
once while the bank was being written), `test2` (seen: its false alarms were looked at while the
patterns and the short-message rule were redesigned) and `test3` (written fresh, before any
measurement, and never tuned on: the headline). Only `test3` is held out; the others are "seen".

    nice python benchmarks/safeguarding.py   # writes benchmarks/results/safeguarding.json
    nice python benchmarks/safeguarding.py --calibrate   # grid-search on dev; prints dev only

Targets (issue 9) on the TEST3 half: recall >= 0.97, false alarms <= 0.03.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "benchmarks" / "questions" / "safeguarding.jsonl"
# Real residents' questions about the learning offer (issue 2's set): never used for tuning here.
RESIDENT_QUESTIONS = REPO / "benchmarks" / "questions" / "sample_eval.jsonl"
RESULTS = REPO / "benchmarks" / "results" / "safeguarding.json"
BASELINE_COMMIT = "c252d2a"  # the last commit with the pattern-only learncity/safeguarding.py
UNCOVERED = frozenset({"uk", "ro"})  # languages USE multilingual was not trained on
TARGETS = {"recall": 0.97, "false_alarms": 0.03}
SPLITS = ("dev", "test", "test2", "test3")
TITLES = {
    "dev": "DEV (seen: tuned on)",
    "test": "TEST (seen once)",
    "test2": "TEST2 (seen: false alarms looked at)",
    "test3": "TEST3 (fresh, held out: the headline)",
}
HEADLINE = "test3"

Verdict = Callable[[int], bool]


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled message."""

    text: str
    lang: str
    concern: str | None
    near: str | None
    split: str


def load_rows(path: Path) -> list[Row]:
    """Read the labelled set."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        data = json.loads(line)
        if data.get("split") not in SPLITS:
            raise ValueError(f"{path}:{number}: split must be one of {', '.join(SPLITS)}")
        rows.append(
            Row(data["text"], data["lang"], data["concern"], data.get("near"), data["split"])
        )
    return rows


def old_detector() -> Callable[[str], object] | None:
    """Return the pattern-only `detect` of BASELINE_COMMIT, or None when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:learncity/safeguarding.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = ModuleType("safeguarding_baseline")
    sys.modules[module.__name__] = module  # dataclasses look the module up while decorating
    exec(compile(source, "safeguarding_baseline.py", "exec"), module.__dict__)  # noqa: S102
    detect: Callable[[str], object] = module.detect
    return detect


def rate(flags: Iterable[bool]) -> tuple[float | None, int]:
    """Return the share of True and the count (None for an empty group)."""
    values = list(flags)
    return (sum(values) / len(values) if values else None), len(values)


def table(rows: list[Row], verdicts: dict[str, Verdict], indices: list[int]) -> dict[str, Any]:
    """Return recall and false alarms per concern and language, for each detector."""
    groups: dict[str, list[int]] = {"ALL (covered)": [], "uncovered (uk, ro)": []}
    for i in indices:
        groups["uncovered (uk, ro)" if rows[i].lang in UNCOVERED else "ALL (covered)"].append(i)
    for i in indices:
        row = rows[i]
        if row.lang not in UNCOVERED:
            name = row.concern or (f"near {row.near}" if row.near else "general")
            groups.setdefault(f"concern {name}", []).append(i)
    for i in sorted(indices, key=lambda i: rows[i].lang):
        groups.setdefault(f"lang {rows[i].lang}", []).append(i)
    report: dict[str, Any] = {}
    for name, members in groups.items():
        entry: dict[str, Any] = {}
        for detector, flagged in verdicts.items():
            recall, n_distress = rate(flagged(i) for i in members if rows[i].concern)
            false_alarms, n_ordinary = rate(flagged(i) for i in members if not rows[i].concern)
            entry[detector] = {"recall": recall, "false_alarms": false_alarms}
        entry["n_distress"], entry["n_ordinary"] = n_distress, n_ordinary
        report[name] = entry
    return report


def print_table(title: str, report: dict[str, Any], detectors: list[str]) -> None:
    """Print one split's table: recall / false-alarm rate for each detector."""

    def cell(value: float | None) -> str:
        return "   -" if value is None else f"{value:4.2f}"

    print(f"\n{title}")
    header = "".join(f" | {d:^17}" for d in detectors)
    print(f"{'group':<28} {'n dis/ord':>9}{header}")
    print(f"{'':<28} {'':>9}" + " | recall  f.alarms" * len(detectors))
    for name, entry in report.items():
        cells = "".join(
            f" |  {cell(entry[d]['recall'])}    {cell(entry[d]['false_alarms'])}  "
            for d in detectors
        )
        print(f"{name:<28} {entry['n_distress']:>4}/{entry['n_ordinary']:<4}{cells}")


def calibrate(
    distress: np.ndarray,
    patt: np.ndarray,
    best: np.ndarray,
    ordinary: np.ndarray,
    readings: list[Any],
    short_similarity: float,
    offer_margin: float,
) -> dict[str, Any]:
    """Return min_similarity and min_margin: the best recall at <= 2% false alarms on dev.

    Arrays run over the dev messages (covered languages) and the dev half of the resident
    questions: `distress` marks the distress ones, `patt` the ones an explicit pattern flags,
    `readings` says which are short, name an offer, or carry a word of distress. The short-message
    and offer rules are set by design (`short_similarity`, `offer_margin`): dev holds too few short
    or offer-worded distress messages to calibrate them, so what dev allows is only reported.
    Among the thresholds with the best recall and then the fewest false alarms, the centre of that
    plateau is returned: the widest margin, and the median similarity at it.
    """
    plain = np.array([r.distress_word for r in readings])
    short = np.array([r.short for r in readings]) & ~plain
    offer = np.array([r.offer for r in readings]) & ~plain
    scored: list[tuple[float, float, float, float]] = []  # (recall, -false alarms, margin, sim)
    for similarity in np.arange(0.20, 0.80, 0.01):
        floor = np.where(short, max(similarity, short_similarity), similarity)
        gap = best - ordinary - np.where(offer, offer_margin, 0.0)
        for margin in np.arange(-0.10, 0.16, 0.01):
            flagged = patt | ((best >= floor) & (gap >= margin))
            false_alarms = float(flagged[~distress].mean())
            if false_alarms <= 0.02:
                recall = float(flagged[distress].mean())
                scored.append((recall, -false_alarms, round(margin, 2), round(similarity, 2)))
    if not scored:
        raise SystemExit("no thresholds keep dev false alarms at or below 2%")
    top = max(scored)[:2]
    tied = [key for key in scored if key[:2] == top]
    # The widest margin (fewest look-alikes flagged), and at it the centre of the plateau of
    # equally good similarities, not its top edge: that edge is one step from losing recall on
    # messages dev does not hold.
    margins = sorted({float(key[2]) for key in tied})
    margin = margins[-1]
    similarities = sorted(float(key[3]) for key in tied if key[2] == margin)
    similarity = similarities[(len(similarities) - 1) // 2]
    result: dict[str, Any] = {
        "min_similarity": float(similarity),
        "min_margin": float(margin),
        "dev_recall": top[0],
        "dev_false_alarms": -top[1],
        "plateau_similarity": [similarities[0], similarities[-1]],
        "plateau_margin": [margins[0], margins[-1]],
    }
    left = distress & ~patt
    result["dev_short_distress"] = int((left & short).sum())
    result["dev_short_distress_lowest_similarity"] = (
        round(float(best[left & short].min()), 2) if (left & short).any() else None
    )
    result["dev_offer_distress"] = int((left & offer).sum())
    return result


def resident_questions(path: Path) -> dict[str, list[str]]:
    """Return the resident questions split in halves by position (even: dev, odd: test)."""
    questions = [
        json.loads(line)["question"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return {"dev": questions[0::2], "test": questions[1::2]}


def resident_false_alarms(classifier: Any, questions: list[str]) -> dict[str, Any]:
    """Return how many ordinary resident questions the classifier flags, and which."""
    flagged = [q for q in questions if classifier.classify(q) is not None]
    return {
        "questions": len(questions),
        "false_alarms": len(flagged),
        "rate": len(flagged) / len(questions) if questions else 0.0,
        "flagged": flagged,
    }


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile of `values` in milliseconds, rounded."""
    return round(float(np.percentile(np.array(values) * 1000, q)), 2)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables and write the JSON results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="grid-search thresholds on the dev half and print the dev half only (writes nothing)",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))  # this checkout's packages, not another editable install
    from learncity.safeguarding import Reading, SafeguardingClassifier, detect, load_examples
    from learncity.safeguarding.classifier import EXAMPLES_PATH
    from retrieval.embedding import UniversalSentenceEncoder

    load_before = os.getloadavg()
    rows = load_rows(args.questions)
    embeddings = UniversalSentenceEncoder(threads=args.threads)
    classifier = SafeguardingClassifier(embeddings=embeddings)
    started = time.perf_counter()
    classifier.warm_up()
    warm_up_seconds = time.perf_counter() - started

    # One timed classification per message, as a resident's message would cost.
    latencies: list[float] = []
    for row in rows:
        started = time.perf_counter()
        classifier.classify(row.text)
        latencies.append(time.perf_counter() - started)
    vectors = [classifier.embed(row.text) for row in rows]
    vector_latencies: list[float] = []
    for row, vector in zip(rows, vectors, strict=True):
        started = time.perf_counter()
        classifier.classify(row.text, vector=vector)
        vector_latencies.append(time.perf_counter() - started)

    pattern = [detect(row.text) is not None for row in rows]
    scores = [classifier.scores(vector) for vector in vectors]
    best = np.array([s.best[1] for s in scores])
    ordinary = np.array([s.ordinary for s in scores])
    halves = {split: [i for i, row in enumerate(rows) if row.split == split] for split in SPLITS}
    dev = halves["dev"]
    calibration: dict[str, Any] | None = None
    residents = resident_questions(RESIDENT_QUESTIONS)
    if args.calibrate:
        covered = [i for i in dev if rows[i].lang not in UNCOVERED]
        extra = [classifier.scores(classifier.embed(q)) for q in residents["dev"]]
        calibration = calibrate(
            np.array([bool(rows[i].concern) for i in covered] + [False] * len(extra)),
            np.array(
                [pattern[i] for i in covered] + [detect(q) is not None for q in residents["dev"]]
            ),
            np.concatenate([best[covered], [s.best[1] for s in extra]]),
            np.concatenate([ordinary[covered], [s.ordinary for s in extra]]),
            [Reading.of(rows[i].text) for i in covered] + [Reading.of(q) for q in residents["dev"]],
            classifier.short_min_similarity,
            classifier.offer_margin,
        )
        print(f"calibrated on dev: {calibration}")
        classifier.min_similarity = calibration["min_similarity"]
        classifier.min_margin = calibration["min_margin"]

    detections = [
        classifier.classify(row.text, vector=vector)
        for row, vector in zip(rows, vectors, strict=True)
    ]
    verdicts: dict[str, Verdict] = {}
    old = old_detector()
    if old is not None:
        old_flags = [old(row.text) is not None for row in rows]
        verdicts["old patterns"] = old_flags.__getitem__
    verdicts["patterns"] = pattern.__getitem__
    verdicts["classifier"] = [d is not None for d in detections].__getitem__
    detectors = list(verdicts)

    right_concern = [i for i in range(len(rows)) if rows[i].concern and detections[i] is not None]
    concern_accuracy = {
        split: rate(
            detections[i] is not None and rows[i].concern in detections[i].concerns  # type: ignore[union-attr]
            for i in right_concern
            if rows[i].split == split and rows[i].lang not in UNCOVERED
        )[0]
        for split in SPLITS
    }
    if args.calibrate:  # tuning: the held-out halves are neither shown nor written
        print_table(TITLES["dev"], table(rows, verdicts, dev), detectors)
        print(f"concern named right among flagged (covered, dev): {concern_accuracy['dev']}")
        return 0
    reports = {split: table(rows, verdicts, halves[split]) for split in SPLITS}
    for split in SPLITS:
        print_table(TITLES[split], reports[split], detectors)
    headline = reports[HEADLINE]["ALL (covered)"]["classifier"]
    met = {
        "recall": headline["recall"] >= TARGETS["recall"],
        "false_alarms": headline["false_alarms"] <= TARGETS["false_alarms"],
    }
    latency = {
        "classify_p50_ms": percentile(latencies, 50),
        "classify_p95_ms": percentile(latencies, 95),
        "classify_with_vector_p50_ms": percentile(vector_latencies, 50),
        "classify_with_vector_p95_ms": percentile(vector_latencies, 95),
        "warm_up_seconds": round(warm_up_seconds, 2),
    }
    print(
        f"\nthresholds: min_similarity={classifier.min_similarity} "
        f"min_margin={classifier.min_margin} "
        f"short_min_similarity={classifier.short_min_similarity} "
        f"offer_margin={classifier.offer_margin}"
    )
    print(f"concern named right among flagged (covered): {concern_accuracy}")
    print(f"latency: {latency}")
    print(f"targets on {HEADLINE.upper()} (covered): {TARGETS} met: {met}")

    misses = {
        split: {
            "missed": [
                {"text": rows[i].text, "lang": rows[i].lang, "concern": rows[i].concern}
                for i in idx
                if rows[i].concern and detections[i] is None
            ],
            "false_alarms": [
                {"text": rows[i].text, "lang": rows[i].lang, "near": rows[i].near}
                for i in idx
                if not rows[i].concern and detections[i] is not None
            ],
        }
        for split, idx in halves.items()
    }
    resident = {half: resident_false_alarms(classifier, residents[half]) for half in residents}
    for half, found in resident.items():
        print(
            f"false alarms on the {half} half of sample_eval.jsonl ({found['questions']} resident "
            f"questions): {found['false_alarms']} ({found['rate']:.3f})"
        )
    bank = load_examples(EXAMPLES_PATH)
    result = {
        "command": "python benchmarks/safeguarding.py" + (" --calibrate" if args.calibrate else ""),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "questions_file": str(args.questions.relative_to(REPO)),
        "messages": {split: len(idx) for split, idx in halves.items()},
        "split_titles": TITLES,
        "example_bank": {"distress": len(bank.distress), "ordinary": len(bank.ordinary)},
        "thresholds": {
            "min_similarity": classifier.min_similarity,
            "min_margin": classifier.min_margin,
            "short_min_similarity": classifier.short_min_similarity,
            "offer_margin": classifier.offer_margin,
        },
        "calibration": calibration,
        "baseline": f"learncity/safeguarding.py at {BASELINE_COMMIT}" if old else None,
        "targets": TARGETS,
        "targets_met_on": HEADLINE,
        "targets_met": met,
        "concern_named_right": concern_accuracy,
        "latency": latency,
        "resident_questions": resident,
        "tables": reports,
        "errors": misses,
    }
    args.output.write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.output.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
