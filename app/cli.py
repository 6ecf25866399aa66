"""The `learncity` command (the roof's entry point): parse the arguments, build the services
through the composition root (`app.root`) and hand them to an adapter (`terminal`, `bot`).

    learncity [--knowledge DIR] [--data DIR] index | check | ask | chat | run

`--knowledge` and `--data` override LEARNCITY_KNOWLEDGE_DIR / LEARNCITY_DATA_DIR (defaults
./knowledge and ./data). Exit codes: 0 done, 1 problems found (check) or failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from learncity.i18n import normalize_language, supported_languages, t

if TYPE_CHECKING:
    from app.root import Services
    from learncity.settings import Settings

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
    from app.root import build_services

    return build_services(settings)


# --- index and check -----------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace, out: IO[str]) -> int:
    """Sync the index with the knowledge folder and print what changed."""
    from terminal.knowledge import print_index_report

    services = _services(_settings(args))
    try:
        report = services.knowledge.reload()
    finally:
        services.close()
    return print_index_report(report, out=out, err=sys.stderr)


def cmd_check(args: argparse.Namespace, out: IO[str]) -> int:
    """Validate the knowledge folder only; list every problem as path:line: message."""
    from terminal.knowledge import check_folder

    settings = _settings(args)
    return check_folder(settings.knowledge_dir, settings.data_dir, out=out, err=sys.stderr)


# --- ask and chat --------------------------------------------------------------------------------
def cmd_ask(args: argparse.Namespace, out: IO[str]) -> int:
    """Answer one question, or one per line from stdin (`-`) as JSON lines."""
    from terminal.ask import ask
    from terminal.session import Session

    services = _services(_settings(args))
    services.knowledge.current  # noqa: B018 - load and sync before the first question
    session = Session(
        engine=services.assistant,
        store=services.contexts if args.session else None,
        name=args.session,
    )
    lang = normalize_language(args.lang) if args.lang else None
    try:
        return ask(session, args.question, lang=lang, as_json=args.json, stdin=sys.stdin, out=out)
    finally:
        services.close()


def _chat(services: Services, lang: str, out: IO[str]) -> None:
    """Talk in the terminal, with the folder watched as the bot does."""
    from terminal.chat import run_chat
    from terminal.session import Session

    session = Session(engine=services.assistant, store=services.contexts, name="terminal")
    run_chat(session, root=services.knowledge.root, reload=services.knowledge.reload, lang=lang,
             stdin=sys.stdin, out=out)


def cmd_chat(args: argparse.Namespace, out: IO[str]) -> int:
    """Start the terminal conversation."""
    settings = _settings(args)
    services = _services(settings)
    services.warm_up()
    try:
        _chat(services, args.lang or settings.default_language, out)
    finally:
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
        from app.root import run_bot

        try:
            run_bot(settings, services)
        finally:
            services.close()
        return 0
    lang = args.lang or settings.default_language
    print(t("cli.no_token", lang), file=out)
    services.warm_up()
    try:
        _chat(services, lang, out)
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
    ask.add_argument(
        "--lang",
        choices=supported_languages(),
        help="reply language when the question's own cannot be told (default: detected)",
    )
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument(
        "--session",
        metavar="NAME",
        help="keep the conversation across questions (and runs) under NAME, for follow-ups",
    )
    chat_parser = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat_parser.add_argument("--lang", choices=supported_languages())
    run = commands.add_parser("run", help="index, then run the Telegram bot or the terminal chat")
    run.add_argument("--lang", choices=supported_languages())
    from partners.cli import add_commands

    add_commands(commands)  # import, export
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


def cmd_partners(args: argparse.Namespace, out: IO[str]) -> int:
    """Import a partner's listings or export the offer (partners/cli.py)."""
    from partners.cli import run as run_partners

    return run_partners(args, out, _settings(args))


_COMMANDS = {
    "import": cmd_partners,
    "export": cmd_partners,
    "index": cmd_index,
    "check": cmd_check,
    "ask": cmd_ask,
    "chat": cmd_chat,
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
