"""The composition root: every long-lived object is built here, once, from `Settings`.

Nothing is built at import. The CLI (`app.cli`) calls `build_services(settings)` and hands the
services to the terminal adapter, or to `build_application` for Telegram, which builds the bot's
deps, the `Application`, the reminder scheduler and the knowledge watcher, registers the handlers
(`bot.application.HANDLER_TABLE`) and hands the lifecycle (`bot.lifecycle.Lifecycle`) to PTB.
Tests build through these same functions with their own settings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel
    from sqlalchemy import Engine
    from telegram import Bot
    from telegram.ext import Application

    from bot.application import Area
    from bot.deps import BotDeps
    from bot.storage import BotStorage
    from flows.service import FlowService
    from learncity.content.knowledge_base import KnowledgeBase
    from learncity.db import BlockingCalls, ForgetsUsers
    from learncity.settings import Settings
    from partners.service import PartnerService
    from reminders.clock import Clock
    from reminders.scheduler import ReminderScheduler
    from reminders.service import Catalog, ReminderService
    from retrieval.context_store import ContextStore
    from retrieval.engine import AnswerEngine
    from retrieval.indexer import Indexer
    from retrieval.knowledge_service import KnowledgeService
    from retrieval.search import HybridSearcher, Searcher
    from retrieval.shared_index import VersionPoller
    from retrieval.store import ChromaVectorIndex

log = logging.getLogger(__name__)

# --- the answer services -----------------------------------------------------------------------
@dataclass
class Services:
    """Every long-lived service of the assistant, built once per process."""

    settings: Settings
    embeddings: Embeddings
    index: ChromaVectorIndex
    searcher: HybridSearcher
    indexer: Indexer
    knowledge: KnowledgeService
    assistant: AnswerEngine
    engine: Engine
    contexts: ContextStore
    reminders: ReminderService | None = None
    skills: FlowService | None = None
    follower: VersionPoller | None = None  # replicas: reload the index another one synced

    def warm_up(self) -> None:
        """Load the model, knowledge base and index now, so the first resident does not wait."""
        warm = getattr(self.embeddings, "warm_up", None)
        if callable(warm):
            warm()
        self.knowledge.current  # noqa: B018 - loads and syncs on first use
        self.assistant.warm_up()
        if self.follower is not None:
            self.follower.start()

    def close(self) -> None:
        """Stop following the index version; release the database connections."""
        if self.follower is not None:
            self.follower.stop()
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    embeddings: Embeddings | None = None,
    chat_model: BaseChatModel | None = None,
) -> Services:
    """Build every service from the settings.

    `embeddings` lets tests share one loaded model; `chat_model` replaces the configured LLM
    (a fake one in tests: the paid model is the edge we cannot reach).
    """
    from learncity.db import make_engine
    from retrieval.context_store import ContextStore
    from retrieval.embedding import make_embeddings
    from retrieval.indexer import Indexer
    from retrieval.knowledge_wiring import build_knowledge
    from retrieval.search import EXACT_SCAN_LIMIT, HybridSearcher
    from retrieval.store import ChromaVectorIndex

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    model = embeddings if embeddings is not None else make_embeddings(settings)
    if settings.chroma_server_url:
        index = ChromaVectorIndex(embeddings=model, url=settings.chroma_server_url)
    else:
        index = ChromaVectorIndex(embeddings=model, path=settings.chroma_dir)
    # With a Chroma server, questions never wait on it: every replica scans its vectors in memory.
    exact_limit = None if settings.chroma_server_url else EXACT_SCAN_LIMIT
    searcher = HybridSearcher(index=index, embeddings=model, exact_limit=exact_limit)
    # The knowledge service refreshes the searcher after each sync, once.
    indexer = Indexer(index=index, embeddings=model)
    engine = make_engine(settings.effective_database_url)
    parts = build_knowledge(root=settings.knowledge_dir, index=index, indexer=indexer,
                            searcher=searcher, embeddings=model, engine=engine)
    knowledge = parts.knowledge
    assistant = build_assistant(
        settings, knowledge=knowledge, searcher=parts.searcher, embeddings=model,
        chat_model=chat_model,
    )
    contexts = ContextStore(engine=engine)
    contexts.create_schema()
    return Services(
        settings=settings,
        embeddings=model,
        index=index,
        searcher=searcher,
        indexer=indexer,
        knowledge=knowledge,
        assistant=assistant,
        engine=engine,
        contexts=contexts,
        reminders=build_reminders(settings, engine=engine, knowledge=lambda: knowledge.current),
        skills=build_skills(settings, engine=engine, knowledge=lambda: knowledge.current),
        follower=parts.poller,
    )


def build_assistant(
    settings: Settings,
    *,
    knowledge: KnowledgeService,
    searcher: Searcher,
    embeddings: Embeddings,
    chat_model: BaseChatModel | None = None,
) -> AnswerEngine:
    """Build the answer engine: relevance gate, small talk, languages, safeguarding, LLM."""
    import retrieval
    from learncity.safeguarding import SafeguardingClassifier
    from retrieval.engine import AnswerEngine
    from retrieval.examples import ExampleBank
    from retrieval.gate import RelevanceGate
    from retrieval.language import LanguageIdentifier
    from retrieval.llm import LLMPhraser, make_chat_model
    from retrieval.smalltalk import SmalltalkDetector

    chat_model = chat_model if chat_model is not None else make_chat_model(settings)
    data = Path(retrieval.__file__).parent / "data"
    safeguarding = SafeguardingClassifier(embeddings=embeddings)
    return AnswerEngine(
        knowledge=knowledge,
        searcher=searcher,
        embeddings=embeddings,
        zone=settings.zone,
        gate=RelevanceGate(
            off_topics=ExampleBank.from_file(data / "out_of_scope.yaml", embeddings=embeddings),
            on_topics=ExampleBank.from_file(data / "in_scope.yaml", embeddings=embeddings),
            threshold=settings.abstain_threshold,
        ),
        smalltalk=SmalltalkDetector(
            bank=ExampleBank.from_file(data / "smalltalk.yaml", embeddings=embeddings)
        ),
        languages=LanguageIdentifier(),
        safeguard=lambda text, vector: safeguarding.classify(text, vector=vector),
        llm=LLMPhraser(model=chat_model) if chat_model is not None else None,
        default_lang=settings.default_language,
    )


# --- the areas' services -----------------------------------------------------------------------
def build_reminders(
    settings: Settings,
    *,
    engine: Engine,
    knowledge: Callable[[], Catalog],
    clock: Clock | None = None,
) -> ReminderService:
    """Build the reminder service on `engine` (creating its tables if missing)."""
    from reminders.clock import SystemClock
    from reminders.digest import DigestSchedule, QuietHours, parse_clock_time
    from reminders.service import ReminderService
    from reminders.store import ReminderStore

    store = ReminderStore(engine=engine)
    store.create_schema()
    zone = settings.zone
    return ReminderService(
        store=store, knowledge=knowledge, clock=clock or SystemClock(), zone=zone,
        default_offsets=settings.reminder_offsets,
        quiet_hours=QuietHours.parse(settings.quiet_hours, zone),
        digest=DigestSchedule(settings.digest_weekday, parse_clock_time(settings.digest_time),
                              zone),
        delivery_rate_per_second=settings.delivery_rate_per_second,
    )


def build_skills(
    settings: Settings, *, engine: Engine, knowledge: Callable[[], KnowledgeBase]
) -> FlowService:
    """Build the guided self-assessments service on `engine` (creating its tables if missing)."""
    from flows.service import FlowService
    from flows.store import FlowStore

    flow_store = FlowStore(engine=engine)
    flow_store.create_schema()
    return FlowService(
        assessments_dir=settings.knowledge_dir / "assessments",
        store=flow_store,
        programmes=lambda: knowledge().programmes,
        zone=settings.zone,
    )


def build_partners(
    settings: Settings, *, clock: Callable[[], dt.datetime] | None = None
) -> PartnerService:
    """Build the partners' listings service (admins come from partners.yaml)."""
    from partners.service import PartnerService

    return PartnerService(
        knowledge_dir=settings.knowledge_dir,
        zone=settings.zone,
        max_bytes=int(settings.partner_max_mb * 1024 * 1024),
        timeout=settings.partner_fetch_timeout,
        clock=clock,
    )


