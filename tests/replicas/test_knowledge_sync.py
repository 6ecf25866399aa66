"""Knowledge sync once: one replica embeds and writes Chroma, the others reload what it published.

Replicas are `build_services` on one real PostgreSQL and one real Chroma server, each with its
own engine and data folder (in threads), or a separate process killed with SIGKILL.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from sqlalchemy import Engine, text

from app.root import Services, build_services
from learncity.db import LeaderTask, lock_key
from learncity.settings import Settings
from retrieval.embedding import UniversalSentenceEncoder
from retrieval.shared_index import TASK_NAME
from tests.conftest import REPO_ROOT
from tests.faults.test_chroma_down import DEGRADED, FOREIGNERS, JAPANESE, ChromaProcess
from tests.faults.test_index_faults import NEW_GUIDE

ENGLISH = "free italian lessons in the evening near librino?"
CARD = "ita-l2-librino-sera"
BEES = "corso di apicoltura urbana sul tetto, alveare e miele"
GUIDE = "guides/apicoltura.md"
LUTHERIE = """\
---
title: Laboratorio di liuteria a Catania
language: it
---
# Liuteria

## Il laboratorio

Un laboratorio di liuteria: costruire un violino o una chitarra, il legno, le corde, la vernice.
"""
LUTHERIE_QUESTION = "laboratorio di liuteria per costruire un violino?"


class Recording(Embeddings):
    """The real model, remembering every text a replica embedded as a document."""

    name = UniversalSentenceEncoder.name

    def __init__(self, model: UniversalSentenceEncoder) -> None:
        self._model = model
        self.documents: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents.extend(texts)
        return self._model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._model.embed_query(text)


@pytest.fixture
def chroma_url(chroma_server_url: str) -> Iterator[str]:
    """The session's Chroma server with no `knowledge` collection before and after the test."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = chroma_server_url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port),
                                 settings=ChromaSettings(anonymized_telemetry=False))

    def drop() -> None:
        if "knowledge" in [collection.name for collection in client.list_collections()]:
            client.delete_collection("knowledge")

    drop()
    yield chroma_server_url
    drop()


