"""Privacy under attack: what staff see is masked, /forget reaches every row, groups see nothing."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.storage import QuestionRow, UnansweredRow
from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import ADMIN_ID, BotRunner

# The bot test fixtures (a real Application against the emulator, a fresh database per test).
knowledge_copy = bot_fixtures.knowledge_copy
module_services = bot_fixtures.module_services
services = bot_fixtures.services
runner = bot_fixtures.runner
running = bot_fixtures.running
sqlite_busy_timeout = bot_fixtures.sqlite_busy_timeout

PERSONAL = (
    "Mi chiamo Giulia Rossi, codice fiscale RSSGLI85T50A562S, abito in via Garibaldi 12, "
    "telefono 333 123 4567: come rinnovo il permesso di soggiorno?"
)
SECRETS = ("Giulia", "Rossi", "RSSGLI85T50A562S", "Garibaldi", "333 123 4567", "4567")
# A user id no other number in a conversation is likely to contain.
DISTINCT_ID = 730418296


async def test_gaps_show_masked_questions_and_forget_removes_them(running: BotRunner) -> None:
    emulator = running.emulator
    giulia = emulator.create_user("Giulia", language_code="it")
    other = emulator.create_user("Otto", language_code="it")
    admin = emulator.create_user("Staff", user_id=ADMIN_ID, language_code="it")
    await giulia.send_text(PERSONAL)
    await emulator.wait_for(giulia.chat_id, timeout=15)
    await other.send_text("Quanto costa un volo per Tokyo ad agosto?")
    await emulator.wait_for(other.chat_id, timeout=15)

    engine = running.services.engine
    with engine.connect() as connection:
        stored = connection.execute(select(UnansweredRow.text, UnansweredRow.asker)).all()
    assert len(stored) == 2
    for text, asker in stored:
        assert not [secret for secret in SECRETS if secret in text], text
        assert asker and str(giulia.id) not in asker and str(other.id) not in asker

    await admin.send_command("gaps")
    [gaps] = await emulator.wait_for(admin.chat_id, timeout=15)
    assert "Tokyo" in gaps.text
    assert "<name>" in gaps.text and "<fiscal code>" in gaps.text and "<address>" in gaps.text
    assert not [secret for secret in SECRETS if secret in gaps.text], gaps.text

    await giulia.send_command("privacy")
    [shown] = await emulator.wait_for(giulia.chat_id)
    assert "domande a cui non ho saputo rispondere" in shown.text

    await giulia.send_command("forget")
    [confirm] = await emulator.wait_for(giulia.chat_id)
    await giulia.press(confirm, "Sì")
    await emulator.wait_for_edits(giulia.chat_id)
    with engine.connect() as connection:
        left = connection.execute(select(UnansweredRow.text)).scalars().all()
        questions = connection.scalar(select(func.count()).select_from(QuestionRow))
    assert left and all("agosto" in text for text in left)  # only Otto's question is left
    assert questions == 1


async def test_privacy_and_forget_in_a_group_point_to_a_private_chat(running: BotRunner) -> None:
    emulator = running.emulator
    group = emulator.create_group("Genitori di via Roma")
    maria = emulator.create_user("Maria", language_code="it")
    await maria.send_command("language")
    [choice] = await emulator.wait_for(maria.chat_id)
    await maria.press(choice, "English")
    await emulator.wait_for(maria.chat_id)

    for command in ("privacy", "forget"):
        await maria.send_command(command, chat=group)  # "/privacy@learncity_test_bot"
        [reply] = await emulator.wait_for(group.id)
        assert "only in a private chat" in reply.text
        [button] = [b for row in reply.data["reply_markup"]["inline_keyboard"] for b in row]
        assert button["url"] == f"https://t.me/{emulator.bot_username}?start=privacy"
        assert "language" not in reply.text.lower() and "English" not in reply.text

    # The deep link opens the private chat with /start privacy: the data is shown there.
    await maria.send_command("start", "privacy")
    [shown] = await emulator.wait_for(maria.chat_id)
    assert "What I keep about you" in shown.text and "language: English" in shown.text


async def test_no_log_line_holds_a_user_id(
    running: BotRunner, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = running.emulator
    caplog.set_level(logging.DEBUG)
    rita = emulator.create_user("Rita", user_id=DISTINCT_ID, language_code="en")
    await rita.send_command("start")
    [welcome] = await emulator.wait_for(rita.chat_id)
    await rita.press(welcome, "English")
    await emulator.wait_for(rita.chat_id)
    await rita.send_text("How do I enrol my child in primary school?")
    [answer] = await emulator.wait_for(rita.chat_id, timeout=15)
    await rita.press(answer, "👎")
    [reasons] = await emulator.wait_for(rita.chat_id)
    await rita.press(reasons, "Other")
    await emulator.wait_for_edits(rita.chat_id)
    await rita.send_text("My name is Rita Verdi and the fees were missing")
    await emulator.wait_for(rita.chat_id)
    await rita.send_text("How much is a flight to Tokyo?")  # unanswered: logged, masked
    await emulator.wait_for(rita.chat_id, timeout=15)
    await rita.send_command("reminders")
    await emulator.wait_for(rita.chat_id)
    await rita.send_command("skills")
    await emulator.wait_for(rita.chat_id)
    emulator.fail(4, 500, methods=["sendMessage"], chat_id=rita.chat_id)
    await rita.send_command("privacy")  # not delivered: recorded for staff, and logged
    await emulator.wait_until(
        lambda: len([c for c in emulator.calls_to("sendMessage") if c.error_code == 500]) >= 4,
        timeout=30,
    )
    await rita.send_command("forget")
    [confirm] = await emulator.wait_for(rita.chat_id, timeout=10)
    await rita.press(confirm, "Yes")
    await emulator.wait_for_edits(rita.chat_id)
    await running.stop()

    lines = [record.getMessage() for record in caplog.records]
    lines += [caplog.text]
    assert len(caplog.records) >= 5  # the capture worked: the bot did log
    leaks = [line for line in lines if str(DISTINCT_ID) in line]
    assert not leaks, leaks[:3]
