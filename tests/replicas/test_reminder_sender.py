"""One elected sender for the group: Telegram's limits hold for all replicas, not per replica.

Three workers on one real PostgreSQL, each what a replica runs (its own engine, store, service,
`Deliverer` and `ReminderScheduler` with a `Leadership` election, in its own thread and event
loop, on the real clock). The only fake is the outermost edge, the sender, which records when
each message reached "Telegram". The sender is then killed: its event loop stops without a
clean shutdown and its database session is cut, as when the process dies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from learncity.db import Leadership
from reminders.clock import SystemClock
from reminders.delivery import Deliverer, OutgoingMessage
from reminders.digest import QuietHours
from reminders.scheduler import SENDER_TASK, ReminderScheduler
from reminders.service import ReminderService
from reminders.store import KIND_REMINDER, PENDING, Reminder, ReminderStore
from tests.replicas.test_reminder_workers import EmptyCatalog

ROME = ZoneInfo("Europe/Rome")
RATE = 20.0  # the group's messages per second
BURST = 2  # the deliverer's bucket
REMINDERS, CHATS = 150, 50


@dataclass
class Telegram:
    """The edge: every arrival with its monotonic time, chat and worker."""

    arrivals: list[tuple[float, int, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, chat_id: int, key: str, worker: str) -> None:
        with self.lock:
            self.arrivals.append((time.monotonic(), chat_id, key, worker))


@dataclass
class EdgeSender:
    telegram: Telegram
    worker: str

    async def send(self, message: OutgoingMessage) -> int | None:
        await asyncio.sleep(0.005)
        self.telegram.record(message.chat_id, message.key, self.worker)
        return 1


class Worker:
    """One replica's reminder half, in its own thread and event loop."""

    def __init__(self, name: str, engine: Engine, telegram: Telegram) -> None:
        self.name = name
        store = ReminderStore(engine=engine, worker_id=name, lease=dt.timedelta(seconds=3))
        store.create_schema()
        self.service = ReminderService(
            store=store, knowledge=EmptyCatalog, clock=SystemClock(), zone=ROME,
            quiet_hours=QuietHours(dt.time(0, 0), dt.time(0, 0), ROME),  # never quiet here
        )
        self.leadership = Leadership(engine=engine, name=SENDER_TASK)
        self._telegram = telegram
        self._end = threading.Event()
        self._killed = False
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name=name)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by the test
            self.errors.append(error)

    async def _main(self) -> None:
        deliverer = Deliverer(sender=EdgeSender(self._telegram, self.name), ledger=self.service,
                              clock=self.service.clock, rate_per_second=RATE, max_in_flight=8)
        scheduler = ReminderScheduler(
            service=self.service, deliverer=deliverer, clock=self.service.clock,
            poll_interval=dt.timedelta(seconds=1), sender=self.leadership,
            standby=dt.timedelta(seconds=0.5),
        )
        await scheduler.start()
        while not self._end.is_set():
            await asyncio.sleep(0.05)
        if not self._killed:
            await scheduler.stop()

    def kill(self) -> None:
        """Die: no clean stop, and the database session goes (the lock with it)."""
        self._killed = True
        self._end.set()
        self.thread.join(10)
        connection = self.leadership._connection  # noqa: SLF001 - the process's socket closing
        if connection is not None:
            connection.invalidate()

    def stop(self) -> None:
        self._end.set()
        self.thread.join(30)


def queue(service: ReminderService, now: dt.datetime) -> set[str]:
    keys = set()
    start = now + dt.timedelta(hours=2)
    with service.store.session() as s:
        for i in range(REMINDERS):
            key = f"reminder:{i}:1h:{int(start.timestamp())}"
            chat = 2_000_000 + i % CHATS
            s.add(Reminder(
                user_id=chat, chat_id=chat, lang="en", kind=KIND_REMINDER, target_kind="event",
                target_id=f"ev-{i}", occurrence_start=start, offset="1h", due_at=now,
                not_after=start, explicit=True, status=PENDING, delivery_key=key, attempts=0,
            ))
            keys.add(key)
    return keys


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_one_elected_sender_keeps_the_groups_limits_and_another_takes_over_when_it_dies(
    pg_engines: Callable[[], Engine],
) -> None:
    telegram = Telegram()
    workers = [Worker(f"replica-{n}", pg_engines(), telegram) for n in range(3)]
    keys = queue(workers[0].service, dt.datetime.now(dt.UTC))
    for worker in workers:
        worker.thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(telegram.arrivals) < REMINDERS // 3:
            assert time.monotonic() < deadline, "nothing was sent"
            time.sleep(0.05)
        senders = {worker for _, _, _, worker in telegram.arrivals}
        assert len(senders) == 1  # one replica sends for the group
        first = next(w for w in workers if w.name in senders)
        first.kill()
        killed_at = time.monotonic()

        while len({key for _, _, key, _ in telegram.arrivals}) < REMINDERS:
            assert time.monotonic() < deadline + 30, "the survivors did not finish"
            time.sleep(0.1)
    finally:
        for worker in workers:
            if worker.thread.is_alive():
                worker.stop()
    assert not [error for worker in workers for error in worker.errors]

    arrivals = sorted(telegram.arrivals)
    assert {key for _, _, key, _ in arrivals} == keys  # nothing lost
    duplicates = len(arrivals) - len(keys)
    assert duplicates <= 8  # at most what the dead sender had in flight
    after = [(at, worker) for at, _, _, worker in arrivals if at > killed_at + 0.1]
    assert len({worker for _, worker in after}) == 1  # one new sender...
    assert after[0][1] != first.name  # ...and not the dead one
    takeover = after[0][0] - killed_at
    assert takeover < 5  # the lease (3 s) for its claims; the rest at once
    # The group's limits, over every worker's sends together:
    assert most_in_one_second([at for at, _, _, _ in arrivals]) <= RATE + BURST
    by_chat: dict[int, list[float]] = {}
    for at, chat, _, _ in arrivals:
        by_chat.setdefault(chat, []).append(at)
    gaps = [b - a for times in by_chat.values() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.9  # one per second per chat (a takeover may resend a message)
    print(f"sent by {Counter(w for _, _, _, w in arrivals)}; first send after the kill "
          f"{takeover:.1f} s; most in one second {most_in_one_second([a[0] for a in arrivals])}")
