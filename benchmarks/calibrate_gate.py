"""Fit the relevance gate's model (`retrieval/data/gate.yaml`) on the dev halves only.

The gate decides "answer or say the folder does not hold it" from scores the multilingual
embedding gives in any language (`retrieval.gate.Evidence`). This script collects that evidence
through the product's own services (`build_services`, `AnswerEngine.trace`: the path `learncity
ask` and the bot take) for labelled dev questions, fits a logistic regression (scikit-learn,
standardised features; each group of questions weighs the same, answerable and out of scope
alike), and picks the probability threshold so that in EVERY group (Italian and English on the
sample folder, other languages on it, UniQA) at most `--max-wrong` of the answerable dev
questions would be abstained on (out-of-fold predictions, so the threshold is not fitted on the
very scores it judges).

Questions (dev halves only; test halves are never read here):
- the sample folder: benchmarks/questions/sample_eval.jsonl, multilingual.jsonl,
  out_of_scope.jsonl, and every `*_fresh.jsonl` set (answerable and out of scope);
- with the UniQA dataset (../shared/datasets/uniqa): its documents added to a copy of the folder,
  `--uniqa N` dev questions per language as answerable, and the out-of-scope dev questions asked
  again there (a bigger folder must still say it does not know).

Run (a few minutes; UniQA indexing takes 2-3 of them):

    nice .venv/bin/python benchmarks/calibrate_gate.py --uniqa 150 --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality.cli import find_dataset  # noqa: E402
from quality.common import QUESTIONS, REPO, log  # noqa: E402
from quality.sets import (  # noqa: E402
    build_uniqa_folder,
    expected_of,
    is_oos,
    read_jsonl,
    uniqa_questions,
)

from app.root import build_services  # noqa: E402
from learncity.settings import Settings  # noqa: E402
from retrieval.gate import MODEL_FILE, feature_names, forced  # noqa: E402

SAMPLE_SETS = ("sample_eval.jsonl", "multilingual.jsonl", "out_of_scope.jsonl")
# Never ask for more than this probability: a handful of dev questions cannot justify more.
MAX_THRESHOLD = 0.9


def dev_rows() -> list[dict[str, Any]]:
    """Return the labelled dev questions about the sample folder (small talk left out)."""
    names = [*SAMPLE_SETS, *sorted(p.name for p in QUESTIONS.glob("*_fresh.jsonl"))]
    rows = []
    for name in names:
        path = QUESTIONS / name
        if not path.exists() or name.startswith("conversations"):
            continue
        for row in read_jsonl(path):
            if row.get("split") != "dev" or row.get("smalltalk"):
                continue
            if is_oos(row) or expected_of(row):
                rows.append({**row, "covered": not is_oos(row), "set": name})
    return rows


def group_of(row: dict[str, Any], folder: str) -> str:
    """Return the question's group: the folder, and for the sample folder its language."""
    if folder != "sample":
        return folder
    return "sample it, en" if row.get("lang") in ("it", "en") else "sample other languages"


def collect(
    knowledge: Path,
    data: Path,
    rows: Sequence[dict[str, Any]],
    folder: str,
    embeddings: Any = None,
) -> tuple[list[list[float]], list[int], list[str], Any]:
    """Return the evidence, labels and groups of the questions, asked through the product."""
    services = build_services(
        Settings(knowledge_dir=knowledge, data_dir=data), embeddings=embeddings
    )
    services.knowledge.current  # noqa: B018 - loads and indexes the folder
    features: list[list[float]] = []
    labels: list[int] = []
    groups: list[str] = []
    for row in rows:
        traced = services.assistant.trace(str(row["question"]))
        evidence = traced.verdict.evidence
        if evidence is None:  # small talk, a follow-up, or nothing found at all
            continue
        features.append(evidence.values())
        labels.append(1 if row["covered"] else 0)
        groups.append(group_of(row, folder))
    services.close()
    return features, labels, groups, services.embeddings


def thresholds_for(
    held: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    other: np.ndarray,
    max_wrong: float,
    decided: np.ndarray,
) -> tuple[float, float]:
    """Return the thresholds for questions in a language the index reads and for the others
    that abstain on the most out-of-scope questions (mean share over the groups) while every
    group wrongly abstains on at most `max_wrong` of its answerable questions."""
    grid = np.round(np.arange(0.01, MAX_THRESHOLD + 1e-9, 0.005), 3)
    best: tuple[float, float, float] = (-1.0, grid[0], grid[0])
    for own in grid:
        for others in grid:
            needed = np.where(other, others, own)
            answered = gate_answers(held, needed, decided)
            score = _score(answered, labels, groups, max_wrong)
            if score > best[0]:
                best = (score, float(own), float(others))
    return best[1], best[2]


def forced_verdicts(features: np.ndarray) -> np.ndarray:
    """Return, per question, what the gate's similarities force (`retrieval.gate.forced`):
    1 answer, 0 abstain, -1 the model decides."""
    names = feature_names()
    columns = [features[:, names.index(name)] for name in ("relevance", "off_topic", "on_topic")]
    verdicts = [
        forced(float(r), float(off), float(on)) for r, off, on in zip(*columns, strict=True)
    ]
    return np.array([-1 if v is None else int(v) for v in verdicts])


def gate_answers(
    probabilities: np.ndarray, threshold: np.ndarray, decided: np.ndarray
) -> np.ndarray:
    """Return which questions the gate answers: the model's verdict unless one is forced."""
    return np.where(decided >= 0, decided == 1, probabilities >= threshold)


