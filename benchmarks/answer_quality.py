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
- conversations: benchmarks/questions/conversations.jsonl, one `--session` per conversation. The
  share of follow-up turns whose first source or cards hold the expected record; "not supported"
  when `ask --help` has no `--session`.
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
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "benchmarks" / "questions"
RESULTS = REPO / "benchmarks" / "results" / "answer_quality.json"
ALL_SETS = ("sample", "uniqa", "multilingual", "oos", "fresh", "conversations", "speed")
COVERED = (
    "fr",
    "es",
    "pt",
    "de",
    "ar",
    "ru",
    "tr",
    "zh",
    "pl",
    "nl",
)  # USE multilingual v3 has them
UNCOVERED = ("uk", "ro")
UNIQA_LANGS = ("it", "en")
COLLECTION = "knowledge"  # retrieval/store.py DEFAULT_COLLECTION
# The question files of each section. The `*_fresh` sets were written by someone who saw neither
# the engine's tuning nor the older sets; their test halves are only ever measured.
SET_FILES = {
    "sample": ("sample_eval.jsonl",),
    "multilingual": ("multilingual.jsonl",),
    "oos": ("out_of_scope.jsonl",),
    "fresh": ("answerable_fresh.jsonl", "out_of_scope_fresh.jsonl"),
    "conversations": ("conversations.jsonl", "conversations_fresh.jsonl"),
}


