"""kill -9 in the middle of a delivery batch, then a restart on the same SQLite file.

The guarantee: every message whose delivery was acknowledged (committed) before the kill is never
sent again, and nothing is lost; a message that was in flight at the kill (claimed, possibly handed
to Telegram, acknowledgement not committed) is sent again after the restart, so it may arrive twice.
Duplicates are therefore limited to the messages in flight: at most one per chat (one in flight per
chat) and at most `max_in_flight` in all.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from telegram import Bot

from bot.reminders import TelegramSender
from reminders.delivery import Deliverer
from reminders.scheduler import ReminderScheduler
from reminders.store import SENDING, Delivery, Reminder
from tests.reminders.conftest import ROME, ShiftedClock, event_yaml

REPO = Path(__file__).resolve().parents[2]
MAX_IN_FLIGHT = 4

WORKER = """
import asyncio, datetime as dt, logging, sys
logging.basicConfig(level=logging.INFO)
from pathlib import Path
from zoneinfo import ZoneInfo
from telegram import Bot
from bot.reminders import TelegramSender
from learncity.content.loader import load_knowledge
from learncity.db import make_engine
from reminders.delivery import Deliverer
from reminders.scheduler import ReminderScheduler
from reminders.service import ReminderService
from reminders.store import ReminderStore
from tests.reminders.conftest import ShiftedClock

async def main(db, root, at, token, base_url, file_url, in_flight):
    clock = ShiftedClock(dt.datetime.fromisoformat(at))
    kb = load_knowledge(Path(root))
    store = ReminderStore(engine=make_engine(db))
    service = ReminderService(store=store, knowledge=lambda: kb, clock=clock,
                              zone=ZoneInfo("Europe/Rome"))
    async with Bot(token, base_url=base_url, base_file_url=file_url) as bot:
        deliverer = Deliverer(sender=TelegramSender(bot=bot), ledger=service, clock=clock,
                              max_in_flight=int(in_flight))
        scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock)
        await scheduler.start()
        await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:8]))
"""


async def test_kill_9_mid_batch_loses_nothing_and_duplicates_only_in_flight(
    bot_api_emulator, knowledge, make_service, db_url
):
    emulator = bot_api_emulator
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    clock = ShiftedClock(datetime(2026, 12, 4, 10, 0, tzinfo=ROME))
    service = make_service(clock)
    users = [emulator.create_user(f"U{i}") for i in range(30)]
    for user in users:
        service.subscribe(user_id=user.id, chat_id=user.chat_id, event_id="ev-a", lang="en",
                          now=datetime(2026, 12, 4, 9, 0, tzinfo=ROME))
    emulator.set_delay(0.05, methods=["sendDocument"])  # a wider in-flight window

    log = (knowledge.root.parent / "worker.log").open("wb")
    worker = subprocess.Popen(  # noqa: ASYNC220 - a child process we kill on purpose
        [sys.executable, "-c", WORKER, db_url, str(knowledge.root), clock.now().isoformat(),
         emulator.token, emulator.base_url, emulator.base_file_url, str(MAX_IN_FLIGHT)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(6000):
            if len(emulator.send_log) >= 10 or worker.poll() is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    await asyncio.sleep(0.5)  # requests already at the emulator finish there
    assert worker.returncode == -signal.SIGKILL
    delivered_before = Counter(chat for _, chat, _ in emulator.send_log)
    log.close()
    worker_log = (knowledge.root.parent / "worker.log").read_text()
    assert 10 <= sum(delivered_before.values()) < len(users), worker_log

    with service.store.session() as s:
        acked = {d.chat_id for d in s.scalars(select(Delivery)).all() if d.sent_at is not None}
        in_flight = {r.chat_id for r in s.scalars(
            select(Reminder).where(Reminder.status == SENDING)).all()}
    assert acked <= set(delivered_before)  # acknowledged means Telegram had it
    assert len(in_flight) <= 25  # claimed rows: at most one batch

    # Restart: a new service and scheduler on the same file finish the batch.
    restarted = make_service(clock)
    async with Bot(emulator.token, base_url=emulator.base_url,
                   base_file_url=emulator.base_file_url) as bot:
        deliverer = Deliverer(sender=TelegramSender(bot=bot), ledger=restarted, clock=clock)
        scheduler = ReminderScheduler(service=restarted, deliverer=deliverer, clock=clock)
        await scheduler.start()
        try:
            for _ in range(3000):
                if {c for _, c, _ in emulator.send_log} >= {u.chat_id for u in users}:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
        finally:
            await scheduler.stop()
    assert scheduler.recovered == len(in_flight)

    received = Counter(chat for _, chat, _ in emulator.send_log)
    assert all(received[u.chat_id] >= 1 for u in users)  # nothing lost
    duplicates = {chat for chat, count in received.items() if count > 1}
    assert all(count <= 2 for count in received.values())
    assert not duplicates & acked  # acknowledged: never sent again
    assert duplicates <= in_flight and len(duplicates) <= MAX_IN_FLIGHT
    with restarted.store.session() as s:
        assert all(d.sent_at is not None for d in s.scalars(select(Delivery)).all())
