"""PTB's post_init / post_shutdown: start and stop, in order, what the composition root built.

post_init: warm the model and index, set the commands in every language, tell staff about broken
knowledge files, start the reminder scheduler and the areas' hooks (partners' feed refresh), then
watch the knowledge folder. post_shutdown stops them in the same order and releases the services.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from telegram import Bot, BotCommand
from telegram.error import TelegramError
from telegram.ext import Application

from bot.deps import BotDeps, ReloadSummary, summarise_reload
from bot.staff import notify_staff
from bot.watcher import KnowledgeWatcher
from learncity.i18n import supported_languages, t

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

COMMANDS = ("start", "help", "courses", "events", "school", "language", "privacy", "forget")


class Startable(Protocol):
    """A background service started in post_init and stopped in post_shutdown (the scheduler)."""

    async def start(self) -> None:
        """Start working in the running event loop."""
        ...

    async def stop(self) -> None:
        """Stop and wait for the work in flight."""
        ...


def bot_commands(lang: str, areas: Sequence[str]) -> list[BotCommand]:
    """Return the command menu in `lang`, the areas' commands after the first five."""
    names = [*COMMANDS[:5], *areas, *COMMANDS[5:]]
    return [BotCommand(name, t(f"bot.commands.{name}", lang)) for name in names]


def staff_notifier(bot: Bot, deps: BotDeps) -> Callable[[ReloadSummary], Awaitable[None]]:
    """Return the callback that tells staff what a re-index found wrong."""

    async def on_reload(result: ReloadSummary) -> None:
        await notify_staff(bot, deps, result)

    return on_reload


class Lifecycle:
    """post_init / post_shutdown: warm up, set commands, start services; then stop cleanly."""

    def __init__(
        self,
        *,
        deps: BotDeps,
        warm_up: Callable[[], None],
        close: Callable[[], None],
        last_report: Callable[[], Any],
        area_commands: Sequence[str],
        scheduler: Startable | None = None,
        hooks: Sequence[object] = (),
        watcher: KnowledgeWatcher | None = None,
    ) -> None:
        self._deps = deps
        self._warm_up = warm_up
        self._close = close
        self._last_report = last_report
        self._area_commands = area_commands
        self.scheduler = scheduler
        self._hooks = hooks
        self.watcher = watcher

    async def post_init(self, application: AnyApplication) -> None:
        """Warm up, set the commands, report broken files, start the scheduler and the watcher."""
        started = dt.datetime.now(dt.UTC)
        await asyncio.to_thread(self._warm_up)
        log.info(
            "model and index warm in %.1f s", (dt.datetime.now(dt.UTC) - started).total_seconds()
        )
        await self._set_commands(application.bot)
        report = self._last_report()
        if report is not None and report.errors:
            await notify_staff(application.bot, self._deps, summarise_reload(report))
        if self.scheduler is not None:  # rebuilt from the database
            await self.scheduler.start()
        for hook in self._hooks:
            start = getattr(hook, "post_init", None)
            if start is not None:
                await start(application)
        if self.watcher is not None:
            self.watcher.start()

    async def _set_commands(self, bot: Bot) -> None:
        try:
            await bot.set_my_commands(
                bot_commands(self._deps.default_language, self._area_commands)
            )
            for lang in supported_languages():
                await bot.set_my_commands(
                    bot_commands(lang, self._area_commands), language_code=lang
                )
        except TelegramError as error:
            log.warning("could not register the bot's commands: %s", type(error).__name__)

    async def post_shutdown(self, application: AnyApplication) -> None:
        """Stop the watcher, the scheduler and the areas, then release the services."""
        if self.watcher is not None:
            await self.watcher.stop()
        if self.scheduler is not None:  # waits for the messages in flight
            await self.scheduler.stop()
        for hook in self._hooks:
            stop = getattr(hook, "post_shutdown", None)
            if stop is not None:
                await stop(application)
        await asyncio.to_thread(self._close)
        self._deps.db.close()
        self._deps.reads.close()


# The lifecycle of each application (tests read its watcher); kept out of bot_data, which is JSON.
_LIFECYCLES: WeakKeyDictionary[Any, Lifecycle] = WeakKeyDictionary()


def register_lifecycle(application: AnyApplication, lifecycle: Lifecycle) -> None:
    """Remember the lifecycle of `application` (for `lifecycle_of`)."""
    _LIFECYCLES[application] = lifecycle


def lifecycle_of(application: AnyApplication) -> Lifecycle | None:
    """Return the lifecycle object of an application built by the composition root."""
    return _LIFECYCLES.get(application)