def log(message: str) -> None:
    """Print progress to stderr (the table goes to stdout)."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- question sets -------------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Return the JSON objects of a file, one a line; blank lines and `#` lines are skipped."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise SystemExit(f"{path}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise SystemExit(f"{path}:{number}: a line must be a JSON object")
        rows.append(row)
    return rows


def expected_of(row: dict[str, Any]) -> set[str]:
    """Return the acceptable paths and record ids (`expected`, `expected_paths`, `expected_ids`)."""
    found: set[str] = set()
    for key in ("expected", "expected_paths", "expected_ids"):
        value = row.get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        found.update(str(item).strip().removeprefix("./") for item in items if item)
    return found


def is_oos(row: dict[str, Any]) -> bool:
    """Return whether a question is out of scope (smalltalk is not)."""
    return bool(row.get("out_of_scope")) and not row.get("smalltalk")


def in_split(row: dict[str, Any], split: str) -> bool:
    """Return whether a row belongs to the requested half ("both" takes every row)."""
    return split == "both" or row.get("split") == split


def halves(split: str) -> list[str]:
    """Return the halves to report for `--split`."""
    return ["dev", "test"] if split == "both" else [split]


def stable_half(key: str, salt: str) -> str:
    """Return "dev" or "test" from a hash of key (deterministic across runs and machines)."""
    return "dev" if hashlib.sha256(f"{salt}:{key}".encode()).digest()[0] % 2 == 0 else "test"


def uniqa_half(code: str) -> str:
    """Return the half of a UniQA programme code: the split the engine was tuned on (dev)."""
    return "dev" if int(hashlib.sha256(code.encode()).hexdigest(), 16) % 2 == 0 else "test"


# --- the knowledge folder: which file holds which record -----------------------------------------
def record_files(knowledge: Path) -> dict[str, str]:
    """Return {record id: relative path} for programmes, events and contacts (no product code)."""
    import yaml

    found: dict[str, str] = {}
    for path in sorted(knowledge.rglob("*")):
        if not path.is_file() or path.name.startswith((".", "~$", "#")):
            continue
        relative = path.relative_to(knowledge).as_posix()
        top = relative.split("/", 1)[0]
        try:
            if path.suffix.lower() in (".yaml", ".yml") and (
                top in ("programmes", "events") or relative == "contacts.yaml"
            ):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                records = data.get(top if top != "contacts.yaml" else "contacts", [])
                if isinstance(data, dict) and not records:
                    records = next((v for v in data.values() if isinstance(v, list)), [])
                for record in records or []:
                    if isinstance(record, dict) and record.get("id"):
                        found[str(record["id"])] = relative
            elif path.suffix.lower() == ".csv" and top == "programmes":
                with path.open(encoding="utf-8", newline="") as handle:
                    for record in csv.DictReader(handle):
                        if record.get("id"):
                            found[record["id"]] = relative
        except (OSError, ValueError, yaml.YAMLError) as error:
            log(f"warning: cannot read records of {relative}: {error}")
    return found


def check_expectations(sets: dict[str, list[dict[str, Any]]], knowledge: Path) -> list[str]:
    """Return the expectations that name no file or record of the knowledge folder."""
    records = record_files(knowledge)
    unknown: list[str] = []
    for name, rows in sets.items():
        for row in rows:
            turns = row.get("turns") or [row]
            for turn in turns:
                for item in expected_of(turn):
                    if item not in records and not (knowledge / item).is_file():
                        unknown.append(f"{name}:{row.get('id')}: {item}")
    return unknown


# --- the product's command -----------------------------------------------------------------------
def default_command() -> list[str]:
    """Return the `learncity` console script next to this interpreter, or the one on PATH."""
    beside = Path(sys.executable).with_name("learncity")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("learncity")
    if found:
        return [found]
    return [sys.executable, "-m", "app.cli"]


@dataclass
class AskRun:
    """The answers of one `ask` process, aligned with its questions (None where there is none)."""

    answers: list[dict[str, Any] | None]
    seconds: float
    returncode: int | None
    stderr_tail: str = ""
    misaligned: int = 0


@dataclass
class Product:
    """The `learncity` command on one knowledge folder and one data folder."""

    command: list[str]
    knowledge: Path
    data: Path
    timeout: float = 1800.0
    env: dict[str, str] = field(default_factory=dict)

    def _base(self) -> list[str]:
        return [*self.command, "--knowledge", str(self.knowledge), "--data", str(self.data)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("PYTHONIOENCODING", "utf-8")
        env.update(self.env)
        return env

    def index(self) -> tuple[float, str]:
        """Run `learncity index`; return the seconds and its last output line."""
        started = time.perf_counter()
        done = subprocess.run(
            [*self._base(), "index"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self._env(),
            timeout=self.timeout,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"learncity index failed ({done.returncode}): {done.stderr[-2000:]}")
        return seconds, (done.stdout.strip().splitlines() or [""])[-1]

    def supports_session(self) -> bool:
        """Return whether `ask` takes `--session` (the conversation mode)."""
        done = subprocess.run(
            [*self.command, "ask", "--help"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self._env(),
            timeout=120,
            check=False,
        )
        return "--session" in done.stdout

    def ask(self, questions: Sequence[str], *, session: str | None = None) -> AskRun:
        """Feed every question to one `ask --json -` process; read one JSON object a line."""
        lines = [" ".join(question.split()) or "?" for question in questions]
        argv = [*self._base(), "ask", "--json", *(["--session", session] if session else []), "-"]
        started = time.perf_counter()
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as errors:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                encoding="utf-8",
                env=self._env(),
                bufsize=1,
            )
            assert process.stdin is not None and process.stdout is not None
            stdin = process.stdin

            def feed() -> None:  # a thread, so a full stdout pipe never blocks our writes
                try:
                    for line in lines:
                        stdin.write(line + "\n")
                        stdin.flush()
                except OSError:  # BrokenPipeError included: the process ended early
                    pass
                finally:
                    with contextlib.suppress(OSError):
                        stdin.close()

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            watchdog = threading.Timer(self.timeout, process.kill)
            watchdog.start()
            answers: list[dict[str, Any] | None] = []
            misaligned = 0
            try:
                for raw in process.stdout:
                    if not raw.strip():
                        continue
                    try:
                        parsed = json.loads(raw)
                    except json.JSONDecodeError:
                        parsed = None
                    answer = parsed if isinstance(parsed, dict) else None
                    index = len(answers)
                    if (
                        answer is not None
                        and index < len(lines)
                        and isinstance(answer.get("question"), str)
                        and " ".join(answer["question"].split()) != lines[index]
                    ):
                        misaligned += 1
                    answers.append(answer)
                process.wait()
            finally:
                watchdog.cancel()
                writer.join(timeout=5)
            errors.seek(0)
            tail = errors.read()[-1500:]
        answers = answers[: len(lines)] + [None] * max(0, len(lines) - len(answers))
        if process.returncode != 0 or misaligned:
            log(f"warning: ask exited {process.returncode}, {misaligned} misaligned; {tail[-300:]}")
        return AskRun(answers, time.perf_counter() - started, process.returncode, tail, misaligned)


# --- reading an answer ---------------------------------------------------------------------------
def _list(answer: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    value = answer.get(key) if isinstance(answer, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def abstained(answer: dict[str, Any] | None) -> bool | None:
    """Return the answer's `abstained` flag, or None when it is missing."""
    value = answer.get("abstained") if isinstance(answer, dict) else None
    return value if isinstance(value, bool) else None


