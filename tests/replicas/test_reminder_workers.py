"""Several reminder workers on one PostgreSQL: every due reminder is sent exactly once.

Each worker is what a replica runs: its own engine, `ReminderStore` (its own `worker_id`),
`ReminderService`, `Deliverer` and `ReminderScheduler`, in its own thread and event loop. The only
fake is the outermost edge, the sender, which counts what reaches "Telegram".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from learncity.content.models import Event, Programme
from reminders.clock import ManualClock
from reminders.delivery import Deliverer, OutgoingMessage
from reminders.scheduler import ReminderScheduler
from reminders.service import ReminderService
from reminders.store import (
    KIND_REMINDER,
    PENDING,
    SENDING,
    SENT,
    Delivery,
    Reminder,
    ReminderStore,
)

ROME = ZoneInfo("Europe/Rome")
NOON = dt.datetime(2026, 11, 2, 12, 0, tzinfo=ROME)  # outside the quiet hours
START = NOON + dt.timedelta(days=1)


class EmptyCatalog:
    """No events: messages render with the target id as title (rendering is not under test)."""

    @property
    def events(self) -> Mapping[str, Event]:
        """No events."""
        return {}

    @property
    def programmes(self) -> Mapping[str, Programme]:
        """No programmes."""
        return {}


class CountingSender:
    """The edge: records every send, from any thread; a short await lets sends interleave."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.by_worker: Counter[str] = Counter()
        self._lock = threading.Lock()

    def for_worker(self, worker: str) -> _WorkerSender:
        """Return the sender one worker uses."""
        return _WorkerSender(self, worker)

    def record(self, worker: str, key: str) -> None:
        """Count one send."""
        with self._lock:
            self.sent[key] += 1
            self.by_worker[worker] += 1


@dataclass
class _WorkerSender:
    counter: CountingSender
    worker: str

    async def send(self, message: OutgoingMessage) -> int | None:
        await asyncio.sleep(0.002)
        self.counter.record(self.worker, message.key)
        return 1


def _service(engine: Engine, worker: str, clock: ManualClock,
             lease: dt.timedelta = dt.timedelta(minutes=5)) -> ReminderService:
    store = ReminderStore(engine=engine, worker_id=worker, lease=lease)
    store.create_schema()
    return ReminderService(store=store, knowledge=EmptyCatalog, clock=clock, zone=ROME)


def _queue(service: ReminderService, count: int, *, chats: int) -> list[str]:
    keys = []
    with service.store.session() as s:
        for i in range(count):
            key = f"reminder:{i}:1h:{int(START.timestamp())}"
            chat = 1_000_000 + i % chats
            s.add(Reminder(
                user_id=chat, chat_id=chat, lang="en", kind=KIND_REMINDER, target_kind="event",
                target_id=f"ev-{i}", occurrence_start=START, offset="1h",
                due_at=NOON - dt.timedelta(seconds=i % 60), not_after=START, explicit=True,
                status=PENDING, delivery_key=key, attempts=0,
            ))
            keys.append(key)
    return keys


def _run_worker(service: ReminderService, sender: _WorkerSender, go: threading.Barrier,
                errors: list[BaseException]) -> None:
    async def main() -> None:
        deliverer = Deliverer(sender=sender, ledger=service, clock=service.clock,
                              rate_per_second=2000, per_chat_interval=0.001, max_in_flight=8)
        scheduler = ReminderScheduler(service=service, deliverer=deliverer,
                                      clock=service.clock, batch_size=10)
        go.wait(timeout=30)
        await scheduler.run_due()

    try:
        asyncio.run(main())
    except BaseException as error:  # reported by the test, not lost in the thread
        errors.append(error)


