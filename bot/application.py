"""Which handler runs in which group, and in which order: `HANDLER_TABLE`, read top to bottom.

Handler groups (lower runs first; `ApplicationHandlerStop` ends the update's processing):
  -4  scope: channel posts and group chatter (no command, no mention) stop here
  -3  prefetch: the language choice and areas' state are read into memory (off the event loop)
  -2  safeguarding: helplines before anything else (urgent danger stops here)
  -1  flood control: a polite "slow down" past the limit
   0  the wait for a reason written after 👎 -> "other" (bot/feedback.py; user data, 2 minutes)
   1  commands, buttons, areas (skills, reminders), partners, free text, then odd-input catch-alls

The composition root (`app.root.build_application`) builds the deps, the `Application` and the
services; this module builds only the handler objects over them and registers the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from telegram.ext import Application, BaseHandler

from bot.answers import AnswerHandlers
from bot.courses import CourseHandlers
from bot.deps import BotDeps
from bot.errors import ErrorHandler
from bot.events import EventHandlers
from bot.odd import Gate, OddHandlers
from bot.partners import PartnerHandlers
from bot.school import SchoolHandlers
from bot.staff import StaffHandlers
from bot.start import StartHandlers
from learncity.db import DatabaseUnavailable

log = logging.getLogger(__name__)

AnyHandler = BaseHandler[Any, Any, Any]


class Area(Protocol):
    """A feature area from another package (skills, reminders): it hands PTB its handlers.

    It may also define `async post_init(application)` and `async post_shutdown(application)`, and
    `async prefetch(update)`: read, off the event loop, what its filters need (run in group -3).
    """

    def handlers(self) -> Sequence[AnyHandler]:
        """Return the handlers to register in group 1, before free text."""
        ...


@dataclass(frozen=True, slots=True)
class Handlers:
    """The handler objects of one application; `HANDLER_TABLE` picks their PTB handlers."""

    gate: Gate
    answers: AnswerHandlers
    start: StartHandlers
    staff: StaffHandlers
    courses: CourseHandlers
    events: EventHandlers
    school: SchoolHandlers
    odd: OddHandlers
    areas: Sequence[Area]
    partners: PartnerHandlers
    error: ErrorHandler


def make_handlers(
    deps: BotDeps, *, areas: Sequence[Area], partners: PartnerHandlers, token: str
) -> Handlers:
    """Build the handler objects over `deps` (the areas and partners come built)."""
    answers = AnswerHandlers(deps=deps)
    start = StartHandlers(deps=deps)
    courses = CourseHandlers(deps=deps, answers=answers)
    events = EventHandlers(deps=deps, answers=answers)
    school = SchoolHandlers(deps=deps, answers=answers)
    start.add_menu_action("courses", courses.courses)
    start.add_menu_action("events", events.events)
    start.add_menu_action("school", school.school)
    return Handlers(
        gate=Gate(
            deps=deps,
            prefetch=[area.prefetch for area in areas if hasattr(area, "prefetch")],
        ),
        answers=answers,
        start=start,
        staff=StaffHandlers(deps=deps),
        courses=courses,
        events=events,
        school=school,
        odd=OddHandlers(deps=deps),
        areas=areas,
        partners=partners,
        error=ErrorHandler(
            token=token, language=deps.language, default_language=deps.default_language
        ),
    )


def _feedback_wait(handlers: Handlers) -> list[AnyHandler]:
    return [handlers.answers.feedback.wait_handler()]


def _areas(handlers: Handlers) -> list[AnyHandler]:
    return [handler for area in handlers.areas for handler in area.handlers()]


Select = Callable[[Handlers], Sequence[AnyHandler]]

# (group, which handlers): registered in this order; within a group, the first match wins.
HANDLER_TABLE: tuple[tuple[int, Select], ...] = (
    (-4, lambda h: [h.gate.scope_handler()]),
    (-3, lambda h: [h.gate.prefetch_handler()]),
    (-2, lambda h: [h.answers.safeguarding_handler()]),
    (-1, lambda h: [h.gate.flood_handler()]),
    (0, _feedback_wait),
    (1, lambda h: [h.odd.edited_handler()]),
    (1, lambda h: h.start.handlers()),
    (1, lambda h: h.staff.handlers()),
    (1, lambda h: h.courses.handlers()),
    (1, lambda h: h.events.handlers()),
    (1, lambda h: h.school.handlers()),
    (1, lambda h: h.answers.handlers()),
    (1, _areas),
    (1, lambda h: h.partners.handlers()),
    (1, lambda h: [h.answers.text_handler()]),
    (1, lambda h: h.odd.handlers()),
)


def register_handlers(
    application: Application[Any, Any, Any, Any, Any, Any], handlers: Handlers
) -> None:
    """Register every row of `HANDLER_TABLE`, in order, and the one error handler."""
    for group, select in HANDLER_TABLE:
        application.add_handlers(list(select(handlers)), group=group)
    application.add_error_handler(handlers.error)


def protect_logs() -> None:
    """Keep tokens and residents' messages out of the logs, whatever the root level.

    httpx logs every request URL at INFO (the URL holds the token) and PTB logs raw updates at
    DEBUG (names, ids, text): both stay above those levels.
    """
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in ("telegram", "apscheduler"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (0) would follow a DEBUG root
            logger.setLevel(floor)


def undelivered_recorder(deps: BotDeps) -> Callable[[str, dict[str, Any], BaseException], Any]:
    """Return the callback that records, masked, a message Telegram never accepted."""

    async def record(endpoint: str, data: dict[str, Any], error: BaseException) -> None:
        text = str(data.get("text") or data.get("caption") or "")
        try:
            chat_id: int | None = int(data["chat_id"])
        except (KeyError, TypeError, ValueError):
            chat_id = None
        try:
            await deps.db(
                deps.storage.record_undelivered,
                method=endpoint,
                error=type(error).__name__,
                text=text,
                chat_id=chat_id,
            )
        except DatabaseUnavailable as db_error:
            log.warning("an undelivered %s was not recorded: %s", endpoint, db_error)

    return record
