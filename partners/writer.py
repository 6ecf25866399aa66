"""A partner's folder in the knowledge folder, written atomically.

    knowledge/partners/<partner>/programmes/<document>.yaml
    knowledge/partners/<partner>/events/<document>.yaml
    knowledge/partners/<partner>/feeds.yaml            (staff write it; feeds.py reads it)

Each source (an uploaded document, a feed, a file given to `learncity import`) owns the files of
its document name, written as the folder's normal YAML so staff can read them. Provenance
(partner, source, imported_at) is the files' header comment: the models stay the folder's
models (no field residents could see or staff could mistype), and the path already says which
partner a record belongs to. Re-importing a source replaces its files, so records the partner
removed leave. Writes go to a temporary file renamed over the old one: a reader never sees half a
file, and a refused source changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from learncity.content.errors import InvalidFile
from learncity.content.loader import parse_records
from learncity.content.models import Event, Programme
from learncity.content.reading import decode_text
from partners.errors import UnsafeName
from partners.records import Parsed
from partners.registry import PARTNERS_DIR, check_partner_name

Kind = Literal["programmes", "events"]
KINDS: tuple[Kind, ...] = ("programmes", "events")
DOCUMENT_RULE = "send a plain file name such as 'agenda.ics', without folders or '..'"
_HEADER = re.compile(r"^# (partner|source|imported_at): (.*)$", re.MULTILINE)


def document_name(raw: str) -> str:
    """Return the document name a source is stored under; refuse names with folders or '..'."""
    name = raw.strip()
    if not name or any(mark in name for mark in ("/", "\\", "..", "\x00")) or name.startswith("."):
        raise UnsafeName("document", raw, DOCUMENT_RULE)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60].strip("-")
    if not slug:
        raise UnsafeName("document", raw, DOCUMENT_RULE)
    return slug


@dataclass(frozen=True)
class Provenance:
    """Where a document's records came from."""

    partner: str
    source: str
    imported_at: dt.datetime


@dataclass(frozen=True)
class WriteReport:
    """What a write changed, by record id."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Return True when a file was rewritten."""
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class Listing:
    """One record in a partner's folder, for /listings."""

    record_id: str
    kind: Kind
    title: Any
    document: str


def _plain(record: Programme | Event) -> dict[str, Any]:
    data = record.model_dump(mode="json", exclude_defaults=True)
    schedule = data.get("schedule") or {}
    for slot in schedule.get("weekly", []):  # "18:00:00" -> "18:00", as staff write it
        for key in ("start", "end"):
            if isinstance(slot.get(key), str):
                slot[key] = slot[key][:5]
    return data


def _dump(kind: Kind, records: list[dict[str, Any]], provenance: Provenance) -> str:
    header = (
        f"# Listings of partner '{provenance.partner}', imported by the partners service.\n"
        f"# partner: {provenance.partner}\n"
        f"# source: {provenance.source}\n"
        f"# imported_at: {provenance.imported_at.isoformat(timespec='seconds')}\n"
        "# Each import of the source replaces this file: change listings at the source\n"
        "# (or remove one with /listings in the bot); edits made here are lost then.\n"
    )
    body = yaml.safe_dump(
        {kind: records}, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )
    return header + body


