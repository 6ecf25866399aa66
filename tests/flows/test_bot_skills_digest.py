"""The "weekly digest on these topics" button under the /skills results, end to end.

Real PTB against the Bot API emulator, the real FlowService and a real ReminderService on the
same SQLite file, as in the bot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from telegram.ext import Application, ApplicationBuilder

from app.root import build_reminders
from bot.skills import SkillsHandlers
from bot_api_emulator import BotApiEmulator
from bot_api_emulator.pytest_plugin import bot_api_emulator
from flows.service import FlowService
from learncity.content.loader import load_knowledge
from learncity.db import make_engine
from learncity.i18n import t
from learncity.settings import Settings
from reminders.service import ReminderService

__all__ = ["bot_api_emulator"]

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
FLOW = "lifecomp-quick"
# One answer per question (1-5): some low ones, so there are areas to grow.
ANSWERS = (5, 1, 4, 2, 5, 1, 4, 3, 5)


class Bot:
    """A running Application with the skills handlers wired to a real reminders service."""

    def __init__(self, emulator: BotApiEmulator, flows: FlowService, reminders: ReminderService,
                 app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.emulator = emulator
        self.flows = flows
        self.reminders = reminders
        self.app = app


@pytest_asyncio.fixture
async def bot(bot_api_emulator: BotApiEmulator, tmp_path: Path,
              make_service: Callable[[], FlowService]) -> AsyncIterator[Bot]:
    flows = make_service()
    kb = load_knowledge(KNOWLEDGE)
    reminders = build_reminders(
        Settings(knowledge_dir=KNOWLEDGE, data_dir=tmp_path / "data"),
        engine=make_engine(f"sqlite:///{tmp_path / 'flows.sqlite3'}"),
        knowledge=lambda: kb,
    )
    emulator = bot_api_emulator
    app = (ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)
           .base_file_url(emulator.base_file_url).build())
    app.add_handlers(SkillsHandlers(service=flows, reminders=reminders).handlers(), group=1)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=5)
    yield Bot(emulator, flows, reminders, app)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def _finish_quick_flow(emulator: BotApiEmulator, user: Any) -> Any:
    """Run the quick flow with ANSWERS; return the results message."""
    await user.send_command("/skills")
    (menu,) = await user.wait_for()
    await user.press(menu.message_id, data=f"sk:go:{FLOW}")
    await emulator.wait_for_edits(user.id)
    for step, value in enumerate(ANSWERS[:-1]):
        since = len(emulator.chat(user.id).edit_log)
        update = await user.press(menu.message_id, data=f"sk:a:{FLOW}:{step}:{value}")
        await emulator.wait_for_callback_answer(update["callback_query"]["id"])
        await emulator.wait_for_edits(user.id, since=since)
    since = emulator.mark(user.id)
    last = len(ANSWERS) - 1
    update = await user.press(menu.message_id, data=f"sk:a:{FLOW}:{last}:{ANSWERS[-1]}")
    await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    photo, results = await emulator.wait_for(user.id, 2, since=since)
    assert photo.photo
    return results


async def test_digest_button_opts_in_with_the_suggested_topics(bot: Bot) -> None:
    emulator = bot.emulator
    user = emulator.create_user("Sara", language_code="en")
    results = await _finish_quick_flow(emulator, user)
    assert "📬 Weekly digest on these topics" in results.button_texts
    data = next(b["callback_data"] for b in results.buttons if "Weekly digest" in b["text"])
    assert data == f"sk:w:{FLOW}" and len(data.encode()) <= 64
    assert bot.reminders.digest_settings(user.id).opted_in is False

    topics = bot.flows.digest_topics(user.id, FLOW)
    assert topics
    update = await user.press(results.message_id, "Weekly digest on these topics")
    await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    (confirmation,) = await user.wait_for()
    text = confirmation.text or ""
    for topic in topics:
        assert t(f"flows.topics.{topic}", "en") in text
    assert "/reminders" in text

    settings = bot.reminders.digest_settings(user.id)
    assert settings.opted_in is True
    assert set(settings.interests) == set(topics)


async def test_italian_confirmation(bot: Bot) -> None:
    emulator = bot.emulator
    user = emulator.create_user("Luca", language_code="it")
    results = await _finish_quick_flow(emulator, user)
    update = await user.press(results.message_id, "Digest settimanale su questi temi")
    await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    (confirmation,) = await user.wait_for()
    topics = bot.reminders.digest_settings(user.id).interests
    assert topics
    assert "ogni settimana" in (confirmation.text or "")
    assert all(t(f"flows.topics.{topic}", "it") in (confirmation.text or "") for topic in topics)


async def test_forged_digest_presses_get_a_polite_answer(bot: Bot) -> None:
    emulator = bot.emulator
    user = emulator.create_user("Eve", language_code="en")
    await user.send_command("/skills")
    (menu,) = await user.wait_for()
    # No saved results for this flow yet.
    update = await user.press(menu.message_id, data=f"sk:w:{FLOW}")
    answer = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    assert "no saved results" in answer.get("text", "")
    # A flow that does not exist.
    update = await user.press(menu.message_id, data="sk:w:no-such-flow")
    answer = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    assert "not available" in answer.get("text", "")
    assert bot.reminders.digest_settings(user.id).opted_in is False

