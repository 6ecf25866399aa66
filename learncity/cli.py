"""The `learncity` command: index, check, ask, chat, eval and run, on the same services as the bot.

    learncity [--knowledge DIR] [--data DIR] index | check | ask | chat | eval | run

`--knowledge` and `--data` override LEARNCITY_KNOWLEDGE_DIR / LEARNCITY_DATA_DIR (defaults
./knowledge and ./data). Exit codes: 0 done, 1 problems found (check) or failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from learncity.i18n import normalize_language, t
from learncity.safeguarding import detect

if TYPE_CHECKING:
    from learncity.app import Services
    from learncity.content.models import Event, Programme
    from learncity.settings import Settings
    from retrieval.assistant import Assistant
    from retrieval.types import Answer, Hit

logger = logging.getLogger("learncity")


# --- settings and services ---------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Settings:
    from learncity.settings import Settings

    overrides: dict[str, Any] = {}
    if args.knowledge is not None:
        overrides["knowledge_dir"] = Path(args.knowledge)
    if args.data is not None:
        overrides["data_dir"] = Path(args.data)
    return Settings(**overrides)


def _services(settings: Settings) -> Services:
    from learncity.app import build_services

    return build_services(settings)


# --- index and check -----------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace, out: IO[str]) -> int:
    """Sync the index with the knowledge folder and print what changed."""
    services = _services(_settings(args))
    report = services.knowledge.reload()
    index = report.index
    print(
        f"indexed {report.files} files in {report.seconds:.2f} s: {index.added} added, "
        f"{index.updated} updated, {index.removed} removed, {index.unchanged} unchanged, "
        f"{index.kept} kept; {index.embedded} chunks embedded, {index.chunks} chunks in the index",
        file=out,
    )
    for path in index.removed_paths:
        print(f"removed: {path}", file=out)
    services.close()
    # Each problem once, here: the knowledge service logs only a count.
    for error in report.errors:
        print(str(error), file=sys.stderr)
    if report.errors:
        print(
            f"{len(report.errors)} problem(s): those files were skipped "
            "(their last good version, if any, keeps serving)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_check(args: argparse.Namespace, out: IO[str]) -> int:
    """Validate the knowledge folder only; list every problem as path:line: message."""
    from flows.definitions import load_definitions
    from learncity.content.loader import load_knowledge
    from learncity.content.snapshots import LastGoodStore, last_good_dir

    settings = _settings(args)
    # Read-only: check names the version a broken file serves, and changes nothing.
    kept = LastGoodStore(last_good_dir(settings.data_dir), read_only=True)
    kb = load_knowledge(settings.knowledge_dir, last_good=kept)
    flows, flow_errors = load_definitions(settings.knowledge_dir / "assessments")
    errors = [*kb.errors, *flow_errors]
    for error in dict.fromkeys(str(error) for error in [*errors, *kb.notices]):
        print(error, file=out)
    if errors:
        print(f"{len(errors)} problem(s) in {settings.knowledge_dir}", file=sys.stderr)
        return 1
    print(
        f"OK: {len(kb.files)} files, {len(kb.programmes)} programmes, {len(kb.events)} events, "
        f"{len(kb.guides)} guides, {len(kb.contacts)} contacts, {len(flows)} assessments",
        file=out,
    )
    return 0


# --- ask -----------------------------------------------------------------------------------------
def answer_json(answer: Answer) -> dict[str, Any]:
    """Return the JSON object of one answer (the `ask --json` and `ask -` schema)."""
    return {
        "question": answer.question,
        "lang": answer.lang,
        "abstained": answer.abstained,
        "answer": answer.text,
        "sources": [
            {"path": source.path, "title": source.title, "score": round(source.score, 4)}
            for source in answer.sources
        ],
        "programmes": [
            {"id": card.id, "title": card.title, "kind": card.kind} for card in answer.cards
        ],
        "latency_ms": round(answer.latency_ms, 2),
    }


def render_answer(answer: Answer) -> str:
    """Return an answer as terminal text: the answer, its sources, the contact."""
    lines = [answer.text]
    if answer.sources and not answer.abstained:
        lines += ["", t("cli.sources", answer.lang)]
        for number, source in enumerate(answer.sources, start=1):
            where = f"{source.path}" + (f" — {source.url}" if source.url else "")
            lines.append(f"  [{number}] {source.title} ({where})")
    return "\n".join(lines)


def helplines_text(assistant: Assistant, text: str, lang: str) -> tuple[str, bool] | None:
    """Return the helplines (and whether only they should follow) when `text` signals danger."""
    detection = detect(text)
    if detection is None:
        return None
    lines = [t("cli.safeguarding_intro", lang)]
    for contact in assistant.safeguarding_contacts(lang):
        parts = [contact.name, contact.phone, contact.url]
        line = "  • " + " · ".join(part for part in parts if part)
        lines.append(line + (f" ({contact.hours})" if contact.hours else ""))
    lines.append(t("cli.safeguarding_emergency", lang))
    return "\n".join(lines), detection.urgent


def cmd_ask(args: argparse.Namespace, out: IO[str]) -> int:
    """Answer one question, or one per line from stdin (`-`) as JSON lines."""
    services = _services(_settings(args))
    assistant = services.assistant
    services.knowledge.current  # noqa: B018 - load and sync before the first question
    lang = normalize_language(args.lang) if args.lang else None
    if args.question == "-":
        for line in sys.stdin:
            question = line.strip()
            if not question:
                continue
            answer = assistant.ask(question, lang=lang)
            out.write(json.dumps(answer_json(answer), ensure_ascii=False) + "\n")
            out.flush()
        services.close()
        return 0
    answer = assistant.ask(args.question, lang=lang)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False, indent=2), file=out)
    else:
        print(render_answer(answer), file=out)
    services.close()
    return 0


# --- chat ----------------------------------------------------------------------------------------
def chat(assistant: Assistant, *, lang: str, stdin: IO[str], out: IO[str]) -> None:
    """Run an interactive conversation until /quit, end of input or Ctrl-C."""
    current = lang
    print(t("cli.chat_welcome", current), file=out)
    while True:
        if stdin.isatty():
            try:
                line = input(t("cli.chat_prompt", current))
            except EOFError:
                break
        else:
            out.write(t("cli.chat_prompt", current))
            out.flush()
            line = stdin.readline()
            if not line:
                break
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command in ("/quit", "/exit", "/q"):
                break
            if command == "/lang":
                choice = rest.strip().lower()
                if choice in ("it", "en"):
                    current = choice
                    print(t("cli.chat_lang_set", current), file=out)
                else:
                    print(t("cli.chat_lang_unknown", current), file=out)
                continue
            if command in ("/help", "/start"):
                print(t("cli.chat_help", current), file=out)
                continue
            print(t("cli.chat_unknown_command", current), file=out)
            continue
        helplines = helplines_text(assistant, text, current)
        if helplines is not None:
            print(helplines[0] + "\n", file=out)
            if helplines[1]:
                continue
        answer = assistant.ask(text, lang=current)
        print(render_answer(answer) + "\n", file=out)
    print(t("cli.chat_bye", current), file=out)


def cmd_chat(args: argparse.Namespace, out: IO[str]) -> int:
    """Start the terminal conversation."""
    settings = _settings(args)
    services = _services(settings)
    services.warm_up()
    try:
        chat(
            services.assistant,
            lang=args.lang or settings.default_language,
            stdin=sys.stdin,
            out=out,
        )
    except KeyboardInterrupt:
        print("\n" + t("cli.chat_bye", args.lang or settings.default_language), file=out)
    finally:
        services.close()
    return 0


# --- eval ----------------------------------------------------------------------------------------
_QUESTION_KEYS = ("question", "q", "text")
_EXPECTED_KEYS = (
    "expected",
    "expected_paths",
    "expected_path",
    "paths",
    "path",
    "sources",
    "source",
    "expected_ids",
    "expected_id",
    "record_ids",
    "record_id",
    "ids",
)


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read an evaluation set: one JSON object per line with the question and expected sources."""
    questions: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from error
            text = next((record[key] for key in _QUESTION_KEYS if record.get(key)), None)
            if not isinstance(text, str):
                raise ValueError(f"{path}:{number}: no 'question' field")
            expected: list[str] = []
            for key in _EXPECTED_KEYS:
                value = record.get(key)
                if isinstance(value, str) and value:
                    expected.append(value)
                elif isinstance(value, list):
                    expected += [str(item) for item in value if item]
            out_of_scope = bool(
                record.get("out_of_scope") or record.get("in_scope") is False or not expected
            )
            questions.append(
                {
                    "question": text,
                    "lang": record.get("lang"),
                    "expected": expected,
                    "out_of_scope": out_of_scope,
                    "cross_lingual": record.get("cross_lingual"),
                    "line": number,
                }
            )
    return questions


