"""Problems found in the knowledge folder, and the content package's exceptions.

A problem in a staff file is not an exception to the caller: it is a `KnowledgeError` value
(path, line, plain-words message) collected in `KnowledgeBase.errors`. Exceptions:

    ContentError
    ├── InvalidFile          a file cannot be loaded; carries its KnowledgeErrors (used inside)
    └── UnknownRecordError   no programme, event or contact with the id asked for (also a KeyError)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KnowledgeError:
    """One problem in one knowledge file: `path` is relative to the knowledge folder.

    An empty `path` is a problem of no single file (the search index, the disk): only the message.
    """

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if not self.path:
            return self.message
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class ContentError(Exception):
    """Base of the content package's exceptions."""


class InvalidFile(ContentError):
    """A knowledge file that cannot be loaded, with every problem found in it."""

    def __init__(self, errors: Iterable[KnowledgeError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(error) for error in self.errors))


class UnknownRecordError(ContentError, KeyError):
    """No record with the id asked for."""

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id
        super().__init__(f"no programme, event or contact with id {record_id!r}")

    def __str__(self) -> str:
        # KeyError's own __str__ would wrap the message in quotes.
        return str(self.args[0])
