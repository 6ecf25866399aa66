"""Load and validate the knowledge folder: programmes, events, guides and contacts.

Every problem becomes a `KnowledgeError` (path relative to the folder, line, plain words), not an
exception. A file with any problem is skipped whole; its last good version keeps serving, so a
broken edit never takes content away from residents: the previous load's version in a running
process, else the version kept on disk by `LastGoodStore` (so it survives restarts). Staff get a
notice naming the version served ("serving the version of 2 Dec 10:14"). A file deleted from the
folder is gone, with its last good version.

One file's mistake does not spread: an event whose `programme_id` names a programme that exists
nowhere (not even in a last good version) is left out alone, with a message; the rest of its
file serves.

Links: a symbolic link to a file inside the folder is read; a link that leaves the folder, a
link loop, a dangling link and a link to a folder are refused with a message, never followed.

The pieces: `folder` (the walk), `reading` (bytes, links, sizes, text), `yaml_records` and
`csv_programmes` (records with their lines), `guides` (guide texts), `problems` (errors in words),
`id_registry` (ids across files), `knowledge_base` (the results). This module parses each file by
its kind and assembles the base, with last good versions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from learncity.content.csv_programmes import load_csv
from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.folder import CONTACTS_FILE, FileKind, discover
from learncity.content.guides import (
    HTML_SUFFIXES,
    PDF_SUFFIXES,
    Guide,
    guide_from_html,
    guide_from_pdf,
    guide_from_text,
    split_front_matter,
)
from learncity.content.id_registry import IdRegistry
from learncity.content.knowledge_base import KnowledgeBase, LoadedFile
from learncity.content.models import CITY_ZONE, ContactKind, GuideMeta
from learncity.content.problems import validate_node
from learncity.content.reading import (
    MAX_FILE_BYTES,
    decode_text,
    file_sha256,
    read_file,
    refuse_binary,
)
from learncity.content.snapshots import LastGoodStore
from learncity.content.yaml_records import load_yaml_records
from learncity.content.yaml_source import parse_yaml

__all__ = [
    "KnowledgeBase",
    "LoadedFile",
    "check_folder",
    "load_knowledge",
    "parse_file",
    "parse_records",
    "version_time",
]

log = logging.getLogger(__name__)

# Files that were there before claim their ids first, so a new file cannot push out old content;
# within that, programmes before the events that name them.
_KIND_ORDER: dict[FileKind, int] = {"programmes": 0, "events": 1, "contacts": 2, "guide": 3}


# ---------------------------------------------------------------- one file


def _load_file(
    root: Path, path: str, kind: FileKind, max_bytes: int, reuse: LoadedFile | None
) -> tuple[LoadedFile, bytes]:
    data = read_file(root, path, max_bytes)
    sha = file_sha256(data)
    if reuse is not None and reuse.sha256 == sha:
        return reuse, data  # unchanged since the last load: nothing to parse again
    try:
        mtime = (root / path).stat().st_mtime
        saved: dt.datetime | None = dt.datetime.fromtimestamp(mtime, dt.UTC)
    except OSError:
        saved = None
    return parse_file(path, kind, data, sha=sha, good_since=saved), data


def parse_file(
    path: str, kind: FileKind, data: bytes, *, sha: str, good_since: dt.datetime | None
) -> LoadedFile:
    """Return the records (or guide) in a file's bytes; raise InvalidFile with every problem."""
    if kind == "guide":
        guide = _load_guide(path, data)
        return LoadedFile(path=path, sha256=sha, guide=guide, good_since=good_since)
    text = decode_text(path, data)
    if kind == "programmes" and path.lower().endswith(".csv"):
        loaded = load_csv(path, text)
    else:
        loaded = load_yaml_records(path, text, kind)
    loaded.sha256 = sha
    loaded.good_since = good_since
    return loaded


def parse_records(path: str, text: str, kind: Literal["programmes", "events"]) -> LoadedFile:
    """Return the records of a programmes/events text (YAML, or CSV when `path` ends in .csv).

    Raise InvalidFile with every problem, named by `path` and line, as for a file in the folder.
    """
    if kind == "programmes" and path.lower().endswith(".csv"):
        return load_csv(path, text)
    return load_yaml_records(path, text, kind)


