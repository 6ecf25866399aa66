"""Answer quality through the product's own path: `learncity ask --json -`, one table.

Every question goes through the command residents' answers come from (one process per question
set, fed on stdin, read line by line), so the figures describe the product, not a component:

    learncity --knowledge DIR --data DIR ask --json -                 single questions
    learncity --knowledge DIR --data DIR ask --json --session NAME -  one per conversation

Sections (`--sets`, default all of them):
- sample: benchmarks/questions/sample_eval.jsonl on the knowledge folder. R@1, R@5, MRR of the
  answer's `sources` (a source matches by `path` or `record_id`), answerable questions wrongly
  abstained, out-of-scope questions abstained; dev and test halves.
- uniqa: the UniQA documents (../shared/datasets/uniqa; evaluation only, never shipped) copied
  with the knowledge folder into a scratch folder under guides/uniqa/<lang>/<kind>/, indexed with
  `learncity index`, asked through `ask --json -`. A hit is a source whose file name starts with a
  gold programme code (`<code>_`). In the same run, on the same Chroma index: BM25 (bm25s) and
  plain dense retrieval (the product's embedding class, exact cosine), documents ranked by their
  best chunk.
- multilingual: benchmarks/questions/multilingual.jsonl. Right source in the first 3, wrongly
  abstained, out of scope abstained, for the 10 languages the embedding covers (together and
  each) and for Ukrainian and Romanian (not covered); plain dense top 3 alongside.
- oos: benchmarks/questions/out_of_scope.jsonl. Abstained share per language; smalltalk lines
  count as a friendly reply (`kind` == "smalltalk", or not abstained and no sources).
- conversations: benchmarks/questions/conversations*.jsonl, one `--session` per conversation. The
  share of follow-up turns whose first source or cards hold the expected record; turns marked
  `out_of_scope` count as right when the answer abstained, turns marked `smalltalk` when it is a
  friendly reply (as in oos); "not supported" when `ask --help` has no `--session`.
- speed: whole-answer latency p50/p95 (the answers' `latency_ms`; the first answer of each process
  is left out, it pays for lazy loading) next to bare retrieval (embed the question + Chroma
  `collection.query` top 5) on the same index, the same machine, in the same run.

Hold-out rules. Every set has a `split` field, "dev" or "test", from a hash of a group key, so
that near-duplicates (translations of one question, questions about the same records) fall in the
same half. UniQA questions are split by programme code: sha256(first gold code) even -> dev,
odd -> test (benchmarks/uniqa.py, now gone, reported the even codes and tuned on the odd ones).
- Tune anything (thresholds, weights, prompts, synonyms, chunking) looking at dev only.
- Report test. Never copy a test question's wording or expectation into the product.
- A test figure looked at to change the product is no longer a test figure: say so, and write new
  test questions.
`--split both` prints both halves (the small sets per language: dev and test together).

Matching rules, strict on purpose:
- an abstained answer has no sources (a resident sees none); a missing field counts as a miss;
- a source matches when its `path` or its `record_id` is in `expected`; sources are ranked as
  given (the contract: one per document or record, best first);
- today's schema has no `record_id`: a source whose path is a file of records (programmes/,
  events/, contacts.yaml) then stands for the answer's cards (`programmes`, `events`) from that
  file. With the new engine's `record_id` this fallback never applies.

Usage (from the repository root, with the project's virtualenv; `learncity` is the console
script next to the interpreter unless `--learncity` says otherwise):

    nice -n 5 .venv/bin/python benchmarks/answer_quality.py                  # test half
    nice -n 5 .venv/bin/python benchmarks/answer_quality.py --split both --limit 200 --markdown
    .venv/bin/python benchmarks/answer_quality.py --sets sample,oos --keep-data /tmp/aq

Duration on 2 shared cores: the default run takes about 6-12 minutes (UniQA indexing 2-3 minutes;
each conversation is its own process, and today's `ask` start-up costs 6-16 s depending on the
load, so 24 test conversations add 3-6 minutes; `--jobs 2` halves that on an idle machine).
`--synthetic-100k` adds a ~100,000-chunk copy of UniQA (each document repeated with perturbed
titles), indexes it and measures whole-answer latency there: expect 20-40 minutes of indexing on
2 cores and ~2 GB of disk; never run it in tests.
Writes benchmarks/results/answer_quality.json (command, date, machine, load before/after, figures).

This file is the entry script only; the parts live in `benchmarks/quality/` (sets, product,
metrics, baselines, table, sections, cli).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `quality` beside this script
from quality.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(description=(__doc__ or "").splitlines()[0]))
