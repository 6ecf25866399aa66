"""One contract for the vector index, run against embedded Chroma and a real Chroma server."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from retrieval.embedding import UniversalSentenceEncoder
from retrieval.store import SEARCH_EF, ChromaVectorIndex, VectorIndex, embedding_function
from retrieval.types import Chunk

OpenIndex = Callable[[], ChromaVectorIndex]

TEXTS = {
    "pottery": "Corso serale di ceramica per adulti al Centro Culturale di Librino, il martedì.",
    "coding": "Coding club for teenagers at the city library: Python and robots on Saturdays.",
    "italian": "Italian language classes for newcomers and refugees, free, at the CPIA Catania 1.",
    "swim": "Swimming lessons for children aged 6 to 10 at the municipal pool in Nesima.",
}
PATHS = {
    "pottery": "programmes/arts.yaml",
    "coding": "programmes/digital.yaml",
    "italian": "programmes/languages.yaml",
    "swim": "programmes/sport.yaml",
}


def _chunk(name: str, *, file_hash: str = "h1", text: str | None = None) -> Chunk:
    return Chunk(
        id=f"chunk-{name}",
        text=text or TEXTS[name],
        metadata={
            "path": PATHS[name],
            "kind": "programme",
            "title": name.title(),
            "lang": "it" if name == "pottery" else "en",
            "record_id": name,
            "file_hash": file_hash,
            "free": name == "italian",
        },
    )


@pytest.fixture(autouse=True)
def _no_default_embedding_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that reaches chromadb's default embedding function (it downloads a model)."""
    from chromadb.utils import embedding_functions

    def forbidden(self: object, input: object) -> None:  # chromadb checks this signature
        raise AssertionError("chromadb's default embedding function was used")

    def no_download(self: object) -> None:
        raise AssertionError("chromadb's default embedding function tried to download its model")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", forbidden)
    monkeypatch.setattr(embedding_functions.ONNXMiniLM_L6_V2, "__call__", forbidden)
    monkeypatch.setattr(
        embedding_functions.ONNXMiniLM_L6_V2, "_download_model_if_not_exists", no_download
    )


