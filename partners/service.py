"""The partners service: parse a source, check it against the folder, publish it; list, remove.

    preview(partner, data, document=..., source=...)  ->  Preview   (nothing is written)
    publish(preview)                                  ->  WriteReport
    import_source(source, partner)                    ->  ImportReport (fetch + preview + publish)

A source with any problem is refused whole (InvalidSource, every problem with its line or
field); the partner's folder is then untouched.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from learncity.content.errors import InvalidFile, KnowledgeError, UnknownRecordError
from learncity.content.loader import load_knowledge
from learncity.content.reading import decode_text
from partners.errors import FetchError, InvalidSource, UnknownPartner
from partners.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, Fetched, fetch
from partners.ical import parse_ics
from partners.jsonld import parse_jsonld
from partners.records import Parsed
from partners.registry import Partner, PartnersFile, check_partner_name, load_partners
from partners.tabular import parse_tabular
from partners.writer import KINDS, Listing, PartnerFolder, Provenance, WriteReport, document_name

log = logging.getLogger(__name__)

_PARSERS = {
    ".ics": parse_ics,
    ".jsonld": parse_jsonld,
    ".json": parse_jsonld,
    ".csv": parse_tabular,
    ".yaml": parse_tabular,
    ".yml": parse_tabular,
}
SUFFIXES = tuple(_PARSERS)


@dataclass(frozen=True)
class Preview:
    """A source that validated, not yet written."""

    partner: str
    document: str  # the name its files are stored under
    source: str
    parsed: Parsed

    @property
    def counts(self) -> tuple[int, int]:
        """Return (events, programmes)."""
        return len(self.parsed.events), len(self.parsed.programmes)


@dataclass(frozen=True)
class ImportReport:
    """A source imported: what was read and what changed in the folder."""

    preview: Preview
    written: WriteReport


def _suffix(document: str) -> str:
    return "." + document.rsplit(".", 1)[-1].lower() if "." in document else ""


class PartnerService:
    """Import partners' sources into `knowledge/partners/<name>/` and manage their listings."""

    def __init__(
        self,
        *,
        knowledge_dir: Path,
        zone: ZoneInfo,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes ({max_bytes}) must be at least 1")
        if timeout <= 0:
            raise ValueError(f"timeout ({timeout}) must be more than 0 seconds")
        self.knowledge_dir = Path(knowledge_dir)
        self.zone = zone
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._clock = clock

    def now(self) -> dt.datetime:
        """Return the current time in the city's zone."""
        return self._clock().astimezone(self.zone) if self._clock else dt.datetime.now(self.zone)

    # ------------------------------------------------------------ partners

    def registry(self) -> PartnersFile:
        """Return partners.yaml; raise InvalidSource with its lines when it is broken."""
        try:
            return load_partners(self.knowledge_dir)
        except InvalidFile as error:
            raise InvalidSource(error.errors) from None

    def partner(self, name: str) -> Partner:
        """Return the partner `name`; raise UnsafeName or UnknownPartner."""
        found = self.registry().get(check_partner_name(name))
        if found is None:
            raise UnknownPartner(name)
        return found

    def folder(self, partner: str) -> PartnerFolder:
        """Return the partner's folder."""
        return PartnerFolder(knowledge_dir=self.knowledge_dir, partner=partner)

    # ------------------------------------------------------------ import

    def preview(self, partner: str, data: bytes, *, document: str, source: str) -> Preview:
        """Parse and check a source; raise InvalidSource, UnsafeName or FetchError. No writes."""
        who = self.partner(partner)
        stored_as = document_name(document)
        suffix = _suffix(document)
        parser = _PARSERS.get(suffix)
        if parser is None:
            shown = suffix or "no extension"
            raise InvalidSource(
                [
                    KnowledgeError(
                        document,
                        None,
                        f"'{shown}' files cannot be imported: send {', '.join(SUFFIXES)}",
                    )
                ]
            )
        if len(data) > self.max_bytes:
            raise FetchError(
                source,
                f"the source is too large ({len(data) / 1_048_576:.1f} MB; the limit is "
                f"{self.max_bytes / 1_048_576:g} MB)",
            )
        try:
            text = decode_text(document, data)
        except InvalidFile as error:
            raise InvalidSource(error.errors) from None
        parsed = parser(text, document=document, partner=who, now=self.now(), city=self.zone)
        self._check_against_folder(who.name, stored_as, document, parsed)
        return Preview(partner=who.name, document=stored_as, source=source, parsed=parsed)

    def _check_against_folder(
        self, partner: str, stored_as: str, document: str, parsed: Parsed
    ) -> None:
        folder = self.folder(partner)
        own = {folder.relative(folder.file(kind, stored_as)) for kind in KINDS}
        kb = load_knowledge(self.knowledge_dir)
        problems: list[KnowledgeError] = []
        for record_id in parsed.ids:
            try:
                where = kb.path_of(record_id)
            except UnknownRecordError:
                continue
            if where not in own:
                problems.append(
                    KnowledgeError(
                        document,
                        parsed.lines.get(record_id) or None,
                        f"id '{record_id}' is already used in {where}: each id must be used "
                        "once in the whole folder",
                    )
                )
        mine = {p.id for p in parsed.programmes}
        for event in parsed.events:
            if event.programme_id and event.programme_id not in mine | set(kb.programmes):
                problems.append(
                    KnowledgeError(
                        document,
                        parsed.lines.get(event.id) or None,
                        f"event '{event.id}': programme_id '{event.programme_id}' does not "
                        "match any programme",
                    )
                )
        if problems:
            raise InvalidSource(problems)

    def publish(self, preview: Preview) -> WriteReport:
        """Write a checked source into its partner's folder (atomically)."""
        provenance = Provenance(preview.partner, preview.source, dt.datetime.now(dt.UTC))
        report = self.folder(preview.partner).write(preview.document, preview.parsed, provenance)
        log.info(
            "partner %s, document %s: %d added, %d updated, %d removed",
            preview.partner,
            preview.document,
            len(report.added),
            len(report.updated),
            len(report.removed),
        )
        return report

    async def read_source(
        self, source: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        """Return a file's or URL's bytes within the size and time limits."""
        return await fetch(
            source,
            max_bytes=self.max_bytes,
            timeout=self.timeout,
            etag=etag,
            last_modified=last_modified,
        )

    async def import_source(
        self, source: str, partner: str, *, name: str | None = None
    ) -> ImportReport:
        """Fetch, check and publish a file or URL for `partner` (stored as `name` if given)."""
        self.partner(partner)  # refuse an unknown or unsafe partner before any download
        fetched = await self.read_source(source)
        assert fetched.data is not None  # no validators were sent
        document = name or fetched.name
        if name and _suffix(name) not in _PARSERS:
            document = f"{name}{_suffix(fetched.name)}"
        preview = self.preview(partner, fetched.data, document=document, source=source)
        return ImportReport(preview=preview, written=self.publish(preview))

    # ------------------------------------------------------------ listings

    def listings(self, partner: str) -> list[Listing]:
        """Return every record in the partner's folder."""
        return self.folder(partner).listings()

    def remove(self, partner: str, record_id: str) -> Listing | None:
        """Remove one record from the partner's folder; return it (None if it is not there)."""
        return self.folder(partner).remove(record_id, at=dt.datetime.now(dt.UTC))