def card_ids(answer: dict[str, Any] | None) -> list[str]:
    """Return the ids of the answer's programme and event cards, in order."""
    return [
        str(c["id"]) for key in ("programmes", "events") for c in _list(answer, key) if c.get("id")
    ]


def ranked_units(answer: dict[str, Any] | None, records: dict[str, str]) -> list[set[str]]:
    """Return, best first, the keys (path, record id) of each source of a non-abstained answer."""
    if answer is None or abstained(answer) is not False:
        return []
    cards = card_ids(answer)
    units: list[set[str]] = []
    for source in _list(answer, "sources"):
        path = str(source.get("path") or "").removeprefix("./")
        keys = {path} if path else set()
        if source.get("record_id"):
            keys.add(str(source["record_id"]))
        elif "record_id" not in source:  # today's schema: the file's cards stand for its records
            keys.update(card for card in cards if records.get(card) == path)
        units.append(keys)
    return units


def rank_of(units: Sequence[set[str]], expected: set[str]) -> int | None:
    """Return the 1-based rank of the first unit that matches an expectation."""
    for number, keys in enumerate(units, start=1):
        if keys & expected:
            return number
    return None


def latency(answer: dict[str, Any] | None) -> float | None:
    """Return the answer's `latency_ms` when it is a number."""
    value = answer.get("latency_ms") if isinstance(answer, dict) else None
    return float(value) if isinstance(value, int | float) else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (nearest rank on the sorted values), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def share(hits: Iterable[bool]) -> float | None:
    """Return the share of true values, None for none."""
    items = list(hits)
    return round(sum(items) / len(items), 4) if items else None


def retrieval_figures(ranks: Sequence[int | None]) -> dict[str, float | None]:
    """Return R@1, R@3, R@5 and MRR of a list of ranks (None = not found)."""
    n = len(ranks)
    if not n:
        return {"r1": None, "r3": None, "r5": None, "mrr": None}
    return {
        "r1": round(sum(1 for r in ranks if r is not None and r <= 1) / n, 4),
        "r3": round(sum(1 for r in ranks if r is not None and r <= 3) / n, 4),
        "r5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4),
    }


