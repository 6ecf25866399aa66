"""Reminders exactly once across worker processes on one PostgreSQL, with one worker killed.

Run (a throw-away database: the reminder tables in it are dropped first):

    nice python benchmarks/reminders_workers.py --database-url postgresql+psycopg://... \
        --workers 3 --reminders 3000 --kill-one

What runs: the Telegram Bot API emulator (in this process) and N worker subprocesses. Each worker
is the reminder half of a replica of `learncity run`: its own engine, `ReminderStore` (worker id
`bench-<n>`, a lease of `--lease` seconds), `ReminderService`, `Deliverer` and the real
`ReminderScheduler` (APScheduler 3 wake-up), sending through python-telegram-bot's `Bot` and the
`TelegramSender` to the emulator. It does not start the whole bot (no webhook, no update
handling, no embedding model): the question-answering half of the issue's benchmark is not here.

The reminders (`--reminders`, over `--chats` chats) fall due over the first minute. With
`--kill-one`, once a third of them have arrived, the worker holding the most claims is killed with
SIGKILL; the others take its claims over when their lease ends. Every reminder's text carries its
number, so the emulator's chats tell exactly which arrived and how often. As in the bot on
PostgreSQL, one worker at a time is the elected sender (`learncity.db.Leadership`, lock
`reminder-sender`) and sends at the group's whole `--rate`; the others stand by and the first to
find the lock free after the sender died takes over with the whole rate (its limiter allows a
burst of two, so the group may reach rate + 2 in one second). `--split-rate` runs the previous
set-up instead: every worker sends, each at `--rate` / workers.

Ends with one line:
`reminders: due 3000, delivered 3000, lost 0, duplicates 0, p95 lateness 1.2 s, max per second 29`
(`delivered`: distinct reminders that arrived at least once; `duplicates`: extra arrivals;
lateness: arrival at the emulator minus the due time, over first arrivals).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ROME = ZoneInfo("Europe/Rome")
TITLE = re.compile(r"bench-reminder-(\d+)")


class EmptyCatalog:
    """No events: a reminder's title is its target id, which carries the reminder's number."""

    @property
    def events(self) -> Mapping[str, object]:
        """No events."""
        return {}

    @property
    def programmes(self) -> Mapping[str, object]:
        """No programmes."""
        return {}


# -- a worker (a subprocess) --------------------------------------------------------------------


async def run_worker(args: argparse.Namespace) -> None:
    """Deliver due reminders until SIGTERM (then finish what is in flight)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from telegram import Bot

    from bot.reminders import TelegramSender
    from learncity.db import Leadership, make_engine
    from reminders.clock import SystemClock
    from reminders.delivery import Deliverer
    from reminders.digest import QuietHours
    from reminders.scheduler import SENDER_TASK, ReminderScheduler
    from reminders.service import ReminderService
    from reminders.store import ReminderStore

    clock = SystemClock()
    store = ReminderStore(engine=make_engine(args.database_url), worker_id=args.worker,
                          lease=dt.timedelta(seconds=args.lease))
    catalog = EmptyCatalog()
    service = ReminderService(
        store=store, knowledge=lambda: catalog, clock=clock, zone=ROME,  # type: ignore[arg-type, return-value]
        quiet_hours=QuietHours(dt.time(0, 0), dt.time(0, 0), ROME),  # never quiet here
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Bot(args.token, base_url=args.base_url, base_file_url=args.base_file_url) as bot:
        deliverer = Deliverer(sender=TelegramSender(bot=bot), ledger=service, clock=clock,
                              rate_per_second=args.rate, max_in_flight=8)
        sender = None if args.split_rate else Leadership(engine=store.engine, name=SENDER_TASK)
        scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock,
                                      poll_interval=dt.timedelta(seconds=1), sender=sender)
        await scheduler.start()
        await stop.wait()
        await scheduler.stop()
    store.engine.dispose()


