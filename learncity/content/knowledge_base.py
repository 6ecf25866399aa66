"""What a load produces: each file's records (`LoadedFile`) and the whole base (`KnowledgeBase`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from learncity.content.errors import KnowledgeError, UnknownRecordError
from learncity.content.folder import CONTACTS_FILE, FileKind, classify
from learncity.content.guides import Guide
from learncity.content.models import Contact, Event, Programme


@dataclass
class LoadedFile:
    """One knowledge file that loaded: its records (or guide) and the line of each record."""

    path: str
    sha256: str
    programmes: list[Programme] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    guide: Guide | None = None
    contacts: list[Contact] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # record id -> line of the record
    good_since: dt.datetime | None = None  # when this version was saved (file time), if known
    # The whole file as parsed, when items were left out of this one (a dangling reference): the
    # next load reuses the whole file, so a fixed reference brings the item back.
    whole: LoadedFile | None = field(default=None, repr=False)

    @property
    def kind(self) -> FileKind:
        """Return what the file holds."""
        if self.guide is not None:
            return "guide"
        if self.path == CONTACTS_FILE:
            return "contacts"
        return "events" if classify(self.path) == "events" else "programmes"


@dataclass
class KnowledgeBase:
    """Everything that loaded from the knowledge folder, and every problem found."""

    root: Path
    files: dict[str, LoadedFile]  # by relative path: files that loaded, or their last good version
    errors: list[KnowledgeError]
    programmes: dict[str, Programme] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    guides: dict[str, Guide] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    stale: set[str] = field(default_factory=set)  # paths serving their last good version
    # What staff must know that is not a mistake in a line: which files serve an older version.
    notices: list[KnowledgeError] = field(default_factory=list)
    _paths: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def assemble(
        cls,
        root: Path,
        files: dict[str, LoadedFile],
        errors: list[KnowledgeError],
        stale: set[str] | None = None,
    ) -> KnowledgeBase:
        """Return the base built from files already checked for duplicates (in the given order)."""
        kb = cls(root=root, files=files, errors=errors, stale=stale or set())
        for path, loaded in files.items():
            for programme in loaded.programmes:
                kb.programmes[programme.id] = programme
                kb._paths.setdefault(programme.id, path)
            for event in loaded.events:
                kb.events[event.id] = event
                kb._paths.setdefault(event.id, path)
            for contact in loaded.contacts:
                kb.contacts.append(contact)
                kb._paths.setdefault(contact.id, path)
            if loaded.guide is not None:
                kb.guides[path] = loaded.guide
        return kb

    def path_of(self, record_id: str) -> str:
        """Return the relative path of the file holding a programme, event or contact."""
        try:
            return self._paths[record_id]
        except KeyError:
            raise UnknownRecordError(record_id) from None

    def line_of(self, record_id: str) -> int | None:
        """Return the line where a record starts in its file (None if unknown)."""
        return self.files[self.path_of(record_id)].lines.get(record_id)