def build_reminder_scheduler(
    service: ReminderService, *, bot: Bot, max_in_flight: int = 8
) -> ReminderScheduler:
    """Build the scheduler that delivers reminders through `bot` (started in post_init)."""
    from bot.reminders import TelegramSender
    from learncity.db import Leadership
    from reminders.delivery import Deliverer
    from reminders.scheduler import SENDER_TASK, ReminderScheduler

    deliverer = Deliverer(
        sender=TelegramSender(bot=bot),
        ledger=service,
        clock=service.clock,
        rate_per_second=service.delivery_rate_per_second,
        max_in_flight=max_in_flight,
    )
    # On PostgreSQL one elected replica sends for all: Telegram's limits are the bot's.
    sender = (Leadership(engine=service.store.engine, name=SENDER_TASK)
              if service.store.multi_worker else None)
    return ReminderScheduler(
        service=service, deliverer=deliverer, clock=service.clock, sender=sender
    )


# --- the Telegram bot --------------------------------------------------------------------------
def user_stores(services: Services, storage: BotStorage) -> list[ForgetsUsers]:
    """Return every store holding personal data, for /privacy and /forget."""
    stores: list[ForgetsUsers] = [storage]
    if services.skills is not None:
        stores.append(services.skills)
    if services.reminders is not None:
        stores.append(services.reminders.store)
    stores.append(services.contexts)
    return stores


