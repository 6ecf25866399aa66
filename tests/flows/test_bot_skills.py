"""/skills end to end: the real PTB HTTP stack against the Bot API emulator, with a real SQLite.

The Application here holds only the skills handlers (plus a stand-in free-text handler after them,
as in the real bot), so these tests do not need the embedding model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.skills import SkillsHandlers
from bot_api_emulator import BotApiEmulator
from bot_api_emulator.pytest_plugin import bot_api_emulator
from flows.service import FlowService

__all__ = ["bot_api_emulator"]


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("ANSWER")


class Runner:
    """Start and stop Applications (a stop + start is a restart of the bot)."""

    def __init__(self, emulator: BotApiEmulator, make_service: Callable[[], FlowService]) -> None:
        self.emulator = emulator
        self.make_service = make_service
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None

    async def start(self) -> None:
        app = (ApplicationBuilder().token(self.emulator.token)
               .base_url(self.emulator.base_url).base_file_url(self.emulator.base_file_url)
               .build())
        handlers = SkillsHandlers(service=self.make_service())
        app.add_handlers(handlers.handlers(), group=1)
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo), group=1)
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        self.app = app

    async def stop(self) -> None:
        if self.app is None:
            return
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        self.app = None


@pytest_asyncio.fixture
async def runner(bot_api_emulator: BotApiEmulator,
                 make_service: Callable[[], FlowService]) -> AsyncIterator[Runner]:
    running = Runner(bot_api_emulator, make_service)
    await running.start()
    yield running
    await running.stop()


async def _answer(emulator: BotApiEmulator, user: Any, message_id: int, label: str) -> Any:
    since = len(emulator.chat(user.id).edit_log)
    update = await user.press(message_id, label)
    await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    edits = await emulator.wait_for_edits(user.id, since=since)
    return edits[-1]


async def test_whole_flow_with_restart_and_stale_button(runner: Runner) -> None:
    emulator = runner.emulator
    user = emulator.create_user("Giulia", language_code="en")
    await user.send_command("/skills")
    (menu,) = await user.wait_for()
    assert any("quick version" in text for text in menu.button_texts)
    await user.press(menu.message_id, "quick version")
    (intro,) = await user.wait_for()
    assert "reflection tool, not a test" in (intro.text or "")
    assert "CC BY 4.0" in (intro.text or "")
    await user.press(intro.message_id, "Start")
    question = await emulator.wait_for_edits(user.id)
    assert "1/9" in (question[-1].text or "")
    qid = intro.message_id

    step = await _answer(emulator, user, qid, "Very much like me")
    assert "2/9" in step.text
    step = await _answer(emulator, user, qid, "A little like me")
    assert "3/9" in step.text
    step = await _answer(emulator, user, qid, "Back")
    assert "2/9" in step.text and "✅ A little like me" in step.button_texts
    step = await _answer(emulator, user, qid, "Quite like me")
    assert "3/9" in step.text

    # Free text during the flow is answered, and does not reach the question answering.
    await user.send_text("what courses are there?")
    (reply,) = await user.wait_for()
    assert "use the buttons" in (reply.text or "") and "Cancel" in reply.button_texts[0]

    # Restart the bot in the middle: the same message's buttons carry on.
    await runner.stop()
    await runner.start()
    step = await _answer(emulator, user, qid, "Somewhat like me")
    assert "4/9" in step.text

    # Pause, then resume from /skills.
    step = await _answer(emulator, user, qid, "Pause")
    assert "Paused at question 4/9" in step.text
    await user.send_text("hello")
    (reply,) = await user.wait_for()
    assert reply.text == "ANSWER"  # paused: free text goes back to the assistant
    await user.send_command("/skills")
    (menu,) = await user.wait_for()
    await user.press(menu.message_id, "Resume")
    (resumed,) = await user.wait_for()
    assert "4/9" in (resumed.text or "")
    qid = resumed.message_id
    for _ in range(6):
        await _answer(emulator, user, qid, "Quite like me")
    since = emulator.mark(user.id)
    final = await user.press(qid, data="sk:a:lifecomp-quick:8:2")
    await emulator.wait_for_callback_answer(final["callback_query"]["id"])
    photo, results = await emulator.wait_for(user.id, 2, since=since)
    assert photo.photo
    text = results.text or ""
    assert "Your results" in text and "Programmes in the city" in text
    assert any("Details" in b for b in results.button_texts)
    remind = [b["callback_data"] for b in results.buttons if "Remind" in b["text"]]
    assert remind and all(data.startswith("rem:prog:") for data in remind)
    # No reminders service wired: no digest button.
    assert not any(b["callback_data"].startswith("sk:w:") for b in results.buttons)

    # A stale button from the finished flow gets a clear alert and changes nothing.
    stale = await user.press(qid, data="sk:a:lifecomp-quick:3:5")
    answer = await emulator.wait_for_callback_answer(stale["callback_query"]["id"])
    assert "already finished" in answer.get("text", "")

    # Details of a suggestion.
    await user.press(results.message_id, "1. Details")
    (details,) = await user.wait_for()
    assert "Remind me" in details.button_texts[0]


async def test_italian_cancel_deletes_progress(runner: Runner) -> None:
    emulator = runner.emulator
    user = emulator.create_user("Marco", language_code="it")
    await user.send_command("/skills")
    (menu,) = await user.wait_for()
    await user.press(menu.message_id, "Competenze digitali")
    (intro,) = await user.wait_for()
    await user.press(intro.message_id, "Inizia")
    await emulator.wait_for_edits(user.id)
    step = await _answer(emulator, user, intro.message_id, "In autonomia")
    assert "2/10" in step.text
    step = await _answer(emulator, user, intro.message_id, "Annulla")
    assert "Annullato" in step.text
    stale = await user.press(intro.message_id, data="sk:a:digcomp-quick:1:3")
    answer = await emulator.wait_for_callback_answer(stale["callback_query"]["id"])
    assert "non è più in corso" in answer.get("text", "")


@pytest.mark.parametrize("data", ["sk:a:nope:0:1", "sk:a:lifecomp-quick:x:1", "sk:zz"])
async def test_forged_buttons_get_a_polite_answer(runner: Runner, data: str) -> None:
    user = runner.emulator.create_user("Eve")
    await user.send_command("/skills")
    (menu,) = await user.wait_for()
    update = await user.press(menu.message_id, data=data)
    answer = await runner.emulator.wait_for_callback_answer(update["callback_query"]["id"])
    assert answer.get("text")
