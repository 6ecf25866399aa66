"""Indexer and hybrid search on the real model and a real Chroma: what a resident would notice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from learncity.content.documents import chunk_id
from retrieval.embedding import UniversalSentenceEncoder
from retrieval.indexer import FileChunks, Indexer
from retrieval.search import HybridSearcher
from retrieval.store import ChromaVectorIndex, IndexStoreError
from retrieval.types import Chunk

DOCS = {
    "guides/italian-courses.md": (
        "Italian for foreigners",
        "en",
        "# Italian for foreigners\n\nThe adult education centre (CPIA) runs free Italian "
        "language courses for adult migrants, from beginner to B1, on weekday evenings.\n\n"
        "## How to enrol\nBring a residence permit or any identity document to the CPIA office.",
    ),
    "guides/library.md": (
        "City libraries",
        "en",
        "# City libraries\n\nThe library card is free for everyone who lives or studies in the "
        "city. Libraries lend books, e-books and laptops, and host a maker space with 3D printers.",
    ),
    "guides/iscrizione-scuola.md": (
        "Iscrizione alla scuola primaria",
        "it",
        "# Iscrizione alla scuola primaria\n\nLe iscrizioni alla prima classe si fanno online "
        "a gennaio. I bambini che compiono sei anni entro il 31 dicembre devono essere iscritti.",
    ),
    "guides/dropout.md": (
        "Help against early school leaving",
        "en",
        "# Help against early school leaving\n\nIf a teenager stops attending school, the school "
        "social worker and the youth guidance service meet the family and build a plan to return "
        "to education or training.",
    ),
}


def files_for(docs: dict[str, tuple[str, str, str]]) -> dict[str, FileChunks]:
    files = {}
    for path, (title, lang, text) in docs.items():
        body = f"{title}\n\n{text}"
        meta = {"path": path, "kind": "guide", "lang": lang, "title": title}
        chunks = [Chunk(id=chunk_id(path, 0, body), text=body, metadata=meta)]
        files[path] = FileChunks(hashlib.sha256(text.encode()).hexdigest(), chunks)
    return files


class CountingEmbeddings(UniversalSentenceEncoder):
    """The real model, counting the passages it is asked to embed."""

    def __init__(self, model: UniversalSentenceEncoder) -> None:
        super().__init__()
        self._model = model._encoder()
        self.embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed_documents(texts)


@pytest.fixture
def counting(embeddings: UniversalSentenceEncoder) -> CountingEmbeddings:
    return CountingEmbeddings(embeddings)


def build(path: Path, embeddings: UniversalSentenceEncoder) -> tuple[Indexer, HybridSearcher]:
    index = ChromaVectorIndex(embeddings=embeddings, path=path)
    searcher = HybridSearcher(index=index, embeddings=embeddings)
    return Indexer(index=index, embeddings=embeddings, searcher=searcher), searcher


def top_path(searcher: HybridSearcher, question: str, **where: str) -> str:
    hits = searcher.search(question, k=3, where=where or None)
    return str(hits[0].chunk.metadata["path"])


def test_paraphrased_question_finds_the_right_guide(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    indexer, searcher = build(tmp_path, embeddings)
    indexer.sync(files_for(DOCS))
    assert top_path(searcher, "my son quit going to classes, who can help us?") == (
        "guides/dropout.md"
    )
    assert top_path(searcher, "can I borrow a computer without paying?") == "guides/library.md"


def test_italian_question_finds_the_english_guide(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    indexer, searcher = build(tmp_path, embeddings)
    indexer.sync(files_for(DOCS))
    question = "corso di italiano gratis la sera per mia madre"
    assert top_path(searcher, question, lang="en") == "guides/italian-courses.md"
    assert top_path(searcher, question) == "guides/italian-courses.md"


def test_scores_separate_answerable_from_unrelated_questions(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    indexer, searcher = build(tmp_path, embeddings)
    indexer.sync(files_for(DOCS))
    related = searcher.search("come iscrivo mio figlio alla scuola primaria?", k=1)[0]
    unrelated = searcher.search("what is the price of a pizza margherita", k=1)[0]
    assert related.score > unrelated.score + 0.1
    assert related.dense > 0 and related.lexical > 0


def test_resync_of_unchanged_files_embeds_nothing(
    tmp_path: Path, counting: CountingEmbeddings
) -> None:
    indexer, _ = build(tmp_path, counting)
    first = indexer.sync(files_for(DOCS))
    assert first.added == len(DOCS) and first.embedded > 0
    counting.embedded = 0
    again = indexer.sync(files_for(DOCS))
    assert (again.unchanged, again.added, again.updated, again.embedded) == (len(DOCS), 0, 0, 0)
    assert counting.embedded == 0


def test_an_edited_file_reembeds_only_its_new_chunks(
    tmp_path: Path, counting: CountingEmbeddings
) -> None:
    indexer, searcher = build(tmp_path, counting)
    indexer.sync(files_for(DOCS))
    edited = dict(DOCS)
    title, lang, text = DOCS["guides/library.md"]
    edited["guides/library.md"] = (title, lang, text + "\n\n## Opening hours\nSundays closed.")
    counting.embedded = 0
    report = indexer.sync(files_for(edited))
    assert (report.updated, report.unchanged) == (1, len(DOCS) - 1)
    assert counting.embedded == report.embedded == 1  # the new section only
    hits = searcher.search("is the library open on Sunday?", k=1)
    assert "Sundays closed" in hits[0].chunk.text


def test_a_deleted_file_leaves_the_results_at_once(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    indexer, searcher = build(tmp_path, embeddings)
    indexer.sync(files_for(DOCS))
    remaining = {path: doc for path, doc in DOCS.items() if path != "guides/library.md"}
    report = indexer.sync(files_for(remaining))
    assert report.removed == 1 and report.removed_paths == ("guides/library.md",)
    hits = searcher.search("library card", k=10)
    assert all(hit.chunk.metadata["path"] != "guides/library.md" for hit in hits)


def test_kept_paths_keep_serving(tmp_path: Path, embeddings: UniversalSentenceEncoder) -> None:
    indexer, searcher = build(tmp_path, embeddings)
    indexer.sync(files_for(DOCS))
    # library.md is broken now: not among the loaded files, but its last good version stays.
    remaining = {path: doc for path, doc in DOCS.items() if path != "guides/library.md"}
    report = indexer.sync(files_for(remaining), keep={"guides/library.md"})
    assert (report.removed, report.kept) == (0, 1)
    assert top_path(searcher, "free library card") == "guides/library.md"


def test_reopened_index_serves_without_reembedding(
    tmp_path: Path, counting: CountingEmbeddings
) -> None:
    indexer, _ = build(tmp_path, counting)
    indexer.sync(files_for(DOCS))
    counting.embedded = 0
    # A new process: fresh objects over the same folder.
    indexer, searcher = build(tmp_path, counting)
    assert top_path(searcher, "free Italian classes for migrants") == "guides/italian-courses.md"
    report = indexer.sync(files_for(DOCS))
    assert report.embedded == 0
    assert counting.embedded == len(
        {c.metadata["title"] for f in files_for(DOCS).values() for c in f.chunks}
    )  # the titles, once, for title similarity


def test_in_memory_dense_ranking_agrees_with_chroma_and_honours_where(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    index = ChromaVectorIndex(embeddings=embeddings, path=tmp_path)
    searcher = HybridSearcher(index=index, embeddings=embeddings, lexical_weight=0, title_weight=0)
    Indexer(index=index, embeddings=embeddings, searcher=searcher).sync(files_for(DOCS))
    question = "my son quit going to classes, who can help us?"
    vector = embeddings.embed_query(question)
    from_chroma = [hit.chunk.id for hit in index.query(vector, 3)]
    in_memory = [hit.chunk.id for hit in searcher.search(question, k=3)]
    assert in_memory == from_chroma
    only = searcher.search(question, k=3, where={"path": "guides/library.md"})
    assert only and {hit.chunk.metadata["path"] for hit in only} == {"guides/library.md"}


def test_a_folder_over_the_exact_scan_limit_ranks_chromas_candidates_by_exact_cosine(
    tmp_path: Path, embeddings: UniversalSentenceEncoder
) -> None:
    index = ChromaVectorIndex(embeddings=embeddings, path=tmp_path)
    exact = HybridSearcher(index=index, embeddings=embeddings)
    Indexer(index=index, embeddings=embeddings, searcher=exact).sync(files_for(DOCS))
    approximate = HybridSearcher(index=index, embeddings=embeddings, exact_limit=2)
    asked: list[int] = []
    nearest_ids = index.nearest_ids
    index.nearest_ids = lambda vector, k, where=None: (  # type: ignore[method-assign]
        asked.append(k) or nearest_ids(vector, k, where)
    )
    for question in ("my son quit going to classes, who can help us?", "iscrizione prima classe"):
        ranked = [(hit.chunk.id, hit.score) for hit in approximate.search(question, k=3)]
        expected = [(hit.chunk.id, pytest.approx(hit.score)) for hit in exact.search(question, k=3)]
        assert ranked == expected
    assert asked, "above the limit the candidates come from Chroma"
    only = approximate.search("free books", k=3, where={"path": "guides/library.md"})
    assert [hit.chunk.metadata["path"] for hit in only] == ["guides/library.md"]


def test_when_chroma_fails_a_large_folder_is_still_searched_by_scanning_every_vector(
    tmp_path: Path, embeddings: UniversalSentenceEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    index = ChromaVectorIndex(embeddings=embeddings, path=tmp_path)
    exact = HybridSearcher(index=index, embeddings=embeddings)
    Indexer(index=index, embeddings=embeddings, searcher=exact).sync(files_for(DOCS))
    approximate = HybridSearcher(index=index, embeddings=embeddings, exact_limit=2)
    approximate.refresh()

    def broken(vector: object, k: int, where: object = None) -> list[str]:
        raise IndexStoreError("the vector index failed on 'query': disk I/O error")

    index.nearest_ids = broken  # type: ignore[method-assign]
    question = "my son quit going to classes, who can help us?"
    found = [hit.chunk.id for hit in approximate.search(question, k=3)]
    assert found == [hit.chunk.id for hit in exact.search(question, k=3)]
    assert "scanning every vector" in caplog.text
