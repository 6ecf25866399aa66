"""Staff commands vs everyone else, the knowledge watcher, /privacy and /forget."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.storage import ConversationRow, FeedbackRow, UserDataRow, UserRow
from tests.bot.conftest import ADMIN_ID, BotRunner


async def test_staff_commands_are_for_staff_only(running: BotRunner) -> None:
    emulator = running.emulator
    resident = emulator.create_user("Nina", language_code="en")
    admin = emulator.create_user("Staff", user_id=ADMIN_ID, language_code="en")

    for command in ("reindex", "stats", "gaps"):
        await resident.send_command(command)
        [refusal] = await emulator.wait_for(resident.chat_id)
        assert "only for city staff" in refusal.text

    # Two unanswered questions worded differently, and one more.
    await resident.send_text("Where can I rent a kayak in the harbour?")
    await resident.send_text("kayak rental at the port?")
    await resident.send_text("What is the price of a flight to Tokyo?")
    await emulator.wait_for(resident.chat_id, count=3, timeout=20)

    await admin.send_command("stats")
    [stats] = await emulator.wait_for(admin.chat_id)
    assert "Questions: 3" in stats.text and "Users:" in stats.text
    assert "abstention rate 100%" in stats.text

    await admin.send_command("gaps")
    [gaps] = await emulator.wait_for(admin.chat_id, timeout=10)
    assert "1. ×2" in gaps.text and "kayak" in gaps.text.lower()
    assert "2. ×1" in gaps.text

    await admin.send_command("reindex")
    started, done = await emulator.wait_for(admin.chat_id, count=2, timeout=20)
    assert "Re-indexing" in started.text and "Index updated" in done.text


async def test_a_broken_file_is_reported_to_staff_and_an_edit_is_picked_up(
    runner: BotRunner,
) -> None:
    emulator = runner.emulator
    admin = emulator.create_user("Staff", user_id=ADMIN_ID, language_code="en")
    resident = emulator.create_user("Olga", language_code="en")
    await runner.start(watch=True)
    root = runner.services.knowledge.root
    lifecycle_watcher_ready = 0.3
    await asyncio.sleep(lifecycle_watcher_ready)

    broken = root / "programmes" / "broken.yaml"
    guide = root / "guides" / "kayak-en.md"
    try:
        await _break_and_fix(emulator, broken, guide, admin, resident)
    finally:
        broken.unlink(missing_ok=True)
        guide.unlink(missing_ok=True)
        await asyncio.to_thread(runner.services.knowledge.reload)


async def _break_and_fix(
    emulator: Any, broken: Path, guide: Path, admin: Any, resident: Any
) -> None:
    broken.write_text("programmes:\n  - id: broken-one\n    title: Broken\n    cost: [\n", "utf-8")
    started = time.monotonic()
    [report] = await emulator.wait_for(admin.chat_id, since=0, timeout=15)
    assert "programmes/broken.yaml:" in report.text  # path and line
    assert time.monotonic() - started < 10

    guide.write_text(
        "---\ntitle: Kayak courses in the harbour\nlanguage: en\n---\n\n"
        "# Kayak courses in the harbour\n\nThe city sailing club rents kayaks and teaches "
        "kayaking to adults every Saturday morning at the harbour. Rental costs 10 euro.\n",
        "utf-8",
    )
    deadline = time.monotonic() + 15
    while True:
        await resident.send_text("Where can I rent a kayak in the harbour?")
        [answer] = await emulator.wait_for(resident.chat_id, timeout=10)
        if any("Kayak" in text for text in answer.button_texts):  # the new guide, as a source
            break
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(0.5)


async def test_privacy_shows_and_forget_deletes_everything(running: BotRunner) -> None:
    emulator = running.emulator
    pia = emulator.create_user("Pia", language_code="it")
    await pia.send_command("privacy")
    [nothing] = await emulator.wait_for(pia.chat_id)
    assert "Niente" in nothing.text

    await pia.send_command("start")
    [welcome] = await emulator.wait_for(pia.chat_id)
    await pia.press(welcome, "English")
    await emulator.wait_for(pia.chat_id)
    await pia.send_command("courses")
    [menu] = await emulator.wait_for(pia.chat_id)
    await pia.press(menu, "By topic")
    [topics] = await emulator.wait_for_edits(pia.chat_id)
    await pia.press(topics, "Digital skills")
    await emulator.wait_for_edits(pia.chat_id)
    await pia.send_text("How do I enrol my child in primary school?")
    [answer] = await emulator.wait_for(pia.chat_id, timeout=15)
    await pia.press(answer, "👎")
    await emulator.wait_for(pia.chat_id)

    await pia.send_command("privacy")
    [shown] = await emulator.wait_for(pia.chat_id)
    assert "language: English" in shown.text
    assert "topics you browsed: Digital skills" in shown.text
    assert "answers you rated: 1" in shown.text
    assert "{" not in shown.text and "'" not in shown.text  # a list, not Python dicts

    await pia.send_command("forget")
    [confirm] = await emulator.wait_for(pia.chat_id)
    await pia.press(confirm, "No")
    [kept] = await emulator.wait_for_edits(pia.chat_id)
    assert "Nothing deleted" in kept.text

    await pia.send_command("forget")
    [confirm] = await emulator.wait_for(pia.chat_id)
    await pia.press(confirm, "Yes")
    [done] = await emulator.wait_for_edits(pia.chat_id)
    assert "deleted everything" in done.text

    await running.restart()  # PTB writes (and drops) its copies on shutdown
    engine = running.services.engine
    with engine.connect() as connection:
        for model, column in (
            (UserRow, UserRow.id),
            (FeedbackRow, FeedbackRow.user_id),
            (UserDataRow, UserDataRow.user_id),
        ):
            count = connection.scalar(
                select(func.count()).select_from(model).where(column == pia.id)
            )
            assert count == 0, model.__tablename__
        keys = connection.scalars(select(ConversationRow.key)).all()
    assert not [key for key in keys if str(pia.id) in key]

    await pia.send_command("privacy")
    [after] = await emulator.wait_for(pia.chat_id)
    assert "Niente" in after.text  # back to Telegram's language, nothing kept


async def test_broken_files_found_at_start_up_are_sent_to_the_admin_chat(runner: BotRunner) -> None:
    emulator = runner.emulator
    staff_group = emulator.create_group("City staff")
    knowledge = runner.services.knowledge
    broken = knowledge.root / "events" / "broken-at-start.yaml"
    broken.write_text("events:\n  - id: Not Valid\n    title: x\n", "utf-8")
    try:
        await asyncio.to_thread(knowledge.reload)
        await runner.start(admin_chat_id=staff_group.id)
        [report] = await emulator.wait_for(staff_group.id, since=0, timeout=10)
        assert "events/broken-at-start.yaml:" in report.text
    finally:
        broken.unlink()
        await asyncio.to_thread(knowledge.reload)