def test_two_workers_deliver_300_due_reminders_exactly_once(
    pg_engines: Callable[[], Engine],
) -> None:
    clock = ManualClock(NOON)
    workers = {name: _service(pg_engines(), name, clock) for name in ("replica-a", "replica-b")}
    keys = _queue(workers["replica-a"], 300, chats=200)
    sender = CountingSender()
    go = threading.Barrier(len(workers))
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_run_worker,
                                args=(service, sender.for_worker(name), go, errors))
               for name, service in workers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert set(sender.sent) == set(keys)  # nothing lost
    assert max(sender.sent.values()) == 1  # nothing twice
    assert all(sender.by_worker[name] > 0 for name in workers), sender.by_worker  # both worked
    engine = workers["replica-a"].store.engine
    with engine.connect() as connection:
        statuses = Counter(connection.execute(select(Reminder.status)).scalars().all())
        acked = connection.scalar(select(func.count()).select_from(Delivery)
                                  .where(Delivery.outcome == "sent", Delivery.attempts == 1))
    assert statuses == {SENT: 300}
    assert acked == 300


def test_a_dead_workers_claims_are_taken_over_after_the_lease(
    pg_engines: Callable[[], Engine],
) -> None:
    lease = dt.timedelta(seconds=30)
    dead_clock, live_clock = ManualClock(NOON), ManualClock(NOON)
    dead = _service(pg_engines(), "replica-dead", dead_clock, lease)
    live = _service(pg_engines(), "replica-live", live_clock, lease)
    _queue(dead, 10, chats=10)
    claimed = dead.due(NOON, limit=10)
    assert len(claimed) == 10
    dead.mark_delivered(claimed[0].key, message_id=7)  # acknowledged before it died
    # It dies here: nine claims left "sending", unacknowledged.

    live_clock.set(NOON + dt.timedelta(seconds=10))
    assert live.recover() == 0  # another worker's live claims are not its to take
    assert live.due(limit=50) == []  # within the lease: still the dead worker's
    assert live.next_wakeup() == NOON + lease  # it wakes up when the lease runs out

    live_clock.set(NOON + lease + dt.timedelta(seconds=1))
    taken = live.due(limit=50)
    assert sorted(m.key for m in taken) == sorted(m.key for m in claimed[1:])
    for message in taken:
        live.mark_delivered(message.key, message_id=8)
    assert live.due(NOON + dt.timedelta(hours=1), limit=50) == []
    with live.store.session() as s:
        rows = s.execute(select(Reminder.delivery_key, Reminder.status, Reminder.claimed_by)).all()
        attempts = dict(s.execute(select(Delivery.key, Delivery.attempts)).tuples().all())
    assert {status for _, status, _ in rows} == {SENT}
    assert {who for key, _, who in rows if key != claimed[0].key} == {"replica-live"}
    assert attempts[claimed[0].key] == 1  # acknowledged once: never claimed again
    assert all(attempts[m.key] == 2 for m in taken)


def test_a_restarted_worker_takes_back_its_own_claims_at_once(
    pg_engines: Callable[[], Engine],
) -> None:
    clock = ManualClock(NOON)
    before = _service(pg_engines(), "replica-a", clock)
    _queue(before, 3, chats=3)
    assert len(before.due(limit=10)) == 3
    other = _service(pg_engines(), "replica-b", clock)
    assert other.recover() == 0
    restarted = _service(pg_engines(), "replica-a", clock)  # same replica, new process
    assert restarted.recover() == 3
    assert len(restarted.due(limit=10)) == 3


def test_skip_locked_claims_other_rows_without_waiting(
    pg_engines: Callable[[], Engine],
) -> None:
    clock = ManualClock(NOON)
    first = _service(pg_engines(), "replica-a", clock)
    second = _service(pg_engines(), "replica-b", clock)
    _queue(first, 20, chats=20)
    with first.store.session() as s:
        # A claim in progress: the first worker holds 5 rows locked in an open transaction.
        held = s.scalars(first.store._due_query(NOON, 5)).all()  # noqa: SLF001
        held_keys = {row.delivery_key for row in held}
        began = time.monotonic()
        taken = second.due(limit=50)
        waited = time.monotonic() - began
    assert len(held_keys) == 5
    assert {m.key for m in taken}.isdisjoint(held_keys)
    assert len(taken) == 15
    assert waited < 2.0  # skipped, not waited for
    with first.store.session() as s:
        pending = s.scalar(select(func.count()).select_from(Reminder)
                           .where(Reminder.status == PENDING))
        sending = s.scalar(select(func.count()).select_from(Reminder)
                           .where(Reminder.status == SENDING))
    assert (pending, sending) == (5, 15)
