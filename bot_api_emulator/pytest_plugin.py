"""Pytest fixtures: a running emulator and a ``telegram.Bot`` pointed at it.

Enable with ``pytest_plugins = ["bot_api_emulator.pytest_plugin"]`` in a conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from telegram import Bot

from bot_api_emulator.server import BotApiEmulator


@pytest_asyncio.fixture
async def bot_api_emulator() -> AsyncIterator[BotApiEmulator]:
    """Yield a started emulator on 127.0.0.1 (stopped after the test)."""
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest_asyncio.fixture
async def bot_api_emulator_factory() -> AsyncIterator[Callable[..., Awaitable[BotApiEmulator]]]:
    """Yield ``await make(**kwargs)`` that starts an emulator (e.g. with a ``clock``)."""
    started: list[BotApiEmulator] = []

    async def make(**kwargs: Any) -> BotApiEmulator:
        emulator = BotApiEmulator(**kwargs)
        await emulator.start()
        started.append(emulator)
        return emulator

    try:
        yield make
    finally:
        for emulator in started:
            await emulator.stop()


@pytest_asyncio.fixture
async def emulated_bot(bot_api_emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    """Yield an initialized ``telegram.Bot`` talking to the emulator through PTB's HTTP stack."""
    bot = Bot(
        bot_api_emulator.token,
        base_url=bot_api_emulator.base_url,
        base_file_url=bot_api_emulator.base_file_url,
    )
    async with bot:
        yield bot
