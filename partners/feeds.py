"""Feeds that refresh themselves: each partner's `feeds.yaml` lists URLs and an interval.

`FeedRefresher.refresh()` fetches the feeds that are due with conditional requests (ETag /
Last-Modified, kept in memory: after a restart the first fetch is a full one), and publishes a
feed that changed and validates. A feed that fails (HTTP error, time-out, too large) or turns
invalid changes nothing: its last good import keeps serving, and `on_problem` is called once per
new problem (not at every retry), e.g. for the bot to tell the partner's admins and staff.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from learncity.content.errors import InvalidFile
from partners.errors import FetchError, InvalidSource, PartnerError
from partners.registry import Feed, Partner, load_feeds
from partners.service import SUFFIXES, PartnerService
from partners.writer import WriteReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedProblem:
    """A feed that could not be refreshed; its last good import stays."""

    partner: Partner
    url: str
    message: str


@dataclass(frozen=True)
class FeedResult:
    """What one refresh of one feed did."""

    partner: str
    url: str
    status: Literal["updated", "unchanged", "not-modified", "failed"]
    report: WriteReport | None = None
    problem: str | None = None


@dataclass
class _State:
    etag: str | None = None
    last_modified: str | None = None
    checked_at: dt.datetime | None = None
    problem: str | None = None


def _document(feed: Feed, fetched_name: str, data: bytes) -> str:
    name = feed.name or fetched_name
    if any(name.lower().endswith(suffix) for suffix in SUFFIXES):
        return name
    head = data[:200].lstrip(b"\xef\xbb\xbf \r\n\t")
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return f"{name}.ics"
    if head[:1] in (b"{", b"["):
        return f"{name}.jsonld"
    return name  # the service refuses it and says which kinds it reads


class FeedRefresher:
    """Refresh every partner's feeds when due; report problems through `on_problem`."""

    def __init__(
        self,
        *,
        service: PartnerService,
        on_problem: Callable[[FeedProblem], Awaitable[None]] | None = None,
    ) -> None:
        self._service = service
        self._on_problem = on_problem
        self._states: dict[tuple[str, str], _State] = {}

    async def refresh(self, *, force: bool = False) -> list[FeedResult]:
        """Refresh the feeds that are due (all of them with `force`); return what each did."""
        try:
            registry = await asyncio.to_thread(self._service.registry)
        except InvalidSource as error:
            log.warning("partners.yaml is broken, feeds not refreshed: %s", error)
            return []
        results: list[FeedResult] = []
        now = self._service.now()
        for partner in registry.partners:
            try:
                feeds = await asyncio.to_thread(
                    load_feeds, self._service.knowledge_dir, partner.name
                )
            except (InvalidFile, PartnerError) as error:
                message = "; ".join(str(e) for e in getattr(error, "errors", [error]))
                await self._report(partner, f"partners/{partner.name}/feeds.yaml", message)
                continue
            for feed in feeds.feeds:
                state = self._states.setdefault((partner.name, feed.url), _State())
                due = state.checked_at is None or now - state.checked_at >= dt.timedelta(
                    minutes=feed.every_minutes
                )
                if not (force or due):
                    continue
                state.checked_at = now
                results.append(await self._one(partner, feed, state))
        return results

    async def _one(self, partner: Partner, feed: Feed, state: _State) -> FeedResult:
        try:
            fetched = await self._service.read_source(
                feed.url, etag=state.etag, last_modified=state.last_modified
            )
        except FetchError as error:
            return await self._failed(partner, feed, state, str(error))
        if fetched.not_modified:
            state.problem = None
            return FeedResult(partner.name, feed.url, "not-modified")
        assert fetched.data is not None
        document = _document(feed, fetched.name, fetched.data)
        try:
            preview = await asyncio.to_thread(
                self._service.preview,
                partner.name,
                fetched.data,
                document=document,
                source=feed.url,
            )
            report = await asyncio.to_thread(self._service.publish, preview)
        except InvalidSource as error:
            shown = "; ".join(str(e) for e in error.errors[:5])
            more = f" (+{len(error.errors) - 5} more)" if len(error.errors) > 5 else ""
            return await self._failed(partner, feed, state, f"the feed is invalid: {shown}{more}")
        except PartnerError as error:
            return await self._failed(partner, feed, state, str(error))
        # Validators only after a good import: a bad version is fetched in full next time.
        state.etag, state.last_modified, state.problem = fetched.etag, fetched.last_modified, None
        return FeedResult(
            partner.name, feed.url, "updated" if report.changed else "unchanged", report
        )

    async def _failed(
        self, partner: Partner, feed: Feed, state: _State, message: str
    ) -> FeedResult:
        log.warning("feed %s of partner %s: %s", feed.url, partner.name, message)
        if message != state.problem:
            state.problem = message
            await self._report(partner, feed.url, message)
        return FeedResult(partner.name, feed.url, "failed", problem=message)

    async def _report(self, partner: Partner, url: str, message: str) -> None:
        if self._on_problem is not None:
            await self._on_problem(FeedProblem(partner=partner, url=url, message=message))
