"""The knowledge service: the knowledge base now serving, and the way to reload it after edits.

`reload()` loads the folder (reusing unchanged files and keeping the last good version of broken
ones), chunks every good file, syncs the vector index (only changed files are embedded; a broken
file's chunks are kept), refreshes the searcher, then swaps the new knowledge base in at once.
Readers never see a half-loaded base; reloads run one at a time.

Surviving restarts: the last good version of every file is kept on disk (`DATA/last_good/`, see
`learncity.content.snapshots`), so a file broken while the assistant was down still serves its
last good version after the start, with a staff notice naming that version.

The report's `errors` hold everything staff must read, one line each: the folder's problems (the
last problem of a file that serves an older version ends with which version serves), and what
happened to the search index (missing or damaged and rebuilt; or not updated because the disk is
full, while answers keep using the search state in memory).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from learncity.content.errors import KnowledgeError
from learncity.content.snapshots import LastGoodStore, last_good_dir
from retrieval.indexer import FileChunks, IndexReport

if TYPE_CHECKING:
    from learncity.content.loader import KnowledgeBase

logger = logging.getLogger(__name__)


class Syncs(Protocol):
    """The indexer: make the index hold exactly these files (retrieval.indexer.Indexer)."""

    def sync(self, files: dict[str, FileChunks], *, keep: frozenset[str] = ...) -> IndexReport:
        """Sync and report."""
        ...


class Refreshable(Protocol):
    """A searcher whose lexical side is rebuilt from the index (retrieval.search.HybridSearcher)."""

    def refresh(self) -> None:
        """Rebuild from the index."""
        ...


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What a reload found and did: the folder's problems and the index sync."""

    files: int
    errors: tuple[KnowledgeError, ...]
    index: IndexReport
    seconds: float
    notices: tuple[KnowledgeError, ...] = ()  # which version a broken file serves, on its own

    @property
    def ok(self) -> bool:
        """Return True when every file loaded."""
        return not self.errors


class KnowledgeService:
    """Own the current knowledge base; reload it from the folder and keep the index in step."""

    def __init__(
        self,
        *,
        root: Path,
        indexer: Syncs,
        searcher: Refreshable,
        last_good: LastGoodStore | None = None,
    ) -> None:
        self._root = Path(root)
        self._indexer = indexer
        self._searcher = searcher
        if last_good is None:
            # Beside the index in the data folder, when the index is an embedded one.
            data_dir = getattr(indexer, "data_dir", None)
            last_good = LastGoodStore(last_good_dir(data_dir)) if data_dir is not None else None
        self._last_good = last_good
        self._current: KnowledgeBase | None = None
        # Re-entrant: the first `current` loads under the lock that `reload` takes too.
        self._reload_lock = threading.RLock()
        self._listeners: list[Callable[[ReloadReport], None]] = []
        self._last: ReloadReport | None = None

    @property
    def root(self) -> Path:
        """Return the knowledge folder."""
        return self._root

    @property
    def current(self) -> KnowledgeBase:
        """Return the knowledge base now serving (loading it on first use)."""
        current = self._current
        if current is None:
            with self._reload_lock:  # many first readers at start-up: one load
                if self._current is None:
                    self.reload()
            current = self._current
            assert current is not None
        return current

    @property
    def last_report(self) -> ReloadReport | None:
        """Return the report of the last reload, if any."""
        return self._last

    def subscribe(self, listener: Callable[[ReloadReport], None]) -> None:
        """Call `listener` with every reload's report (e.g. to tell staff about broken files)."""
        self._listeners.append(listener)

    def reload(self) -> ReloadReport:
        """Load the folder again, sync the index and swap the new knowledge base in."""
        from learncity.content.documents import chunks_for_file, index_hash
        from learncity.content.loader import load_knowledge

        with self._reload_lock:
            started = time.perf_counter()
            first = self._current is None
            built_before = first and self._last_good is not None and bool(self._last_good.paths())
            kb = load_knowledge(self._root, previous=self._current, last_good=self._last_good)
            files = {
                path: FileChunks(sha256=index_hash(loaded.sha256), chunks=chunks_for_file(loaded))
                for path, loaded in kb.files.items()
            }
            # A broken file with no good version loaded (e.g. after a restart) keeps its chunks.
            keep = frozenset(error.path for error in kb.errors) - set(files)
            report = self._indexer.sync(files, keep=keep)
            index_notes = _index_notes(report, built_before=built_before and bool(files))
            if not report.failed and (report.changed or report.followed or first or report.rebuilt):
                # Search state lives in memory: rebuild it after a change (here or, `followed`,
                # by another replica), and once per process.
                # After a failed sync it stays as it was: answers keep using the previous index.
                try:
                    self._searcher.refresh()
                except Exception as failure:  # the store can fail between sync and refresh
                    logger.exception("search refresh after a reload failed")
                    index_notes.append(
                        KnowledgeError(
                            "",
                            None,
                            f"the search index cannot be read ({failure}): answers keep using "
                            "the previous index",
                        )
                    )
            self._current = kb  # one reference swap: readers see the old or the new base
            result = ReloadReport(
                files=len(kb.files),
                errors=(*_with_versions(kb.errors, kb.notices), *index_notes),
                index=report,
                seconds=time.perf_counter() - started,
                notices=tuple(kb.notices),
            )
            self._last = result
        # One line per problem is the report's job (CLI, staff chat); the log gets a summary.
        for error in result.errors:
            logger.info("knowledge problem: %s", error)
        logger.log(
            logging.WARNING if result.errors else logging.INFO,
            "knowledge reloaded: %d files, %d problems, %.2f s",
            result.files,
            len(result.errors),
            result.seconds,
        )
        if result.notices:  # e.g. `learncity ask` after a restart: say what is not current
            logger.warning(
                "%d broken file(s) serve their last good version: %s",
                len(result.notices),
                ", ".join(notice.path for notice in result.notices),
            )
        for listener in list(self._listeners):
            try:
                listener(result)
            except Exception:  # a listener's failure must not undo a good reload
                logger.exception("reload listener %r failed", listener)
        return result


def _index_notes(report: IndexReport, *, built_before: bool) -> list[KnowledgeError]:
    """Return what staff must know about the search index after a sync."""
    notes: list[KnowledgeError] = []
    if report.rebuilt == "corrupt":
        notes.append(
            KnowledgeError(
                "", None, "the search index was damaged and has been rebuilt from the folder"
            )
        )
    elif report.rebuilt == "missing" or (built_before and report.was_empty and not report.failed):
        # After a restart a deleted index is simply empty; the kept versions show it existed.
        notes.append(
            KnowledgeError(
                "", None, "the search index was missing and has been rebuilt from the folder"
            )
        )
    if report.problem:
        notes.append(KnowledgeError("", None, report.problem))
    return notes


def _with_versions(
    errors: list[KnowledgeError], notices: list[KnowledgeError]
) -> list[KnowledgeError]:
    """Return the problems, the last one of each file serving an older version saying which.

    One line per problem for staff (the bot's report, `learncity index`), and the version served
    right where they read about the file.
    """
    serving = {notice.path: notice.message for notice in notices}
    last = {error.path: number for number, error in enumerate(errors)}
    result = [
        KnowledgeError(error.path, error.line, f"{error.message}; {serving[error.path]}")
        if error.path in serving and last[error.path] == number
        else error
        for number, error in enumerate(errors)
    ]
    result.extend(notice for notice in notices if notice.path not in last)
    return result