def _ranking(answer: Answer, hits: Sequence[Hit]) -> list[tuple[str, str | None]]:
    """Return the distinct (path, record id) the assistant offered, best first, then the hits."""
    found: list[tuple[str, str | None]] = []

    def add(path: str, record_id: str | None) -> None:
        if (path, record_id) not in found:
            found.append((path, record_id))

    if not answer.abstained:
        for card in answer.cards:
            add(card.path, card.id)
        for source in answer.sources:
            add(source.path, None)
    for hit in hits:
        record_id = hit.chunk.metadata.get("record_id")
        add(str(hit.chunk.metadata.get("path", "")), str(record_id) if record_id else None)
    return found


def _rank_of(expected: Iterable[str], ranking: Sequence[tuple[str, str | None]]) -> int | None:
    """Return the 1-based rank of the first file that is (or holds) an expected source."""
    wanted = {item.strip().removeprefix("./") for item in expected}
    files: list[str] = []
    for path, record_id in ranking:
        # Sources are files: a file's second record does not push the others down.
        if path not in files:
            files.append(path)
        if path in wanted or (record_id is not None and record_id in wanted):
            return files.index(path) + 1
    return None


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _document_language(assistant: Assistant, expected: Sequence[str]) -> str | None:
    kb = assistant._knowledge.current  # noqa: SLF001 - read-only look-up for the report
    for item in expected:
        if item in kb.guides:
            return kb.guides[item].lang
        record: Programme | Event | None = kb.programmes.get(item) or kb.events.get(item)
        if record is not None:
            return str(record.lang)
        loaded = kb.files.get(item)
        if loaded is not None:
            records: list[Programme | Event] = [*loaded.programmes, *loaded.events]
            if records:
                return str(records[0].lang)
    return None


