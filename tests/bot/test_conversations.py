"""Scripted conversations through the emulator: what a resident sees, button by button."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import feedback as feedback_module
from bot.storage import FeedbackRow, QuestionRow, UnansweredRow
from bot_api_emulator import BotMessage
from tests.bot.conftest import BotRunner

ENROLMENT_EN = "How do I enrol my child in primary school?"


def source_button(message: BotMessage) -> dict[str, Any]:
    """Return the first source button (📄) under an answer."""
    for button in message.buttons:
        if str(button.get("text", "")).startswith("📄"):
            return button
    raise AssertionError(f"no source button in {message.button_texts}")


async def test_first_contact_language_question_source_feedback(running: BotRunner) -> None:
    emulator = running.emulator
    anna = emulator.create_user("Anna", language_code="it")

    await anna.send_command("start")
    [welcome] = await emulator.wait_for(anna.chat_id)
    assert "Assistente" in welcome.text
    assert "/privacy" in welcome.text and "/forget" in welcome.text  # one-line privacy notice
    assert "🇬🇧 English" in welcome.button_texts and "📚 Corsi" in welcome.button_texts

    await anna.press(welcome, "English")
    [menu] = await emulator.wait_for(anna.chat_id)
    assert "speak English" in menu.text
    assert "📚 Courses" in menu.button_texts

    await anna.send_text(ENROLMENT_EN)
    [answer] = await emulator.wait_for(anna.chat_id, timeout=15)
    assert "typing" in emulator.chat_actions(anna.chat_id)
    assert "enrol" in answer.text.lower()
    assert "👍" in answer.button_texts and "👎" in answer.button_texts
    source = source_button(answer)
    if "callback_data" in source:
        await anna.press(answer, data=source["callback_data"])
        [passage] = await emulator.wait_for(anna.chat_id)
        assert "Source:" in passage.text
    else:
        assert source["url"].startswith("http")

    update = await anna.press(answer, "👎")
    reply = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    assert "Thank you" in reply["text"]
    [reasons] = await emulator.wait_for(anna.chat_id)
    assert "What was wrong?" in reasons.text
    assert reasons.button_texts == [
        "❌ Wrong answer",
        "🤔 Not what I asked",
        "📅 Out of date",
        "✍️ Other: I will write it",
        "Skip",
    ]
    await anna.press(reasons, "✍️ Other: I will write it")
    [ask_reason] = await emulator.wait_for_edits(anna.chat_id)
    assert "what was missing" in ask_reason.text
    await anna.send_text("I wanted the dates for next year")
    [thanks] = await emulator.wait_for(anna.chat_id)
    assert "staff will read it" in thanks.text

    with running.services.engine.connect() as connection:
        feedback = connection.execute(select(FeedbackRow.helpful, FeedbackRow.reason)).all()
        questions = connection.execute(select(QuestionRow.lang)).all()
    assert feedback == [(False, "I wanted the dates for next year")]
    assert questions == [("en",)]  # the reason was not taken for a question


async def test_abstention_gives_the_human_contact_and_logs_no_user(running: BotRunner) -> None:
    emulator = running.emulator
    marco = emulator.create_user("Marco", language_code="it")
    await marco.send_text("Quanto costa un biglietto aereo per Tokyo a luglio?")
    [answer] = await emulator.wait_for(marco.chat_id, timeout=15)
    assert "Non ho questa informazione" in answer.text or "non ho" in answer.text.lower()
    assert any(char.isdigit() for char in answer.text)  # a phone number to call
    with running.services.engine.connect() as connection:
        rows = connection.execute(select(UnansweredRow.text)).all()
    assert rows and "Tokyo" in rows[0][0]
    assert str(marco.id) not in rows[0][0]


async def test_restart_mid_conversation_keeps_the_state(running: BotRunner) -> None:
    emulator = running.emulator
    lucia = emulator.create_user("Lucia", language_code="en")
    await lucia.send_command("start")
    [welcome] = await emulator.wait_for(lucia.chat_id)
    await lucia.press(welcome, "English")
    await emulator.wait_for(lucia.chat_id)
    await lucia.send_text(ENROLMENT_EN)
    [answer] = await emulator.wait_for(lucia.chat_id, timeout=15)
    await lucia.press(answer, "👎")
    [reasons] = await emulator.wait_for(lucia.chat_id)
    await lucia.press(reasons, "✍️ Other: I will write it")
    [ask_reason] = await emulator.wait_for_edits(lucia.chat_id)
    assert "what was missing" in ask_reason.text

    await running.restart()  # the process goes away while the bot waits for the reason

    await lucia.send_text("The page about fees was missing")
    [thanks] = await emulator.wait_for(lucia.chat_id, timeout=10)
    assert "staff will read it" in thanks.text  # still English, still waiting for the reason
    with running.services.engine.connect() as connection:
        reasons = connection.execute(select(FeedbackRow.reason)).scalars().all()
    assert reasons == ["The page about fees was missing"]
    # And the buttons of the old answer still work after the restart.
    source = source_button(answer)
    if "callback_data" in source:
        await lucia.press(answer, data=source["callback_data"])
        [passage] = await emulator.wait_for(lucia.chat_id)
        assert "Source:" in passage.text


async def test_a_quick_answer_needs_no_typing_indicator(runner: BotRunner) -> None:
    runner.typing_after = 5.0
    await runner.start()
    emulator = runner.emulator
    zeno = emulator.create_user("Zeno", language_code="en")
    await zeno.send_text(ENROLMENT_EN)
    await emulator.wait_for(zeno.chat_id, timeout=15)
    assert "typing" not in emulator.chat_actions(zeno.chat_id)


async def test_follow_ups_and_other_languages_through_the_bot(running: BotRunner) -> None:
    emulator = running.emulator
    amina = emulator.create_user("Amina", language_code="it")
    await amina.send_text("corso di italiano gratis la sera a librino")
    [first] = await emulator.wait_for(amina.chat_id, timeout=15)
    assert "Librino" in first.text
    await amina.send_text("quanto costa?")
    [cost] = await emulator.wait_for(amina.chat_id, timeout=15)
    assert "Librino" in cost.text and "Gratuito" in cost.text  # about the course just shown
    # A longer message with no subject of its own is about the course too.
    await amina.send_text("ok ma per iscriversi serve qualche documento particolare?")
    [papers] = await emulator.wait_for(amina.chat_id, timeout=15)
    assert "Librino" in papers.text, papers.text
    await amina.send_text("perfetto, grazie mille!!")
    [thanks] = await emulator.wait_for(amina.chat_id, timeout=15)
    assert "Non ho questa informazione" not in thanks.text
    await amina.send_text("ciao!")
    [hello] = await emulator.wait_for(amina.chat_id, timeout=15)
    assert "Ciao!" in hello.text and "Non ho questa informazione" not in hello.text

    pierre = emulator.create_user("Pierre", language_code="it")
    await pierre.send_text("Où puis-je apprendre l'italien gratuitement à Catane ?")
    [reply] = await emulator.wait_for(pierre.chat_id, timeout=15)
    assert "Non ho questa informazione" not in reply.text
    assert "Sources" in reply.text or "📄" in reply.text  # answered in French
    offer = [text for text in reply.button_texts if text.startswith("🌐")]
    assert offer and "Français" in offer[0]  # one tap to keep French
    await pierre.send_text("Et des cours d'informatique pour les seniors ?")
    [again] = await emulator.wait_for(pierre.chat_id, timeout=15)
    assert not [text for text in again.button_texts if text.startswith("🌐")]  # offered once
    await pierre.press(reply, offer[0])
    [menu] = await emulator.wait_for(pierre.chat_id, timeout=15)
    await pierre.send_text("ciao")
    [hello] = await emulator.wait_for(pierre.chat_id, timeout=15)
    assert "Bonjour" in hello.text  # the bot now speaks French to him


async def test_a_question_after_thumbs_down_is_answered_not_taken_as_the_reason(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    gino = emulator.create_user("Gino", language_code="it")
    await gino.send_text("Come iscrivo mio figlio alla scuola primaria?")
    [answer] = await emulator.wait_for(gino.chat_id, timeout=15)
    await gino.press(answer, "👎")
    [reasons] = await emulator.wait_for(gino.chat_id)
    await gino.press(reasons, "✍️ Altro: lo scrivo")
    await emulator.wait_for_edits(gino.chat_id)

    await gino.send_text("e corsi di inglese per adulti?")
    [reply] = await emulator.wait_for(gino.chat_id, timeout=15)
    assert "lo leggerà il personale" not in reply.text
    assert "👍" in reply.button_texts  # an answer, with its feedback buttons
    with running.services.engine.connect() as connection:
        reasons_kept = connection.execute(select(FeedbackRow.reason)).scalars().all()
        questions = connection.execute(select(func.count()).select_from(QuestionRow)).scalar()
    assert reasons_kept == [None] and questions == 2


async def test_a_reason_button_is_stored_without_typing(running: BotRunner) -> None:
    emulator = running.emulator
    ada = emulator.create_user("Ada", language_code="en")
    await ada.send_text(ENROLMENT_EN)
    [answer] = await emulator.wait_for(ada.chat_id, timeout=15)
    await ada.press(answer, "👎")
    [reasons] = await emulator.wait_for(ada.chat_id)
    await ada.press(reasons, "📅 Out of date")
    [thanks] = await emulator.wait_for_edits(ada.chat_id)
    assert "staff will read it" in thanks.text and not thanks.button_texts
    with running.services.engine.connect() as connection:
        stored = connection.execute(select(FeedbackRow.reason)).scalars().all()
    assert stored == ["[out of date]"]


async def test_a_late_message_after_other_is_a_new_question(
    running: BotRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedback_module, "REASON_TIMEOUT_SECONDS", 0.3)
    emulator = running.emulator
    ugo = emulator.create_user("Ugo", language_code="en")
    await ugo.send_text(ENROLMENT_EN)
    [answer] = await emulator.wait_for(ugo.chat_id, timeout=15)
    await ugo.press(answer, "👎")
    [reasons] = await emulator.wait_for(ugo.chat_id)
    await ugo.press(reasons, "Other")
    await emulator.wait_for_edits(ugo.chat_id)
    await asyncio.sleep(0.5)
    await ugo.send_text("English courses for adults")
    [reply] = await emulator.wait_for(ugo.chat_id, timeout=15)
    assert "staff will read it" not in reply.text and "👍" in reply.button_texts
