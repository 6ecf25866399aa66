"""Advisory locks on a real PostgreSQL: one chat's updates serialize, different chats do not wait.

`lock_chat` and `lock_name` hold until the transaction ends; `try_leader` elects one leader per
task, held by its connection. On SQLite (one process) they are no-ops.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from learncity.db import lock_chat, lock_key, lock_name, make_engine, release_leader, try_leader
from reminders.clock import ManualClock
from reminders.service import ReminderService
from reminders.store import Reminder, ReminderStore, Subscription
from tests.reminders.conftest import ROME, Knowledge, event_yaml

HOLD = 0.6  # seconds the first transaction keeps the lock


def _hold_then_try(engine_a: Engine, engine_b: Engine, take_a: Callable[..., None],
                   take_b: Callable[..., None]) -> float:
    """Hold a lock in one transaction for HOLD s; return how long the other waited for its own."""
    locked = threading.Event()
    waited: list[float] = []

    def second() -> None:
        locked.wait(10)
        with engine_b.begin() as connection:
            began = time.monotonic()
            take_b(connection)
            waited.append(time.monotonic() - began)

    thread = threading.Thread(target=second)
    thread.start()
    with engine_a.begin() as connection:
        take_a(connection)
        locked.set()
        time.sleep(HOLD)
    thread.join(10)
    return waited[0]


def test_two_transactions_of_one_chat_run_one_after_the_other(
    pg_engines: Callable[[], Engine],
) -> None:
    a, b = pg_engines(), pg_engines()
    chat = -1_001_234_567_890  # a supergroup: 64-bit and negative
    waited = _hold_then_try(a, b, lambda c: lock_chat(c, chat), lambda c: lock_chat(c, chat))
    assert waited >= HOLD * 0.8


def test_different_chats_do_not_wait_for_each_other(pg_engines: Callable[[], Engine]) -> None:
    a, b = pg_engines(), pg_engines()
    waited = _hold_then_try(a, b, lambda c: lock_chat(c, 7_123_456_789),
                            lambda c: lock_chat(c, 6_987_654_321))
    assert waited < HOLD / 2


def test_named_locks_serialize_and_never_meet_a_chat(pg_engines: Callable[[], Engine]) -> None:
    a, b = pg_engines(), pg_engines()
    waited = _hold_then_try(a, b, lambda c: lock_name(c, "reminders:digests"),
                            lambda c: lock_name(c, "reminders:digests"))
    assert waited >= HOLD * 0.8
    key = lock_key("reminders:digests")
    assert key == lock_key("reminders:digests") and key < -(10**15)  # far below any chat id
    waited = _hold_then_try(a, b, lambda c: lock_name(c, "reminders:digests"),
                            lambda c: lock_chat(c, -1_001_234_567_890))
    assert waited < HOLD / 2


def test_one_leader_at_a_time_and_a_dead_leaders_lock_is_freed(
    pg_engines: Callable[[], Engine],
) -> None:
    engine = pg_engines()
    first, second, third = engine.connect(), engine.connect(), engine.connect()
    try:
        assert try_leader(first, "knowledge-sync")
        assert not try_leader(second, "knowledge-sync")
        release_leader(first, "knowledge-sync")
        assert try_leader(second, "knowledge-sync")
        assert not try_leader(third, "knowledge-sync")
        second.invalidate()  # the leader's process dies: its connection (and lock) goes
        # The server ends the dead session a moment after the socket closes.
        deadline = time.monotonic() + 5
        while not try_leader(third, "knowledge-sync"):
            assert time.monotonic() < deadline, "the dead leader's lock was never freed"
            time.sleep(0.05)
    finally:
        for connection in (first, second, third):
            connection.close()


def test_the_helpers_are_no_ops_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'one.sqlite3'}")
    with engine.begin() as connection:
        lock_chat(connection, 42)
        lock_name(connection, "reminders:digests")
        assert try_leader(connection, "knowledge-sync")
        release_leader(connection, "knowledge-sync")
    engine.dispose()


def test_a_double_tap_reaching_two_replicas_subscribes_once(
    pg_engines: Callable[[], Engine], tmp_path: Path
) -> None:
    knowledge = Knowledge(tmp_path / "knowledge")
    knowledge.write("a", event_yaml("ev-a", "2026-12-05T10:00:00"))
    clock = ManualClock(dt.datetime(2026, 11, 2, 12, 0, tzinfo=ROME))
    replicas = []
    for name in ("replica-a", "replica-b", "replica-c", "replica-d"):
        store = ReminderStore(engine=pg_engines(), worker_id=name)
        store.create_schema()
        replicas.append(ReminderService(store=store, knowledge=lambda: knowledge.kb,
                                        clock=clock, zone=ROME))
    go = threading.Barrier(len(replicas))
    results: list[bool] = []
    errors: list[BaseException] = []

    def tap(service: ReminderService) -> None:
        try:
            go.wait(10)
            confirmation = service.subscribe(user_id=42, chat_id=42, event_id="ev-a", lang="en")
            results.append(confirmation.already)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=tap, args=(service,)) for service in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(results) == [False, True, True, True]
    with replicas[0].store.session() as s:
        assert s.scalar(select(func.count()).select_from(Subscription)) == 1
        assert s.scalar(select(func.count()).select_from(Reminder)) == 2  # 1 day and 1 hour


@pytest.mark.parametrize("chat_id", [0, 2**63 - 1, -(2**63) + 2**62])
def test_chat_lock_keys_cover_telegram_ids(pg_engines: Callable[[], Engine], chat_id: int) -> None:
    with pg_engines().begin() as connection:
        lock_chat(connection, chat_id)
