"""What the handlers need, typed against small Protocols, and the per-update language lookup."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from telegram import Update

from bot.storage import BotStorage
from learncity.db import BlockingCalls, DatabaseUnavailable, ForgetsUsers
from learncity.flood import FloodControl
from learncity.i18n import normalize_language
from retrieval.conversation import Context
from retrieval.types import Answer, Card, CardKind, ContactInfo, Filters

log = logging.getLogger(__name__)


class AssistantPort(Protocol):
    """The answering service (retrieval.assistant.Assistant)."""

    def ask(
        self,
        question: str,
        *,
        lang: str | None = None,
        filters: Filters | None = None,
        now: dt.datetime | None = None,
        context: Context | None = None,
    ) -> Answer: ...

    def browse(
        self,
        *,
        audience: str | None = None,
        topic: str | None = None,
        lang: str,
        offset: int = 0,
        limit: int = 5,
        now: dt.datetime | None = None,
    ) -> tuple[list[Card], int]: ...

    def events_between(
        self, start: dt.datetime, end: dt.datetime, *, lang: str, filters: Filters | None = None
    ) -> list[Card]: ...

    def nearest(
        self, lat: float, lon: float, *, lang: str, limit: int = 5, now: dt.datetime | None = None
    ) -> list[Card]: ...

    def card(
        self, kind: CardKind, record_id: str, *, lang: str, now: dt.datetime | None = None
    ) -> Card | None: ...

    def contact_for(self, kind: str, lang: str) -> ContactInfo: ...

    def safeguarding_contacts(self, lang: str) -> list[ContactInfo]: ...


class ContextPort(Protocol):
    """Where conversations are remembered (retrieval.context_store.ContextStore)."""

    def load(self, key: str, *, now: dt.datetime) -> Context: ...

    def save(self, key: str, context: Context, *, now: dt.datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    """What a re-index did, in plain values for staff messages."""

    summary: str
    errors: tuple[str, ...]  # "path:line: message"


def summarise_reload(report: Any) -> ReloadSummary:
    """Turn a knowledge reload report into plain text for staff."""
    index = getattr(report, "index", None)
    parts = [f"{getattr(report, 'files', '?')} files"]
    if index is not None:
        parts.append(
            f"{index.added} added, {index.updated} updated, {index.removed} removed, "
            f"{index.chunks} passages"
        )
    errors = tuple(str(error) for error in getattr(report, "errors", ()))
    parts.append(f"{len(errors)} problems")
    seconds = getattr(report, "seconds", None)
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    return ReloadSummary(summary=", ".join(parts), errors=errors)


@dataclass(frozen=True, slots=True)
class BotDeps:
    """Everything the handlers use, built once by the composition root (`app.root.make_deps`)."""

    assistant: AssistantPort
    storage: BotStorage
    forgetters: Sequence[ForgetsUsers]
    flood: FloodControl
    admin_ids: frozenset[int]
    admin_chat_id: int | None
    default_language: str
    zone: ZoneInfo
    reload_knowledge: Callable[[], ReloadSummary]
    calendar_file: Callable[[str, str, str], bytes | None]  # (kind, id, lang) -> .ics or None
    embed: Callable[[list[str]], list[list[float]]]
    max_question_chars: int = 1000
    typing_after: float = 0.4  # seconds of work before "typing…" is shown
    reminders: bool = False  # show 🔔 under cards (the reminders area is registered)
    areas: tuple[str, ...] = ()  # optional areas present (skills, reminders)
    clock: Callable[[], dt.datetime] | None = None  # tests fix the time; None: the real clock
    contexts: ContextPort | None = None  # conversations, for follow-up questions
    # Every database call from a handler goes through here: off the event loop, with a deadline.
    db: BlockingCalls = field(default_factory=BlockingCalls)
    # The reads made before any handler runs (language, questionnaire state) have their own
    # threads: writes stuck on a lock must not queue them up, and a short deadline.
    reads: BlockingCalls = field(default_factory=lambda: BlockingCalls(workers=4, timeout=2.0))

    def language(self, update: Update) -> str:
        """Return the language to answer `update` in: the user's choice, else Telegram's.

        Reads memory only: `load_language` (the first handler group) has fetched the choice.
        """
        user = update.effective_user
        if user is None:
            return self.default_language
        chosen = self.storage.cached_language(user.id)
        if chosen:  # a language whose catalogue was removed falls back to Telegram's
            return normalize_language(chosen, normalize_language(user.language_code,
                                                                 self.default_language))
        return normalize_language(user.language_code, self.default_language)

    async def load_language(self, user_id: int) -> None:
        """Bring the user's language choice into memory, off the event loop (best effort)."""
        if self.storage.language_known(user_id):
            return
        try:
            await self.reads(self.storage.language_of, user_id)
        except DatabaseUnavailable as error:
            # Telegram's language will do for this update; the next one tries again.
            log.warning("language choice not loaded: %s", error)

    def is_staff(self, update: Update) -> bool:
        """Return True when the update comes from a staff member (ADMIN_USER_IDS)."""
        user = update.effective_user
        return user is not None and user.id in self.admin_ids

    def now(self) -> dt.datetime:
        """Return the current time in the city's zone."""
        if self.clock is not None:
            return self.clock().astimezone(self.zone)
        return dt.datetime.now(self.zone)
