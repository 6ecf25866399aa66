"""Menus through the emulator: /courses paging, /events this weekend, /school, a shared location."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tests.bot.conftest import BotRunner

ROME = ZoneInfo("Europe/Rome")
THURSDAY = dt.datetime(2026, 12, 10, 12, 0, tzinfo=ROME)


@pytest.fixture
async def bot(runner: BotRunner) -> BotRunner:
    """Start the bot with the clock fixed on a Thursday in December 2026."""
    runner.clock = lambda: THURSDAY
    await runner.start()
    return runner


async def test_browse_courses_by_audience_with_pages_and_details(bot: BotRunner) -> None:
    emulator = bot.emulator
    sara = emulator.create_user("Sara", language_code="en")
    await sara.send_command("courses")
    [menu] = await emulator.wait_for(sara.chat_id)
    assert menu.button_texts == ["👥 By audience", "🏷 By topic"]

    await sara.press(menu, "By audience")
    [audiences] = await emulator.wait_for_edits(sara.chat_id)
    assert "Adults" in audiences.button_texts and "Migrants" in audiences.button_texts

    await sara.press(audiences, "Adults")
    [page] = await emulator.wait_for_edits(sara.chat_id)
    assert "Adults: 1–5 of" in page.text
    assert "Next ▶️" in page.button_texts and "◀️ Previous" not in page.button_texts

    await sara.press(page, "Next")
    [second] = await emulator.wait_for_edits(sara.chat_id)
    assert "Adults: 6–10 of" in second.text
    assert "◀️ Previous" in second.button_texts

    details = next(text for text in second.button_texts if text.startswith("ℹ️"))
    await sara.press(second, details)
    [card] = await emulator.wait_for(sara.chat_id)
    assert "Source:" in card.text and "programmes/" in card.text


async def test_events_this_weekend_and_add_to_calendar(bot: BotRunner) -> None:
    emulator = bot.emulator
    ugo = emulator.create_user("Ugo", language_code="en")
    await ugo.send_command("events")
    [menu] = await emulator.wait_for(ugo.chat_id)
    await ugo.press(menu, "This weekend")
    [listing] = await emulator.wait_for(ugo.chat_id)
    assert "Events – This weekend" in listing.text
    assert "Christmas book swap" in listing.text
    assert "12" in listing.text  # Saturday 12 December

    update = await ugo.press(listing, "📅")
    await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    [document] = await emulator.wait_for(ugo.chat_id)
    assert document.document is not None
    assert document.document["file_name"].endswith(".ics")
    content = emulator.files[document.document["file_id"]].content
    calendar = Calendar.from_ical(content)
    assert calendar.walk("VEVENT"), "the .ics holds an event"


async def test_school_menu_answers_from_the_guides(bot: BotRunner) -> None:
    emulator = bot.emulator
    giulia = emulator.create_user("Giulia", language_code="it")
    await giulia.send_command("school")
    [menu] = await emulator.wait_for(giulia.chat_id)
    assert "🧩 Bisogni educativi speciali" in menu.button_texts
    assert "☎️ Chi chiamare" in menu.button_texts

    await giulia.press(menu, "Iscrizioni")
    [answer] = await emulator.wait_for(giulia.chat_id, timeout=15)
    assert "scuola" in answer.text.lower()
    assert any("Iscrizioni" in text for text in answer.button_texts)  # the guide, as a source
    assert "👍" in answer.button_texts

    await giulia.press(menu, "Chi chiamare")
    [contact] = await emulator.wait_for(giulia.chat_id)
    assert "Chi chiamare per la scuola" in contact.text
    assert any(char.isdigit() for char in contact.text)


async def test_shared_location_lists_the_nearest_with_distance(bot: BotRunner) -> None:
    emulator = bot.emulator
    piero = emulator.create_user("Piero", language_code="en")
    await piero.send_location(37.5, 15.08)
    [near] = await emulator.wait_for(piero.chat_id, timeout=10)
    assert "Near you" in near.text
    assert "km away" in near.text
    assert any(text.startswith("ℹ️") for text in near.button_texts)


async def test_a_card_removed_from_the_folder_gets_a_polite_notice(bot: BotRunner) -> None:
    emulator = bot.emulator
    knowledge = bot.services.knowledge
    events_file = knowledge.root / "events" / "2026-2027.yaml"
    original = events_file.read_bytes()
    ugo = emulator.create_user("Ugo", language_code="en")
    await ugo.send_command("events")
    [menu] = await emulator.wait_for(ugo.chat_id)
    await ugo.press(menu, "This weekend")
    [listing] = await emulator.wait_for(ugo.chat_id)
    book_swap = next(text for text in listing.button_texts if "Christmas book" in text)
    try:
        events_file.unlink()
        await asyncio.to_thread(knowledge.reload)
        update = await ugo.press(listing, book_swap)
        answer = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
        assert "no longer" in answer["text"]
    finally:
        events_file.write_bytes(original)
        await asyncio.to_thread(knowledge.reload)


async def test_events_can_be_filtered_to_free_ones(bot: BotRunner) -> None:
    emulator = bot.emulator
    ugo = emulator.create_user("Ugo", language_code="en")
    await ugo.send_command("events")
    [menu] = await emulator.wait_for(ugo.chat_id)
    await ugo.press(menu, "This month")
    [listing] = await emulator.wait_for(ugo.chat_id)
    assert "💶 Free only" in listing.button_texts
    await ugo.press(listing, "Free only")
    [free] = await emulator.wait_for(ugo.chat_id)
    assert "This month · 💶 Free only" in free.text
