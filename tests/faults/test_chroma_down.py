"""A Chroma server that stops: answers degrade to keyword search, never crash, and come back.

A real `chroma run` process is started, stopped and started again on the same port and folder;
questions go through the real AnswerEngine (`build_services`, and `learncity ask` in-process).
The tell-tale of keyword search: a question in Russian shares no word with the folder, so only
the dense (meaning) side of the hybrid search can answer it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.root import Services, build_services
from learncity.settings import Settings
from tests.contracts.conftest import (
    STARTUP_TIMEOUT,
    _chroma_binary,
    _free_port,
    _heartbeat,
    _log_tail,
    _unavailable,
)
from tests.faults.conftest import Site
from tests.faults.test_index_faults import add_guide

ENGLISH = "free italian lessons in the evening near librino?"
# "Where can I learn Italian for free?": no vocabulary file reads Japanese, so meaning alone.
JAPANESE = "無料でイタリア語を学べる場所はどこですか"
FOREIGNERS = "guides/italian-for-foreigners-en.md"
BEES = "corso di apicoltura urbana sul tetto, alveare e miele"
CARD = "ita-l2-librino-sera"
DEGRADED = "answering with keyword search"
BACK = "back to hybrid search"


class ChromaProcess:
    """`chroma run` on a fixed port and folder, which the test can stop and start again."""

    def __init__(self, root: Path) -> None:
        binary = _chroma_binary()
        if binary is None:
            _unavailable("the chroma CLI (from the chromadb package) is not installed")
        assert binary is not None
        self._binary = binary
        self._root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self._root / "server.log"
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with log.open("ab") as output:
            self._server = subprocess.Popen(
                [str(self._binary), "run", "--path", str(self._root / "data"), "--host",
                 "127.0.0.1", "--port", str(self.port)],
                stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _heartbeat(self.url):
            if self._server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start:\n{_log_tail(log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.terminate()
        try:
            self._server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait(timeout=5)
        self._server = None
        assert not _heartbeat(self.url)


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaProcess]:
    root = tmp_path / "chroma-server"
    root.mkdir()
    server = ChromaProcess(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def server_services(site: Site, url: str, embeddings: object) -> Services:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, knowledge_dir=site.knowledge, data_dir=site.data, chroma_server_url=url
    )
    return build_services(settings, embeddings=embeddings)  # type: ignore[arg-type]


def card_ids(services: Services, question: str) -> list[str]:
    return [card.id for card in services.assistant.ask(question).cards]


def source_paths(services: Services, question: str) -> list[str]:
    answer = services.assistant.ask(question)
    return [] if answer.abstained else [source.path for source in answer.sources]


def warnings(caplog: pytest.LogCaptureFixture, words: str) -> int:
    return sum(
        1 for record in caplog.records
        if record.levelno >= logging.WARNING and words in record.getMessage()
    )


def test_answers_degrade_to_keyword_search_while_chroma_is_down_and_come_back(
    site: Site, chroma: ChromaProcess, embeddings: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    services = server_services(site, chroma.url, embeddings)
    try:
        assert services.knowledge.reload().ok
        assert card_ids(services, ENGLISH)[:1] == [CARD]
        assert source_paths(services, JAPANESE)[:1] == [FOREIGNERS]  # hybrid: meaning alone

        chroma.stop()
        # Questions never go to Chroma: the vectors read at the last reload still answer.
        assert source_paths(services, JAPANESE)[:1] == [FOREIGNERS]
        assert warnings(caplog, DEGRADED) == 0

        add_guide(site)  # staff add a guide while Chroma is down
        report = services.knowledge.reload()
        assert report.index.failed  # the index could not be written...
        assert warnings(caplog, DEGRADED) == 1  # ...so one clear line: keyword search now
        assert card_ids(services, ENGLISH)[:1] == [CARD]  # answers keep coming, by words
        assert "guides/apicoltura.md" in source_paths(services, BEES)  # from the folder
        assert source_paths(services, JAPANESE) == []  # no shared word: keyword search abstains
        assert warnings(caplog, DEGRADED) == 1  # said once, not per question

        chroma.start()
        deadline = time.monotonic() + 60
        while source_paths(services, JAPANESE)[:1] != [FOREIGNERS]:  # a question starts it
            assert time.monotonic() < deadline, "never returned to hybrid search"
            time.sleep(0.5)
        assert warnings(caplog, BACK) == 1
        assert "guides/apicoltura.md" in services.index.ids_by_path()  # synced on the way back
        assert "guides/apicoltura.md" in source_paths(services, BEES)
    finally:
        services.close()


def test_learncity_ask_answers_by_keywords_when_chroma_is_down_at_start(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("CHROMA_SERVER_URL", f"http://127.0.0.1:{_free_port()}")  # no one there
    out = io.StringIO()

    code = main(site.argv("ask", ENGLISH, "--json"), out=out)

    assert code == 0
    answer = json.loads(out.getvalue())
    assert not answer["abstained"]
    assert [programme["id"] for programme in answer["programmes"]][:1] == [CARD]
    assert warnings(caplog, DEGRADED) == 1


def test_with_chroma_up_the_ranking_is_the_hybrid_searchers(
    site: Site, chroma: ChromaProcess, embeddings: object
) -> None:
    services = server_services(site, chroma.url, embeddings)
    try:
        services.knowledge.reload()
        answering = services.assistant._searcher  # noqa: SLF001 - the searcher answers use
        assert answering is not services.searcher  # the fallback wraps it...
        for question in (ENGLISH, JAPANESE, BEES, "doposcuola per bambini a San Cristoforo"):
            ours = answering.search(question, k=10)
            hybrid = services.searcher.search(question, k=10)
            assert [(h.chunk.id, h.score) for h in ours] == [(h.chunk.id, h.score) for h in hybrid]
    finally:
        services.close()
