"""Incremental indexing: bring the vector index in line with the knowledge files.

A file whose hash is unchanged costs nothing; a changed file has only its new chunks embedded
(chunks whose id, a hash of path, position and text, is already stored keep their vectors); a
file that is gone leaves the index at once, unless it is kept (a broken file whose last good
version keeps serving). Identical chunk texts are embedded once per sync.

Faults never escape `sync` as exceptions: a store whose files were deleted or damaged is rebuilt
from the files given (`IndexReport.rebuilt`), and a store that refuses a write (disk full) or
hangs is left as it is, with a staff-readable `IndexReport.problem`; the next sync compares
hashes again, so it finishes the work once the store accepts writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from langchain_core.embeddings import Embeddings

from retrieval.store import IndexFullError, IndexStoreError, IndexTimeoutError, VectorIndex
from retrieval.types import Chunk

logger = logging.getLogger(__name__)

EMBED_BATCH = 256


class Refreshable(Protocol):
    """A searcher whose lexical side must be rebuilt after the index changes."""

    def refresh(self) -> None:
        """Rebuild from the index."""


@dataclass(frozen=True, slots=True)
class FileChunks:
    """The chunks of one knowledge file and the hash of the file they came from."""

    sha256: str
    chunks: list[Chunk]


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one sync did, by file and by chunk."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    kept: int = 0
    embedded: int = 0  # chunk texts sent to the embedding model
    chunks: int = 0  # chunks in the index after the sync
    seconds: float = 0.0
    removed_paths: tuple[str, ...] = field(default=())
    rebuilt: str = ""  # "missing" or "corrupt": the store was found so and rebuilt in this sync
    was_empty: bool = False  # the store held no chunk before this sync
    problem: str = ""  # the index could not be updated (staff words); answers use the old one
    followed: bool = False  # another replica synced the index to these files: only reload it

    @property
    def failed(self) -> bool:
        """Return True when the index could not be brought in line with the files."""
        return bool(self.problem)

    @property
    def changed(self) -> bool:
        """Return True when the sync touched the index."""
        return bool(self.added or self.updated or self.removed)


class Indexer:
    """Sync the vector index with a set of files, embedding only what is new."""

    def __init__(
        self,
        *,
        index: VectorIndex,
        embeddings: Embeddings,
        searcher: Refreshable | None = None,
        batch_size: int = EMBED_BATCH,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size ({batch_size}) must be at least 1")
        self._index = index
        self._embeddings = embeddings
        self._searcher = searcher
        self._batch_size = batch_size

    @property
    def data_dir(self) -> Path | None:
        """Return the folder holding an embedded store's folder (None for a server or a fake)."""
        path = getattr(self._index, "path", None)
        return Path(path).parent if path is not None else None

    def sync(
        self, files: Mapping[str, FileChunks], *, keep: Collection[str] = ()
    ) -> IndexReport:
        """Make the index hold exactly these files (plus the kept ones); return what changed."""
        started = time.perf_counter()
        rebuilt = ""
        try:
            health = getattr(self._index, "health", None)
            state = health() if callable(health) else "ok"
            if state != "ok":
                logger.warning("vector index is %s: rebuilding it from the knowledge files", state)
                self._index.reset()  # type: ignore[attr-defined]
                rebuilt = state
            stored = self._index.ids_by_path()
        except IndexStoreError as error:
            return self._failed(error, started, rebuilt)
        added = updated = unchanged = kept = 0
        removed_paths = [path for path in stored if path not in files and path not in keep]
        kept = sum(1 for path in stored if path not in files and path in keep)
        to_delete = [chunk_id for path in removed_paths for chunk_id in stored[path]]
        to_embed: list[Chunk] = []
        to_relabel: list[Chunk] = []
        for path, file in files.items():
            old = stored.get(path, {})
            chunks = [_stamped(chunk, path, file.sha256) for chunk in file.chunks]
            new_ids = {chunk.id for chunk in chunks}
            if old and set(old) == new_ids and all(h == file.sha256 for h in old.values()):
                unchanged += 1
                continue
            if old:
                updated += 1
            else:
                added += 1
            to_delete.extend(chunk_id for chunk_id in old if chunk_id not in new_ids)
            for chunk in chunks:
                if chunk.id not in old:
                    to_embed.append(chunk)
                elif old[chunk.id] != file.sha256:
                    to_relabel.append(chunk)
        try:
            if to_delete:
                self._index.delete(to_delete)
            if to_relabel:
                self._index.update_metadata(to_relabel)
            embedded = self._embed_and_store(to_embed)
            total = self._index.count()
        except IndexStoreError as error:
            return self._failed(error, started, rebuilt)
        if (to_delete or to_embed or to_relabel) and self._searcher is not None:
            self._searcher.refresh()
        report = IndexReport(
            added=added,
            updated=updated,
            removed=len(removed_paths),
            unchanged=unchanged,
            kept=kept,
            embedded=embedded,
            chunks=total,
            seconds=time.perf_counter() - started,
            removed_paths=tuple(sorted(removed_paths)),
            rebuilt=rebuilt,
            was_empty=not stored,
        )
        logger.info(
            "index sync: %d added, %d updated, %d removed, %d unchanged, %d kept, "
            "%d chunks embedded in %.2f s",
            report.added, report.updated, report.removed, report.unchanged, report.kept,
            report.embedded, report.seconds,
        )
        return report

    def _failed(self, error: IndexStoreError, started: float, rebuilt: str) -> IndexReport:
        """Return the report of a sync the store refused; the store is left as it was."""
        logger.error("index sync failed, the index was not updated: %s", error)
        keep_using = "the index was not updated; answers keep using the previous index"
        if isinstance(error, IndexFullError):
            problem = f"the disk is full: {keep_using}"
        elif isinstance(error, IndexTimeoutError):
            problem = f"the search index did not answer in time: {keep_using}"
        else:
            problem = f"the search index cannot be written ({error}): {keep_using}"
        return IndexReport(
            seconds=time.perf_counter() - started, rebuilt=rebuilt, problem=problem
        )

    def _embed_and_store(self, chunks: Sequence[Chunk]) -> int:
        """Embed each distinct text once, in batches, and upsert; return texts embedded."""
        if not chunks:
            return 0
        by_text: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_text.setdefault(chunk.text, []).append(chunk)
        distinct = list(by_text)
        for start in range(0, len(distinct), self._batch_size):
            batch = distinct[start : start + self._batch_size]
            vectors = self._embeddings.embed_documents(batch)
            # Store batch by batch: an interrupted sync keeps what it already paid for.
            batch_chunks = [chunk for text in batch for chunk in by_text[text]]
            batch_vectors = [
                vector for text, vector in zip(batch, vectors, strict=True)
                for _ in by_text[text]
            ]
            self._index.upsert(batch_chunks, batch_vectors)
        return len(distinct)


def _stamped(chunk: Chunk, path: str, sha256: str) -> Chunk:
    """Return the chunk with its file's path and hash in the metadata."""
    if chunk.metadata.get("path") == path and chunk.metadata.get("file_hash") == sha256:
        return chunk
    return replace(chunk, metadata={**chunk.metadata, "path": path, "file_hash": sha256})