# -- the parent ---------------------------------------------------------------------------------


def prepare(database_url: str, *, reminders: int, chats: list[int], start: dt.datetime) -> None:
    """Empty the reminder tables and queue the reminders, due over the minute after `start`."""
    from learncity.db import make_engine
    from reminders.store import (
        KIND_REMINDER,
        PENDING,
        Delivery,
        DigestPreference,
        Reminder,
        ReminderStore,
        Subscription,
        UserReminderOffsets,
    )

    engine = make_engine(database_url)
    for model in (Delivery, Reminder, Subscription, DigestPreference, UserReminderOffsets):
        model.__table__.drop(engine, checkfirst=True)  # type: ignore[attr-defined]
    store = ReminderStore(engine=engine, worker_id="bench-setup")
    store.create_schema()
    event_start = start + dt.timedelta(hours=2)
    rows = []
    for i in range(reminders):
        chat = chats[i % len(chats)]
        rows.append({
            "user_id": chat, "chat_id": chat, "lang": "en", "kind": KIND_REMINDER,
            "target_kind": "event", "target_id": f"bench-reminder-{i}",
            "occurrence_start": event_start, "offset": "1h",
            "due_at": start + dt.timedelta(seconds=60 * i / reminders),
            "not_after": event_start, "explicit": True, "status": PENDING,
            "delivery_key": f"reminder:{i}:1h:{int(event_start.timestamp())}", "attempts": 0,
        })
    with store.session() as s:
        s.execute(Reminder.__table__.insert(), rows)  # type: ignore[attr-defined]
    engine.dispose()


def outstanding(database_url: str) -> tuple[int, Counter[str | None]]:
    """Return how many rows are still pending or sending, and the live claims by worker."""
    from sqlalchemy import func, select

    from learncity.db import make_engine
    from reminders.store import PENDING, SENDING, Reminder

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            left = connection.scalar(select(func.count()).select_from(Reminder)
                                     .where(Reminder.status.in_([PENDING, SENDING])))
            claims = Counter(dict(connection.execute(
                select(Reminder.claimed_by, func.count()).where(Reminder.status == SENDING)
                .group_by(Reminder.claimed_by)).all()))
    finally:
        engine.dispose()
    return int(left or 0), claims


def taken_over(database_url: str) -> int:
    """Return how many messages were claimed more than once (a dead worker's claims)."""
    from sqlalchemy import func, select

    from learncity.db import make_engine
    from reminders.store import Delivery

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.scalar(select(func.count()).select_from(Delivery)
                                      .where(Delivery.attempts > 1))
    finally:
        engine.dispose()
    return int(count or 0)