def _score(answered: np.ndarray, labels: np.ndarray, groups: np.ndarray, max_wrong: float) -> float:
    """Return the mean share of out-of-scope questions abstained, or -1 when a group wrongly
    abstains on more than `max_wrong` of its answerable questions."""
    shares = []
    for group in set(groups):
        mine = groups == group
        answerable, uncovered = mine & (labels == 1), mine & (labels == 0)
        if answerable.any() and np.mean(~answered[answerable]) > max_wrong:
            return -1.0
        if uncovered.any():
            shares.append(float(np.mean(~answered[uncovered])))
    return float(np.mean(shares)) if shares else 0.0


def balanced_weights(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Return sample weights under which every (group, label) cell weighs the same."""
    weights = np.zeros(len(labels))
    cells = {(g, y) for g, y in zip(groups, labels, strict=True)}
    for group, label in cells:
        members = (groups == group) & (labels == label)
        weights[members] = len(labels) / (len(cells) * members.sum())
    return weights


def report(
    probabilities: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    threshold: np.ndarray,
    decided: np.ndarray,
) -> str:
    """Return the dev figures of the thresholds (one per question) per group (out of fold),
    as the gate decides."""
    answered = gate_answers(probabilities, threshold, decided)
    parts = []
    for group in sorted(set(groups)):
        mine = groups == group
        covered, uncovered = mine & (labels == 1), mine & (labels == 0)
        wrong = float(np.mean(~answered[covered])) if covered.any() else float("nan")
        right = float(np.mean(~answered[uncovered])) if uncovered.any() else float("nan")
        parts.append(
            f"{group}: {int(covered.sum())} answerable, wrongly abstained {wrong:.3f}; "
            f"{int(uncovered.sum())} out of scope, abstained {right:.3f}"
        )
    return "dev (out of fold): " + " | ".join(parts)


def fit(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, max_wrong: float
) -> tuple[dict[str, Any], str]:
    """Fit the model, pick the threshold out of fold, and return the model file's content."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    weights = balanced_weights(labels, groups)
    folds = StratifiedKFold(n_splits=10, shuffle=True, random_state=0)
    held = cross_val_predict(
        model,
        features,
        labels,
        cv=folds,
        method="predict_proba",
        params={"logisticregression__sample_weight": weights},
    )[:, 1]
    other = features[:, feature_names().index("other_language")] >= 1.0
    decided = forced_verdicts(features)
    threshold, other_threshold = thresholds_for(held, labels, groups, other, max_wrong, decided)
    model.fit(features, labels, logisticregression__sample_weight=weights)
    scaler, logistic = model[0], model[1]
    content = {
        "features": feature_names(),
        "mean": [round(float(v), 6) for v in scaler.mean_],
        "scale": [round(float(v), 6) for v in scaler.scale_],
        "weights": [round(float(v), 6) for v in logistic.coef_[0]],
        "bias": round(float(logistic.intercept_[0]), 6),
        "threshold": round(min(max(threshold, 0.01), 0.99), 6),
        "threshold_other_languages": round(min(max(other_threshold, 0.01), 0.99), 6),
    }
    per_question = np.where(other, other_threshold, threshold)
    return content, report(held, labels, groups, per_question, decided)


def write_model(content: dict[str, Any], summary: str, path: Path) -> None:
    """Write the model with a header saying where it comes from."""
    header = (
        "# The relevance gate's logistic model (retrieval/gate.py). Written by\n"
        "# benchmarks/calibrate_gate.py from dev halves only; do not edit by hand.\n"
        f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.\n"
        + "".join(f"# {part.strip()}\n" for part in summary.split("|"))
    )
    path.write_text(header + yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uniqa", type=int, default=150, help="UniQA dev questions per language")
    parser.add_argument(
        "--max-wrong",
        type=float,
        nargs="+",
        default=[0.04],
        help="share of answerable dev questions a group may lose; several values compare fits",
    )
    parser.add_argument("--write", action="store_true", help=f"write {MODEL_FILE}")
    parser.add_argument(
        "--keep-data",
        type=Path,
        default=None,
        help="reuse the indexes kept here (answer_quality.py --keep-data DIR keeps the same ones)",
    )
    args = parser.parse_args(argv)
    if args.write and len(args.max_wrong) != 1:
        parser.error("--write takes exactly one --max-wrong value")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="calibrate-") as scratch:
        features, labels, groups = collect_all(Path(args.keep_data or scratch), args.uniqa)
    for max_wrong in args.max_wrong:
        content, summary = fit(
            np.asarray(features), np.asarray(labels), np.asarray(groups), max_wrong
        )
        print(f"max wrong {max_wrong}: {summary}")
        print(yaml.safe_dump(content, sort_keys=False))
        if args.write:
            write_model(content, summary, MODEL_FILE)
            log(f"wrote {MODEL_FILE}")
    return 0


def collect_all(root: Path, uniqa: int) -> tuple[list[list[float]], list[int], list[str]]:
    """Return the evidence of every dev question: the sample folder, then UniQA's folder."""
    knowledge = REPO / "knowledge"
    rows = dev_rows()
    log(f"sample folder: {len(rows)} dev questions")
    features, labels, groups, model = collect(knowledge, root / "sample", rows, "sample")
    dataset = find_dataset()
    if dataset is None or uniqa <= 0:
        return features, labels, groups
    folder = root / "uniqa-knowledge"
    build_uniqa_folder(knowledge, dataset, folder)
    answerable = [
        {**row, "covered": True}
        for lang in ("it", "en")
        for row in uniqa_questions(dataset, lang, "dev", uniqa)
    ]
    uncovered = [row for row in rows if not row["covered"]]
    log(f"UniQA folder: {len(answerable)} + {len(uncovered)} dev questions (indexing...)")
    more, more_labels, more_groups, _ = collect(
        folder, root / "uniqa", answerable + uncovered, "uniqa", embeddings=model
    )
    return features + more, labels + more_labels, groups + more_groups


if __name__ == "__main__":
    raise SystemExit(main())
