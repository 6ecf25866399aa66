"""UniQA retrieval benchmark: vanilla dense, BM25 alone, and our hybrid engine, side by side.

Indexes the whole UniQA corpus (1,048 real programme documents, it/en) twice in the same run:
(a) vanilla: RecursiveCharacterTextSplitter 1000/200 + Chroma + the same embedding, dense top-k;
(b) BM25 alone (over the vanilla chunks and over ours); (c) ours: structure-aware chunks,
incremental indexer, hybrid search. Questions are split by programme code (deterministic):
the tuning half is never reported, the report half is. A hit is a retrieved chunk whose file's
programme code is in the question's `gold_codes`.

    nice -n 5 python benchmarks/uniqa.py                 # full run, writes results/uniqa.json
    python benchmarks/uniqa.py --limit 200 --tune --skip-vanilla --work-dir /tmp/uniqa  # develop

The data set is read from ../shared/datasets/uniqa (relative to the repo); it is never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import platform
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from langchain_text_splitters import RecursiveCharacterTextSplitter

from retrieval.chunking import split_sections
from retrieval.embedding import UniversalSentenceEncoder
from retrieval.indexer import FileChunks, Indexer
from retrieval.lexical import BM25Index
from retrieval.search import DENSE_WEIGHT, LEXICAL_WEIGHT, TITLE_WEIGHT, HybridSearcher
from retrieval.store import ChromaVectorIndex
from retrieval.types import Chunk, MetadataValue

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "uniqa"
RESULTS = REPO / "benchmarks" / "results" / "uniqa.json"
K = 10


@dataclass(frozen=True)
class Doc:
    path: str  # relative to the corpus dir, e.g. "it/course-info/2005_dettagli_it.txt"
    code: str
    lang: str
    title: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Question:
    text: str
    lang: str
    codes: frozenset[str]


def load_corpus(dataset: Path) -> list[Doc]:
    """Read every corpus document with its programme code, language and title."""
    docs = []
    for file in sorted((dataset / "corpus").glob("*/*/*.txt")):
        raw = file.read_bytes()
        text = raw.decode("utf-8")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # Line 2 names the programme ("Laurea magistrale in ARCHITETTURA"); line 1 is the year.
        title = lines[1] if len(lines) > 1 else file.stem
        docs.append(
            Doc(
                path=file.relative_to(dataset / "corpus").as_posix(),
                code=file.name.split("_", 1)[0],
                lang=file.relative_to(dataset / "corpus").parts[0],
                title=title,
                text=text,
                sha256=hashlib.sha256(raw).hexdigest(),
            )
        )
    return docs


def is_report_code(code: str) -> bool:
    """Return True for programme codes whose questions are reported (the others tune)."""
    return int(hashlib.sha256(code.encode()).hexdigest(), 16) % 2 == 0


def load_questions(dataset: Path, lang: str) -> list[Question]:
    """Read the train questions of one language."""
    questions = []
    with (dataset / "qa" / f"train_{lang}.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            questions.append(Question(record["question"], lang, frozenset(record["gold_codes"])))
    return questions


def pick(questions: list[Question], *, report: bool, limit: int | None) -> list[Question]:
    """Return the report (or tuning) part, thinned evenly to `limit` questions."""
    part = [q for q in questions if any(is_report_code(c) for c in q.codes) == report]
    if limit and len(part) > limit:
        step = len(part) / limit
        part = [part[int(i * step)] for i in range(limit)]
    return part


def metrics(ranked_codes: list[list[str]], questions: Sequence[Question]) -> dict[str, float]:
    """Return R@1, R@5 and MRR@10 by programme code."""
    r1 = r5 = rr = 0.0
    for codes, question in zip(ranked_codes, questions, strict=True):
        rank = next((i for i, code in enumerate(codes[:K], 1) if code in question.codes), None)
        if rank is not None:
            r1 += rank == 1
            r5 += rank <= 5
            rr += 1 / rank
    n = len(questions) or 1
    return {"R@1": r1 / n, "R@5": r5 / n, "MRR@10": rr / n, "n": len(questions)}


class PeakRss:
    """Sample this process's resident memory in a thread; keep the peak."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._process = psutil.Process()

    @contextmanager
    def watch(self) -> Iterator[PeakRss]:
        self.peak = self._process.memory_info().rss
        self._stop.clear()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._process.memory_info().rss)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn: Callable[[Question], list[str]], questions: Sequence[Question]) -> tuple[
    list[list[str]], list[float]
]:
    ranked, latencies = [], []
    for question in questions:
        start = time.perf_counter()
        ranked.append(fn(question))
        latencies.append((time.perf_counter() - start) * 1000)
    return ranked, latencies


