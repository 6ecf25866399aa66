"""One replica syncs the knowledge index at a time; the others see the published version."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from learncity.db import LeaderTask, create_schema, make_engine, try_leader


def test_one_replica_runs_the_sync_and_the_others_see_its_version(
    pg_engines: Callable[[], Engine],
) -> None:
    engines = [pg_engines() for _ in range(3)]
    create_schema(engines[0])
    tasks = [LeaderTask(engine=engine, name="knowledge-sync") for engine in engines]
    assert tasks[1].published() is None  # before the first sync: nothing to load yet
    go = threading.Barrier(len(tasks))
    runs: list[str] = []
    results: list[str | None] = []

    def sync() -> str:
        runs.append(threading.current_thread().name)
        time.sleep(0.5)  # the sync takes a while: the others try meanwhile
        return "hash-1"

    def replica(task: LeaderTask) -> None:
        go.wait(10)
        results.append(task.run_if_leader(sync))

    threads = [threading.Thread(target=replica, args=(task,)) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(runs) == 1
    assert sorted(results, key=str) == [None, None, "hash-1"]
    assert all(task.published() == "hash-1" for task in tasks)
    # The lock was released: the next change is synced by whichever replica comes first.
    assert tasks[2].run_if_leader(lambda: "hash-2") == "hash-2"
    assert tasks[0].published() == "hash-2"


def test_a_leader_that_dies_mid_sync_publishes_nothing_and_another_takes_over(
    pg_engines: Callable[[], Engine],
) -> None:
    engine = pg_engines()
    create_schema(engine)
    task = LeaderTask(engine=engine, name="knowledge-sync")
    assert task.run_if_leader(lambda: "hash-1") == "hash-1"
    dying = pg_engines().connect()
    assert try_leader(dying, "knowledge-sync")  # a replica starts syncing "hash-2"...
    assert task.run_if_leader(lambda: "hash-2") is None  # ...so no one else does
    assert task.published() == "hash-1"  # the others keep serving the previous version
    dying.invalidate()  # ...and is killed: its lock goes with its connection
    deadline = time.monotonic() + 5
    while (version := task.run_if_leader(lambda: "hash-2")) is None:
        assert time.monotonic() < deadline, "the dead leader's lock was never freed"
        time.sleep(0.05)
    assert version == "hash-2" and task.published() == "hash-2"
    dying.close()


def test_on_sqlite_the_one_process_always_leads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'one.sqlite3'}")
    create_schema(engine)
    task = LeaderTask(engine=engine, name="knowledge-sync")
    assert task.published() is None
    assert task.run_if_leader(lambda: "hash-1") == "hash-1"
    assert task.run_if_leader(lambda: "hash-2") == "hash-2"
    assert task.published() == "hash-2"
    engine.dispose()
