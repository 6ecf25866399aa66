"""Whole-answer latency at UniQA size (~10k chunks), next to the bare vanilla retrieval, in one run.

The UniQA documents are copied into a temporary knowledge folder (as text guides, with the sample
contacts.yaml) that is deleted afterwards: the data set never enters the product.

    nice -n 5 python benchmarks/uniqa_answer_latency.py   # writes results/uniqa_answer_latency.json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import answer_latency  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO.parent / "shared" / "datasets" / "uniqa"
RESULTS = REPO / "benchmarks" / "results" / "uniqa_answer_latency.json"


def build_folder(dataset: Path, folder: Path) -> int:
    """Copy every UniQA document into folder/guides and the sample contacts; return the count."""
    guides = folder / "guides"
    count = 0
    for source in sorted((dataset / "corpus").rglob("*.txt")):
        target = guides / source.relative_to(dataset / "corpus")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        count += 1
    shutil.copyfile(REPO / "knowledge" / "contacts.yaml", folder / "contacts.yaml")
    return count


def write_questions(dataset: Path, path: Path, per_language: int) -> int:
    """Write a fixed sample of UniQA questions in both languages, as answer_latency reads them."""
    rows: list[str] = []
    for lang in ("it", "en"):
        lines = (dataset / "qa" / f"train_{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        for line in random.Random(7).sample(lines, per_language):
            rows.append(json.dumps({"question": json.loads(line)["question"], "lang": lang}))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    """Build the temporary folder, then run the answer latency benchmark on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--per-language", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="uniqa-knowledge-") as tmp:
        folder = Path(tmp) / "knowledge"
        documents = build_folder(args.dataset, folder)
        questions = Path(tmp) / "questions.jsonl"
        asked = write_questions(args.dataset, questions, args.per_language)
        print(f"{documents} UniQA documents, {asked} questions")
        return answer_latency.main(
            [
                "--knowledge", str(folder),
                "--questions", str(questions),
                "--rounds", str(args.rounds),
                "--output", str(args.output),
            ]
        )


if __name__ == "__main__":
    raise SystemExit(main())