@pytest.fixture(params=["embedded", "server"])
def open_index(
    request: pytest.FixtureRequest, tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> Iterator[OpenIndex]:
    """Return a factory of indexes on one store: each call opens it afresh (a restart)."""
    if request.param == "embedded":
        folder = tmp_path / "chroma"
        yield lambda: ChromaVectorIndex(embeddings=embeddings, path=folder)
        return
    url: str = request.getfixturevalue("chroma_server_url")
    # One server per session: a collection per test keeps the tests apart.
    name = f"contract-{uuid.uuid4().hex[:12]}"
    opened: list[ChromaVectorIndex] = []

    def open_server_index() -> ChromaVectorIndex:
        index = ChromaVectorIndex(embeddings=embeddings, url=url, collection=name)
        opened.append(index)
        return index

    yield open_server_index
    if opened:
        client = opened[0].collection._client  # noqa: SLF001 - cleanup only
        client.delete_collection(name)


@pytest.fixture
def filled(open_index: OpenIndex, embeddings: UniversalSentenceEncoder) -> ChromaVectorIndex:
    """Return an index holding the four sample chunks."""
    index = open_index()
    chunks = [_chunk(name) for name in TEXTS]
    index.upsert(chunks, embeddings.embed_documents([chunk.text for chunk in chunks]))
    return index


def test_a_new_index_is_empty_and_satisfies_the_protocol(open_index: OpenIndex) -> None:
    index = open_index()
    assert isinstance(index, VectorIndex)
    assert index.count() == 0
    assert index.ids_by_path() == {}
    assert index.all_chunks() == []


def test_query_finds_the_document_for_a_differently_worded_question(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    hits = filled.query(embeddings.embed_query("where can my kid learn to swim?"), k=2)
    assert [hit.chunk.id for hit in hits][0] == "chunk-swim"
    assert len(hits) == 2
    assert hits[0].score == hits[0].dense
    assert hits[0].dense > hits[1].dense
    assert hits[0].chunk.text == TEXTS["swim"]
    assert hits[0].chunk.metadata["path"] == PATHS["swim"]
    assert hits[0].chunk.metadata["free"] is False


def test_nearest_ids_name_the_same_chunks_as_query_nearest_first(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    vector = embeddings.embed_query("where can my kid learn to swim?")
    assert filled.nearest_ids(vector, k=3) == [hit.chunk.id for hit in filled.query(vector, k=3)]
    assert filled.nearest_ids(vector, k=3)[0] == "chunk-swim"
    assert filled.nearest_ids(vector, k=4, where={"free": True}) == ["chunk-italian"]
    with pytest.raises(ValueError, match="at least 1"):
        filled.nearest_ids(vector, k=0)


def test_a_stored_vector_is_its_own_nearest_neighbour_with_cosine_one(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    [hit] = filled.query(embeddings.embed_documents([TEXTS["coding"]])[0], k=1)
    assert hit.chunk.id == "chunk-coding"
    assert hit.dense == pytest.approx(1.0, abs=1e-3)


def test_export_returns_every_chunk_with_its_stored_vector(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    chunks, matrix = filled.export()
    assert sorted(chunk.id for chunk in chunks) == sorted(f"chunk-{name}" for name in TEXTS)
    assert matrix.shape == (len(TEXTS), 512)
    for chunk, row in zip(chunks, matrix, strict=True):
        expected = embeddings.embed_documents([chunk.text])[0]
        assert float(row @ expected) == pytest.approx(1.0, abs=1e-3)


def test_where_filters_by_metadata_equality(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    vector = embeddings.embed_query("swimming for children")
    assert [hit.chunk.id for hit in filled.query(vector, k=4, where={"free": True})] == [
        "chunk-italian"
    ]
    both = filled.query(vector, k=4, where={"lang": "en", "kind": "programme"})
    assert {hit.chunk.id for hit in both} == {"chunk-coding", "chunk-italian", "chunk-swim"}
    assert filled.query(vector, k=4, where={"record_id": "nothing"}) == []


def test_upsert_is_idempotent_and_replaces_text_and_metadata(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    changed = _chunk("pottery", file_hash="h2", text="Ceramica il giovedì sera a Librino.")
    again = [_chunk(name) for name in ("coding", "italian", "swim")] + [changed]
    filled.upsert(again, embeddings.embed_documents([chunk.text for chunk in again]))
    assert filled.count() == 4
    stored = {chunk.id: chunk for chunk in filled.all_chunks()}
    assert stored["chunk-pottery"].text == changed.text
    assert stored["chunk-pottery"].metadata["file_hash"] == "h2"
    assert filled.ids_by_path()[PATHS["pottery"]] == {"chunk-pottery": "h2"}


def test_update_metadata_keeps_the_vector(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    filled.update_metadata([_chunk("swim", file_hash="h9")])
    [hit] = filled.query(embeddings.embed_documents([TEXTS["swim"]])[0], k=1)
    assert hit.chunk.id == "chunk-swim"
    assert hit.dense == pytest.approx(1.0, abs=1e-3)
    assert hit.chunk.metadata["file_hash"] == "h9"


def test_delete_removes_chunks_and_ignores_unknown_ids(
    filled: ChromaVectorIndex, embeddings: UniversalSentenceEncoder
) -> None:
    filled.delete(["chunk-swim", "no-such-chunk"])
    filled.delete([])
    assert filled.count() == 3
    assert PATHS["swim"] not in filled.ids_by_path()
    hits = filled.query(embeddings.embed_query("swimming lessons for children"), k=3)
    assert "chunk-swim" not in {hit.chunk.id for hit in hits}


def test_ids_by_path_groups_chunk_ids_with_their_file_hash(filled: ChromaVectorIndex) -> None:
    assert filled.ids_by_path() == {
        path: {f"chunk-{name}": "h1"} for name, path in PATHS.items()
    }


def test_a_reopened_index_holds_the_same_chunks(
    filled: ChromaVectorIndex, open_index: OpenIndex, embeddings: UniversalSentenceEncoder
) -> None:
    before = sorted(filled.all_chunks(), key=lambda chunk: chunk.id)
    reopened = open_index()
    assert reopened is not filled
    assert reopened.count() == 4
    assert sorted(reopened.all_chunks(), key=lambda chunk: chunk.id) == before
    assert reopened.ids_by_path() == filled.ids_by_path()
    [hit] = reopened.query(embeddings.embed_query("Python for teenagers"), k=1)
    assert hit.chunk.id == "chunk-coding"


def test_the_collection_records_our_embedding_function_not_chromas_default(
    filled: ChromaVectorIndex,
) -> None:
    configuration = filled.collection.configuration
    function = configuration.get("embedding_function")
    assert function is not None
    assert function.name() == "learncity-langchain"
    assert (configuration.get("hnsw") or {}).get("space") == "cosine"
    assert (configuration.get("hnsw") or {}).get("ef_search") == SEARCH_EF


def test_a_collection_made_before_the_wider_search_is_widened_when_opened(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    folder = tmp_path / "chroma"
    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    old = client.create_collection(
        "knowledge",
        embedding_function=embedding_function(embeddings),
        configuration={"hnsw": {"space": "cosine"}},
    )
    assert (old.configuration.get("hnsw") or {}).get("ef_search", 100) < SEARCH_EF
    ChromaVectorIndex(embeddings=embeddings, path=folder).collection  # noqa: B018 - opens it
    reopened = ChromaVectorIndex(embeddings=embeddings, path=folder).collection
    assert (reopened.configuration.get("hnsw") or {}).get("ef_search") == SEARCH_EF


def test_bad_arguments_fail_with_the_constraint(filled: ChromaVectorIndex) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        filled.query([0.0] * 512, k=0)
    with pytest.raises(ValueError, match="1 chunks but 0 vectors"):
        filled.upsert([_chunk("swim")], [])


@pytest.mark.parametrize("backend", ["embedded", "server"])
def test_the_assistant_answers_the_same_from_either_backend(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sample_knowledge_dir: Path,
    embeddings: UniversalSentenceEncoder,
) -> None:
    """Settings with CHROMA_SERVER_URL and DATABASE_URL build a working assistant."""
    from app.root import build_services
    from learncity.db import create_schema
    from learncity.settings import Settings

    monkeypatch.chdir(tmp_path)  # away from any developer's .env
    knowledge = tmp_path / "knowledge"
    shutil.copytree(sample_knowledge_dir, knowledge)
    chroma_url: str | None = None
    database_url: str | None = None
    if backend == "server":
        chroma_url = request.getfixturevalue("chroma_server_url")
        database_url = request.getfixturevalue("postgres_url")
    settings = Settings(knowledge_dir=knowledge, data_dir=tmp_path / "data",
                        chroma_server_url=chroma_url, database_url=database_url)
    services = build_services(settings, embeddings=embeddings)
    try:
        assert (services.index._url is None) == (backend == "embedded")  # noqa: SLF001
        assert services.engine.dialect.name == ("sqlite" if backend == "embedded" else "postgresql")
        create_schema(services.engine)
        report = services.knowledge.reload()
        assert report.ok, [str(error) for error in report.errors]
        assert services.index.count() > 0
        answer = services.assistant.ask("free italian lessons in the evening near librino?")
        assert [card.id for card in answer.cards][:1] == ["ita-l2-librino-sera"]
        assert answer.sources
    finally:
        if backend == "server":
            services.index.collection._client.delete_collection(  # noqa: SLF001 - cleanup
                services.index.collection.name
            )
        services.close()
