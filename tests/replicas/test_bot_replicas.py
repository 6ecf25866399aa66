"""Any replica can handle any update: three real Applications on one PostgreSQL behind a balancer.

Each replica is a whole `build_application` (real PTB HTTP stack, webhook server on its own port,
its own engine, persistence, memory and update processor); the Bot API emulator spreads the
webhook updates over them round-robin, so a resident's consecutive updates reach different
replicas. What one replica learnt (language, flow progress, the buttons' targets, the wait for a
written reason) must be read from the database by the next.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import Engine, select
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from app.root import Services, build_application
from bot.storage import FeedbackRow
from bot_api_emulator import BotApiEmulator
from flows.service import FlowService
from flows.store import FlowStore
from retrieval.context_store import ContextStore
from tests.bot.conftest import bot_settings, knowledge_copy, module_services

__all__ = ["knowledge_copy", "module_services"]

ENROLMENT_EN = "How do I enrol my child in primary school?"
PUBLIC_URL = "https://bot.example.city/telegram"
SECRET = "replica-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Probe:
    """Records when each replica handled each update marked "slow" (and makes it last)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, int, int, float, float]] = []  # replica, chat, update, from, to

    def handler(self, replica: str) -> TypeHandler[Update, Any]:
        async def probe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message = update.message
            if message is None or not (message.text or "").startswith("slow"):
                return
            started = time.monotonic()
            await asyncio.sleep(0.4)
            self.spans.append((replica, message.chat.id, update.update_id, started,
                               time.monotonic()))

        return TypeHandler(Update, probe)


class Replicas:
    """Three whole bots on one PostgreSQL, each a webhook server behind the emulator."""

    def __init__(
        self, emulator: BotApiEmulator, base: Services, engines: Callable[[], Engine]
    ) -> None:
        self.emulator = emulator
        self.base = base
        self.engines = engines
        self.apps: list[Application[Any, Any, Any, Any, Any, Any]] = []
        self.probe = Probe()

    def _services(self) -> Services:
        engine = self.engines()
        flows = FlowStore(engine=engine)
        flows.create_schema()
        contexts = ContextStore(engine=engine)
        contexts.create_schema()
        knowledge = self.base.knowledge
        return dataclasses.replace(
            self.base,
            engine=engine,
            contexts=contexts,
            reminders=None,
            skills=FlowService(
                assessments_dir=self.base.settings.knowledge_dir / "assessments",
                store=flows,
                programmes=lambda: knowledge.current.programmes,
                zone=self.base.settings.zone,
            ),
        )

    async def start(self, count: int = 3) -> None:
        targets = []
        for n in range(count):
            services = self._services()
            settings = bot_settings(self.emulator, services, webhook_url=PUBLIC_URL)
            services = dataclasses.replace(services, settings=settings)
            app = build_application(settings, services, watch=False, typing_after=5.0)
            app.add_handler(self.probe.handler(f"replica-{n}"), group=-10)
            await app.initialize()
            assert app.post_init is not None
            await app.post_init(app)
            await app.start()
            port = free_port()
            assert app.updater is not None
            await app.updater.start_webhook(
                listen="127.0.0.1", port=port, url_path="telegram", webhook_url=PUBLIC_URL,
                secret_token=SECRET,
            )
            targets.append(f"http://127.0.0.1:{port}/telegram")
            self.apps.append(app)
        self.emulator.webhook_targets = targets

    async def stop(self) -> None:
        for app in self.apps:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
        self.apps = []


@pytest_asyncio.fixture
async def replicas(
    bot_api_emulator: BotApiEmulator,
    module_services: Services,
    pg_engines: Callable[[], Engine],
    tmp_path: Path,
) -> AsyncIterator[Replicas]:
    group = Replicas(bot_api_emulator, module_services, pg_engines)
    try:
        await group.start()
        yield group
    finally:
        await group.stop()


def deliveries(emulator: BotApiEmulator) -> list[int]:
    return sorted(emulator.webhook_deliveries.values())


