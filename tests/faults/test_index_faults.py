"""Vector store faults: a deleted or damaged store is rebuilt and reported; a full disk or a hung
write is refused with a clear problem while answers keep coming from memory."""

from __future__ import annotations

import errno
import shutil
import threading
import time
from pathlib import Path

import pytest

from retrieval.indexer import FileChunks, Indexer
from retrieval.store import ChromaVectorIndex, IndexFullError, IndexStoreError, guarded
from retrieval.types import Chunk
from tests.faults.conftest import Site, close, make_services

NEW_GUIDE = """\
---
title: Apicoltura urbana sui tetti di Catania
language: it
---
# Apicoltura urbana

## Il corso

Un corso pratico di apicoltura urbana: come si cura un alveare sul tetto, le api e il miele.
"""
QUESTION = "corso di italiano gratis la sera per mia madre?"
MISSING = "the search index was missing and has been rebuilt from the folder"
DAMAGED = "the search index was damaged and has been rebuilt from the folder"
DISK_FULL = "the disk is full: the index was not updated; answers keep using the previous index"


def add_guide(site: Site) -> None:
    (site.knowledge / "guides/apicoltura.md").write_text(NEW_GUIDE, encoding="utf-8")


def top_path(services: object, question: str) -> str:
    hits = services.searcher.search(question, k=3)  # type: ignore[attr-defined]
    return str(hits[0].chunk.metadata["path"]) if hits else ""


def test_a_store_deleted_while_running_is_rebuilt_and_reported(
    site: Site, embeddings: object
) -> None:
    services = make_services(site, embeddings)
    try:
        services.knowledge.current  # noqa: B018 - running, index open
        shutil.rmtree(site.data / "chroma")
        add_guide(site)

        report = services.knowledge.reload()
        again = services.knowledge.reload()

        assert [str(e) for e in report.errors] == [MISSING]
        assert report.index.rebuilt == "missing" and report.index.chunks > 0
        assert "guides/apicoltura.md" in services.index.ids_by_path()  # new guides index again
        assert top_path(services, "apicoltura urbana alveare sul tetto") == "guides/apicoltura.md"
        assert again.errors == () and again.index.embedded == 0
    finally:
        close(services)


def test_a_store_deleted_before_a_restart_is_rebuilt_and_reported(
    site: Site, embeddings: object
) -> None:
    shutil.rmtree(site.data / "chroma")

    services = make_services(site, embeddings)
    try:
        report = services.knowledge.reload()
        answer = services.assistant.ask(QUESTION, lang="it")
    finally:
        close(services)

    assert [str(e) for e in report.errors] == [MISSING]
    assert report.index.chunks > 0
    assert answer.cards[0].id == "ita-l2-librino-sera"


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restart"])
def test_a_truncated_sqlite_file_is_rebuilt_and_reported(
    site: Site, embeddings: object, restart: bool
) -> None:
    services = make_services(site, embeddings)
    try:
        before = services.knowledge.current and services.index.count()
        if restart:
            close(services)
        with (site.data / "chroma/chroma.sqlite3").open("r+b") as handle:
            handle.truncate(100)
        if restart:
            services = make_services(site, embeddings)

        report = services.knowledge.reload()

        assert [str(e) for e in report.errors] == [DAMAGED]
        assert report.index.rebuilt == "corrupt"
        assert services.index.count() == before
    finally:
        close(services)


def test_disk_full_during_a_sync_is_a_clear_problem_and_answers_keep_coming(
    site: Site, embeddings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services(site, embeddings)
    try:
        services.knowledge.current  # noqa: B018
        collection_class = type(services.index.collection)

        def disk_full(self: object, *args: object, **kwargs: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        with monkeypatch.context() as full:
            full.setattr(collection_class, "upsert", disk_full)
            add_guide(site)

            report = services.knowledge.reload()
            answer = services.assistant.ask(QUESTION, lang="it")

            assert [str(e) for e in report.errors] == [DISK_FULL]
            assert report.index.failed
            assert answer.cards[0].id == "ita-l2-librino-sera"  # answered from memory
            assert "guides/apicoltura.md" not in services.index.ids_by_path()

        recovered = services.knowledge.reload()  # space is back

        assert recovered.errors == ()
        assert recovered.index.added == 1
        assert top_path(services, "apicoltura urbana alveare sul tetto") == "guides/apicoltura.md"
    finally:
        close(services)


def test_a_hung_write_gives_up_in_time_and_holds_nothing(
    tmp_path: Path, embeddings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2 s: long enough for opening the store on a loaded machine, far below the 30 s hang.
    index = ChromaVectorIndex(embeddings=embeddings, path=tmp_path / "chroma", timeout=2.0)  # type: ignore[arg-type]
    indexer = Indexer(index=index, embeddings=embeddings)  # type: ignore[arg-type]
    release = threading.Event()

    def hangs(self: object, *args: object, **kwargs: object) -> None:
        release.wait(30)  # a store stuck on a lock (seen with a full disk)

    monkeypatch.setattr(type(index.collection), "upsert", hangs)
    chunk = Chunk(
        id="c1", text="Corso di ceramica", metadata={"kind": "guide", "title": "x", "lang": "it"}
    )

    started = time.perf_counter()
    report = indexer.sync({"guides/x.md": FileChunks(sha256="h1", chunks=[chunk])})
    elapsed = time.perf_counter() - started
    release.set()

    assert elapsed < 5
    assert report.failed
    assert report.problem == (
        "the search index did not answer in time: the index was not updated; answers keep "
        "using the previous index"
    )
    stuck = [t for t in threading.enumerate() if t.name.startswith("vector-index-")]
    assert all(t.daemon for t in stuck)  # never keeps the process from exiting
    index.close()


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("error returned from database: (code: 13) database or disk is full"),
        IndexStoreError("cannot open vector index: database or disk is full"),
    ],
    ids=["enospc", "sqlite-full", "open-full"],
)
def test_every_shape_of_a_full_disk_is_one_error(error: Exception) -> None:
    def fails() -> None:
        raise error

    with pytest.raises(IndexFullError, match="the disk is full"):
        guarded("upsert", fails, timeout=5)
