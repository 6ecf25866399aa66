"""Telegram refusing sends: 429s and 5xx are retried; a message lost for good is shown to staff."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.storage import UndeliveredRow
from bot_api_emulator import BotMessage
from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import ADMIN_ID, BotRunner

# The bot test fixtures (a real Application against the emulator, a fresh database per test).
knowledge_copy = bot_fixtures.knowledge_copy
module_services = bot_fixtures.module_services
services = bot_fixtures.services
runner = bot_fixtures.runner
running = bot_fixtures.running
sqlite_busy_timeout = bot_fixtures.sqlite_busy_timeout

QUESTION = "How do I enrol my child in primary school?"


def answers(messages: list[BotMessage]) -> list[BotMessage]:
    """Return the answers (messages with the 👍 button) among `messages`."""
    return [message for message in messages if "👍" in message.button_texts]


async def test_four_429s_in_a_row_then_the_answer_arrives_once(running: BotRunner) -> None:
    emulator = running.emulator
    anna = emulator.create_user("Anna", language_code="en")
    emulator.flood(4, retry_after=1, methods=["sendMessage"])
    started = time.perf_counter()
    await anna.send_text(QUESTION)
    await emulator.wait_for(anna.chat_id, timeout=20, predicate=lambda m: "👍" in m.button_texts)
    took = time.perf_counter() - started
    print(f"\nanswer after four 429s (retry_after 1 s): {took:.1f} s")
    assert len(answers(emulator.sent_messages(anna.chat_id))) == 1
    outcomes = [call.error_code for call in emulator.calls_to("sendMessage")]
    assert outcomes.count(429) == 4
    assert took >= 4.0  # Telegram's retry_after was honoured each time


async def test_a_500_then_success_delivers_the_answer(running: BotRunner) -> None:
    emulator = running.emulator
    bea = emulator.create_user("Bea", language_code="en")
    emulator.fail(1, 500, methods=["sendMessage"])
    await bea.send_text(QUESTION)
    await emulator.wait_for(bea.chat_id, timeout=20, predicate=lambda m: "👍" in m.button_texts)
    assert len(answers(emulator.sent_messages(bea.chat_id))) == 1
    assert [call.error_code for call in emulator.calls_to("sendMessage")].count(500) == 1


async def test_an_answer_that_cannot_be_sent_is_recorded_for_staff(running: BotRunner) -> None:
    emulator = running.emulator
    carlo = emulator.create_user("Carlo", language_code="en")
    admin = emulator.create_user("Staff", user_id=ADMIN_ID, language_code="en")
    emulator.fail(4, 502, "Bad Gateway", methods=["sendMessage"], chat_id=carlo.chat_id)
    await carlo.send_text(QUESTION)
    await emulator.wait_until(
        lambda: [c for c in emulator.calls_to("sendMessage") if c.error_code == 502][3:],
        timeout=30,
    )
    engine = running.services.engine

    def recorded() -> list[tuple[str, str, str | None]]:
        with engine.connect() as connection:
            rows = connection.execute(
                select(UndeliveredRow.method, UndeliveredRow.error, UndeliveredRow.recipient)
            ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]

    await emulator.wait_until(recorded, timeout=10)
    [(method, error, recipient)] = recorded()
    assert (method, error) == ("sendMessage", "NetworkError")
    assert recipient is not None and str(carlo.id) not in recipient
    assert not answers(emulator.sent_messages(carlo.chat_id))

    await admin.send_command("stats")
    [stats] = await emulator.wait_for(admin.chat_id, timeout=10)
    assert "Messages not delivered after every retry: 1" in stats.text
    assert "sendMessage · NetworkError" in stats.text