def _atomic_prepare(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot name: the loader and the folder watcher ignore it until it is renamed.
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    with temporary.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


class PartnerFolder:
    """The listings of one partner under `<knowledge>/partners/<partner>/`."""

    def __init__(self, *, knowledge_dir: Path, partner: str) -> None:
        self.partner = check_partner_name(partner)
        self.root = Path(knowledge_dir)
        self.path = self.root / PARTNERS_DIR / partner
        base = (self.root / PARTNERS_DIR).resolve()
        if not self.path.resolve().is_relative_to(base):  # a symlink pointing elsewhere
            raise UnsafeName("partner", partner, "its folder leads outside partners/")

    def file(self, kind: Kind, document: str) -> Path:
        """Return the file of one kind of record of a document."""
        path = self.path / kind / f"{document_name(document + '.yaml')}.yaml"
        if not path.resolve().is_relative_to(self.path.resolve()):
            raise UnsafeName("document", document, DOCUMENT_RULE)
        return path

    def relative(self, path: Path) -> str:
        """Return a path relative to the knowledge folder (as the loader names files)."""
        return path.relative_to(self.root).as_posix()

    def _read(self, path: Path, kind: Kind) -> list[Programme | Event]:
        if not path.is_file():
            return []
        relative = self.relative(path)
        try:
            loaded = parse_records(relative, decode_text(relative, path.read_bytes()), kind)
        except InvalidFile:
            return []  # staff broke it by hand: the import replaces it with good content
        return [*loaded.programmes, *loaded.events]

    def records(self, document: str) -> dict[str, dict[str, Any]]:
        """Return the records a document has now, by id, as plain data."""
        found: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            for record in self._read(self.file(kind, document), kind):
                found[record.id] = _plain(record)
        return found

    def write(self, document: str, parsed: Parsed, provenance: Provenance) -> WriteReport:
        """Replace a document's records with `parsed`; leave files alone when nothing changed."""
        before = self.records(document)
        records: list[Programme | Event] = [*parsed.programmes, *parsed.events]
        after = {r.id: _plain(r) for r in records}
        report = WriteReport(
            added=tuple(i for i in after if i not in before),
            updated=tuple(i for i in after if i in before and before[i] != after[i]),
            removed=tuple(i for i in before if i not in after),
            unchanged=tuple(i for i in after if i in before and before[i] == after[i]),
        )
        if not report.changed:
            return report
        by_kind: dict[Kind, list[Programme] | list[Event]] = {
            "programmes": parsed.programmes,
            "events": parsed.events,
        }
        prepared: list[tuple[Path, Path | None]] = []
        try:
            for kind in KINDS:
                target = self.file(kind, document)
                items = [_plain(r) for r in by_kind[kind]]
                prepared.append(
                    (
                        target,
                        _atomic_prepare(target, _dump(kind, items, provenance)) if items else None,
                    )
                )
        except BaseException:
            for _, temporary in prepared:
                if temporary is not None:
                    temporary.unlink(missing_ok=True)
            raise
        for target, temporary in prepared:
            if temporary is not None:
                os.replace(temporary, target)
            else:
                target.unlink(missing_ok=True)
        return report

    def documents(self) -> list[str]:
        """Return the document names that have files in this folder."""
        names = {
            path.stem
            for kind in KINDS
            if (self.path / kind).is_dir()
            for path in (self.path / kind).glob("*.yaml")
            if not path.name.startswith(".")
        }
        return sorted(names)

    def provenance(self, document: str) -> dict[str, str]:
        """Return the header fields (partner, source, imported_at) of a document's files."""
        for kind in KINDS:
            path = self.file(kind, document)
            if path.is_file():
                return dict(_HEADER.findall(path.read_text(encoding="utf-8")[:2000]))
        return {}

    def listings(self) -> list[Listing]:
        """Return every record in the partner's folder."""
        found: list[Listing] = []
        for document in self.documents():
            for kind in KINDS:
                for record in self._read(self.file(kind, document), kind):
                    found.append(Listing(record.id, kind, record.title, document))
        return found

    def remove(self, record_id: str, *, at: dt.datetime) -> Listing | None:
        """Remove one record from its document (atomically); return it, or None if absent."""
        for listing in self.listings():
            if listing.record_id != record_id:
                continue
            path = self.file(listing.kind, listing.document)
            kept = [r for r in self._read(path, listing.kind) if r.id != record_id]
            if not kept:
                path.unlink(missing_ok=True)
                return listing
            source = self.provenance(listing.document).get("source", "?")
            text = _dump(
                listing.kind, [_plain(r) for r in kept], Provenance(self.partner, source, at)
            )
            os.replace(_atomic_prepare(path, text), path)
            return listing
        return None