def _load_guide(path: str, data: bytes) -> Guide:
    suffix = Path(path).suffix.lower()
    if suffix in PDF_SUFFIXES:
        return guide_from_pdf(path, data)
    if suffix in HTML_SUFFIXES:
        refuse_binary(path, data)
        return guide_from_html(path, data)
    text = decode_text(path, data)
    if not text.strip():
        raise InvalidFile([KnowledgeError(path, None, "the file is empty")])
    front, body = split_front_matter(path, text)
    meta = GuideMeta()
    if front is not None:
        front_data, node = parse_yaml(path, front)
        if node is not None:
            if not isinstance(front_data, dict):
                raise InvalidFile(
                    [
                        KnowledgeError(
                            path,
                            2,
                            "the front matter between the '---' lines should be "
                            "'field: value' lines",
                        )
                    ]
                )
            meta = validate_node(path, GuideMeta, front_data, node)
    return guide_from_text(path, body, meta, markdown=suffix != ".txt")


# ---------------------------------------------------------------- the whole folder


def load_knowledge(
    root: Path,
    previous: KnowledgeBase | None = None,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    last_good: LastGoodStore | None = None,
) -> KnowledgeBase:
    """Load and validate every file under `root`; bad files are reported and skipped.

    With `previous`, unchanged files are reused without parsing, and a file that is now broken keeps
    its last good version from `previous` (listed in `stale`). With `last_good`, the last good
    version of every file is also kept on disk and serves a broken file after a restart; files
    deleted from the folder are dropped, with their kept versions.
    """
    root = Path(root)
    earlier = {
        path: loaded.whole or loaded
        for path, loaded in (previous.files.items() if previous is not None else ())
    }
    if not root.is_dir():
        error = KnowledgeError(".", None, f"the knowledge folder {root} does not exist")
        return KnowledgeBase.assemble(root, dict(earlier), [error], set(earlier))
    entries, errors = discover(root)
    load = _FolderLoad(root, earlier=earlier, last_good=last_good, errors=errors)
    load.read(entries, max_file_bytes)
    load.accept_all()
    if last_good is not None:
        last_good.forget(load.kept - set(load.kinds))  # deleted from the folder: gone for good
    errors.extend(_contacts_problems(load.accepted, load.kinds))
    return _knowledge_base(root, load)


class _FolderLoad:
    """One run of `load_knowledge`: files read, their last good versions, the files accepted."""

    def __init__(
        self,
        root: Path,
        *,
        earlier: dict[str, LoadedFile],
        last_good: LastGoodStore | None,
        errors: list[KnowledgeError],
    ) -> None:
        self.root = root
        self.earlier = earlier
        self.last_good = last_good
        self.errors = errors
        self.fresh: dict[str, LoadedFile] = {}
        self.kinds: dict[str, FileKind] = {}
        self.to_keep: dict[str, bytes] = {}  # bytes of good files whose kept version is older
        self.kept: set[str] = set()  # paths with a last good version on disk
        self.registry = IdRegistry()
        self.accepted: dict[str, LoadedFile] = {}
        self.stale: set[str] = set()

    def read(self, entries: Iterable[tuple[str, FileKind]], max_bytes: int) -> None:
        """Read and parse every listed file; a problem is recorded, never raised."""
        for path, kind in entries:
            try:
                loaded, data = _load_file(self.root, path, kind, max_bytes, self.earlier.get(path))
                self.fresh[path] = loaded
                if self.last_good is not None and self.last_good.sha256(path) != loaded.sha256:
                    self.to_keep[path] = data
            except InvalidFile as error:
                self.errors.extend(error.errors)
            except (FileNotFoundError, NotADirectoryError):
                log.info("knowledge file %s disappeared while loading; treated as removed", path)
                continue
            except OSError as error:  # whatever the disk says, a problem for staff, not a crash
                reason = error.strerror or str(error)
                self.errors.append(
                    KnowledgeError(path, None, f"the file cannot be read: {reason}")
                )
            self.kinds[path] = kind
        self.kept = self.last_good.paths() if self.last_good is not None else set()

    def accept_all(self) -> None:
        """Accept each file's current version, else its last good one, in claiming order."""
        order = sorted(
            self.kinds,
            key=lambda p: (
                _KIND_ORDER[self.kinds[p]],
                p not in self.earlier and p not in self.kept,
                p,
            ),
        )
        for path in order:
            self._accept(path)

    def _accept(self, path: str) -> None:
        current = self.fresh.get(path)
        if current is not None and self._claim(path, current, is_current=True):
            if path in self.to_keep and self.last_good is not None:
                saved = self.accepted[path].good_since or _now()
                self.last_good.save(path, self.to_keep[path], saved)
            return
        older = self._last_good_version(path)
        if older is None or older is current:
            return
        if self._claim(path, older, is_current=False):
            self.stale.add(path)
            log.info("knowledge file %s has errors; its last good version serves", path)

    def _claim(self, path: str, loaded: LoadedFile, *, is_current: bool) -> bool:
        """Accept `loaded` unless its ids clash with files accepted before; report what is wrong."""
        problems = self.registry.conflicts(loaded)
        if problems:
            if is_current:
                self.errors.extend(problems)
            else:  # staff already see this file's current problems; old lines would confuse
                log.warning("last good version of %s conflicts too: %s", path, problems[0])
            return False
        dangling = self.registry.dangling(loaded)
        if dangling:
            if is_current:
                self.errors.extend(dangling)
            loaded = _without_events(loaded, self.registry.dangling_ids(loaded))
        self.registry.claim(loaded)
        self.accepted[path] = loaded
        return True

    def _last_good_version(self, path: str) -> LoadedFile | None:
        """Return the last good version of a file: this process's, else the one kept on disk."""
        if path in self.earlier:
            return self.earlier[path]
        if self.last_good is None or path not in self.kept:
            return None
        snapshot = self.last_good.get(path)
        if snapshot is None:
            return None
        try:
            return parse_file(
                path,
                self.kinds[path],
                snapshot.data,
                sha=snapshot.sha256,
                good_since=snapshot.good_since,
            )
        except InvalidFile as error:  # kept by an older release that read it differently
            log.warning("last good version of %s no longer loads: %s", path, error.errors[0])
            return None


