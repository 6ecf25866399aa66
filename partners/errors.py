"""The partners package's exceptions; each carries the identifier it is about.

PartnerError
├── InvalidSource       a source with problems (every KnowledgeError found), refused whole
├── UnsafeName          a partner or document name that would leave the partner's folder
├── UnknownPartner      a name not listed in partners.yaml
└── FetchError          a source that cannot be read (missing, too large, too slow, HTTP error)
"""

from __future__ import annotations

from collections.abc import Iterable

from learncity.content.errors import KnowledgeError


class PartnerError(Exception):
    """Base of the partners package's exceptions."""


class InvalidSource(PartnerError):
    """A source that failed validation: nothing of it is written."""

    def __init__(self, errors: Iterable[KnowledgeError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(error) for error in self.errors))


class UnsafeName(PartnerError):
    """A partner or document name that is not a plain name (e.g. '../../contacts.yaml')."""

    def __init__(self, kind: str, name: str, rule: str) -> None:
        self.name = name
        super().__init__(f"{kind} name {name!r} is refused: {rule}")


class UnknownPartner(PartnerError):
    """No partner with this name in partners.yaml."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"partner {name!r} is not listed in partners.yaml: add it there first "
            "(see knowledge/README.md, Partners)"
        )


class FetchError(PartnerError):
    """A source that cannot be read; `source` is the file or URL."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        super().__init__(f"{source}: {problem}")
