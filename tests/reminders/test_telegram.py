"""Reminders through the real python-telegram-bot stack against the Bot API emulator."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from icalendar import Calendar
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, Defaults

from app.root import build_reminder_scheduler
from bot.reminders import ReminderHandlers, TelegramSender
from bot_api_emulator import BotApiEmulator
from reminders.delivery import Deliverer
from reminders.scheduler import ReminderScheduler
from reminders.service import ReminderService
from tests.reminders.conftest import ROME, ShiftedClock, event_yaml


def rome(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


@pytest_asyncio.fixture
async def bot(bot_api_emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    """Return an initialised `telegram.Bot` talking to the emulator."""
    async with Bot(bot_api_emulator.token, base_url=bot_api_emulator.base_url,
                   base_file_url=bot_api_emulator.base_file_url) as instance:
        yield instance


async def start_app(
    emulator: BotApiEmulator, handlers: ReminderHandlers, service: ReminderService | None = None
) -> tuple[Application[Any, Any, Any, Any, Any, Any], ReminderScheduler | None]:
    """Start a minimal polling application holding only the reminder handlers.

    With `service`, the composition root's scheduler is built on the app's bot and started, as
    the bot's post_init does.
    """
    app = (ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)
           .base_file_url(emulator.base_file_url)
           .defaults(Defaults(parse_mode=ParseMode.HTML))  # as the real application has
           .build())
    app.add_handlers(handlers.handlers())
    await app.initialize()
    scheduler = None
    if service is not None:  # what post_init does; here we start by hand
        scheduler = build_reminder_scheduler(service, bot=app.bot)
        await scheduler.start()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=5)
    return app, scheduler


async def stop_app(app: Application[Any, Any, Any, Any, Any, Any],
                   scheduler: ReminderScheduler | None) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    if scheduler is not None:
        await scheduler.stop()
    await app.shutdown()


async def test_remind_me_then_fire_then_cancel(bot_api_emulator, knowledge, make_service, clock):
    emulator = bot_api_emulator
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00",
                                    title='"Workshop <ev-a> & more"'))
    service = make_service()
    handlers = ReminderHandlers(service=service)
    app, scheduler = await start_app(emulator, handlers, service)
    try:
        anna = emulator.create_user("Anna", language_code="en")
        card = await app.bot.send_message(anna.chat_id, "Workshop ev-a", reply_markup=(
            InlineKeyboardMarkup([[InlineKeyboardButton("🔔 Remind me",
                                                        callback_data="rem:ev:ev-a")]])))
        await anna.press(card.message_id, "Remind me")
        [confirmation] = await emulator.wait_for(anna.chat_id)
        assert "Reminder set: Workshop <ev-a> & more" in (confirmation.text or "")
        assert "Fri 4 Dec 2026, 10:00" in confirmation.text
        assert "Sat 5 Dec 2026, 09:00" in confirmation.text

        # Friday 10:00: the scheduler (driven by hand here) sends the reminder with its .ics.
        clock.set(rome(2026, 12, 4, 10, 0))
        assert scheduler is not None
        assert await scheduler.run_due() == 1
        reminder = emulator.last_message(anna.chat_id)
        assert reminder.document is not None and reminder.document["file_name"] == "ev-a.ics"
        assert "Reminder (tomorrow): Workshop <ev-a> & more" in (reminder.caption or "")
        ics = emulator.files[reminder.document["file_id"]].content
        [vevent] = Calendar.from_ical(ics).walk("VEVENT")
        assert vevent.decoded("dtstart") == rome(2026, 12, 5, 10, 0)
        assert await scheduler.run_due() == 0  # exactly once

        # /reminders lists it with a cancel button; cancelling empties the list.
        await anna.send_command("reminders")
        [listing] = await emulator.wait_for(anna.chat_id)
        assert "Workshop <ev-a>" in (listing.text or "") and "Sat 5 Dec 2026, 09:00" in listing.text
        await anna.press(listing.message_id, "Cancel: Workshop <ev-a>")
        await emulator.wait_until(lambda: "cancelled" in (
            emulator.sent_messages(anna.chat_id)[-1].text or ""))
        assert "You have no reminders" in (emulator.sent_messages(anna.chat_id)[-1].text or "")
        clock.set(rome(2026, 12, 5, 9, 0))
        before = len(emulator.sent_messages(anna.chat_id))
        assert await scheduler.run_due() == 0
        assert len(emulator.sent_messages(anna.chat_id)) == before
    finally:
        await stop_app(app, scheduler)


async def test_offsets_and_digest_menus(bot_api_emulator, knowledge, make_service, clock):
    emulator = bot_api_emulator
    service = make_service()
    handlers = ReminderHandlers(service=service)
    app, scheduler = await start_app(emulator, handlers)
    try:
        bob = emulator.create_user("Bob", language_code="it")
        await bob.send_command("reminders")
        [listing] = await emulator.wait_for(bob.chat_id)
        assert "Non hai promemoria" in (listing.text or "")
        await bob.press(listing.message_id, "Quando avvisarmi")
        menu = await emulator.wait_until(lambda: "Quando vuoi" in (
            emulator.chat(bob.chat_id).bot_messages[-1].text or "")
            and emulator.chat(bob.chat_id).bot_messages[-1])
        await bob.press(menu.message_id, "30 minuti prima")
        await emulator.wait_until(lambda: service.offsets_for(bob.id) == ("1d", "1h", "30m"))
        await bob.send_command("digest")
        [digest] = await emulator.wait_for(bob.chat_id)
        assert "ogni lunedì alle 09:00" in (digest.text or "")
        await bob.press(digest.message_id, "Riepilogo spento")
        await emulator.wait_until(lambda: service.digest_settings(bob.id).opted_in)
        await bob.press(digest.message_id, "Scegli gli interessi")
        await emulator.wait_until(lambda: "Quali temi" in (
            emulator.sent_messages(bob.chat_id)[-1].text or ""))
        await bob.press(digest.message_id, data="rem:int:music")
        await emulator.wait_until(lambda: service.digest_settings(bob.id).interests
                                  == ("music",))
    finally:
        await stop_app(app, scheduler)


async def test_restart_between_subscribe_and_due_with_the_real_scheduler(
    bot_api_emulator, bot, knowledge, make_service
):
    emulator = bot_api_emulator
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    anna = emulator.create_user("Anna")
    # Before the restart: subscribe at 09:58:58 on Friday.
    clock = ShiftedClock(rome(2026, 12, 4, 9, 59, 58))
    make_service(clock).subscribe(user_id=anna.id, chat_id=anna.chat_id, event_id="ev-a",
                                  lang="en")
    # After: a new process (service, scheduler) on the same file; APScheduler wakes it up.
    for _run in range(2):
        service = make_service(clock)
        scheduler = ReminderScheduler(
            service=service, clock=clock,
            deliverer=Deliverer(sender=TelegramSender(bot=bot), ledger=service, clock=clock))
        await scheduler.start()
        try:
            await asyncio.sleep(3.0)
        finally:
            await scheduler.stop()
    [reminder] = emulator.sent_messages(anna.chat_id)  # once, despite the second start
    assert "Workshop ev-a" in (reminder.caption or "")


async def test_rate_limits_and_retry_after_are_honoured(
    bot_api_emulator, bot, knowledge, make_service, clock
):
    emulator = bot_api_emulator
    for name in ("a", "b", "c"):
        knowledge.write(name, event_yaml(f"ev-{name}", "2026-12-05T10:00:00"))
    service = make_service()
    users = [emulator.create_user(f"U{i}") for i in range(40)]
    for user in users:
        service.subscribe(user_id=user.id, chat_id=user.chat_id, event_id="ev-a", lang="en")
    busy = users[0]
    for event_id in ("ev-b", "ev-c"):  # three reminders due at once in one chat
        service.subscribe(user_id=busy.id, chat_id=busy.chat_id, event_id=event_id,
                          lang="en")
    flooded = users[5]
    emulator.flood(1, retry_after=2, chat_id=flooded.chat_id)
    deliverer = Deliverer(sender=TelegramSender(bot=bot), ledger=service, clock=clock)
    scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock)
    clock.set(rome(2026, 12, 4, 10, 0))
    assert await scheduler.run_due() == 42
    assert len(emulator.send_log) == 42
    assert all(len(emulator.sent_messages(u.chat_id)) == (3 if u is busy else 1) for u in users)
    assert emulator.max_sends_in_window(1.0) <= 28  # 25/s + a 2-send bucket (Telegram: ~30)
    assert emulator.max_sends_in_window(0.95, chat_id=busy.chat_id) == 1  # 1 per second per chat
    calls = [c for c in emulator.calls_to("sendDocument")
             if str(c.params.get("chat_id")) == str(flooded.chat_id)]
    assert [c.ok for c in calls] == [False, True]
    assert calls[1].at - calls[0].at >= 2.0  # waited retry_after
    assert deliverer.stats.retry_after_waits == 1


async def test_blocked_user_is_unsubscribed_not_retried(
    bot_api_emulator, bot, knowledge, make_service, clock
):
    emulator = bot_api_emulator
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    service = make_service()
    carla = emulator.create_user("Carla")
    service.subscribe(user_id=carla.id, chat_id=carla.chat_id, event_id="ev-a", lang="en")
    emulator.block_chat(carla.chat_id)
    deliverer = Deliverer(sender=TelegramSender(bot=bot), ledger=service, clock=clock)
    scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock)
    clock.set(rome(2026, 12, 4, 10, 0))
    await scheduler.run_due()
    assert deliverer.stats.blocked == 1
    assert service.upcoming(carla.id) == []
    clock.set(rome(2026, 12, 5, 9, 0))
    assert await scheduler.run_due() == 0
    attempts = [c for c in emulator.calls if str(c.params.get("chat_id")) == str(carla.chat_id)]
    assert len(attempts) == 1


@pytest.mark.parametrize("lang", ["it", "en"])
def test_every_reminder_text_exists_in_both_languages(lang):
    from learncity.i18n import catalog

    keys = {k for k in catalog("en") if k.startswith("reminders.")}
    assert keys == {k for k in catalog(lang) if k.startswith("reminders.")}


async def test_moved_and_cancelled_events_reach_subscribers(
    bot_api_emulator, bot, knowledge, make_service, clock
):
    emulator = bot_api_emulator
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    knowledge.write("b", event_yaml("ev-b", "2026-12-06T10:00:00"))
    service = make_service()
    dora = emulator.create_user("Dora", language_code="it")
    for event_id in ("ev-a", "ev-b"):
        service.subscribe(user_id=dora.id, chat_id=dora.chat_id, event_id=event_id, lang="it")
    deliverer = Deliverer(sender=TelegramSender(bot=bot), ledger=service, clock=clock)
    scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock)
    assert await scheduler.run_due() == 0  # the first pass reconciles: nothing changed
    # Staff move one event and cancel the other; the next pass tells Dora, once.
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T17:00:00"))
    knowledge.write("b", event_yaml("ev-b", "2026-12-06T10:00:00", extra="status: cancelled"))
    assert await scheduler.run_due() == 2
    assert await scheduler.run_due() == 0
    texts = sorted(m.text or "" for m in emulator.sent_messages(dora.chat_id))
    assert texts[0].startswith("❌ Annullato: Laboratorio ev-b")
    assert texts[1].startswith("🕑 È cambiato l'orario: Laboratorio ev-a")
    assert "ore 17:00" in texts[1]
    moved = next(m for m in emulator.sent_messages(dora.chat_id) if m.document)
    assert moved.document["file_name"] == "ev-a.ics"
    for due in (rome(2026, 12, 4, 17, 0), rome(2026, 12, 5, 16, 0)):  # re-planned: 17:00 - 1d, 1h
        clock.set(due - dt.timedelta(minutes=1))
        assert await scheduler.run_due() == 0
        clock.set(due)
        assert await scheduler.run_due() == 1
        assert "Laboratorio ev-a" in (emulator.last_message(dora.chat_id).caption or "")
