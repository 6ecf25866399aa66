"""The terminal adapter: render an `Answer` as text or JSON, and the interactive chat.

`learncity ask`, `learncity chat` and `learncity run` (without a token) use it; they call the
same `AnswerEngine.ask` as the bot, with the conversation kept in the database under a session
name, so follow-ups work in the terminal too and survive a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from learncity.i18n import supported_languages, t

if TYPE_CHECKING:
    from retrieval.context_store import ContextStore
    from retrieval.engine import AnswerEngine
    from retrieval.types import Answer, Card, ContactInfo


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


class Session:
    """One conversation with the engine: its context loaded before and saved after each answer.

    `store` None: stateless (plain `learncity ask`), every question stands alone.
    """

    def __init__(
        self, *, engine: AnswerEngine, store: ContextStore | None, name: str | None
    ) -> None:
        self._engine = engine
        self._store = store
        self._key = f"cli:{name}" if name else None

    def ask(self, question: str, *, lang: str | None = None) -> Answer:
        """Answer `question` in the light of this session's conversation so far."""
        from retrieval.conversation import Context

        now = dt.datetime.now(self._engine.zone)
        context = (
            self._store.load(self._key, now=now)
            if self._store is not None and self._key
            else Context()
        )
        answer = self._engine.ask(question, lang=lang, now=now, context=context)
        if self._store is not None and self._key and answer.kind == "answer":
            from retrieval.conversation import after_answer

            self._store.save(self._key, after_answer(context, answer), now=now)
        return answer


def answer_json(answer: Answer) -> dict[str, Any]:
    """Return the JSON object of one answer (the `ask --json` and `ask -` schema)."""
    return {
        "question": answer.question,
        "lang": answer.lang,
        "kind": answer.kind,
        "abstained": answer.abstained,
        "safeguarding": answer.safeguarding,
        "answer": render_answer(answer),
        "sources": [
            {
                "path": source.path,
                "title": source.title,
                "record_id": source.record_id,
                "kind": source.kind,
                "score": round(source.score, 4),
            }
            for source in answer.sources
        ],
        "programmes": [
            {"id": card.id, "title": card.title}
            for card in answer.cards
            if card.kind == "programme"
        ],
        "events": [
            {"id": card.id, "title": card.title, "when": card.when}
            for card in answer.cards
            if card.kind == "event"
        ],
        "helplines": [_contact_text(contact) for contact in answer.helplines],
        "latency_ms": round(answer.latency_ms, 2),
    }


def render_answer(answer: Answer) -> str:
    """Return an answer as terminal text: helplines, lead, passage, cards, contact, sources."""
    lang = answer.lang
    blocks: list[str] = []
    if answer.helplines:
        lines = [t("cli.safeguarding_intro", lang)]
        lines += [f"  • {_contact_text(contact)}" for contact in answer.helplines]
        lines.append(t("cli.safeguarding_emergency", lang))
        blocks.append("\n".join(lines))
    if answer.text and answer.kind != "safeguarding":
        blocks.append(answer.text)
    if answer.passage is not None and answer.passage.text:
        title, heading = answer.passage.title, answer.passage.heading
        place = f"{title} › {heading}" if heading and heading != title else title
        blocks.append(f"{place}\n{answer.passage.text}" if place else answer.passage.text)
    if answer.cards:
        blocks.append("\n".join(_card_text(card) for card in answer.cards))
    if answer.abstained and answer.suggestions:
        blocks.append(
            t("answers.abstain_suggestions", lang)
            + "\n"
            + "\n".join(f"• {title}" for title in answer.suggestions)
        )
    if answer.contact is not None:
        blocks.append(t("cli.contact", lang) + " " + _contact_text(answer.contact))
    if answer.sources and answer.kind == "answer":
        lines = [t("cli.sources", lang)]
        for number, source in enumerate(answer.sources[:3], start=1):
            where = source.path + (f" — {source.url}" if source.url else "")
            lines.append(f"  [{number}] {source.title} ({where})")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _card_text(card: Card) -> str:
    details = " · ".join(part for part in (card.when, card.where, card.cost) if part)
    return f"• {card.title}" + (f" — {details}" if details else "")


def _contact_text(contact: ContactInfo) -> str:
    parts = [contact.name, *(v for v in (contact.phone, contact.email, contact.url) if v)]
    line = " · ".join(parts)
    return f"{line} ({contact.hours})" if contact.hours else line


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
