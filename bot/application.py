"""The Telegram adapter's composition root: `build_application` wires every handler once, in order.

Handler groups (lower runs first; `ApplicationHandlerStop` ends the update's processing):
  -4  scope: channel posts and group chatter (no command, no mention) stop here
  -3  prefetch: the language choice and areas' state are read into memory (off the event loop)
  -2  safeguarding: helplines before anything else (urgent danger stops here)
  -1  flood control: a polite "slow down" past the limit
   0  the wait for a reason written after 👎 -> "other" (bot/feedback.py; user data, 2 minutes)
   1  commands, buttons, areas (skills, reminders), location, free text, then odd-input catch-alls
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseHandler, Defaults
from telegram.warnings import PTBUserWarning

from bot.answers import AnswerHandlers
from bot.chat_serial import serial_processor  # replicas
from bot.courses import CourseHandlers
from bot.deps import BotDeps, ReloadSummary
from bot.errors import ErrorHandler
from bot.events import EventHandlers
from bot.odd import Gate, OddHandlers
from bot.partners import PartnerHandlers
from bot.persistence import SQLPersistence
from bot.school import SchoolHandlers
from bot.sending import ResilientRateLimiter
from bot.staff import StaffHandlers, notify_staff
from bot.start import StartHandlers
from bot.storage import BotStorage
from bot.watcher import KnowledgeWatcher
from learncity.db import BlockingCalls, DatabaseUnavailable, ForgetsUsers
from learncity.flood import FloodControl
from learncity.i18n import supported_languages, t

if TYPE_CHECKING:
    from learncity.app import Services
    from learncity.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = ("start", "help", "courses", "events", "school", "language", "privacy", "forget")


class Area(Protocol):
    """A feature area from another package (skills, reminders): it hands PTB its handlers.

    It may also define `async post_init(application)` and `async post_shutdown(application)`, and
    `async prefetch(update)`: read, off the event loop, what its filters need (run in group -3).
    """

    def handlers(self) -> Sequence[BaseHandler[Any, Any, Any]]:
        """Return the handlers to register in group 1, before free text."""
        ...


def _user_stores(services: Services, storage: BotStorage) -> list[ForgetsUsers]:
    """Return every store holding personal data, for /privacy and /forget."""
    stores: list[ForgetsUsers] = [storage]
    if services.skills is not None:
        stores.append(services.skills)
    if services.reminders is not None:
        stores.append(services.reminders.store)
    stores.append(services.contexts)
    return stores


def _summarise(report: Any) -> ReloadSummary:
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


def _calendar_file(services: Services) -> Any:
    def make(kind: str, record_id: str, lang: str) -> bytes | None:
        from retrieval.calendar import NoScheduleError, event_ics, programme_ics

        kb = services.knowledge.current
        zone = services.settings.zone
        try:
            if kind == "event" and record_id in kb.events:
                return event_ics(kb.events[record_id], None, zone, lang)
            if kind == "programme" and record_id in kb.programmes:
                return programme_ics(kb.programmes[record_id], zone, lang)
        except NoScheduleError:
            return None
        return None

    return make


def make_deps(
    settings: Settings,
    services: Services,
    storage: BotStorage,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    db: BlockingCalls | None = None,
) -> BotDeps:
    """Build what the handlers need from the settings and the services."""

    def reload_knowledge() -> ReloadSummary:
        return _summarise(services.knowledge.reload())

    def embed(texts: list[str]) -> list[list[float]]:
        return services.embeddings.embed_documents(texts)

    return BotDeps(
        assistant=services.assistant,
        storage=storage,
        forgetters=_user_stores(services, storage),
        flood=FloodControl(
            max_messages=settings.flood_max_messages, window_seconds=settings.flood_window_seconds
        ),
        admin_ids=frozenset(settings.admin_user_ids),
        admin_chat_id=settings.admin_chat_id,
        default_language=settings.default_language,
        zone=settings.zone,
        reload_knowledge=reload_knowledge,
        calendar_file=_calendar_file(services),
        embed=embed,
        clock=clock,
        contexts=services.contexts,
        db=db or BlockingCalls(),
    )


def _areas(services: Services, deps: BotDeps) -> list[tuple[str, Area]]:
    """Return the feature areas whose services exist, with their command: /skills, /reminders."""
    from bot.reminders import ReminderHandlers
    from bot.skills import SkillsHandlers

    areas: list[tuple[str, Area]] = []
    if services.skills is not None:
        skills = SkillsHandlers(
            service=services.skills,
            language=deps.language,
            reminders=services.reminders,
            run=deps.db,
            reads=deps.reads,
        )
        areas.append(("skills", skills))
    if services.reminders is not None:
        reminders = ReminderHandlers(
            service=services.reminders, language=deps.language, run=deps.db
        )
        areas.append(("reminders", reminders))
    return areas


def _commands(lang: str, areas: Sequence[str]) -> list[BotCommand]:
    names = [*COMMANDS[:5], *areas, *COMMANDS[5:]]
    return [BotCommand(name, t(f"bot.commands.{name}", lang)) for name in names]


class _Lifecycle:
    """post_init / post_shutdown: warm up, set commands, watch the folder; then stop cleanly."""

    def __init__(
        self,
        *,
        services: Services,
        deps: BotDeps,
        areas: Sequence[Area],
        area_commands: Sequence[str],
        watch: bool,
    ) -> None:
        self._services = services
        self._deps = deps
        self._areas = areas
        self._area_commands = area_commands
        self._watch = watch
        self.watcher: KnowledgeWatcher | None = None

    async def post_init(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Warm the model and index, set the commands in every language, report broken files."""
        started = dt.datetime.now(dt.UTC)
        await asyncio.to_thread(self._services.warm_up)
        log.info(
            "model and index warm in %.1f s", (dt.datetime.now(dt.UTC) - started).total_seconds()
        )
        try:
            await application.bot.set_my_commands(
                _commands(self._deps.default_language, self._area_commands)
            )
            for lang in supported_languages():
                await application.bot.set_my_commands(
                    _commands(lang, self._area_commands), language_code=lang
                )
        except TelegramError as error:
            log.warning("could not register the bot's commands: %s", type(error).__name__)
        report = getattr(self._services.knowledge, "last_report", None)
        if report is not None and report.errors:
            await notify_staff(application.bot, self._deps, _summarise(report))
        for area in self._areas:
            hook = getattr(area, "post_init", None)
            if hook is not None:
                await hook(application)
        if self._watch:

            async def on_reload(result: ReloadSummary) -> None:
                await notify_staff(application.bot, self._deps, result)

            self.watcher = KnowledgeWatcher(
                root=self._services.knowledge.root,
                reload=self._deps.reload_knowledge,
                on_reload=on_reload,
            )
            self.watcher.start()

    async def post_shutdown(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Stop the watcher and the areas, then release the services."""
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
        for area in self._areas:
            hook = getattr(area, "post_shutdown", None)
            if hook is not None:
                await hook(application)
        await asyncio.to_thread(self._services.close)
        self._deps.db.close()
        self._deps.reads.close()


def build_application(
    settings: Settings,
    services: Services,
    *,
    watch: bool = True,
    clock: Callable[[], dt.datetime] | None = None,
    max_messages_per_second: float = 30.0,
    typing_after: float = 0.4,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the Telegram application: one composition of every handler, in explicit groups.

    `watch` re-indexes the knowledge folder on changes; `clock` fixes "now" (tests);
    `max_messages_per_second` is the overall send rate (Telegram's limit is about 30; a
    self-hosted Bot API server or the emulator may allow more); "typing…" is shown when an
    answer takes longer than `typing_after` seconds.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather")
    token = settings.telegram_bot_token.get_secret_value()
    protect_logs()
    storage = BotStorage(engine=services.engine)
    storage.create_tables()
    deps = make_deps(settings, services, storage, clock=clock, db=BlockingCalls())
    named_areas = _areas(services, deps)
    area_commands = [command for command, _ in named_areas]
    areas = [area for _, area in named_areas]
    deps = dataclasses.replace(
        deps,
        typing_after=typing_after,
        reminders=services.reminders is not None,
        areas=tuple(area_commands),
    )
    partners = PartnerHandlers.from_settings(settings, deps=deps)  # admins via partners.yaml
    lifecycle = _Lifecycle(
        services=services,
        deps=deps,
        areas=[*areas, partners],
        area_commands=area_commands,
        watch=watch,
    )

    persistence = SQLPersistence(storage=storage, run=deps.db)  # replicas: also the processor's
    builder = (
        ApplicationBuilder()
        .token(token)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                tzinfo=settings.zone,
            )
        )
        .rate_limiter(
            ResilientRateLimiter(
                overall_max_rate=max_messages_per_second,
                max_retries=5,
                network_attempts=4,
                on_undelivered=_undelivered_recorder(deps),
            )
        )
        # replicas: one update per chat at a time, across replicas (bot/chat_serial.py)
        .concurrent_updates(serial_processor(engine=storage.engine, persistence=persistence))
        .persistence(persistence)
        # httpcore checks every pooled connection on each request: a small pool is faster.
        .connection_pool_size(8)
        .pool_timeout(10)
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(20)
        .post_init(lifecycle.post_init)
        .post_shutdown(lifecycle.post_shutdown)
    )
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if settings.telegram_base_file_url:
        builder = builder.base_file_url(settings.telegram_base_file_url)
    application = builder.build()

    gate = Gate(
        deps=deps,
        prefetch=[area.prefetch for area in areas if hasattr(area, "prefetch")],
    )
    answers = AnswerHandlers(deps=deps)
    start = StartHandlers(deps=deps)
    courses = CourseHandlers(deps=deps, answers=answers)
    events = EventHandlers(deps=deps, answers=answers)
    school = SchoolHandlers(deps=deps, answers=answers)
    staff = StaffHandlers(deps=deps)
    odd = OddHandlers(deps=deps)
    start.add_menu_action("courses", courses.courses)
    start.add_menu_action("events", events.events)
    start.add_menu_action("school", school.school)

    application.add_handler(gate.scope_handler(), group=-4)
    application.add_handler(gate.prefetch_handler(), group=-3)
    application.add_handler(answers.safeguarding_handler(), group=-2)
    application.add_handler(gate.flood_handler(), group=-1)
    with warnings.catch_warnings():
        # A CallbackQueryHandler entry point with per_message=False is what we want: the state
        # belongs to the resident, not to one message.
        warnings.simplefilter("ignore", PTBUserWarning)
        application.add_handler(answers.feedback.wait_handler(), group=0)  # replicas
    group_one: list[BaseHandler[Any, Any, Any]] = [
        odd.edited_handler(),
        *start.handlers(),
        *staff.handlers(),
        *courses.handlers(),
        *events.handlers(),
        *school.handlers(),
        *answers.handlers(),
    ]
    for area in areas:
        group_one.extend(area.handlers())
    group_one.extend(partners.handlers())
    group_one.append(answers.text_handler())
    group_one.extend(odd.handlers())
    application.add_handlers(group_one, group=1)
    application.add_error_handler(
        ErrorHandler(
            token=token, language=deps.language, default_language=settings.default_language
        )
    )
    _LIFECYCLES[application] = lifecycle
    return application


def _undelivered_recorder(deps: BotDeps) -> Callable[[str, dict[str, Any], BaseException], Any]:
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


# The lifecycle of each application (tests read its watcher); kept out of bot_data, which is JSON.
_LIFECYCLES: WeakKeyDictionary[Any, _Lifecycle] = WeakKeyDictionary()


def lifecycle_of(application: Application[Any, Any, Any, Any, Any, Any]) -> _Lifecycle | None:
    """Return the lifecycle object of an application built here."""
    return _LIFECYCLES.get(application)


def run_bot(settings: Settings, services: Services) -> None:
    """Run the bot: long polling, or a webhook server when WEBHOOK_URL is set (stops on SIGTERM)."""
    application = build_application(settings, services)
    allowed = Update.ALL_TYPES
    if settings.webhook_url:
        secret = (
            settings.webhook_secret_token.get_secret_value()
            if settings.webhook_secret_token
            else None
        )
        url = settings.webhook_url.rstrip("/")
        # The server listens on the URL's own path (a proxy in front forwards it unchanged).
        path = urlsplit(url).path.strip("/")
        if not path:
            path = "telegram"
            url = f"{url}/{path}"
        log.info(
            "starting the webhook server on %s:%d", settings.webhook_listen, settings.webhook_port
        )
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=url,
            secret_token=secret,
            allowed_updates=allowed,
            drop_pending_updates=False,
        )
    else:
        log.info("starting long polling")
        application.run_polling(allowed_updates=allowed, drop_pending_updates=False)