def _without_events(loaded: LoadedFile, left_out: set[str]) -> LoadedFile:
    """Return the file without the events `left_out`, remembering the whole file for next time."""
    return replace(
        loaded,
        events=[e for e in loaded.events if e.id not in left_out],
        lines={i: n for i, n in loaded.lines.items() if i not in left_out},
        whole=loaded.whole or loaded,
    )


def _contacts_problems(
    accepted: dict[str, LoadedFile], kinds: dict[str, FileKind]
) -> list[KnowledgeError]:
    """Return what is wrong with the folder's contacts as a whole (missing, no general one)."""
    if CONTACTS_FILE not in accepted and CONTACTS_FILE not in kinds:
        message = "the file is missing: the assistant needs contacts to point people to a person"
        return [KnowledgeError(CONTACTS_FILE, None, message)]
    if CONTACTS_FILE in accepted and not any(
        c.kind == ContactKind.GENERAL for c in accepted[CONTACTS_FILE].contacts
    ):
        message = "no contact has kind 'general': add one, for questions the folder cannot answer"
        return [KnowledgeError(CONTACTS_FILE, None, message)]
    return []


def _knowledge_base(root: Path, load: _FolderLoad) -> KnowledgeBase:
    """Return the base of the accepted files, with every problem and a notice per stale file."""
    errors = sorted(_unique(load.errors), key=lambda e: (e.path, e.line or 0))
    kb = KnowledgeBase.assemble(root, dict(sorted(load.accepted.items())), errors, load.stale)
    kb.notices = [
        _serving_notice(path, load.accepted[path].good_since) for path in sorted(load.stale)
    ]
    log.info(
        "knowledge loaded: %d files, %d programmes, %d events, %d guides, %d contacts, %d errors",
        len(kb.files),
        len(kb.programmes),
        len(kb.events),
        len(kb.guides),
        len(kb.contacts),
        len(kb.errors),
    )
    return kb


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def version_time(when: dt.datetime) -> str:
    """Return a version's time as staff read it, in city time: '2 Dec 10:14'."""
    local = when.astimezone(CITY_ZONE)
    return f"{local.day} {local:%b %H:%M}"


def _serving_notice(path: str, good_since: dt.datetime | None) -> KnowledgeError:
    """Return the staff notice for a broken file whose last good version serves."""
    version = (
        f"the version of {version_time(good_since)}" if good_since else "the last good version"
    )
    return KnowledgeError(
        path,
        None,
        f"serving {version} (its last good version) until the problems in this file are fixed",
    )


def _unique(errors: list[KnowledgeError]) -> list[KnowledgeError]:
    seen: set[KnowledgeError] = set()
    result = []
    for error in errors:
        if error not in seen:
            seen.add(error)
            result.append(error)
    return result


def check_folder(root: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> list[KnowledgeError]:
    """Return every problem in the knowledge folder (empty when it is all good)."""
    return load_knowledge(root, max_file_bytes=max_file_bytes).errors
