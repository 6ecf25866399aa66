"""Contract of `VectorIndex`, run against every implementation (embedded Chroma; a Chroma server
too when CHROMA_TEST_SERVER_URL names one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.embedding import UniversalSentenceEncoder
from retrieval.store import ChromaVectorIndex, VectorIndex
from retrieval.types import Chunk

IMPLEMENTATIONS = ["chroma-embedded"] + (
    ["chroma-server"] if os.environ.get("CHROMA_TEST_SERVER_URL") else []
)


@pytest.fixture(params=IMPLEMENTATIONS)
def index(
    request: pytest.FixtureRequest, tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> Iterator[VectorIndex]:
    if request.param == "chroma-embedded":
        yield ChromaVectorIndex(embeddings=embeddings, path=tmp_path / "chroma")
    else:
        yield ChromaVectorIndex(
            embeddings=embeddings,
            url=os.environ["CHROMA_TEST_SERVER_URL"],
            collection=f"test-{uuid.uuid4().hex[:8]}",
        )


def _chunk(chunk_id: str, text: str, path: str, **extra: str) -> Chunk:
    return Chunk(
        chunk_id,
        text,
        {
            "path": path,
            "kind": "guide",
            "title": text[:20],
            "lang": "en",
            "file_hash": f"h-{path}",
            **extra,
        },
    )


def _stored(index: VectorIndex, embeddings: UniversalSentenceEncoder, chunks: list[Chunk]) -> None:
    index.upsert(chunks, embeddings.embed_documents([c.text for c in chunks]))


def test_upsert_query_and_filter(index: VectorIndex, embeddings: UniversalSentenceEncoder) -> None:
    assert isinstance(index, VectorIndex)
    chunks = [
        _chunk("a", "Free Italian lessons for adults in the evening", "a.md"),
        _chunk("b", "Swimming pool opening hours in summer", "b.md", kind="event"),
        _chunk("c", "How to enrol a child in primary school", "c.md"),
    ]
    _stored(index, embeddings, chunks)
    assert index.count() == 3
    hits = index.query(embeddings.embed_query("evening language course"), 2)
    assert hits[0].chunk.id == "a"
    assert hits[0].score == pytest.approx(hits[0].dense)
    assert hits[0].score > hits[1].score
    assert hits[0].chunk.metadata["path"] == "a.md"
    question = embeddings.embed_query("evening language course")
    only_events = index.query(question, 3, {"kind": "event"})
    assert [hit.chunk.id for hit in only_events] == ["b"]


def test_upsert_replaces_and_delete_removes(
    index: VectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    first = [_chunk("a", "Library card", "a.md"), _chunk("b", "Bus pass", "b.md")]
    _stored(index, embeddings, first)
    _stored(index, embeddings, [_chunk("a", "Library card, renewed", "a.md")])
    assert index.count() == 2
    index.delete(["b", "unknown"])
    assert {c.id: c.text for c in index.all_chunks()} == {"a": "Library card, renewed"}
    assert index.ids_by_path() == {"a.md": {"a": "h-a.md"}}


def test_update_metadata_keeps_the_vector(
    index: VectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    chunk = _chunk("a", "Free Italian lessons", "a.md")
    _stored(index, embeddings, [chunk])
    index.update_metadata([Chunk("a", chunk.text, {**chunk.metadata, "file_hash": "new"})])
    assert index.ids_by_path() == {"a.md": {"a": "new"}}
    assert index.query(embeddings.embed_query("Italian lessons"), 1)[0].dense > 0.5


def test_reopened_embedded_collection_needs_no_default_embedding_function(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    first = ChromaVectorIndex(embeddings=embeddings, path=tmp_path / "chroma")
    _stored(first, embeddings, [_chunk("a", "Free Italian lessons", "a.md")])
    import chromadb
    from chromadb.config import Settings

    # A plain client (as a maintainer would use to inspect the store) gets our registered
    # embedding function back from the collection's configuration, not Chroma's downloading one.
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.get_collection("knowledge")
    result = collection.query(query_texts=["Italian lessons"], n_results=1)
    assert result["ids"] == [["a"]]


def test_exactly_one_location_is_required(embeddings: UniversalSentenceEncoder) -> None:
    with pytest.raises(ValueError, match="exactly one of path"):
        ChromaVectorIndex(embeddings=embeddings)
