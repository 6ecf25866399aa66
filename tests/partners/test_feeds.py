"""Feeds from feeds.yaml, served by a local HTTP server: ETag (304), failures keep the last good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio
from aiohttp import web

from learncity.content.loader import load_knowledge
from partners.feeds import FeedProblem, FeedRefresher
from partners.service import PartnerService
from tests.partners.conftest import FIXTURES, snapshot


@dataclass
class FeedServer:
    """Serves /agenda.ics with an ETag; tests change the body or the status."""

    body: bytes = b""
    status: int = 200
    etag: str = '"v1"'
    requests: list[str | None] = field(default_factory=list)  # If-None-Match of each request
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.headers.get("If-None-Match"))
        if self.status != 200:
            return web.Response(status=self.status, text="server error")
        if request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304)
        return web.Response(body=self.body, headers={"ETag": self.etag})


@pytest_asyncio.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer(body=(FIXTURES / "biblioteca-agenda.ics").read_bytes())
    app = web.Application()
    app.router.add_get("/agenda.ics", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/agenda.ics"
    yield server
    await runner.cleanup()


async def test_a_feed_refreshes_with_etag_and_keeps_the_last_good_on_failure(
    knowledge: Path, feed_server: FeedServer
) -> None:
    folder = knowledge / "partners" / "biblioteca-ursino"
    folder.mkdir(parents=True)
    (folder / "feeds.yaml").write_text(
        f"feeds:\n  - url: {feed_server.url}\n    every_minutes: 60\n    name: agenda\n", "utf-8"
    )
    problems: list[FeedProblem] = []

    async def on_problem(problem: FeedProblem) -> None:
        problems.append(problem)

    service = PartnerService(knowledge_dir=knowledge, zone=ZoneInfo("Europe/Rome"))
    refresher = FeedRefresher(service=service, on_problem=on_problem)

    [first] = await refresher.refresh()
    assert first.status == "updated" and len(first.report.added) == 3  # type: ignore[union-attr]
    assert "biblioteca-ursino-gruppo-lettura-2027" in load_knowledge(knowledge).events
    assert await refresher.refresh() == []  # not due for another hour

    [second] = await refresher.refresh(force=True)
    assert second.status == "not-modified" and feed_server.requests[-1] == '"v1"'
    good = snapshot(knowledge)

    # The partner publishes a broken version: refused, reported once, last good stays.
    feed_server.body = feed_server.body.replace(b"20270108T173000", b"20271345T173000", 1)
    feed_server.etag = '"v2"'
    [third] = await refresher.refresh(force=True)
    assert third.status == "failed" and 'DTSTART "20271345T173000" is not a date' in (
        third.problem or ""
    )
    [fourth] = await refresher.refresh(force=True)
    assert fourth.status == "failed" and feed_server.requests[-1] == '"v1"'  # full fetch again
    assert len(problems) == 1 and problems[0].partner.name == "biblioteca-ursino"
    assert snapshot(knowledge) == good

    feed_server.status = 500
    [fifth] = await refresher.refresh(force=True)
    assert fifth.status == "failed" and "HTTP 500" in (fifth.problem or "")
    assert len(problems) == 2 and snapshot(knowledge) == good

    # Fixed: the new version is published.
    feed_server.status = 200
    feed_server.body = feed_server.body.replace(b"20271345T173000", b"20270108T173000", 1)
    feed_server.body = feed_server.body.replace(b"Gruppo di lettura", b"Circolo di lettura")
    [sixth] = await refresher.refresh(force=True)
    assert sixth.status == "updated"
    event = load_knowledge(knowledge).events["biblioteca-ursino-gruppo-lettura-2027"]
    assert str(event.title).startswith("Circolo di lettura")
