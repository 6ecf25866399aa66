"""The bot with its database locked by another process: answers still go out, votes say "retry".

Another connection holds SQLite's write lock (`BEGIN EXCLUSIVE`; in WAL mode readers go on). The
test database gives up on a lock after 1 s (production: 5 s), so a write fails fast here.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.storage import ChatDataRow, FeedbackRow, QuestionRow
from bot_api_emulator import BotApiEmulator, EmulatedUser
from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import BotRunner

# The bot test fixtures (a real Application against the emulator, a fresh database per test).
knowledge_copy = bot_fixtures.knowledge_copy
module_services = bot_fixtures.module_services
services = bot_fixtures.services
runner = bot_fixtures.runner
running = bot_fixtures.running

QUESTION = "How do I enrol my child in primary school?"
APOLOGY = "Sorry, something went wrong"
# Extra delay a second resident's answer may take while another resident's writes hit the lock.
MAX_EXTRA_SECONDS = 1.5


@pytest.fixture
def sqlite_busy_timeout() -> float:
    """Give up on a locked database after 1 s (the default is 5 s)."""
    return 1.0


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold SQLite's exclusive (write) lock from another connection until the block ends."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def database_path(runner: BotRunner) -> Path:
    """Return the test database's file."""
    database = runner.services.engine.url.database
    assert database is not None
    return Path(database)


async def timed_answer(emulator: BotApiEmulator, user: EmulatedUser, text: str) -> float:
    """Send `text`, wait for the answer with its 👍 button, return the seconds it took."""
    started = time.perf_counter()
    await user.send_text(text)
    [answer] = await emulator.wait_for(
        user.chat_id, timeout=20, predicate=lambda m: "👍" in m.button_texts
    )
    assert APOLOGY not in (answer.text or "")
    return time.perf_counter() - started


async def test_a_locked_database_loses_no_answer_and_blocks_no_other_resident(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    anna = emulator.create_user("Anna", language_code="en")
    bruno = emulator.create_user("Bruno", language_code="en")
    # Baseline, unlocked: Bruno's question once to warm the caches, then timed.
    await timed_answer(emulator, bruno, QUESTION)
    baseline = await timed_answer(emulator, bruno, QUESTION)

    with locked(database_path(running)):
        await anna.send_text(QUESTION)
        during = await timed_answer(emulator, bruno, QUESTION)
        [answer] = await emulator.wait_for(
            anna.chat_id, timeout=20, predicate=lambda m: "👍" in m.button_texts
        )
        assert APOLOGY not in (answer.text or "")

        # The vote cannot be written: the resident is told so, and the buttons stay.
        update = await anna.press(answer, "👍")
        reply = await emulator.wait_for_callback_answer(update["callback_query"]["id"], timeout=15)
        assert "could not save your vote" in reply["text"] and reply.get("show_alert")
        assert "👍" in emulator.last_message(anna.chat_id).button_texts
        # Past every write's busy timeout: what was written during the lock has failed for good.
        await asyncio.sleep(2.5)

    print(f"\nsecond resident's answer: {baseline:.2f} s unlocked, {during:.2f} s while locked")
    assert during < baseline + MAX_EXTRA_SECONDS

    # Unlocked again: the chat's data the lock kept from disk (the answer's buttons) is written
    # by the next persistence runs, so the buttons would survive a restart too.
    view_id = next(
        str(b["callback_data"]).split(":")[1]
        for row in answer.data["reply_markup"]["inline_keyboard"]
        for b in row
        if str(b.get("callback_data", "")).startswith("fb:")
    )

    def persisted_views() -> dict[str, object]:
        with running.services.engine.connect() as connection:
            data = connection.scalar(
                select(ChatDataRow.data).where(ChatDataRow.chat_id == anna.chat_id)
            )
        return dict((data or {}).get("views", {}))

    await emulator.wait_until(lambda: view_id in persisted_views(), timeout=10)

    # And the same button now lands.
    update = await anna.press(answer, "👍")
    reply = await emulator.wait_for_callback_answer(update["callback_query"]["id"], timeout=15)
    assert "Thank you" in reply["text"]
    engine = running.services.engine
    with engine.connect() as connection:
        votes = connection.execute(select(FeedbackRow.helpful)).scalars().all()
        logged = connection.scalar(select(func.count()).select_from(QuestionRow))
    assert votes == [True]
    assert logged is not None and 2 <= logged <= 4  # Anna's and Bruno's rows while locked dropped
    for user in (anna, bruno):
        assert not [m for m in emulator.sent_messages(user.chat_id) if APOLOGY in (m.text or "")]


async def test_settings_under_a_lock_ask_to_retry_in_the_residents_language(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    carla = emulator.create_user("Carla", language_code="it")
    await carla.send_command("language")
    [choice] = await emulator.wait_for(carla.chat_id)
    await carla.send_command("skills")
    [flows] = await emulator.wait_for(carla.chat_id)

    with locked(database_path(running)):
        update = await carla.press(choice, "Italiano")
        reply = await emulator.wait_for_callback_answer(update["callback_query"]["id"], timeout=15)
        assert "Non sono riuscito a salvare" in reply["text"]

        # A questionnaire step is a write too: "try again", not the generic apology.
        await carla.press(flows, flows.button_texts[0])
        [intro] = await emulator.wait_for(carla.chat_id, timeout=15)
        await carla.press(intro, intro.button_texts[0])
        [retry] = await emulator.wait_for(carla.chat_id, timeout=15)
        assert "Riprova tra un minuto" in (retry.text or "")
    assert not [
        m for m in emulator.sent_messages(carla.chat_id) if "andato storto" in (m.text or "")
    ]


async def crowd_seconds(emulator: BotApiEmulator, users: list[EmulatedUser]) -> float:
    """Let every user ask at once; return the seconds until the last answer arrived."""
    started = time.perf_counter()
    for user in users:
        await user.send_text(QUESTION)
    for user in users:
        await emulator.wait_for(
            user.chat_id, timeout=30, predicate=lambda m: "👍" in m.button_texts
        )
    return time.perf_counter() - started


async def test_a_crowd_under_a_lock_is_not_queued_behind_stuck_writes(running: BotRunner) -> None:
    emulator = running.emulator
    # More residents than database threads: each one's writes wait on the lock.
    crowd = [emulator.create_user(f"R{n}", language_code="en") for n in range(12)]
    await crowd_seconds(emulator, crowd[:1])  # warm the caches
    unlocked = await crowd_seconds(emulator, crowd)
    with locked(database_path(running)):
        during = await crowd_seconds(emulator, crowd)
    print(f"\n12 residents at once: {unlocked:.2f} s unlocked, {during:.2f} s while locked")
    assert during < unlocked + MAX_EXTRA_SECONDS
    for user in crowd:
        assert not [m for m in emulator.sent_messages(user.chat_id) if APOLOGY in (m.text or "")]