async def run(args: argparse.Namespace) -> str:
    """Run the benchmark; return the result line."""
    from bot_api_emulator.server import BotApiEmulator

    async with BotApiEmulator(default_timeout=10.0) as emulator:
        users = [emulator.create_user(f"Resident {i}") for i in range(args.chats)]
        chats = [user.chat_id for user in users]
        start_wall = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.warm_up)
        await asyncio.to_thread(prepare, args.database_url, reminders=args.reminders,
                                chats=chats, start=start_wall)
        mono_at_wall = time.monotonic() - dt.datetime.now(dt.UTC).timestamp()
        workers: dict[str, subprocess.Popen[bytes]] = {}
        logs = Path(args.log_dir)
        logs.mkdir(parents=True, exist_ok=True)
        for n in range(args.workers):
            name = f"bench-{n}"
            with (logs / f"{name}.log").open("wb") as log:
                workers[name] = subprocess.Popen(
                    [sys.executable, __file__, "--worker", name, "--database-url",
                     args.database_url, "--token", emulator.token, "--base-url",
                     emulator.base_url, "--base-file-url", emulator.base_file_url,
                     "--rate", str(args.rate / args.workers if args.split_rate else args.rate),
                     "--lease", str(args.lease), *(["--split-rate"] if args.split_rate else [])],
                    cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                    stdout=log, stderr=subprocess.STDOUT,
                )
        killed: str | None = None
        deadline = time.monotonic() + args.timeout
        progress = time.monotonic()
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                if time.monotonic() - progress > 10:
                    progress = time.monotonic()
                    left, claims = await asyncio.to_thread(outstanding, args.database_url)
                    print(f"... {len(emulator.send_log)} sent, {left} left, claims "
                          f"{dict(claims)}", flush=True)
                if args.kill_one and killed is None and \
                        len(emulator.send_log) >= args.reminders // 3:
                    _, claims = await asyncio.to_thread(outstanding, args.database_url)
                    victim = max(workers, key=lambda name: claims.get(name, 0))
                    workers[victim].send_signal(signal.SIGKILL)
                    workers[victim].wait()
                    killed = victim
                    print(f"killed {victim} (SIGKILL) holding {claims.get(victim, 0)} claims "
                          f"after {len(emulator.send_log)} sends", flush=True)
                left, _ = await asyncio.to_thread(outstanding, args.database_url)
                if left == 0:
                    break
            else:
                print(f"timed out after {args.timeout} s", flush=True)
            await asyncio.sleep(1.0)  # requests already at the emulator finish there
        finally:
            for process in workers.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in workers.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

        arrivals: Counter[int] = Counter()
        first_at: dict[int, float] = {}
        for chat in chats:
            for message in emulator.sent_messages(chat):
                found = TITLE.search(message.source_text or message.text or "")
                if found is None:
                    continue
                number = int(found.group(1))
                arrivals[number] += 1
                first_at.setdefault(number, message.sent_at)
        lateness = sorted(
            (at - mono_at_wall)
            - (start_wall + dt.timedelta(seconds=60 * n / args.reminders)).timestamp()
            for n, at in first_at.items()
        )
        p95 = lateness[max(0, int(len(lateness) * 0.95) - 1)] if lateness else float("nan")
        delivered = len(arrivals)
        duplicates = sum(count - 1 for count in arrivals.values())
        per_second = emulator.max_sends_in_window(1.0)
        reclaimed = await asyncio.to_thread(taken_over, args.database_url)
        shape = "split over the workers" if args.split_rate else "one elected sender"
        print(f"workers {args.workers}, killed {killed or 'none'}, lease {args.lease:g} s, "
              f"rate {args.rate:g}/s in all ({shape}); {reclaimed} claims taken over after the "
              "kill; "
              f"max per chat per second {emulator.max_sends_per_chat_in_window(1.0)}",
              flush=True)
        return (f"reminders: due {args.reminders}, delivered {delivered}, "
                f"lost {args.reminders - delivered}, duplicates {duplicates}, "
                f"p95 lateness {p95:.1f} s, max per second {per_second}")


def main() -> None:
    """Parse the options; run a worker or the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="postgresql+psycopg://... (its reminder tables are dropped)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--reminders", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--kill-one", action="store_true")
    parser.add_argument("--lease", type=float, default=15.0,
                        help="seconds a claim holds (production default: 300)")
    parser.add_argument("--rate", type=float, default=24.0,
                        help="messages per second for the whole group")
    parser.add_argument("--split-rate", action="store_true",
                        help="every worker sends at rate / workers (no elected sender)")
    parser.add_argument("--warm-up", type=float, default=5.0,
                        help="seconds before the first reminder is due (workers start)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--log-dir", default=str(Path(tempfile.gettempdir()) / "learncity-workers"),
                        help="where each worker's log goes")
    # worker mode (internal)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--base-file-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(run_worker(args))
        return
    if args.workers < 1 or args.reminders < 1 or args.chats < 1:
        parser.error("--workers, --reminders and --chats must be at least 1")
    print(asyncio.run(run(args)), flush=True)


if __name__ == "__main__":
    main()
