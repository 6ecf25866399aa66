"""The last good version of each knowledge file, kept on disk so it survives restarts.

Layout, beside the search index in the data folder (`DATA/last_good/`):

    manifest.json          {"programmes/languages.yaml": {"sha256": "...", "good_since": "..."}}
    files/<relative path>  the raw bytes of that file's last good version

Why raw bytes, not the parsed records as JSON: the loader parses a snapshot with exactly the code
that parses the live file, so a snapshot can never drift from the models (a field added or
renamed next release), guides (PDF, HTML) need no second serialisation, and the SHA-256 of the
bytes is the same hash the index uses, so the snapshot checks itself on read. The cost, parsing a
broken file's snapshot again after a restart, is paid only for broken files.

Writes are atomic (temporary file, then `os.replace`); a failed write (disk full) only loses the
snapshot, never the current answers. A read-only store (`learncity check`) never writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

LAST_GOOD_DIR = "last_good"
_MANIFEST = "manifest.json"


def last_good_dir(data_dir: Path) -> Path:
    """Return where the last good versions live in a data folder."""
    return Path(data_dir) / LAST_GOOD_DIR


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The last good version of one file: its bytes and since when it was good."""

    path: str
    data: bytes
    sha256: str
    good_since: dt.datetime


class LastGoodStore:
    """Keep the raw bytes of each knowledge file's last good version in a folder."""

    def __init__(self, folder: Path, *, read_only: bool = False) -> None:
        self._folder = Path(folder)
        self._read_only = read_only
        self._lock = threading.Lock()
        self._manifest: dict[str, dict[str, str]] | None = None

    def __repr__(self) -> str:
        return f"LastGoodStore({str(self._folder)!r})"

    @property
    def folder(self) -> Path:
        """Return the folder of the snapshots."""
        return self._folder

    def _entries(self) -> dict[str, dict[str, str]]:
        if self._manifest is None:
            try:
                raw = json.loads((self._folder / _MANIFEST).read_text(encoding="utf-8"))
                self._manifest = {
                    str(path): {"sha256": str(v["sha256"]), "good_since": str(v["good_since"])}
                    for path, v in raw.items()
                }
            except FileNotFoundError:
                self._manifest = {}
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
                log.warning("last good versions in %s are unreadable (%s): ignored", self, error)
                self._manifest = {}
        return self._manifest

    def paths(self) -> set[str]:
        """Return the relative paths that have a last good version."""
        with self._lock:
            return set(self._entries())

    def sha256(self, path: str) -> str | None:
        """Return the hash of the stored version of `path`, if any."""
        with self._lock:
            entry = self._entries().get(path)
        return entry["sha256"] if entry else None

    def get(self, path: str) -> Snapshot | None:
        """Return the last good version of `path`, or None (none kept, or it fails its hash)."""
        with self._lock:
            entry = self._entries().get(path)
        if entry is None:
            return None
        try:
            data = self._file(path).read_bytes()
            good_since = dt.datetime.fromisoformat(entry["good_since"])
        except (OSError, ValueError) as error:
            log.warning("last good version of %s cannot be read: %s", path, error)
            return None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            log.warning("last good version of %s is damaged (hash differs): ignored", path)
            return None
        return Snapshot(path=path, data=data, sha256=entry["sha256"], good_since=good_since)

    def save(self, path: str, data: bytes, good_since: dt.datetime) -> None:
        """Keep `data` as the last good version of `path` (nothing happens if it is stored)."""
        if self._read_only:
            return
        sha = hashlib.sha256(data).hexdigest()
        with self._lock:
            entries = self._entries()
            if entries.get(path, {}).get("sha256") == sha:
                return
            try:
                _atomic_write(self._file(path), data)
                entries[path] = {"sha256": sha, "good_since": good_since.isoformat()}
                self._write_manifest(entries)
            except OSError as error:  # disk full: answers are unaffected, only the snapshot
                log.warning("could not keep the last good version of %s: %s", path, error)

    def forget(self, paths: set[str]) -> None:
        """Drop the last good versions of files that were deleted from the folder."""
        if self._read_only or not paths:
            return
        with self._lock:
            entries = self._entries()
            gone = paths & set(entries)
            if not gone:
                return
            for path in gone:
                del entries[path]
                with contextlib.suppress(OSError):
                    self._file(path).unlink()
            try:
                self._write_manifest(entries)
            except OSError as error:
                log.warning("could not update the last good versions in %s: %s", self, error)

    def clear(self) -> None:
        """Remove every snapshot (tests, or a folder switched to another city)."""
        if self._read_only:
            return
        with self._lock:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._manifest = {}

    def _file(self, path: str) -> Path:
        relative = PurePosixPath(path)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"not a path inside the knowledge folder: {path!r}")
        return self._folder / "files" / relative

    def _write_manifest(self, entries: dict[str, dict[str, str]]) -> None:
        text = json.dumps(entries, indent=1, sort_keys=True, ensure_ascii=False)
        _atomic_write(self._folder / _MANIFEST, text.encode("utf-8"))


def _atomic_write(target: Path, data: bytes) -> None:
    """Write `data` to `target` so a reader sees the old or the new bytes, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
