"""One shared vector index for several replicas: one syncs it, the others only reload it.

Replicas on one PostgreSQL share one Chroma server. When the knowledge folder changes, the replica
that wins the `knowledge-sync` advisory lock (`learncity.db.LeaderTask`) embeds the changed files,
writes Chroma, and only then publishes the index version in `shared_versions`. The version is a
hash of what was synced (every file's path and content hash, and the kept broken files), so any
replica can tell from its own copy of the folder whether the shared index already holds it:

    SharedIndexer.sync(files)   published == version of these files: nothing to embed, reload
                                (`IndexReport.followed`); else lead and sync; else another
                                replica is syncing: serve the previous version (or, before the
                                first version is served, wait for it: never an empty index)
    VersionPoller.check()       a cheap primary-key read every few seconds; reload when another
                                replica published a new version; every 10 s, retry a sync this
                                replica deferred (its leader may have died: the lock went with
                                its connection) or could not finish, when the index answers

With SQLite (one process) nothing here is used: the knowledge service syncs as it always did.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from learncity.db import LeaderTask
from retrieval.indexer import FileChunks, IndexReport
from retrieval.knowledge_service import Syncs

logger = logging.getLogger(__name__)

TASK_NAME = "knowledge-sync"
#: How often a replica reads the published version (one primary-key read).
POLL_SECONDS = 3.0
#: How long a replica with nothing to serve yet waits for another replica's first sync.
FIRST_WAIT_SECONDS = 600.0
#: How often a replica retries a sync it left to another replica or could not finish.
RETRY_SECONDS = 10.0


def index_version(files: Mapping[str, FileChunks], keep: Collection[str] = ()) -> str:
    """Return the version of an index holding exactly these files (and the kept ones)."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(files):
        digest.update(f"file\0{path}\0{files[path].sha256}\n".encode())
    for path in sorted(keep):
        digest.update(f"keep\0{path}\n".encode())
    return digest.hexdigest()


class _SyncFailed(Exception):
    """The leader's sync was refused by the store: publish nothing."""

    def __init__(self, report: IndexReport) -> None:
        super().__init__(report.problem)
        self.report = report


class SharedIndexer:
    """Sync the shared index on one replica at a time; on the others, reload what it published.

    A drop-in for `retrieval.indexer.Indexer` in `KnowledgeService`, so reloads (the folder
    watcher, staff's /reload, `learncity index`) go through it unchanged.
    """

    def __init__(
        self,
        *,
        indexer: Syncs,
        task: LeaderTask,
        first_wait: float = FIRST_WAIT_SECONDS,
        poll: float = POLL_SECONDS,
    ) -> None:
        if first_wait < 0:
            raise ValueError(f"first_wait ({first_wait}) must not be negative")
        if poll <= 0:
            raise ValueError(f"poll ({poll}) must be positive")
        self._indexer = indexer
        self._task = task
        self._first_wait = first_wait
        self._poll = poll
        self.serving: str | None = None  # the version this replica's search structures hold
        self.pending = False  # a sync this replica could not finish or had to leave to another

    @property
    def data_dir(self) -> Path | None:
        """Return the wrapped indexer's data folder (where the last good files are kept)."""
        folder = getattr(self._indexer, "data_dir", None)
        return Path(folder) if folder is not None else None

    def published(self) -> str | None:
        """Return the version the last leader published."""
        return self._task.published()

    def newer_published(self) -> bool:
        """Return True when another replica published a version this one does not serve yet."""
        published = self._task.published()
        return published is not None and published != self.serving

    def sync(self, files: Mapping[str, FileChunks], *, keep: Collection[str] = ()) -> IndexReport:
        """Bring this replica to the index version of `files`: follow, lead, or defer."""
        try:
            return self._sync(files, frozenset(keep))
        except SQLAlchemyError:
            self.pending = True  # PostgreSQL away: the poller tries again when it is back
            raise

    def _sync(self, files: Mapping[str, FileChunks], keep: frozenset[str]) -> IndexReport:
        version = index_version(files, keep)
        deadline = time.monotonic() + self._first_wait
        while True:
            if self._task.published() == version:
                return self._followed(version, files)
            led: list[IndexReport] = []
            work = functools.partial(self._lead, files, keep, version, led)
            try:
                if self._task.run_if_leader(work):
                    self.serving, self.pending = version, False
                    logger.info("knowledge index synced here and published as %s", version[:12])
                    return led[0]
            except _SyncFailed as failed:
                self.pending = True
                return failed.report
            # Another replica holds the lock and is syncing.
            if self.serving is not None:
                if not self.pending:  # the poller retries every few seconds: say it once
                    logger.info(
                        "another replica is syncing the knowledge index: serving version %s "
                        "meanwhile", self.serving[:12],
                    )
                self.pending = True
                return IndexReport(unchanged=len(files), chunks=_chunk_count(files))
            if time.monotonic() > deadline:
                # Nothing served yet and still no version: load what the index holds now.
                logger.warning(
                    "no knowledge index version published after %.0f s: loading the index as it is",
                    self._first_wait,
                )
                self.pending = True
                return IndexReport(chunks=_chunk_count(files), followed=True)
            time.sleep(self._poll)

    def _lead(
        self,
        files: Mapping[str, FileChunks],
        keep: frozenset[str],
        version: str,
        led: list[IndexReport],
    ) -> str:
        report = self._indexer.sync(dict(files), keep=keep)
        led.append(report)
        if report.failed:
            raise _SyncFailed(report)
        return version

    def _followed(self, version: str, files: Mapping[str, FileChunks]) -> IndexReport:
        followed = self.serving != version
        self.serving, self.pending = version, False
        if followed:
            logger.info("knowledge index %s was synced by a replica: reloading", version[:12])
        return IndexReport(unchanged=len(files), chunks=_chunk_count(files), followed=followed)


def _chunk_count(files: Mapping[str, FileChunks]) -> int:
    return sum(len(file.chunks) for file in files.values())


class VersionPoller:
    """Every few seconds, reload the knowledge when another replica published a new version."""

    def __init__(
        self,
        *,
        shared: SharedIndexer,
        reload: Callable[[], object],
        interval: float = POLL_SECONDS,
        retry: float = RETRY_SECONDS,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        if interval <= 0 or retry <= 0:
            raise ValueError(f"interval ({interval}) and retry ({retry}) must be positive")
        self._shared = shared
        self._reload = reload
        self._interval = interval
        self._retry = retry
        self._ready = ready  # the index answers (a pending sync is retried only then)
        self._last_retry = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._database_down = False

    def check(self) -> bool:
        """Reload if needed; return True when it reloaded. Never raises."""
        try:
            if not (self._shared.newer_published() or self._retry_due()):
                self._back()
                return False
            self._reload()
        except SQLAlchemyError as error:
            if not self._database_down:
                self._database_down = True
                logger.warning(
                    "database unreachable: knowledge index versions are not checked until it is "
                    "back (%s)", type(error).__name__,
                )
            return False
        except Exception:
            logger.exception("following the shared knowledge index failed")
            return False
        self._back()
        return True

    def _retry_due(self) -> bool:
        """Return True when a pending sync should be tried again now (not every poll: it logs)."""
        now = time.monotonic()
        if not self._shared.pending or now - self._last_retry < self._retry:
            return False
        self._last_retry = now
        return self._ready()

    def _back(self) -> None:
        if self._database_down:
            self._database_down = False
            logger.warning("database reachable again: following the knowledge index version")

    def start(self) -> None:
        """Start polling in a daemon thread (once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="knowledge-version", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; wait for a reload in progress for a few seconds at most."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()
