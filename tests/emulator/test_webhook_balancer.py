"""The emulator as a load balancer: webhook updates spread round-robin over several targets."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp import web
from telegram import Bot

from bot_api_emulator import BotApiEmulator

SECRET = "balancer-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A webhook endpoint (one replica) that records what it is sent."""

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.spans: list[tuple[int, float, float]] = []  # chat, from, to
        self.port = free_port()
        self.updates: list[dict[str, Any]] = []
        self.secrets: list[str | None] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        update = await request.json()
        started = time.monotonic()
        await asyncio.sleep(self.delay)
        self.updates.append(update)
        self.spans.append((update["message"]["chat"]["id"], started, time.monotonic()))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def texts(self) -> list[str]:
        return [update["message"]["text"] for update in self.updates if "message" in update]


@pytest_asyncio.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    started = [Receiver(f"replica-{n}") for n in range(3)]
    for receiver in started:
        await receiver.start()
    yield started
    for receiver in started:
        await receiver.stop()


async def test_updates_go_round_robin_to_every_target_with_the_secret(
    bot_api_emulator: BotApiEmulator, emulated_bot: Bot, receivers: list[Receiver]
) -> None:
    bot_api_emulator.webhook_targets = [receiver.url for receiver in receivers]
    # Every replica sets the same public URL; the balancer, not that URL, receives the POSTs.
    await emulated_bot.set_webhook("https://bot.example.city/telegram", secret_token=SECRET)
    anna = bot_api_emulator.create_user("Anna")
    for n in range(6):
        await anna.send_text(f"message {n}")
    await bot_api_emulator.wait_until(lambda: sum(len(r.updates) for r in receivers) == 6)

    assert [receiver.texts() for receiver in receivers] == [
        ["message 0", "message 3"],
        ["message 1", "message 4"],
        ["message 2", "message 5"],
    ]
    assert {secret for receiver in receivers for secret in receiver.secrets} == {SECRET}
    assert bot_api_emulator.webhook_deliveries == {receiver.url: 2 for receiver in receivers}
    info = await emulated_bot.get_webhook_info()
    assert info.url == "https://bot.example.city/telegram" and info.pending_update_count == 0


async def test_a_dead_target_is_skipped_and_nothing_is_lost(
    bot_api_emulator: BotApiEmulator, emulated_bot: Bot, receivers: list[Receiver]
) -> None:
    bot_api_emulator.webhook_targets = [receiver.url for receiver in receivers]
    await emulated_bot.set_webhook("https://bot.example.city/telegram")
    dead = receivers[1]
    await dead.stop()  # a replica killed: its port refuses connections
    bruno = bot_api_emulator.create_user("Bruno")
    for n in range(6):
        await bruno.send_text(f"m{n}")
    alive = [receivers[0], receivers[2]]
    await bot_api_emulator.wait_until(lambda: sum(len(r.updates) for r in alive) == 6)

    delivered = sorted(text for receiver in alive for text in receiver.texts())
    assert delivered == [f"m{n}" for n in range(6)]  # each once, none lost
    assert dead.updates == []
    assert all(receiver.updates for receiver in alive)  # the survivors share the work


async def test_when_every_target_is_down_updates_wait_and_are_delivered_later(
    bot_api_emulator_factory: Any, receivers: list[Receiver]
) -> None:
    emulator: BotApiEmulator = await bot_api_emulator_factory(webhook_retry_delay=0.05)
    emulator.webhook_targets = [receivers[0].url]
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        await bot.set_webhook("https://bot.example.city/telegram")
        await receivers[0].stop()
        carla = emulator.create_user("Carla")
        await carla.send_text("are you there?")
        await emulator.wait_until(lambda: emulator.webhook_last_error is not None)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1 and "Connection failed" in str(
            info.last_error_message
        )
        await receivers[0].start()  # the replica is back on its port
        await emulator.wait_until(lambda: receivers[0].texts() == ["are you there?"])


async def test_chats_are_posted_in_parallel_and_one_chat_one_update_at_a_time(
    bot_api_emulator: BotApiEmulator, emulated_bot: Bot
) -> None:
    slow = [Receiver(f"slow-{n}", delay=0.3) for n in range(2)]
    for receiver in slow:
        await receiver.start()
    try:
        bot_api_emulator.webhook_targets = [receiver.url for receiver in slow]
        await emulated_bot.set_webhook("https://bot.example.city/telegram")
        users = [bot_api_emulator.create_user(f"User {n}") for n in range(4)]
        started = time.monotonic()
        for user in users:
            await user.send_text("one")
        await users[0].send_text("two")
        await bot_api_emulator.wait_until(lambda: sum(len(r.updates) for r in slow) == 5,
                                          timeout=10)
        # Four chats at once (0.3 s each), then the first chat's second update.
        assert time.monotonic() - started < 1.0
        spans = sorted((span for r in slow for span in r.spans if span[0] == users[0].chat_id),
                       key=lambda span: span[1])
        assert len(spans) == 2 and spans[0][2] <= spans[1][1]
    finally:
        for receiver in slow:
            await receiver.stop()