def evaluate(
    assistant: Assistant, questions: Sequence[dict[str, Any]], *, now: Any = None
) -> dict[str, Any]:
    """Ask every question; return R@1, R@5, MRR, abstention rates, by language and cross-lingual."""
    rows: list[dict[str, Any]] = []
    for item in questions:
        traced = assistant.trace(item["question"], lang=item["lang"], now=now)
        answer, hits = traced.answer, traced.hits
        rank = None if item["out_of_scope"] else _rank_of(item["expected"], _ranking(answer, hits))
        cross = item["cross_lingual"]
        if cross is None and not item["out_of_scope"]:
            doc_lang = _document_language(assistant, item["expected"])
            cross = doc_lang is not None and doc_lang != answer.lang
        rows.append(
            {
                "question": item["question"],
                "lang": answer.lang,
                "out_of_scope": item["out_of_scope"],
                "cross_lingual": bool(cross),
                "expected": item["expected"],
                "rank": rank,
                "abstained": answer.abstained,
                "relevance": round(traced.relevance, 4),
                "route": traced.route,
                "forced": traced.forced,
                "top": [path for path, _ in _ranking(answer, hits)[:3]],
                "latency_ms": answer.latency_ms,
            }
        )
    report = _summarise(rows)
    report["threshold"] = assistant.abstain_threshold
    report["by_lang"] = {
        lang: _summarise([row for row in rows if row["lang"] == lang])
        for lang in sorted({row["lang"] for row in rows})
    }
    report["cross_lingual"] = _summarise([r for r in rows if r["cross_lingual"]], scope_only=True)
    report["same_language"] = _summarise(
        [r for r in rows if not r["cross_lingual"] and not r["out_of_scope"]], scope_only=True
    )
    report["misses"] = [
        {key: row[key] for key in ("question", "expected", "rank", "abstained", "top", "relevance")}
        for row in rows
        if (
            not row["out_of_scope"] and (row["rank"] is None or row["rank"] > 1 or row["abstained"])
        )
        or (row["out_of_scope"] and not row["abstained"])
    ]
    report["rows"] = rows
    return report


