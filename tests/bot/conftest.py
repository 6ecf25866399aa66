"""Run the real bot (real PTB HTTP stack) against the Bot API emulator, with real services.

The services (embedding model, Chroma index of a copy of the sample knowledge folder) are built
once per test module; each test gets its own emulator, its own SQLite database and its own
Application, started by hand (so `post_init` is called here, as PTB only calls it in run_*).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from telegram.ext import Application

from app.root import Services, build_application, build_reminders, build_services, build_skills
from bot.lifecycle import lifecycle_of
from bot_api_emulator import BotApiEmulator
from bot_api_emulator.pytest_plugin import bot_api_emulator
from learncity.db import make_engine
from learncity.settings import Settings
from retrieval.embedding import UniversalSentenceEncoder

__all__ = ["bot_api_emulator"]

ADMIN_ID = 777


@pytest.fixture(scope="module")
def knowledge_copy(tmp_path_factory: pytest.TempPathFactory, sample_knowledge_dir: Path) -> Path:
    """Return a private copy of the sample knowledge folder (tests may edit it)."""
    target = tmp_path_factory.mktemp("knowledge") / "knowledge"
    shutil.copytree(sample_knowledge_dir, target)
    return target


@pytest.fixture(scope="module")
def module_services(
    tmp_path_factory: pytest.TempPathFactory,
    knowledge_copy: Path,
    embeddings: UniversalSentenceEncoder,
) -> Iterator[Services]:
    """Build the real services once per module, on the knowledge copy."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings(knowledge_dir=knowledge_copy, data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    services = build_services(settings, embeddings=embeddings)
    services.warm_up()
    yield services
    services.close()


@pytest.fixture
def sqlite_busy_timeout() -> float:
    """Return how long the test database waits for a lock (fault tests override it: shorter)."""
    return 5.0


@pytest.fixture
def services(module_services: Services, tmp_path: Path, sqlite_busy_timeout: float) -> Services:
    """Return the module's services with a fresh database for this test (every store on it).

    The areas are built by the composition root, as in production, on this test's database.
    """
    base = module_services
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.sqlite3'}", busy_timeout=sqlite_busy_timeout)
    knowledge = base.knowledge

    def current() -> Any:
        return knowledge.current

    return dataclasses.replace(
        base,
        engine=engine,
        reminders=build_reminders(base.settings, engine=engine, knowledge=current),
        skills=build_skills(base.settings, engine=engine, knowledge=current),
    )


def bot_settings(emulator: BotApiEmulator, services: Services, **overrides: Any) -> Settings:
    """Return settings that point the bot at the emulator."""
    values: dict[str, Any] = {
        "knowledge_dir": services.settings.knowledge_dir,
        "data_dir": services.settings.data_dir,
        "telegram_bot_token": emulator.token,
        "telegram_base_url": emulator.base_url,
        "telegram_base_file_url": emulator.base_file_url,
        "admin_user_ids": [ADMIN_ID],
        "default_language": "it",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class BotRunner:
    """Start and stop the bot by hand (a restart builds a new Application on the same database)."""

    def __init__(self, emulator: BotApiEmulator, services: Services) -> None:
        self.emulator = emulator
        self.services = services
        self.clock: Callable[[], dt.datetime] | None = None
        self.typing_after = 0.0  # show "typing…" at once, so tests can see it
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None

    async def start(
        self, *, watch: bool = False, **overrides: Any
    ) -> Application[Any, Any, Any, Any, Any, Any]:
        """Build, initialise, post_init, start and poll."""
        settings = bot_settings(self.emulator, self.services, **overrides)
        if dataclasses.is_dataclass(self.services):
            self.services = dataclasses.replace(self.services, settings=settings)
        else:  # a namespace standing in for Services with extra areas
            self.services = SimpleNamespace(**{**vars(self.services), "settings": settings})
        app = build_application(
            settings,
            self.services,
            watch=watch,
            clock=self.clock,
            typing_after=self.typing_after,
        )
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        self.app = app
        return app

    async def stop(self) -> None:
        """Stop polling and the application; flush the persistence; stop the watcher."""
        app = self.app
        if app is None:
            return
        self.app = None
        assert app.updater is not None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        lifecycle = lifecycle_of(app)
        if lifecycle is not None and lifecycle.watcher is not None:
            await lifecycle.watcher.stop()

    async def restart(self, **overrides: Any) -> Application[Any, Any, Any, Any, Any, Any]:
        """Stop the bot and start a new Application on the same database."""
        await self.stop()
        return await self.start(**overrides)


@pytest_asyncio.fixture
async def runner(bot_api_emulator: BotApiEmulator, services: Services) -> AsyncIterator[BotRunner]:
    """Yield a bot runner (not started yet)."""
    runner = BotRunner(bot_api_emulator, services)
    try:
        yield runner
    finally:
        await runner.stop()


@pytest_asyncio.fixture
async def running(runner: BotRunner) -> AsyncIterator[BotRunner]:
    """Yield a runner whose bot is polling the emulator."""
    await runner.start()
    yield runner