# --- baselines on the same Chroma index ----------------------------------------------------------
class IndexBaselines:
    """BM25 and plain dense retrieval over the chunks of a product's Chroma store, by document."""

    def __init__(self, chroma_dir: Path) -> None:
        import chromadb
        import numpy as np
        from chromadb.config import Settings as ChromaSettings

        self._np = np
        client = chromadb.PersistentClient(
            path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
        names = [c.name if hasattr(c, "name") else str(c) for c in client.list_collections()]
        name = COLLECTION if COLLECTION in names else (names[0] if names else COLLECTION)
        self.collection = client.get_collection(name)
        self.units: list[str] = []  # per chunk: the unit documents are ranked by
        self.paths: list[str] = []
        texts: list[str] = []
        vectors: list[Any] = []
        total = self.collection.count()
        for offset in range(0, total, 2000):
            page = self.collection.get(
                include=["documents", "metadatas", "embeddings"], limit=2000, offset=offset
            )
            embedded = page["embeddings"] if page["embeddings"] is not None else []
            for text, metadata, vector in zip(
                page["documents"] or [], page["metadatas"] or [], embedded, strict=True
            ):
                metadata = metadata or {}
                path = str(metadata.get("path", ""))
                record = metadata.get("record_id")
                self.paths.append(path)
                self.units.append(f"{path}#{record}" if record else path)
                texts.append(text or "")
                vectors.append(vector)
        matrix = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.matrix = matrix / np.where(norms == 0, 1, norms)
        self.chunks = len(texts)
        self._texts = texts
        self._bm25: Any = None
        self._encoder: Any = None

    def encoder(self) -> Any:
        """Return the product's embedding model (the same one the index was built with)."""
        if self._encoder is None:
            sys.path.insert(0, str(REPO))
            from retrieval.embedding import UniversalSentenceEncoder

            self._encoder = UniversalSentenceEncoder()
            self._encoder.warm_up()
        return self._encoder

    def _documents(self, order: Iterable[int], k: int) -> list[str]:
        ranked: list[str] = []
        for index in order:
            unit = self.units[index]
            if unit not in ranked:
                ranked.append(unit)
                if len(ranked) == k:
                    break
        return ranked

    def embed_and_query(self, question: str) -> tuple[Any, float]:
        """Embed a question and ask Chroma for the top 5 chunks; return the vector and the ms."""
        encoder = self.encoder()
        started = time.perf_counter()
        vector = self._np.asarray(encoder.embed_query(question), dtype=self._np.float32)
        self.collection.query(query_embeddings=vector[None, :], n_results=5)
        return vector, (time.perf_counter() - started) * 1000

    def dense(self, vector: Any, k: int = 10) -> list[str]:
        """Return the k best units by their best chunk's cosine similarity (exact scan)."""
        norm = float(self._np.linalg.norm(vector)) or 1.0
        scores = self.matrix @ (vector / norm)
        return self._documents(self._np.argsort(-scores), k)

    def bm25(self, question: str, k: int = 10) -> list[str]:
        """Return the k best units by their best chunk's BM25 score (bm25s, it+en stopwords)."""
        import bm25s
        from bm25s import stopwords

        stop = sorted(set(stopwords.STOPWORDS_EN) | set(stopwords.STOPWORDS_ITALIAN))
        if self._bm25 is None:
            self._bm25 = bm25s.BM25()
            self._bm25.index(
                bm25s.tokenize(self._texts, stopwords=stop, show_progress=False),
                show_progress=False,
            )
        tokens = bm25s.tokenize([question], stopwords=stop, show_progress=False)
        if not tokens.vocab:
            return []
        found, scores = self._bm25.retrieve(tokens, k=min(200, self.chunks), show_progress=False)
        order = [int(i) for i, s in zip(found[0], scores[0], strict=True) if s > 0]
        return self._documents(order, k)


def unit_keys(unit: str) -> set[str]:
    """Return the keys (path, record id) of a baseline unit `path#record`."""
    path, _, record = unit.partition("#")
    return {path, record} if record else {path}


# --- the table -----------------------------------------------------------------------------------
COLUMNS = (
    ("section", "section"),
    ("subset", "subset"),
    ("n", "n"),
    ("r1", "R@1"),
    ("r5", "R@5"),
    ("mrr", "MRR"),
    ("top3", "right in top 3"),
    ("wrong_abstain", "answerable abstained"),
    ("oos_abstain", "out of scope abstained"),
    ("other", "other"),
)


def fmt(value: Any) -> str:
    """Format a cell: 3 decimals for shares, '-' for missing."""
    if value is None or value == "":
        return "" if value == "" else "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(rows: Sequence[dict[str, Any]], *, markdown: bool) -> str:
    """Return the table as aligned text or as Markdown."""
    header = [title for _, title in COLUMNS]
    cells = [[fmt(row.get(key, "")) for key, _ in COLUMNS] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


# --- sections ------------------------------------------------------------------------------------
@dataclass
class Context:
    """What the sections share: arguments, the product on the sample folder, its answers."""

    args: argparse.Namespace
    product: Product
    records: dict[str, str]
    data_root: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    single: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # question id -> answer
    single_run: AskRun | None = None
    baselines: IndexBaselines | None = None
    bare_ms: dict[str, float] = field(default_factory=dict)
    vectors: dict[str, Any] = field(default_factory=dict)


def open_baselines(chroma_dir: Path) -> IndexBaselines | None:
    """Open a product's Chroma store for the baselines; None (and a warning) when it cannot be."""
    try:
        return IndexBaselines(chroma_dir)
    except Exception as error:  # noqa: BLE001 - a store the new engine changed must not stop the run
        log(f"warning: no baselines, cannot read the Chroma store in {chroma_dir}: {error!r}")
        return None


def sample_baselines(ctx: Context) -> IndexBaselines | None:
    """Open the sample index once for the dense baseline and the bare retrieval timings."""
    if ctx.baselines is None:
        ctx.baselines = open_baselines(ctx.product.data / "chroma") or False  # type: ignore[assignment]
    return ctx.baselines or None


def bare(ctx: Context, qid: str, question: str) -> Any:
    """Return the question's vector, timing embed + Chroma top 5 on the sample index once."""
    base = sample_baselines(ctx)
    if base is None:
        return None
    if qid not in ctx.vectors:
        vector, ms = base.embed_and_query(question)
        ctx.vectors[qid], ctx.bare_ms[qid] = vector, ms
    return ctx.vectors[qid]


def run_single_questions(ctx: Context, sets: dict[str, list[dict[str, Any]]]) -> None:
    """Ask every single question of the sample-folder sets in one `ask` process."""
    items = [(row["_qid"], str(row.get("question", ""))) for rows in sets.values() for row in rows]
    if not items:
        return
    log(f"asking {len(items)} questions on the knowledge folder")
    run = ctx.product.ask([question for _, question in items])
    ctx.single_run = run
    ctx.single = {qid: answer for (qid, _), answer in zip(items, run.answers, strict=True)}
    log(f"answered in {run.seconds:.1f} s (exit {run.returncode})")


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


def section_multilingual(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """Right source in the first 3 per language group, abstentions, and plain dense top 3."""
    base = sample_baselines(ctx)
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

    def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
        answerable = [i for i in items if not i["oos"]]
        oos = [i for i in items if i["oos"]]
        return {
            "n": len(items),
            "top3": share(i["rank"] is not None and i["rank"] <= 3 for i in answerable),
            "wrong_abstain": share(i["abstained"] is not False for i in answerable),
            "oos_abstain": share(i["abstained"] is True for i in oos),
            "dense_top3": None
            if base is None
            else share(
                isinstance(i["dense_rank"], int) and i["dense_rank"] <= 3 for i in answerable
            ),
        }

    groups: list[tuple[str, tuple[str, ...]]] = [("10 covered languages", COVERED)]
    groups += [("uk (not covered)", ("uk",)), ("ro (not covered)", ("ro",))]
    detail: dict[str, Any] = {"rows": per_row}
    label = "dev+test" if ctx.args.split == "both" else ctx.args.split
    for half in halves(ctx.args.split):
        for name, langs in groups:
            chosen = [i for i in per_row if i["lang"] in langs and i["split"] == half]
            figures = summary(chosen)
            detail[f"{half}:{name}"] = figures
            ctx.rows.append(
                {
                    "section": "multilingual",
                    "subset": f"{name}, {half}",
                    **figures,
                    "other": f"plain dense top 3: {fmt(figures['dense_top3'])}",
                }
            )
    for lang in COVERED:
        chosen = [i for i in per_row if i["lang"] == lang and in_split(i, ctx.args.split)]
        figures = summary(chosen)
        detail[f"{label}:{lang}"] = figures
        ctx.rows.append(
            {
                "section": "multilingual",
                "subset": f"{lang}, {label}",
                **figures,
                "other": f"plain dense top 3: {fmt(figures['dense_top3'])}",
            }
        )
    ctx.report["multilingual"] = detail


def section_oos(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """Abstained share of out-of-scope questions per language; friendly smalltalk replies."""
    label = "dev+test" if ctx.args.split == "both" else ctx.args.split
    by_lang: dict[str, list[bool]] = defaultdict(list)
    friendly: list[bool] = []
    misses: list[dict[str, Any]] = []
    for row in rows:
        answer = ctx.single.get(row["_qid"])
        if row.get("smalltalk"):
            kind = answer.get("kind") if isinstance(answer, dict) else None
            ok = kind == "smalltalk" or (
                abstained(answer) is False
                and isinstance(answer, dict)
                and isinstance(answer.get("sources"), list)
                and not answer["sources"]
            )
            friendly.append(ok)
            if not ok:
                misses.append(
                    {
                        "id": row["id"],
                        "question": row["question"],
                        "abstained": abstained(answer),
                        "sources": len(_list(answer, "sources")),
                    }
                )
        else:
            ok = abstained(answer) is True
            by_lang[str(row.get("lang"))].append(ok)
            if not ok:
                misses.append(
                    {
                        "id": row["id"],
                        "question": row["question"],
                        "sources": [s.get("path") for s in _list(answer, "sources")][:3],
                    }
                )
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
        oos = is_oos(row)
        rank = None if oos else rank_of(ranked_units(answer, ctx.records), expected_of(row))
        per_row.append(
            {
                "id": row["id"],
                "lang": row.get("lang"),
                "split": row.get("split"),
                "oos": oos,
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


def section_conversations(ctx: Context, rows: list[dict[str, Any]], filename: str) -> None:
    """Follow-up turns whose first source or cards hold the expected record, one session each."""
    label = f"{filename}, " + ("dev+test" if ctx.args.split == "both" else ctx.args.split)
    key = filename.removesuffix(".jsonl")
    if not ctx.product.supports_session():
        log("conversations: `ask --session` not supported by this learncity")
        ctx.report[key] = {"supported": False}
        ctx.rows.append(
            {
                "section": "conversations",
                "subset": label,
                "n": len(rows),
                "other": "not supported (no `ask --session`)",
            }
        )
        return
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    first_turns: list[bool] = []
    follow: list[bool] = []
    follow_source: list[bool] = []
    detail_rows: list[dict[str, Any]] = []

    def converse(item: tuple[int, dict[str, Any]]) -> tuple[dict[str, Any], list[Any], AskRun]:
        number, row = item
        turns = [t for t in row.get("turns", []) if isinstance(t, dict)]
        run = ctx.product.ask(
            [str(t.get("question", "")) for t in turns],
            session=f"aq-{run_id}-{row.get('id', number)}",
        )
        return row, turns, run

    with ThreadPoolExecutor(max_workers=ctx.args.jobs) as pool:  # each thread runs one process
        for done, (row, turns, run) in enumerate(pool.map(converse, enumerate(rows)), start=1):
            for position, (turn, answer) in enumerate(zip(turns, run.answers, strict=True)):
                expected = expected_of(turn)
                units = ranked_units(answer, ctx.records)
                first_ok = bool(units and units[0] & expected)
                ok = first_ok or bool(
                    set(card_ids(answer)) & expected and abstained(answer) is False
                )
                (follow if position else first_turns).append(ok)
                if position:
                    follow_source.append(first_ok)
                detail_rows.append(
                    {
                        "id": row.get("id"),
                        "turn": position,
                        "question": turn.get("question"),
                        "ok": ok,
                        "first_source": sorted(units[0]) if units else None,
                        "cards": card_ids(answer)[:5],
                        "abstained": abstained(answer),
                    }
                )
            if done % 10 == 0:
                log(f"conversations: {done}/{len(rows)}")
    ctx.report[key] = {
        "supported": True,
        "conversations": len(rows),
        "follow_ups": len(follow),
        "follow_up_right": share(follow),
        "follow_up_first_source_right": share(follow_source),
        "first_turn_right": share(first_turns),
        "rows": detail_rows,
    }
    ctx.rows.append(
        {
            "section": "conversations",
            "subset": f"follow-up turns, {label}",
            "n": len(follow),
            "r1": share(follow_source),
            "other": f"first source or cards right: {fmt(share(follow))}; "
            f"first turns: {fmt(share(first_turns))}",
        }
    )


def uniqa_questions(dataset: Path, lang: str, split: str, limit: int) -> list[dict[str, Any]]:
    """Return up to `limit` questions of one language and half, in a fixed pseudo-random order."""
    rows = read_jsonl(dataset / "qa" / f"train_{lang}.jsonl")
    chosen = []
    for row in rows:
        codes = [str(code) for code in row.get("gold_codes") or []]
        if codes and uniqa_half(codes[0]) == split:
            chosen.append({**row, "gold_codes": codes, "lang": lang, "split": split})
    chosen.sort(key=lambda row: hashlib.sha256(row["question"].encode()).hexdigest())
    return chosen[:limit] if limit > 0 else chosen


def build_uniqa_folder(knowledge: Path, dataset: Path, folder: Path) -> int:
    """Copy the knowledge folder and add every UniQA document as a .txt guide; return the count."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(knowledge, folder)
    count = 0
    for lang in UNIQA_LANGS:
        for source in sorted((dataset / "corpus" / lang).glob("*/*.txt")):
            target = folder / "guides" / "uniqa" / lang / source.parent.name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            count += 1
    return count


def code_hit(keys: set[str], codes: Sequence[str]) -> bool:
    """Return whether one of the keys is a file whose name starts with a gold code."""
    names = [key.rsplit("/", 1)[-1] for key in keys]
    return any(name.startswith(f"{code}_") for name in names for code in codes)


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
    per: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    latencies = [v for a in run.answers[1:] if (v := latency(a)) is not None]
    bare_ms: list[float] = []
    for question, answer in zip(questions, run.answers, strict=True):
        codes = question["gold_codes"]
        bucket = per[(question["lang"], question["split"])]
        units = ranked_units(answer, {})
        bucket["ours"].append(
            next((n for n, keys in enumerate(units, 1) if code_hit(keys, codes)), None)
        )
        bucket["abstained"].append(abstained(answer) is not False)
        if base is None:
            continue
        vector, ms = base.embed_and_query(question["question"])
        bare_ms.append(ms)
        dense = [unit_keys(u) for u in base.dense(vector, 5)]
        lexical = [unit_keys(u) for u in base.bm25(question["question"], 5)]
        bucket["dense"].append(
            next((n for n, k in enumerate(dense, 1) if code_hit(k, codes)), None)
        )
        bucket["bm25"].append(
            next((n for n, k in enumerate(lexical, 1) if code_hit(k, codes)), None)
        )
    detail: dict[str, Any] = {
        "documents": documents,
        "index_seconds": round(seconds, 1),
        "index_report": line,
        "chunks": base.chunks if base else None,
        "answer_seconds": round(run.seconds, 1),
    }
    for half in halves(args.split):
        for lang in UNIQA_LANGS:
            bucket = per[(lang, half)]
            ours, bm25, plain = (retrieval_figures(bucket[k]) for k in ("ours", "bm25", "dense"))
            n = len(bucket["ours"])
            detail[f"{half}:{lang}"] = {
                "n": n,
                "ours": ours,
                "bm25": bm25,
                "dense": plain,
                "abstained": share(bucket["abstained"]),
            }
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
            for name, figures in (("BM25 by document", bm25), ("plain dense by document", plain)):
                if base is None:
                    break
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

            def ratio(key: str, mine: dict[str, Any] = ours, other: dict[str, Any] = bm25) -> str:
                return f"{mine[key] / other[key]:.2f}" if mine[key] and other[key] else "-"

            if base is None:
                continue
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
    detail["latency"] = {
        "whole_p50_ms": percentile(latencies, 50),
        "whole_p95_ms": percentile(latencies, 95),
        "bare_p50_ms": percentile(bare_ms, 50),
        "bare_p95_ms": percentile(bare_ms, 95),
        "answers": len(latencies),
    }
    detail["_whole"], detail["_bare"] = latencies, bare_ms  # for the speed rows; not written
    ctx.report["uniqa"] = detail


def speed_row(name: str, whole: Sequence[float], bare_ms: Sequence[float]) -> dict[str, Any]:
    """Return a table row comparing whole-answer and bare retrieval latency."""
    w50, w95 = percentile(whole, 50), percentile(whole, 95)
    b50, b95 = percentile(bare_ms, 50), percentile(bare_ms, 95)

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    ratio = f"{w95 / b95:.1f}x" if w95 and b95 else "-"
    text = (
        f"whole answer p50/p95 {ms(w50)}/{ms(w95)} ms; bare embed + Chroma top 5 "
        f"{ms(b50)}/{ms(b95)} ms; p95 ratio {ratio}"
    )
    return {"section": "speed", "subset": name, "n": len(whole), "other": text}


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


# --- main ----------------------------------------------------------------------------------------
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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, print one table, write the JSON results."""
    args = parse_args(argv)
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
        unknown = check_expectations(sets, args.knowledge)
        for item in unknown:
            log(f"warning: expectation names nothing in the knowledge folder: {item}")
        seconds, line = product.index()
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
    finally:
        if holder is not None:
            holder.cleanup()
    duration = time.perf_counter() - started
    table = render(ctx.rows, markdown=args.markdown)
    print(table)
    load_after = load_average()
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {duration / 60:.1f} min, load average "
        f"before {load_before} after {load_after}, {os.cpu_count()} CPUs"
    )
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
        "seconds": round(duration, 1),
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