def _call(
    fn: Callable[[Question, dict[str, Any] | None], list[str]],
    question: Question,
    *,
    where: dict[str, Any] | None,
) -> list[str]:
    return fn(question, where)


def code_of(chunk: Chunk) -> str:
    return str(chunk.metadata["code"])


# ---------------------------------------------------------------- vanilla
class Vanilla:
    """RecursiveCharacterTextSplitter 1000/200 + Chroma (cosine) + the same embedding."""

    def __init__(self, embeddings: UniversalSentenceEncoder, path: Path) -> None:
        self.embeddings = embeddings
        self.index = ChromaVectorIndex(embeddings=embeddings, path=path, collection="vanilla")
        self.chunks: list[Chunk] = []

    def build(self, docs: list[Doc]) -> float:
        start = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        for doc in docs:
            for position, text in enumerate(splitter.split_text(doc.text)):
                chunk_id = hashlib.sha256(f"{doc.path}\x00{position}".encode()).hexdigest()[:32]
                meta: dict[str, MetadataValue] = {
                    "path": doc.path, "code": doc.code, "lang": doc.lang, "title": doc.title
                }
                self.chunks.append(Chunk(chunk_id, text, meta))
        texts = [chunk.text for chunk in self.chunks]
        vectors = self.embeddings.embed_documents(texts)
        self.index.upsert(self.chunks, vectors)
        return time.perf_counter() - start

    def search(self, question: str, k: int, where: dict[str, Any] | None = None) -> list[Chunk]:
        vector = self.embeddings.embed_query(question)
        return [hit.chunk for hit in self.index.query(vector, k, where)]


# ---------------------------------------------------------------- ours
def our_files(docs: list[Doc], max_chars: int, overlap: int) -> dict[str, FileChunks]:
    files = {}
    for doc in docs:
        meta = {"path": doc.path, "code": doc.code, "lang": doc.lang, "kind": "document"}
        chunks = split_sections(
            doc.text, title=doc.title, metadata=meta, max_chars=max_chars, overlap=overlap
        )
        files[doc.path] = FileChunks(sha256=doc.sha256, chunks=chunks)
    return files


