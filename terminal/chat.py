"""The interactive terminal chat, with the knowledge folder watched as the bot does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from learncity.i18n import supported_languages, t
from terminal.render import render_answer
from terminal.session import Session

logger = logging.getLogger(__name__)


@contextmanager
def watching(root: Path, reload: Callable[[], object]) -> Iterator[None]:
    """Re-index within seconds of a change in the knowledge folder while the chat runs."""
    from watchfiles import watch

    stop = threading.Event()

    def run() -> None:
        for _changes in watch(root, stop_event=stop, debounce=500, raise_interrupt=False):
            try:
                reload()
            except Exception:  # a failed reload must not end the chat
                logger.exception("re-indexing the knowledge folder failed")

    thread = threading.Thread(target=run, name="knowledge-watch", daemon=True)
    if root.is_dir():
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=2)


def run_chat(
    session: Session,
    *,
    root: Path,
    reload: Callable[[], object],
    lang: str,
    stdin: IO[str],
    out: IO[str],
) -> None:
    """Talk in the terminal until the end, re-indexing `root` on changes; Ctrl-C says goodbye."""
    with watching(root, reload):
        try:
            chat(session, lang=lang, stdin=stdin, out=out)
        except KeyboardInterrupt:
            print("\n" + t("cli.chat_bye", lang), file=out)


def chat(session: Session, *, lang: str, stdin: IO[str], out: IO[str]) -> None:
    """Run an interactive conversation until /quit, end of input or Ctrl-C."""
    current = lang
    print(t("cli.chat_welcome", current), file=out)
    while True:
        line = _read_line(current, stdin, out)
        if line is None:
            break
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command in ("/quit", "/exit", "/q"):
                break
            current = _command(command, rest.strip().lower(), current, out)
            continue
        answer = session.ask(text, lang=current)
        print(render_answer(answer) + "\n", file=out)
    print(t("cli.chat_bye", current), file=out)


def _read_line(lang: str, stdin: IO[str], out: IO[str]) -> str | None:
    if stdin.isatty():
        try:
            return input(t("cli.chat_prompt", lang))
        except EOFError:
            return None
    out.write(t("cli.chat_prompt", lang))
    out.flush()
    line = stdin.readline()
    return line or None


def _command(command: str, argument: str, lang: str, out: IO[str]) -> str:
    """Run a chat command; return the language in use afterwards."""
    if command == "/lang":
        if argument in supported_languages():
            print(t("cli.chat_lang_set", argument), file=out)
            return argument
        languages = ", ".join(supported_languages())
        print(t("cli.chat_lang_unknown", lang, languages=languages), file=out)
    elif command in ("/help", "/start"):
        print(t("cli.chat_help", lang), file=out)
    elif command in ("/skills", "/reminders", "/school", "/courses", "/events"):
        print(t("cli.chat_in_telegram", lang), file=out)
    else:
        print(t("cli.chat_unknown_command", lang), file=out)
    return lang
