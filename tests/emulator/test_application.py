"""A real PTB Application polls the emulator or receives its webhook calls, and answers users."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from telegram import Bot, Update
from telegram.error import Conflict
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot_api_emulator import BotApiEmulator
from bot_api_emulator.ptb import polling


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html(
        f"<b>Echo:</b> {update.effective_message.text}", do_quote=True
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_chat_action(update.effective_chat.id, "typing")
    await context.bot.send_message(update.effective_chat.id, f"Welcome {context.args}")


def build_app(emulator: BotApiEmulator) -> Application:
    app = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


@pytest_asyncio.fixture
async def polling_app(bot_api_emulator: BotApiEmulator) -> AsyncIterator[Application]:
    async with polling(build_app(bot_api_emulator)) as app:
        yield app


async def test_polling_application_answers_a_user(
    polling_app: Application, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    await anna.send_command("start", "promo")
    [welcome] = await bot_api_emulator.wait_for(anna.chat_id)
    assert welcome.text == "Welcome ['promo']"
    assert bot_api_emulator.chat_actions(anna.chat_id) == ["typing"]

    update = await anna.send_text("Corsi?")
    [reply] = await anna.wait_for()
    assert reply.text == "Echo: Corsi?"
    assert reply.data["reply_to_message"]["message_id"] == update["message"]["message_id"]
    # The updater confirmed what it processed.
    await bot_api_emulator.wait_until(lambda: not bot_api_emulator.pending_updates)


async def test_many_users_at_once(
    polling_app: Application, bot_api_emulator: BotApiEmulator
) -> None:
    users = [bot_api_emulator.create_user(f"User{i}") for i in range(20)]
    for user in users:
        await user.send_text(f"hello {user.id}")
    replies = await asyncio.gather(*(user.wait_for() for user in users))
    assert [r[0].text for r in replies] == [f"Echo: hello {u.id}" for u in users]


async def test_long_polling_returns_when_an_update_arrives(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    started = time.monotonic()
    poll = asyncio.create_task(emulated_bot.get_updates(timeout=10, read_timeout=15))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await anna.send_text("now")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 5  # far below the 10 s long-poll timeout
    assert [u.message.text for u in updates if u.message] == ["now"]


async def test_get_updates_offset_timeout_and_allowed_updates(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    started = time.monotonic()
    assert await emulated_bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 5
    first = await anna.send_text("one")
    await anna.send_text("two")
    updates = await emulated_bot.get_updates()
    assert [u.update_id for u in updates] == [first["update_id"], first["update_id"] + 1]
    # Not confirmed yet: delivered again.
    assert len(await emulated_bot.get_updates()) == 2
    confirmed = await emulated_bot.get_updates(offset=updates[-1].update_id + 1)
    assert confirmed == ()
    assert bot_api_emulator.pending_updates == []

    sent = await emulated_bot.send_message(anna.chat_id, "menu")
    await anna.press(sent.message_id, data="x")
    await anna.send_text("three")
    only_messages = await emulated_bot.get_updates(allowed_updates=["message"])
    assert [u.message.text for u in only_messages if u.message] == ["three"]
    assert all(u.callback_query is None for u in only_messages)


async def test_get_updates_conflicts(emulated_bot: Bot, bot_api_emulator: BotApiEmulator) -> None:
    async with Bot(bot_api_emulator.token, base_url=bot_api_emulator.base_url) as other:
        older = asyncio.create_task(emulated_bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        newer = asyncio.create_task(other.get_updates(timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await older
        await newer
    await emulated_bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await emulated_bot.get_updates()
    await emulated_bot.delete_webhook()
    assert await emulated_bot.get_updates() == ()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_delivery_with_secret_token(bot_api_emulator: BotApiEmulator) -> None:
    app = build_app(bot_api_emulator)
    port = free_port()
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="hook",
        webhook_url=f"http://127.0.0.1:{port}/hook",
        secret_token="s3cr3t-token",
    )
    try:
        assert bot_api_emulator.webhook is not None
        assert bot_api_emulator.webhook["secret_token"] == "s3cr3t-token"
        anna = bot_api_emulator.create_user("Anna")
        await anna.send_text("via webhook")
        [reply] = await anna.wait_for()
        assert reply.text == "Echo: via webhook"
        info = await app.bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0

        # A wrong secret is refused by PTB's webhook server; the emulator reports it and retries.
        await app.bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong")
        await anna.send_text("lost?")
        await bot_api_emulator.wait_until(
            lambda: "403" in (bot_api_emulator.webhook_last_error or "")
        )
        info = await app.bot.get_webhook_info()
        assert info.pending_update_count == 1 and "403" in (info.last_error_message or "")
        await app.bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t-token")
        [late] = await anna.wait_for()
        assert late.text == "Echo: lost?"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_polling_helper_runs_the_lifecycle_hooks_and_survives_a_restart(
    bot_api_emulator: BotApiEmulator,
) -> None:
    calls: list[str] = []

    async def post_init(app: Application) -> None:
        calls.append("post_init")
        await app.bot.set_my_commands([("start", "Start")])

    async def post_shutdown(app: Application) -> None:
        calls.append("post_shutdown")

    def with_hooks() -> Application:
        app = build_app(bot_api_emulator)
        app.post_init = post_init
        app.post_shutdown = post_shutdown
        return app

    anna = bot_api_emulator.create_user("Anna")
    async with polling(with_hooks()):
        assert bot_api_emulator.my_commands() == [{"command": "start", "description": "Start"}]
        await anna.send_text("before restart")
        await anna.wait_for()
    # Sent while the bot is down: the next instance gets it.
    await anna.send_text("while down")
    async with polling(with_hooks()):
        [reply] = await anna.wait_for()
        assert reply.text == "Echo: while down"
    assert calls == ["post_init", "post_shutdown", "post_init", "post_shutdown"]
    assert len(anna.messages) == 2


async def test_factory_with_a_controllable_clock(
    bot_api_emulator_factory: Callable[..., Awaitable[BotApiEmulator]],
) -> None:
    now = [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    emulator = await bot_api_emulator_factory(clock=lambda: now[0])
    anna = emulator.create_user("Anna")
    first = await anna.send_text("a")
    now[0] += timedelta(hours=2)
    second = await anna.send_text("b")
    assert second["message"]["date"] - first["message"]["date"] == 7200