def _summarise(rows: Sequence[dict[str, Any]], *, scope_only: bool = False) -> dict[str, Any]:
    in_scope = [row for row in rows if not row["out_of_scope"]]
    out_scope = [row for row in rows if row["out_of_scope"]]
    ranks = [row["rank"] for row in in_scope]
    n = len(in_scope)
    latencies = [row["latency_ms"] for row in rows]
    summary: dict[str, Any] = {
        "questions": len(rows),
        "in_scope": n,
        "r@1": round(sum(1 for r in ranks if r is not None and r <= 1) / n, 4) if n else None,
        "r@5": round(sum(1 for r in ranks if r is not None and r <= 5) / n, 4) if n else None,
        "mrr": round(sum(1 / r for r in ranks if r is not None) / n, 4) if n else None,
        "answered_r@5": round(
            sum(
                1
                for row in in_scope
                if row["rank"] is not None and row["rank"] <= 5 and not row["abstained"]
            )
            / n,
            4,
        )
        if n
        else None,
        "in_scope_abstained": round(sum(row["abstained"] for row in in_scope) / n, 4)
        if n
        else None,
    }
    if not scope_only:
        m = len(out_scope)
        summary["out_of_scope"] = m
        summary["out_of_scope_abstained"] = (
            round(sum(row["abstained"] for row in out_scope) / m, 4) if m else None
        )
        summary["latency_p50_ms"] = round(statistics.median(latencies), 2) if latencies else None
        summary["latency_p95_ms"] = round(_percentile(latencies, 95), 2) if latencies else None
    return summary


def calibrate(rows: Sequence[dict[str, Any]], max_wrong_abstain: float = 0.05) -> float | None:
    """Return the relevance threshold that wrongly abstains on at most `max_wrong_abstain` of the
    answerable questions, halfway between the scores around it."""
    # Event listings ("what's on this weekend") and questions naming records the folder has
    # ("computer course for seniors") never abstain: the threshold does not apply to them.
    scored = [row for row in rows if row.get("route") != "listing" and not row.get("forced")]
    in_scores = sorted(row["relevance"] for row in scored if not row["out_of_scope"])
    out_scores = sorted(row["relevance"] for row in scored if row["out_of_scope"])
    if not in_scores:
        return None
    answerable = sum(1 for row in rows if not row["out_of_scope"])
    allowed = int(max_wrong_abstain * answerable)
    ceiling = in_scores[allowed]  # abstaining below this loses at most `allowed` answerable ones
    below = [score for score in out_scores + in_scores if score < ceiling]
    floor = max(below) if below else ceiling
    return round((floor + ceiling) / 2, 4)


def print_report(report: dict[str, Any], out: IO[str]) -> None:
    """Print the evaluation as a small table."""

    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    columns = ("questions", "in_scope", "r@1", "r@5", "mrr", "in_scope_abstained")
    print(f"{'set':<16}" + "".join(f"{name:>20}" for name in columns), file=out)
    lines = [("all", report)] + [(f"lang={k}", v) for k, v in report["by_lang"].items()]
    lines += [
        ("same-language", report["same_language"]),
        ("cross-lingual", report["cross_lingual"]),
    ]
    for name, values in lines:
        print(f"{name:<16}" + "".join(f"{fmt(values.get(c)):>20}" for c in columns), file=out)
    print(
        f"out of scope: {report['out_of_scope']} questions, "
        f"{fmt(report['out_of_scope_abstained'])} abstained; answerable wrongly abstained: "
        f"{fmt(report['in_scope_abstained'])}; threshold {report['threshold']}",
        file=out,
    )
    print(
        f"answer latency: p50 {fmt(report['latency_p50_ms'])} ms, "
        f"p95 {fmt(report['latency_p95_ms'])} ms",
        file=out,
    )