def tune(searcher: HybridSearcher, questions: dict[str, list[Question]]) -> list[dict[str, Any]]:
    """Grid the fusion weights on the tuning questions; print and return every row."""
    rows = []
    for dense_weight in (0.3, 0.4, 0.5, 0.6, 0.7):
        for title_weight in (0.0, 0.15, 0.3, 0.5):
            variant = searcher.with_weights(
                dense=dense_weight, lexical=1 - dense_weight, title=title_weight
            )
            row: dict[str, Any] = {"dense_weight": dense_weight, "title_weight": title_weight}
            for setting, qs, where in (
                ("it", questions["it"], None),
                ("en", questions["en"], None),
                ("cross", questions["it"], {"lang": "en"}),
            ):
                ranked = [
                    [code_of(h.chunk) for h in variant.search(q.text, k=K, where=where)]
                    for q in qs
                ]
                row[setting] = {key: round(v, 4) for key, v in metrics(ranked, qs).items()}
            rows.append(row)
            print(
                f"  dense {dense_weight:.2f} title {title_weight:.2f}: "
                + "  ".join(
                    f"{s} R@5 {row[s]['R@5']:.3f} MRR {row[s]['MRR@10']:.3f}"
                    for s in ("it", "en", "cross")
                ),
                flush=True,
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--limit", type=int, default=None, help="questions per language and part")
    parser.add_argument("--tune", action="store_true", help="grid the fusion weights (tuning part)")
    parser.add_argument("--tune-limit", type=int, default=200, help="tuning questions per language")
    parser.add_argument("--max-chars", type=int, default=1000)
    parser.add_argument("--overlap", type=int, default=100)
    parser.add_argument("--dense-weight", type=float, default=DENSE_WEIGHT)
    parser.add_argument("--lexical-weight", type=float, default=LEXICAL_WEIGHT)
    parser.add_argument("--title-weight", type=float, default=TITLE_WEIGHT)
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the indexes here")
    parser.add_argument("--skip-vanilla", action="store_true")
    parser.add_argument(
        "--vanilla-raw", action="store_true",
        help="also run vanilla with the model as shipped (no folding of CAPITALS)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    lexical_weight = args.lexical_weight

    docs = load_corpus(args.dataset)
    questions = {lang: load_questions(args.dataset, lang) for lang in ("it", "en")}
    report_q = {lang: pick(qs, report=True, limit=args.limit) for lang, qs in questions.items()}
    tune_q = {
        lang: pick(qs, report=False, limit=args.tune_limit) for lang, qs in questions.items()
    }
    print(
        f"corpus: {len(docs)} documents; questions reported: it {len(report_q['it'])}, "
        f"en {len(report_q['en'])} (tuning part: it {len(tune_q['it'])}, en {len(tune_q['en'])})",
        flush=True,
    )

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="uniqa-"))
    embeddings = UniversalSentenceEncoder(threads=1)
    embeddings.warm_up()
    rss = PeakRss()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "load_average": list(psutil.getloadavg()),
        "command": "python benchmarks/uniqa.py "
        + " ".join(a for a in (argv or __import__("sys").argv[1:])),
        "documents": len(docs),
        "questions": {lang: len(qs) for lang, qs in report_q.items()},
        "split": "by programme code: sha256(code) even -> reported, odd -> tuning",
        "settings": {"max_chars": args.max_chars, "overlap": args.overlap,
                     "dense_weight": args.dense_weight, "lexical_weight": lexical_weight,
                     "title_weight": args.title_weight},
    }

    # (c) ours: chunk, sync (embed new chunks only), BM25 refresh
    index = ChromaVectorIndex(embeddings=embeddings, path=work / "ours", collection="ours")
    searcher = HybridSearcher(
        index=index, embeddings=embeddings, dense_weight=args.dense_weight,
        lexical_weight=lexical_weight, title_weight=args.title_weight,
    )
    indexer = Indexer(index=index, embeddings=embeddings, searcher=searcher)
    with rss.watch():
        start = time.perf_counter()
        files = our_files(docs, args.max_chars, args.overlap)
        report = indexer.sync(files)
        ours_seconds = time.perf_counter() - start
    ours_chunks = sum(len(f.chunks) for f in files.values())
    results["ours_index"] = {
        "seconds": round(ours_seconds, 1), "chunks": ours_chunks,
        "embedded_texts": report.embedded,
        "chunks_per_s": round(ours_chunks / ours_seconds, 1), "peak_rss_mb": rss.peak // 2**20,
    }
    print(f"ours: {ours_chunks} chunks ({report.embedded} texts embedded) "
          f"in {ours_seconds:.1f} s, peak RSS {rss.peak / 2**20:.0f} MB", flush=True)
    start = time.perf_counter()
    resync = indexer.sync(files)
    results["ours_resync_unchanged"] = {
        "seconds": round(time.perf_counter() - start, 2), "embedded": resync.embedded
    }
    # Staff edit one file while the assistant runs: sync and BM25 refresh, timed.
    edited_doc = dataclasses.replace(
        docs[0], text=docs[0].text + "\n---------\nNota\nLezioni sospese a dicembre.\n",
        sha256="edited",
    )
    edited = {**files, **our_files([edited_doc], args.max_chars, args.overlap)}
    start = time.perf_counter()
    edit = indexer.sync(edited)
    results["ours_resync_one_file_edited"] = {
        "seconds": round(time.perf_counter() - start, 2), "embedded": edit.embedded
    }
    indexer.sync(files)  # back to the real corpus

    if args.tune:
        print("tuning (never reported):", flush=True)
        results["tuning"] = tune(searcher, tune_q)

    # (a) vanilla
    vanilla = None
    if not args.skip_vanilla:
        vanilla = Vanilla(embeddings, work / "vanilla")
        with rss.watch():
            vanilla_seconds = vanilla.build(docs)
        results["vanilla_index"] = {
            "seconds": round(vanilla_seconds, 1), "chunks": len(vanilla.chunks),
            "chunks_per_s": round(len(vanilla.chunks) / vanilla_seconds, 1),
            "peak_rss_mb": rss.peak // 2**20,
        }
        print(f"vanilla: {len(vanilla.chunks)} chunks in {vanilla_seconds:.1f} s, "
              f"peak RSS {rss.peak / 2**20:.0f} MB", flush=True)
    raw = None
    if args.vanilla_raw:
        raw = Vanilla(UniversalSentenceEncoder(threads=1, fold_capitals=False), work / "raw")
        raw_seconds = raw.build(docs)
        print(f"vanilla (raw case): {len(raw.chunks)} chunks in {raw_seconds:.1f} s", flush=True)
    # (b) BM25 alone, over the vanilla chunks (the plain baseline) and over ours
    bm25_vanilla = BM25Index()
    if vanilla is not None:
        bm25_vanilla.build(vanilla.chunks)

    systems: dict[str, Callable[[Question, dict[str, Any] | None], list[str]]] = {
        "ours": lambda q, w: [code_of(h.chunk) for h in searcher.search(q.text, k=K, where=w)],
        "bm25_our_chunks": lambda q, w: [
            code_of(h.chunk) for h in searcher.lexical.search(q.text, K, w)
        ],
    }
    if vanilla is not None:
        systems["vanilla"] = lambda q, w: [code_of(c) for c in vanilla.search(q.text, K, w)]
        systems["bm25"] = lambda q, w: [code_of(h.chunk) for h in bm25_vanilla.search(q.text, K, w)]
    if raw is not None:
        systems["vanilla_raw_case"] = lambda q, w: [code_of(c) for c in raw.search(q.text, K, w)]

    table: dict[str, dict[str, Any]] = {}
    latencies: dict[str, list[float]] = {}
    for name, fn in systems.items():
        table[name] = {}
        for setting, qs, where in (
            ("it", report_q["it"], None),
            ("en", report_q["en"], None),
            ("cross_it_to_en", report_q["it"], {"lang": "en"}),
        ):
            ranked, lat = timed(functools.partial(_call, fn, where=where), qs)
            table[name][setting] = {k: round(v, 4) for k, v in metrics(ranked, qs).items()}
            if setting != "cross_it_to_en":
                latencies.setdefault(name, []).extend(lat)
        lat = latencies[name]
        table[name]["latency_ms"] = {
            "p50": round(statistics.median(lat), 1), "p95": round(percentile(lat, 0.95), 1)
        }
        print(f"{name}: done", flush=True)
    results["results"] = table

    header = f"{'system':<16}" + "".join(
        f"{h:>9}" for h in ("it R@1", "it R@5", "it MRR", "en R@1", "en R@5", "en MRR",
                            "x R@5", "x MRR", "p50 ms", "p95 ms")
    )
    print("\n" + header)
    for name, row in table.items():
        cells = [row["it"]["R@1"], row["it"]["R@5"], row["it"]["MRR@10"], row["en"]["R@1"],
                 row["en"]["R@5"], row["en"]["MRR@10"], row["cross_it_to_en"]["R@5"],
                 row["cross_it_to_en"]["MRR@10"]]
        print(f"{name:<16}" + "".join(f"{c:>9.3f}" for c in cells)
              + f"{row['latency_ms']['p50']:>9.1f}{row['latency_ms']['p95']:>9.1f}")
    for name in ("vanilla_index", "ours_index"):
        if name in results:
            print(f"{name}: {results[name]}")
    print(f"re-sync unchanged: {results['ours_resync_unchanged']}")
    print(f"re-sync, one file edited: {results['ours_resync_one_file_edited']}")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
