"""PostgreSQL restarted or stopped under the replicas: leaderships come back, pollers wait.

A PostgreSQL of its own (the session's server is shared with other tests), stopped and
started with pg_ctl as an operator would.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from learncity.db import Leadership, LeaderTask, create_schema, make_engine
from retrieval.indexer import FileChunks, Indexer
from retrieval.shared_index import TASK_NAME, SharedIndexer, VersionPoller
from retrieval.store import ChromaVectorIndex
from tests.contracts.conftest import (
    STARTUP_TIMEOUT,
    _as_postgres_user,
    _free_port,
    _postgres_bin_dir,
    _run,
    _unavailable,
)


@dataclass
class Cluster:
    """A throw-away PostgreSQL that the test may stop and start."""

    prefix: list[str]
    bin_dir: Path
    data: Path
    log: Path
    options: str
    url: str

    def pg_ctl(self, *action: str) -> None:
        _run([*self.prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l",
              str(self.log), "-o", self.options, "-w", "-t", str(int(STARTUP_TIMEOUT)),
              *action], f"pg_ctl {' '.join(action)}", self.log)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bin_dir, prefix = _postgres_bin_dir(), _as_postgres_user()
    if bin_dir is None or prefix is None:
        _unavailable("PostgreSQL cannot be started here (no initdb/pg_ctl, or no postgres user)")
    assert bin_dir is not None and prefix is not None
    root = Path(tempfile.mkdtemp(prefix="learncity-pg-restart-"))
    sockets = root / "sockets"
    sockets.mkdir()
    if prefix:
        for path in (root, sockets):
            shutil.chown(path, user="postgres", group="postgres")
    port = _free_port()
    _run([*prefix, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-A",
          "trust", "-E", "UTF8", "--no-locale", "--no-sync"], "initdb")
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    server = Cluster(prefix, bin_dir, root / "data", root / "server.log", options,
                     f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    server.pg_ctl("start")
    try:
        yield server
    finally:
        if (root / "data/postmaster.pid").exists():
            server.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_the_reminder_sender_leadership_survives_a_postgresql_restart(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = make_engine(cluster.url), make_engine(cluster.url)
    a = Leadership(engine=first, name="reminder-sender")
    b = Leadership(engine=second, name="reminder-sender")
    try:
        assert a.held() and not b.held()
        cluster.pg_ctl("-m", "fast", "restart")  # every session ends, the lock with it
        assert b.held()  # the first to ask after the restart becomes the sender
        assert not a.held()  # the old sender notices its session went, and stands by
        assert "lost the 'reminder-sender' leadership" in caplog.text
        b.release()
        assert a.held()  # a clean stop hands over at once
    finally:
        a.release()
        first.dispose()
        second.dispose()


def test_the_version_poller_waits_out_a_stopped_postgresql_and_follows_again(
    cluster: Cluster, caplog: pytest.LogCaptureFixture, tmp_path: Path, embeddings: object
) -> None:
    caplog.set_level(logging.INFO)
    engine = make_engine(cluster.url)
    create_schema(engine)
    index = ChromaVectorIndex(embeddings=embeddings, path=tmp_path / "chroma")  # type: ignore[arg-type]
    shared = SharedIndexer(indexer=Indexer(index=index, embeddings=embeddings),  # type: ignore[arg-type]
                           task=LeaderTask(engine=engine, name=TASK_NAME))
    reloads: list[object] = []
    poller = VersionPoller(shared=shared, reload=lambda: reloads.append(shared.sync({})))
    other = make_engine(cluster.url)
    try:
        assert shared.sync({}).followed is False  # this replica synced (nothing) and published
        assert poller.check() is False  # nothing new
        cluster.pg_ctl("-m", "fast", "stop")
        assert poller.check() is False and poller.check() is False  # no crash, no reload
        assert caplog.text.count("database unreachable") == 1  # said once
        cluster.pg_ctl("start")
        LeaderTask(engine=other, name=TASK_NAME).run_if_leader(lambda: "another-version")
        assert poller.check() is True  # back: it sees the other replica's version and reloads
        assert "database reachable again" in caplog.text
    finally:
        index.close()
        engine.dispose()
        other.dispose()


def test_a_sync_refused_by_a_stopped_postgresql_is_retried_by_the_poller(
    cluster: Cluster, tmp_path: Path, embeddings: object
) -> None:
    engine = make_engine(cluster.url)
    create_schema(engine)
    index = ChromaVectorIndex(embeddings=embeddings, path=tmp_path / "chroma")  # type: ignore[arg-type]
    shared = SharedIndexer(indexer=Indexer(index=index, embeddings=embeddings),  # type: ignore[arg-type]
                           task=LeaderTask(engine=engine, name=TASK_NAME))
    files = {"a.md": FileChunks(sha256="1", chunks=[])}
    try:
        cluster.pg_ctl("-m", "fast", "stop")
        with pytest.raises(Exception):  # noqa: B017 - the reload fails; the watcher logs it
            shared.sync(files)
        assert shared.pending
        cluster.pg_ctl("start")
        poller = VersionPoller(shared=shared, reload=lambda: shared.sync(files))
        assert poller.check() is True and not shared.pending
        assert LeaderTask(engine=engine, name=TASK_NAME).published() == shared.serving
    finally:
        index.close()
        engine.dispose()
