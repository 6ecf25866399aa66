"""Reminder benchmark: start-up restore with 100,000 stored reminders, and 1,000 due at once.

Run:  nice -n 5 /tmp/venv/bin/python benchmarks/reminders_bench.py [--reminders 100000] [--due 1000]

1. Restore (in a fresh subprocess, so memory is measured cleanly): open the SQLite file holding
   100,000 pending reminders (50,000 subscriptions x 2 offsets), build the service, start the
   scheduler (recover in-flight rows, arm the wake-up) and run the first pass (reconcile every
   active subscription against the knowledge base). Targets: <= 10 s and <= 300 MB extra RSS.
2. Delivery: on the same 100,000-row database, 1,000 reminders (for 900 chats: 100 chats get two)
   all fall due at the same second; the real scheduler (APScheduler wake-up) and `Deliverer`
   (25 msg/s, 1 msg/s per chat) send them (a) through the real python-telegram-bot stack to the Bot
   API emulator and (b) to a timing Sender with 50 ms simulated latency. Lateness of the k-th send =
   its time minus the k-th earliest time the limits allow (a greedy schedule at exactly 25/s and
   1/s per chat). Target: p95 <= 2 s.
Writes benchmarks/results/reminders.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ROME = ZoneInfo("Europe/Rome")
RATE = 25.0


class Catalog:
    """A knowledge base stand-in: events by id."""

    def __init__(self, events: dict[str, Any]) -> None:
        self.events = events
        self.programmes: dict[str, Any] = {}


def make_events(count: int, first: dt.datetime, extra: dict[str, dt.datetime]) -> Catalog:
    """Return `count` events spread over a year from `first`, plus the `extra` ones."""
    from learncity.content.models import Audience, Event, Topic, Venue

    def event(event_id: str, start: dt.datetime) -> Event:
        return Event(
            id=event_id, title={"it": f"Evento {event_id}", "en": f"Event {event_id}"},
            description="Benchmark event.", topics=[Topic.MAKING],
            audiences=[Audience.EVERYONE], venue=Venue(name="Biblioteca"),
            start=start.astimezone(ROME).replace(tzinfo=None),
        )

    events = {f"ev-{i}": event(f"ev-{i}", first + dt.timedelta(hours=17 * i)) for i in range(count)}
    events.update({key: event(key, start) for key, start in extra.items()})
    return Catalog(events)


def build_database(url: str, catalog: Catalog, reminders: int, now: dt.datetime) -> float:
    """Fill the database with pending reminders (2 per subscription); return seconds taken."""
    from sqlalchemy import insert

    from learncity.db import make_engine
    from reminders.service import due_time
    from reminders.store import PENDING, Reminder, ReminderStore, Subscription

    started = time.perf_counter()
    engine = make_engine(url)
    ReminderStore(engine=engine).create_schema()
    events = [e for key, e in catalog.events.items() if key.startswith("ev-")]
    subs, rows = [], []
    for sub_id in range(1, reminders // 2 + 1):
        event = events[sub_id % len(events)]
        start = event.start.replace(tzinfo=ROME).astimezone(dt.UTC)
        subs.append(dict(id=sub_id, user_id=1_000_000 + sub_id, chat_id=1_000_000 + sub_id,
                         lang="it", target_kind="event", target_id=event.id,
                         occurrence_start=start, offsets="1d,1h", explicit=True, status="active",
                         created_at=now))
        for offset in ("1d", "1h"):
            rows.append(dict(subscription_id=sub_id, user_id=1_000_000 + sub_id,
                             chat_id=1_000_000 + sub_id, lang="it", kind="reminder",
                             target_kind="event", target_id=event.id, occurrence_start=start,
                             offset=offset, due_at=due_time(start, offset, ROME),
                             not_after=start, explicit=True, status=PENDING,
                             delivery_key=f"reminder:{sub_id}:{offset}:{int(start.timestamp())}",
                             attempts=0))
    with engine.begin() as connection:
        connection.execute(insert(Subscription), subs)
        connection.execute(insert(Reminder), rows)
    engine.dispose()
    return time.perf_counter() - started


def add_due_batch(url: str, due: dt.datetime, count: int, chats: int) -> dict[str, int]:
    """Add `count` reminders all due at `due` for `chats` chats; return the chat of each key."""
    from sqlalchemy import insert

    from learncity.db import make_engine
    from reminders.store import PENDING, Reminder, Subscription

    start = due + dt.timedelta(hours=1)
    engine = make_engine(url)
    subs, rows, chat_of = [], [], {}
    base = 10_000_000
    for i in range(count):
        chat = 20_001 + (i % chats)
        event_id = "bench-a" if i < chats else "bench-b"
        sub_id = base + i
        key = f"reminder:{sub_id}:1h:{int(start.timestamp())}"
        chat_of[key] = chat
        subs.append(dict(id=sub_id, user_id=chat, chat_id=chat, lang="en", target_kind="event",
                         target_id=event_id, occurrence_start=start, offsets="1h", explicit=True,
                         status="active", created_at=due - dt.timedelta(days=1)))
        rows.append(dict(subscription_id=sub_id, user_id=chat, chat_id=chat, lang="en",
                         kind="reminder", target_kind="event", target_id=event_id,
                         occurrence_start=start, offset="1h", due_at=due, not_after=start,
                         explicit=True, status=PENDING, delivery_key=key, attempts=0))
    with engine.begin() as connection:
        connection.execute(insert(Subscription), subs)
        connection.execute(insert(Reminder), rows)
    engine.dispose()
    return chat_of


def restore_phase(url: str, first: str, events: int) -> dict[str, float]:
    """Run in a fresh process: time and memory of a start-up on the big database."""
    import psutil

    from learncity.db import make_engine
    from reminders.clock import SystemClock
    from reminders.delivery import Deliverer
    from reminders.scheduler import ReminderScheduler
    from reminders.service import ReminderService
    from reminders.store import ReminderStore

    catalog = make_events(events, dt.datetime.fromisoformat(first), {})
    process = psutil.Process()
    baseline = process.memory_info().rss

    class NullSender:
        async def send(self, message: Any) -> int:
            return 1

    async def start() -> dict[str, float]:
        started = time.perf_counter()
        clock = SystemClock()
        service = ReminderService(store=ReminderStore(engine=make_engine(url)),
                                  knowledge=lambda: catalog, clock=clock, zone=ROME)
        scheduler = ReminderScheduler(
            service=service, clock=clock,
            deliverer=Deliverer(sender=NullSender(), ledger=service, clock=clock))
        await scheduler.start()
        armed = time.perf_counter() - started
        await scheduler.run_due()  # the first pass: reconcile every active subscription
        total = time.perf_counter() - started
        peak = process.memory_info().rss
        await scheduler.stop()
        return {"armed_s": armed, "first_pass_s": total, "extra_rss_mb": (peak - baseline) / 2**20}

    return asyncio.run(start())


def forced_schedule(due: dt.datetime, chats: list[int]) -> list[float]:
    """Return the earliest send times (epoch s) the limits allow, in claim order, sorted."""
    times: list[float] = []
    last_in_chat: dict[int, float] = {}
    previous = float("-inf")
    for chat in chats:
        earliest = max(due.timestamp(), previous + 1 / RATE, last_in_chat.get(chat, -1e18) + 1.0)
        times.append(earliest)
        previous = earliest
        last_in_chat[chat] = earliest
    return sorted(times)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def delivery_phase(url: str, catalog: Catalog, due: dt.datetime, chat_of: dict[str, int],
                         via: str) -> dict[str, float]:
    """Deliver the due batch with the real scheduler; return lateness figures."""
    from telegram import Bot

    from bot.reminders import TelegramSender
    from bot_api_emulator import BotApiEmulator
    from learncity.db import make_engine
    from reminders.clock import SystemClock
    from reminders.delivery import Deliverer, OutgoingMessage
    from reminders.scheduler import ReminderScheduler
    from reminders.service import ReminderService
    from reminders.store import ReminderStore

    clock = SystemClock()
    service = ReminderService(store=ReminderStore(engine=make_engine(url)),
                              knowledge=lambda: catalog, clock=clock, zone=ROME)
    sent_at: list[float] = []
    emulator: BotApiEmulator | None = None
    bot: Bot | None = None

    class TimingSender:
        async def send(self, message: OutgoingMessage) -> int:
            sent_at.append(time.time())
            await asyncio.sleep(0.05)  # a Telegram round trip
            return 1

    if via == "emulator":
        emulator = BotApiEmulator()
        await emulator.start()
        for chat in sorted(set(chat_of.values())):
            emulator.create_user(f"U{chat}", user_id=chat)
        bot = Bot(emulator.token, base_url=emulator.base_url,
                  base_file_url=emulator.base_file_url)
        await bot.initialize()
        sender: Any = TelegramSender(bot=bot)
    else:
        sender = TimingSender()
    deliverer = Deliverer(sender=sender, ledger=service, clock=clock, rate_per_second=RATE)
    scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock)
    mono0, wall0 = time.monotonic(), time.time()
    await scheduler.start()
    await scheduler.run_due()  # the start-up pass (reconcile) happens before the batch is due
    if time.time() > due.timestamp():
        raise RuntimeError("the start-up pass ran past the due time: raise the lead time")
    total = len(chat_of)
    deadline = time.time() + 600
    while deliverer.stats.sent < total and time.time() < deadline:
        await asyncio.sleep(0.1)
    await scheduler.stop()
    if emulator is not None:
        sent_at = [wall0 + (at - mono0) for at, _, _ in emulator.send_log]
        assert bot is not None
        await bot.shutdown()
        window_max = emulator.max_sends_in_window(1.0)
        chat_max = emulator.max_sends_per_chat_in_window(0.95)
        await emulator.stop()
    else:
        window_max, chat_max = -1, -1
    chats = [chat_of[key] for key in sorted(chat_of)]
    forced = forced_schedule(due, chats)
    actual = sorted(sent_at)
    lateness = [a - f for a, f in zip(actual, forced, strict=False)]
    return {
        "sent": len(actual),
        "first_send_after_due_s": actual[0] - due.timestamp(),
        "last_send_after_due_s": actual[-1] - due.timestamp(),
        "forced_last_after_due_s": forced[-1] - due.timestamp(),
        "lateness_p50_s": percentile(lateness, 0.50), "lateness_p95_s": percentile(lateness, 0.95),
        "lateness_max_s": max(lateness), "max_sends_in_1s": window_max,
        "max_sends_per_chat_in_0_95s": chat_max,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--chats", type=int, default=900)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--restore-only", metavar="URL")  # internal: the subprocess phase
    parser.add_argument("--first")
    args = parser.parse_args()
    if args.restore_only:
        print(json.dumps(restore_phase(args.restore_only, args.first, args.events)))
        return

    now = dt.datetime.now(dt.UTC)
    first = now + dt.timedelta(days=3)
    workdir = Path(tempfile.mkdtemp(prefix="reminders-bench-"))
    big = workdir / "big.sqlite3"
    catalog = make_events(args.events, first, {})
    build_s = build_database(f"sqlite:///{big}", catalog, args.reminders, now)

    restore = json.loads(subprocess.run(
        [sys.executable, __file__, "--restore-only", f"sqlite:///{big}", "--first",
         first.isoformat(), "--events", str(args.events)],
        check=True, capture_output=True, text=True, cwd=REPO).stdout.strip().splitlines()[-1])

    deliveries = {}
    for via in ("emulator", "timing-sender"):
        copy = workdir / f"{via}.sqlite3"
        shutil.copy(big, copy)
        due = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=15)
        catalog = make_events(args.events, first, {"bench-a": due + dt.timedelta(hours=1),
                                                   "bench-b": due + dt.timedelta(hours=1)})
        chat_of = add_due_batch(f"sqlite:///{copy}", due, args.due, args.chats)
        deliveries[via] = asyncio.run(
            delivery_phase(f"sqlite:///{copy}", catalog, due, chat_of, via))
    shutil.rmtree(workdir, ignore_errors=True)

    results = {
        "date": now.isoformat(timespec="seconds"),
        "machine": (f"{platform.machine()}, {os.cpu_count()} cores, "
                    f"Python {platform.python_version()}"),
        "command": "nice -n 5 /tmp/venv/bin/python benchmarks/reminders_bench.py",
        "stored_reminders": args.reminders, "build_s": build_s, "restore": restore,
        "due_at_once": args.due, "chats": args.chats, "rate_per_s": RATE,
        "delivery": deliveries,
        "targets": {"restore_s": 10, "extra_rss_mb": 300, "lateness_p95_s": 2},
    }
    print(f"\nReminders benchmark ({results['machine']})")
    print(f"{'measure':<52}{'value':>12}{'target':>10}")
    rows = [
        (f"build {args.reminders:,} stored reminders (s)", build_s, ""),
        ("start-up: recover + arm the wake-up (s)", restore["armed_s"], ""),
        ("start-up incl. first pass / reconcile (s)", restore["first_pass_s"], "<= 10"),
        ("start-up extra memory (MB RSS)", restore["extra_rss_mb"], "<= 300"),
    ]
    for via, figures in deliveries.items():
        rows += [
            (f"[{via}] {figures['sent']} sent; last after due (s)",
             figures["last_send_after_due_s"], ""),
            (f"[{via}] limits force the last at (s)", figures["forced_last_after_due_s"], ""),
            (f"[{via}] lateness beyond the limits p50 (s)", figures["lateness_p50_s"], ""),
            (f"[{via}] lateness beyond the limits p95 (s)", figures["lateness_p95_s"], "<= 2"),
            (f"[{via}] lateness beyond the limits max (s)", figures["lateness_max_s"], ""),
        ]
        if figures["max_sends_in_1s"] >= 0:
            rows += [(f"[{via}] most sends in any 1 s", figures["max_sends_in_1s"], "~25"),
                     (f"[{via}] most sends per chat in 0.95 s",
                      figures["max_sends_per_chat_in_0_95s"], "1")]
    for name, value, target in rows:
        print(f"{name:<52}{value:>12.2f}{target:>10}")
    out = REPO / "benchmarks" / "results" / "reminders.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