def _calendar_file(services: Services) -> Callable[[str, str, str], bytes | None]:
    def make(kind: str, record_id: str, lang: str) -> bytes | None:
        from learncity.content.calendar import NoScheduleError, event_ics, programme_ics

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
    from bot.deps import BotDeps, ReloadSummary, summarise_reload
    from learncity.db import BlockingCalls
    from learncity.flood import FloodControl

    def reload_knowledge() -> ReloadSummary:
        return summarise_reload(services.knowledge.reload())

    def embed(texts: list[str]) -> list[list[float]]:
        return services.embeddings.embed_documents(texts)

    return BotDeps(
        assistant=services.assistant,
        storage=storage,
        forgetters=user_stores(services, storage),
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


def _application(
    settings: Settings, deps: BotDeps, *, token: str, max_messages_per_second: float
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build PTB's `Application`: defaults, rate limiter, persistence and HTTP timeouts."""
    from telegram import LinkPreviewOptions
    from telegram.constants import ParseMode
    from telegram.ext import ApplicationBuilder, Defaults

    from bot.application import undelivered_recorder
    from bot.chat_serial import serial_processor
    from bot.persistence import SQLPersistence
    from bot.sending import ResilientRateLimiter

    # One chat's updates one after the other, across replicas on PostgreSQL; the processor
    # writes the chat's data back before the chat's lock goes.
    persistence = SQLPersistence(storage=deps.storage, run=deps.db)
    processor = serial_processor(engine=deps.storage.engine, persistence=persistence)
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
                on_undelivered=undelivered_recorder(deps),
            )
        )
        .concurrent_updates(processor)
        .update_queue(processor.arrivals)
        .persistence(persistence)
        # httpcore checks every pooled connection on each request: a small pool is faster.
        .connection_pool_size(8)
        .pool_timeout(10)
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(20)
    )
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if settings.telegram_base_file_url:
        builder = builder.base_file_url(settings.telegram_base_file_url)
    return builder.build()


def build_application(
    settings: Settings,
    services: Services,
    *,
    watch: bool = True,
    clock: Callable[[], dt.datetime] | None = None,
    max_messages_per_second: float = 30.0,
    typing_after: float = 0.4,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the Telegram application on the services: deps, handlers, scheduler, watcher.

    `watch` re-indexes the knowledge folder on changes; `clock` fixes "now" (tests);
    `max_messages_per_second` is the overall send rate (Telegram's limit is about 30; a
    self-hosted Bot API server or the emulator may allow more); "typing…" is shown when an
    answer takes longer than `typing_after` seconds.
    """
    from bot.application import make_handlers, protect_logs, register_handlers
    from bot.partners import PartnerHandlers
    from bot.storage import BotStorage
    from learncity.db import BlockingCalls

    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather")
    token = settings.telegram_bot_token.get_secret_value()
    protect_logs()
    storage = BotStorage(engine=services.engine)
    storage.create_tables()
    deps = make_deps(settings, services, storage, clock=clock, db=BlockingCalls())
    named_areas = _areas(services, deps)
    area_commands = [command for command, _ in named_areas]
    deps = dataclasses.replace(
        deps,
        typing_after=typing_after,
        reminders=services.reminders is not None,
        areas=tuple(area_commands),
    )
    partners = PartnerHandlers(  # admins via partners.yaml
        service=build_partners(settings, clock=deps.clock),
        deps=deps,
        refresh_seconds=settings.partner_refresh_seconds,
    )
    application = _application(
        settings, deps, token=token, max_messages_per_second=max_messages_per_second
    )
    areas = [area for _, area in named_areas]
    register_handlers(
        application, make_handlers(deps, areas=areas, partners=partners, token=token)
    )
    _attach_lifecycle(
        application, services, deps, hooks=[*areas, partners], area_commands=area_commands,
        watch=watch,
    )
    return application


def _attach_lifecycle(
    application: Application[Any, Any, Any, Any, Any, Any],
    services: Services,
    deps: BotDeps,
    *,
    hooks: list[Any],
    area_commands: list[str],
    watch: bool,
) -> None:
    """Hand PTB the start and stop of what the root built: scheduler, watcher, services."""
    from bot.lifecycle import Lifecycle, register_lifecycle, staff_notifier
    from bot.watcher import KnowledgeWatcher

    scheduler = (build_reminder_scheduler(services.reminders, bot=application.bot)
                 if services.reminders is not None else None)
    watcher = (
        KnowledgeWatcher(
            root=services.knowledge.root,
            reload=deps.reload_knowledge,
            on_reload=staff_notifier(application.bot, deps),
        )
        if watch
        else None
    )
    lifecycle = Lifecycle(
        deps=deps,
        warm_up=services.warm_up,
        close=services.close,
        last_report=lambda: getattr(services.knowledge, "last_report", None),
        area_commands=area_commands,
        scheduler=scheduler,
        hooks=hooks,
        watcher=watcher,
    )
    application.post_init = lifecycle.post_init
    application.post_shutdown = lifecycle.post_shutdown
    register_lifecycle(application, lifecycle)


def run_bot(settings: Settings, services: Services) -> None:
    """Run the bot: long polling, or a webhook server when WEBHOOK_URL is set (stops on SIGTERM)."""
    from telegram import Update

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