async def test_a_flow_started_on_one_replica_continues_on_the_others(replicas: Replicas) -> None:
    emulator = replicas.emulator
    giulia = emulator.create_user("Giulia", language_code="it")
    # The language chosen on one replica is the language of the next replica's replies.
    await giulia.send_command("language")
    [choose] = await emulator.wait_for(giulia.chat_id, timeout=10)
    await giulia.press(choose, "English")
    await emulator.wait_for(giulia.chat_id, timeout=10)
    await giulia.send_command("skills")
    [menu] = await emulator.wait_for(giulia.chat_id, timeout=10)
    assert any("quick version" in text for text in menu.button_texts), menu.button_texts
    await giulia.press(menu, "quick version")
    [intro] = await emulator.wait_for(giulia.chat_id, timeout=10)
    await giulia.press(intro, "Start")
    [question] = await emulator.wait_for_edits(giulia.chat_id, timeout=10)
    assert "1/9" in question.text
    for step in range(2, 10):  # each answer reaches the next replica round-robin
        since = emulator.mark(giulia.chat_id)
        update = await giulia.press(intro.message_id, "Quite like me")
        await emulator.wait_for_callback_answer(update["callback_query"]["id"], timeout=10)
        edits = await emulator.wait_for_edits(giulia.chat_id, timeout=10)
        assert f"{step}/9" in edits[-1].text, (step, edits[-1].text)
        assert emulator.sent_messages(giulia.chat_id)[since:] == []
    since = emulator.mark(giulia.chat_id)
    await giulia.press(intro.message_id, "Quite like me")
    photo, results = await emulator.wait_for(giulia.chat_id, 2, since=since, timeout=20)
    assert photo.photo and "Your results" in (results.text or "")
    # Every replica took part: three replicas, sixteen updates, round-robin.
    assert len(emulator.webhook_deliveries) == 3 and min(deliveries(emulator)) >= 4


async def test_a_reason_written_on_another_replica_is_recorded(replicas: Replicas) -> None:
    emulator = replicas.emulator
    anna = emulator.create_user("Anna", language_code="en")
    await anna.send_text(ENROLMENT_EN)  # replica A answers and remembers the buttons' targets
    [answer] = await emulator.wait_for(anna.chat_id, timeout=30)
    assert "👎" in answer.button_texts
    await anna.press(answer, "👎")  # replica B finds the answer's buttons in the chat's data
    [reasons] = await emulator.wait_for(anna.chat_id, timeout=10)
    assert "What was wrong?" in reasons.text
    await anna.press(reasons, "✍️ Other: I will write it")  # replica C starts the wait
    [ask_reason] = await emulator.wait_for_edits(anna.chat_id, timeout=10)
    assert "what was missing" in ask_reason.text
    await anna.send_text("The fees were missing")  # replica A again: the wait is in the database
    [thanks] = await emulator.wait_for(anna.chat_id, timeout=10)
    assert "staff will read it" in thanks.text
    engine = replicas.engines()
    with engine.connect() as connection:
        stored = connection.execute(select(FeedbackRow.helpful, FeedbackRow.reason)).all()
    assert stored == [(False, "The fees were missing")]
    # The next text is a question again, on yet another replica.
    await anna.send_text(ENROLMENT_EN)
    [again] = await emulator.wait_for(anna.chat_id, timeout=30)
    assert "👍" in again.button_texts


async def test_two_updates_of_one_chat_are_handled_one_after_the_other(
    replicas: Replicas,
) -> None:
    emulator = replicas.emulator
    probe = replicas.probe
    rosa, ugo = emulator.create_user("Rosa"), emulator.create_user("Ugo")
    for n in range(3):
        await rosa.send_text(f"slow {n}")  # three replicas, one each, at once
    await ugo.send_text("slow other")
    await emulator.wait_until(lambda: len(probe.spans) == 4, timeout=30)
    mine = sorted((span for span in probe.spans if span[1] == rosa.chat_id),
                  key=lambda span: span[3])
    assert len({span[0] for span in mine}) == 3  # each went to another replica
    assert [span[2] for span in mine] == sorted(span[2] for span in mine)  # in update order
    for before, after in zip(mine, mine[1:], strict=False):
        assert before[4] <= after[3] + 0.01, "two updates of one chat overlapped"
    # Another chat is not held up: Ugo's update ran while Rosa's were being handled.
    [other] = [span for span in probe.spans if span[1] == ugo.chat_id]
    assert other[3] < mine[-1][3]


async def test_a_replica_that_stops_leaves_the_chat_to_the_others(replicas: Replicas) -> None:
    emulator = replicas.emulator
    dead = replicas.apps.pop(0)  # stops serving: the balancer skips its port
    assert dead.updater is not None
    await dead.updater.stop()
    await dead.stop()
    await dead.shutdown()
    lea = emulator.create_user("Lea", language_code="en")
    for _ in range(3):
        await lea.send_command("help")
    replies = await emulator.wait_for(lea.chat_id, 3, timeout=15)
    assert len(replies) == 3 and len(emulator.webhook_deliveries) == 2
