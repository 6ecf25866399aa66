"""Safeguarding, odd input, groups and channels, flood control and Telegram errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot_api_emulator import BotApiEmulator
from tests.bot.conftest import BotRunner


async def settle(emulator: BotApiEmulator, chat_id: int, seconds: float = 0.3) -> int:
    """Wait a little and return how many messages the bot sent since the last user action."""
    await asyncio.sleep(seconds)
    chat = emulator.chat(chat_id)
    return len(chat.bot_messages) - chat.cursor


@pytest.mark.parametrize(
    ("text", "language", "helpline"),
    [
        ("I want to kill myself, nobody would notice", "en", "Telefono Amico"),
        ("Il mio patrigno mi picchia quando torna a casa", "it", "112"),
        ("Mio figlio è vittima di bullismo a scuola, cosa posso fare?", "it", "Telefono Azzurro"),
    ],
)
async def test_danger_or_distress_gets_the_helplines_first(
    running: BotRunner, caplog: pytest.LogCaptureFixture, text: str, language: str, helpline: str
) -> None:
    emulator = running.emulator
    user = emulator.create_user("Vale", language_code=language)
    caplog.set_level(logging.DEBUG)
    await user.send_text(text)
    [first] = await emulator.wait_for(user.chat_id, timeout=10)
    assert "112" in first.text and helpline in first.text
    await settle(emulator, user.chat_id, 0.5)
    # Never logged with the resident's identity, nor the words they wrote.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert str(user.id) not in logged.replace(str(emulator.bot_id), "")
    assert text not in logged
    assert "safeguarding helplines sent" in logged


async def test_self_harm_gets_only_the_helplines(running: BotRunner) -> None:
    emulator = running.emulator
    user = emulator.create_user("Teo", language_code="en")
    await user.send_text("I want to end my life")
    await emulator.wait_for(user.chat_id, timeout=10)
    assert await settle(emulator, user.chat_id, 0.5) == 1


async def test_odd_messages_get_a_short_polite_reply(running: BotRunner) -> None:
    emulator = running.emulator
    ada = emulator.create_user("Ada", language_code="en")
    expectations = [
        (ada.send_voice(), "voice messages"),
        (ada.send_photo(), "pictures"),
        (ada.send_sticker(), "sticker"),
        (ada.send_document(), "files"),
        (ada.send_contact(), "contacts"),
        (ada.send_poll(), "polls"),
        (ada.send_text("x" * 10_000), "very long"),
        (ada.send_command("teleport"), "do not know that command"),
    ]
    for action, expected in expectations:
        await action
        [reply] = await emulator.wait_for(ada.chat_id, timeout=5)
        assert expected in reply.text, (expected, reply.text)
        assert len(reply.text) < 200

    sent = await ada.send_text("hello there")
    await emulator.wait_for(ada.chat_id, timeout=10)
    await ada.edit_message(sent["message"]["message_id"], "hello again")
    [reply] = await emulator.wait_for(ada.chat_id)
    assert "new messages only" in reply.text


async def test_forged_and_stale_buttons_get_the_menu(running: BotRunner) -> None:
    emulator = running.emulator
    bea = emulator.create_user("Bea", language_code="en")
    await bea.send_command("help")
    [help_message] = await emulator.wait_for(bea.chat_id)
    for data in ("d:deadbeef:0", "fb:00000000:1", "c:a:not-an-audience:0", "garbage", "ics:1:2:3"):
        update = await bea.press(help_message, data=data)
        answer = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
        assert "out of date" in answer.get("text", ""), data
    await settle(emulator, bea.chat_id)
    assert not emulator.calls_to("sendMessage") or all(
        call.ok for call in emulator.calls_to("sendMessage")
    )


async def test_groups_only_commands_and_mentions_and_channels_are_ignored(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    group = emulator.create_group("Parents of 3B")
    rita = emulator.create_user("Rita", language_code="en")
    await rita.send_text("anyone going to the museum on Sunday?", chat=group)
    assert await settle(emulator, group.id) == 0

    await rita.send_command("help", chat=group)
    [help_message] = await emulator.wait_for(group.id)
    assert "How I can help" in help_message.text

    mention = "@" + emulator.bot_username
    await rita.send_text(
        f"{mention} how do I enrol my child in primary school?",
        chat=group,
        entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
    )
    [answer] = await emulator.wait_for(group.id, timeout=15)
    assert "👍" in answer.button_texts
    # Anyone in the group can use the answer's buttons.
    sam = emulator.create_user("Sam", language_code="en")
    update = await sam.press(answer, "👍", chat=group)
    thanks = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    assert "Thank you" in thanks["text"]

    channel = emulator.create_channel()
    await emulator.post_to_channel(channel, "Concert tonight in Piazza Duomo")
    assert await settle(emulator, channel.id) == 0


async def test_flood_control_says_slow_down_once(runner: BotRunner) -> None:
    await runner.start(flood_max_messages=3, flood_window_seconds=60)
    emulator = runner.emulator
    eva = emulator.create_user("Eva", language_code="en")
    for _ in range(3):
        await eva.send_command("help")
    await emulator.wait_for(eva.chat_id, since=0, count=3)
    await eva.send_command("help")
    [slow] = await emulator.wait_for(eva.chat_id)
    assert "slow down" in slow.text
    await eva.send_command("help")
    assert await settle(emulator, eva.chat_id) == 0


async def test_a_blocked_user_does_not_break_the_bot(running: BotRunner) -> None:
    emulator = running.emulator
    gone = emulator.create_user("Gone", language_code="en")
    here = emulator.create_user("Here", language_code="en")
    emulator.block_chat(gone.chat_id)
    await gone.send_command("help")
    await here.send_command("help")
    [reply] = await emulator.wait_for(here.chat_id)
    assert "How I can help" in reply.text
    # Updates are handled concurrently: the blocked chat's reply may come second.
    await emulator.wait_until(
        lambda: any(call.error_code == 403 for call in emulator.calls_to("sendMessage")),
        timeout=5,
    )


async def test_commands_are_registered_in_italian_and_english(running: BotRunner) -> None:
    emulator = running.emulator
    italian = {command["command"]: command["description"] for command in emulator.my_commands("it")}
    english = {command["command"]: command["description"] for command in emulator.my_commands("en")}
    for name in ("start", "help", "courses", "events", "school", "language", "privacy", "forget"):
        assert name in italian and name in english
    assert italian["forget"] != english["forget"]
    assert emulator.my_commands("")  # the default list, for every other language


async def test_telegram_asking_to_retry_later_delays_but_does_not_lose_the_reply(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    dino = emulator.create_user("Dino", language_code="en")
    emulator.flood(1, retry_after=1, methods=["sendMessage"], chat_id=dino.chat_id)
    await dino.send_command("help")
    [reply] = await emulator.wait_for(dino.chat_id, timeout=10)
    assert "How I can help" in reply.text
    assert any(call.error_code == 429 for call in emulator.calls_to("sendMessage"))


async def test_an_unexpected_error_gets_an_apology_and_a_log_without_the_text(
    running: BotRunner, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_ask(question: str, **_: object) -> None:
        raise RuntimeError(f"index exploded on {question!r}")

    monkeypatch.setattr(running.services.assistant, "ask", broken_ask)
    emulator = running.emulator
    olga = emulator.create_user("Olga", language_code="en")
    caplog.set_level(logging.INFO)
    await olga.send_text("where are the pottery classes?")
    [apology] = await emulator.wait_for(olga.chat_id, timeout=10)
    assert "Sorry, something went wrong" in apology.text
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert failures and "RuntimeError" in failures[0]
    assert "pottery" not in "\n".join(r.getMessage() for r in caplog.records)
    assert emulator.token not in "\n".join(r.getMessage() for r in caplog.records)