def cmd_eval(args: argparse.Namespace, out: IO[str]) -> int:
    """Run an evaluation set and print (or write as JSON) the figures."""
    try:
        questions = load_questions(Path(args.questions))
    except (OSError, ValueError) as error:
        print(f"learncity: {error}", file=sys.stderr)
        return 2
    services = _services(_settings(args))
    services.knowledge.current  # noqa: B018 - load and sync first: not part of answer latency
    services.assistant.warm_up()
    report = evaluate(services.assistant, questions)
    report["suggested_threshold"] = calibrate(report["rows"])
    if not args.rows:
        report.pop("rows")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str), file=out)
    else:
        print_report(report, out)
        for miss in report["misses"]:
            print(f"  miss: {json.dumps(miss, ensure_ascii=False)}", file=out)
    services.close()
    return 0


# --- run -----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, out: IO[str]) -> int:
    """Index, then run the Telegram bot (with a token) or the terminal chat."""
    settings = _settings(args)
    services = _services(settings)
    report = services.knowledge.reload()
    print(
        f"indexed {report.files} files ({report.index.embedded} chunks embedded, "
        f"{len(report.errors)} problems)",
        file=out,
    )
    for error in report.errors:
        print(str(error), file=sys.stderr)
    if settings.telegram_bot_token is not None:
        from bot.application import run_bot

        try:
            run_bot(settings, services)
        finally:
            services.close()
        return 0
    lang = args.lang or settings.default_language
    print(t("cli.no_token", lang), file=out)
    services.warm_up()
    try:
        chat(services.assistant, lang=lang, stdin=sys.stdin, out=out)
    except KeyboardInterrupt:
        print("\n" + t("cli.chat_bye", lang), file=out)
    finally:
        services.close()
    return 0


# --- main ----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `learncity` command."""
    parser = argparse.ArgumentParser(
        prog="learncity", description="The Learning City Assistant (knowledge, index, answers)."
    )
    parser.add_argument(
        "--knowledge",
        metavar="DIR",
        help="knowledge folder (env LEARNCITY_KNOWLEDGE_DIR; ./knowledge)",
    )
    parser.add_argument(
        "--data", metavar="DIR", help="data folder (env LEARNCITY_DATA_DIR; ./data)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("index", help="sync the search index with the knowledge folder")
    commands.add_parser("check", help="validate the knowledge folder; exit 1 on any problem")
    ask = commands.add_parser("ask", help="answer a question ('-': one per line from stdin, JSON)")
    ask.add_argument("question", help="the question, or - to read one per line from stdin")
    ask.add_argument("--lang", choices=("it", "en"), help="answer language (default: detected)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    chat_parser = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat_parser.add_argument("--lang", choices=("it", "en"))
    evaluation = commands.add_parser(
        "eval", help="measure retrieval and abstention on a question set"
    )
    evaluation.add_argument("--questions", required=True, metavar="FILE.jsonl")
    evaluation.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluation.add_argument(
        "--rows", action="store_true", help="include every question in the JSON"
    )
    run = commands.add_parser("run", help="index, then run the Telegram bot or the terminal chat")
    run.add_argument("--lang", choices=("it", "en"))
    return parser


_LOG_HANDLER = "learncity-cli"


def configure_logging(*, verbose: bool) -> None:
    """Send log records to stderr: warnings and errors only, or progress too with -v."""
    level = logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == _LOG_HANDLER]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_LOG_HANDLER)
    # Some libraries set their own logger to DEBUG at import (bm25s does): those records skip
    # the root's level, so the handler itself must filter them.
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


_COMMANDS = {
    "index": cmd_index,
    "check": cmd_check,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "eval": cmd_eval,
    "run": cmd_run,
}


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None) -> int:
    """Run the `learncity` command; return its exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    # The embedded model would otherwise start one BLAS thread per core on each call.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        return _COMMANDS[args.command](args, out or sys.stdout)
    except BrokenPipeError:  # `learncity ask - | head`
        return 0
    except ValidationError as error:  # a bad setting in the environment or .env
        print(f"learncity: invalid settings: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