@pytest.fixture
def folder(tmp_path: Path, sample_knowledge_dir: Path) -> Path:
    """The knowledge folder every replica mounts."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(sample_knowledge_dir, knowledge)
    return knowledge


def replica(name: str, *, folder: Path, database: str, chroma: str, model: Embeddings,
            tmp_path: Path) -> Services:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, knowledge_dir=folder, data_dir=tmp_path / name,
        chroma_server_url=chroma, database_url=database,
    )
    return build_services(settings, embeddings=model)


def chunk_texts(services: Services, path: str | None = None) -> set[str]:
    return {c.text for c in services.index.all_chunks()
            if path is None or c.metadata.get("path") == path}


def test_one_replica_embeds_and_the_other_reloads_within_seconds_without_embedding(
    pg_engines: Callable[[], Engine], postgres_url: str, chroma_url: str, folder: Path,
    tmp_path: Path, embeddings: UniversalSentenceEncoder,
) -> None:
    pg_engines()  # an emptied database
    models = {name: Recording(embeddings) for name in ("a", "b")}
    a, b = (replica(name, folder=folder, database=postgres_url, chroma=chroma_url,
                    model=models[name], tmp_path=tmp_path) for name in ("a", "b"))
    try:
        assert a.knowledge.reload().index.embedded > 0  # a leads: embeds and publishes
        assert b.follower is not None
        b.knowledge.current  # noqa: B018 - b starts: the index holds its folder's version
        assert not chunk_texts(b) & set(models["b"].documents)  # ...so b embedded no chunk
        assert b.knowledge.last_report is not None and b.knowledge.last_report.index.followed
        assert [card.id for card in b.assistant.ask(ENGLISH).cards][:1] == [CARD]

        b.follower.start()
        assert a.follower is not None
        a.follower.start()  # every replica follows (warm_up starts it in the bot)
        (folder / GUIDE).write_text(NEW_GUIDE, encoding="utf-8")
        report = a.knowledge.reload()  # a's watcher fires: a syncs the new guide only
        assert report.index.added == 1 and 0 < report.index.embedded < 10
        started = time.monotonic()
        while GUIDE not in [s.path for s in b.assistant.ask(BEES).sources]:
            assert time.monotonic() - started < 15, "b never reloaded the published version"
            time.sleep(0.2)
        print(f"b answered from the new version {time.monotonic() - started:.1f} s after it "
              "was published")
        assert chunk_texts(b, GUIDE) and not chunk_texts(b, GUIDE) & set(models["b"].documents)
        published = LeaderTask(engine=a.engine, name=TASK_NAME).published()
        assert published is not None and b.follower.check() is False  # nothing new: no reload

        # Both watchers fire at once on the next change: one replica embeds it, once.
        (folder / "guides/liuteria.md").write_text(LUTHERIE, encoding="utf-8")
        go = threading.Barrier(2)
        reports = []

        def reload(services: Services) -> None:
            go.wait(10)
            reports.append(services.knowledge.reload().index)

        threads = [threading.Thread(target=reload, args=(s,)) for s in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(report.embedded > 0 for report in reports) == [False, True]
        new = chunk_texts(a, "guides/liuteria.md")
        embedded = models["a"].documents + models["b"].documents
        assert new and sum(embedded.count(chunk) for chunk in new) == len(new)
        started = time.monotonic()
        while not all(
            "guides/liuteria.md" in [s.path for s in r.assistant.ask(LUTHERIE_QUESTION).sources]
            for r in (a, b)
        ):
            assert time.monotonic() - started < 15, "a replica never served the new version"
            time.sleep(0.2)
    finally:
        a.close()
        b.close()


def lock_holders(engine: Engine) -> list[int]:
    """Return the PostgreSQL backends holding the knowledge-sync lock."""
    key = lock_key(TASK_NAME)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND ((classid::bigint << 32) | objid::bigint) = :key"),
            {"key": key},
        )
        return [int(row[0]) for row in rows]


def test_a_replica_killed_while_syncing_frees_the_lock_and_a_waiting_one_takes_over(
    pg_engines: Callable[[], Engine], postgres_url: str, chroma_url: str, folder: Path,
    tmp_path: Path, embeddings: UniversalSentenceEncoder,
) -> None:
    engine = pg_engines()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.replicas.sync_replica", postgres_url, chroma_url,
         str(folder), str(tmp_path / "dying"), "300"],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    survivor: Services | None = None
    try:
        assert child.stdout is not None
        for line in child.stdout:  # the child has the lock and is embedding the whole folder
            if line.strip() == "embedding":
                break
        else:
            pytest.fail(f"the replica process ended early ({child.wait()})")
        assert len(lock_holders(engine)) == 1

        model = Recording(embeddings)
        survivor = replica("survivor", folder=folder, database=postgres_url, chroma=chroma_url,
                           model=model, tmp_path=tmp_path)
        served: list[int] = []

        def start_survivor() -> None:
            assert survivor is not None
            served.append(len(survivor.knowledge.current.files))

        start = threading.Thread(target=start_survivor)
        start.start()  # a replica starting while another syncs the very first version...
        start.join(3)
        assert start.is_alive() and survivor.index.count() == 0  # ...waits: never an empty index

        child.send_signal(signal.SIGKILL)
        child.wait(10)
        killed = time.monotonic()
        start.join(120)
        assert not start.is_alive() and served and served[0] > 0
        print(f"the survivor served its synced version {time.monotonic() - killed:.1f} s after "
              "the kill")
        assert lock_holders(engine) == []  # the dead replica's lock went with its session
        assert LeaderTask(engine=engine, name=TASK_NAME).published() is not None
        assert survivor.follower is not None and survivor.follower.check() is False  # serves it
        assert survivor.index.count() > 0 and chunk_texts(survivor) <= set(model.documents)
        assert [card.id for card in survivor.assistant.ask(ENGLISH).cards][:1] == [CARD]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if survivor is not None:
            survivor.close()


def test_a_replica_answers_by_keywords_while_chroma_is_down_and_syncs_once_it_is_back(
    pg_engines: Callable[[], Engine], postgres_url: str, folder: Path, tmp_path: Path,
    embeddings: UniversalSentenceEncoder, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    pg_engines()  # an emptied database
    (tmp_path / "chroma-server").mkdir()
    chroma = ChromaProcess(tmp_path / "chroma-server")
    chroma.start()
    a = replica("a", folder=folder, database=postgres_url, chroma=chroma.url, model=embeddings,
                tmp_path=tmp_path)
    try:
        assert a.knowledge.reload().ok and a.follower is not None
        a.follower.start()
        chroma.stop()
        (folder / GUIDE).write_text(NEW_GUIDE, encoding="utf-8")
        assert a.knowledge.reload().index.failed  # the watcher's reload: nothing published
        time.sleep(12)  # the poller's retry waits for the server instead of failing each time
        failures = [r for r in caplog.records if "index sync failed" in r.getMessage()]
        assert len(failures) == 1
        assert sum(DEGRADED in r.getMessage() for r in caplog.records) == 1
        assert GUIDE in [s.path for s in a.assistant.ask(BEES).sources]  # by keywords

        chroma.start()
        deadline = time.monotonic() + 60
        while [s.path for s in a.assistant.ask(JAPANESE).sources][:1] != [FOREIGNERS]:
            assert time.monotonic() < deadline, "never returned to hybrid search"
            time.sleep(0.5)
        assert GUIDE in a.index.ids_by_path()  # synced once the server answered...
        assert a.follower.check() is False  # ...and published: nothing left to retry
    finally:
        a.close()
        chroma.stop()
