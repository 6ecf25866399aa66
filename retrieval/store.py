"""The vector index: a small `VectorIndex` protocol and its Chroma implementation.

Chroma runs embedded (`PersistentClient` in a folder, the default) or as a server (`HttpClient`
from a URL); both pass the same contract tests. Vectors are always computed by our `Embeddings`
and handed to Chroma; the collection also carries an adapter of those embeddings as its
embedding function, so Chroma never falls back to its default one (which downloads a model).

Exceptions:

    IndexStoreError        a store that cannot be opened or used; the message names it
    ├── IndexFullError     a write refused because the disk is full (ENOSPC, SQLite "disk full")
    └── IndexTimeoutError  a call that did not finish in time (a store stuck on a lock)

Faults: every Chroma call runs in a daemon thread joined with a timeout, so a store stuck in
native code (seen with a full disk) cannot hold a reload, the bot's worker threads or SIGTERM;
an embedded store whose folder was deleted or whose SQLite file is damaged is reported by
`health()` and rebuilt empty by `reset()` (the indexer then fills it from the knowledge folder).
"""

from __future__ import annotations

import errno
import functools
import logging
import shutil
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlparse

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.types import Chunk, Hit, MetadataValue

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

logger = logging.getLogger(__name__)

Where = Mapping[str, MetadataValue]
DEFAULT_COLLECTION = "knowledge"
_PAGE = 2000  # rows per Chroma get/upsert call: well under its max batch size
SEARCH_EF = 400
"""Candidates HNSW keeps while it searches. At 102,655 chunks Chroma's default (100) missed the
exact nearest distinct passage for 4% of 200 UniQA questions, 400 for none, in 4.6 ms at p50."""


WRITE_TIMEOUT = 60.0
"""Seconds one Chroma call may take before the index gives up on it (normal calls take ms).

Below a service manager's stop timeout (systemd: 90 s), so a stop never waits on a hung store."""

_SQLITE_HEADER = b"SQLite format 3\x00"
_FULL_DISK_WORDS = ("disk is full", "database or disk is full", "no space left")
Health = Literal["ok", "missing", "corrupt"]
T = TypeVar("T")


class IndexStoreError(Exception):
    """A vector index that cannot be opened or used; the message names it."""


class IndexFullError(IndexStoreError):
    """A write refused because the disk is full."""


class IndexTimeoutError(IndexStoreError):
    """A call to the store that did not finish within its timeout."""


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return any(words in str(error).lower() for words in _FULL_DISK_WORDS)


def guarded(what: str, call: Callable[[], T], *, timeout: float) -> T:
    """Return `call()` run in a daemon thread; raise IndexStoreError if it fails or hangs.

    A daemon thread left behind by a hung call never blocks the process from exiting.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    worker = threading.Thread(target=run, name=f"vector-index-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise IndexTimeoutError(f"the vector index did not finish '{what}' in {timeout:g} s")
    if failure:
        error = failure[0]
        if isinstance(error, IndexStoreError) and not _is_disk_full(error):
            raise error
        if isinstance(error, IndexFullError):
            raise error
        if _is_disk_full(error):
            raise IndexFullError(f"the disk is full: {what} was refused ({error})") from error
        if isinstance(error, Exception):
            raise IndexStoreError(f"the vector index failed on '{what}': {error}") from error
        raise error
    return result[0]


@runtime_checkable
class VectorIndex(Protocol):
    """Where chunk vectors live: upsert, delete, list by file, nearest neighbours."""

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace chunks with their vectors."""

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Replace the metadata of chunks already stored, keeping their vectors."""

    def delete(self, ids: Iterable[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""

    def ids_by_path(self) -> dict[str, dict[str, str]]:
        """Return {path: {chunk_id: file_hash}} for every stored chunk."""

    def all_chunks(self) -> list[Chunk]:
        """Return every stored chunk (text and metadata)."""

    def export(self) -> tuple[list[Chunk], np.ndarray]:
        """Return every stored chunk and its vector (row i of the matrix belongs to chunk i)."""

    def query(self, vector: Sequence[float], k: int, where: Where | None = None) -> list[Hit]:
        """Return the k nearest chunks (cosine similarity in `Hit.dense` and `Hit.score`)."""

    def nearest_ids(self, vector: Sequence[float], k: int, where: Where | None = None) -> list[str]:
        """Return the ids of the k nearest chunks, nearest first (ids only: a quick shortlist)."""

    def count(self) -> int:
        """Return the number of stored chunks."""


def _search_wide(collection: Collection) -> None:
    """Widen the HNSW search of a collection made before `SEARCH_EF` (from its next opening)."""
    hnsw = (collection.configuration or {}).get("hnsw") or {}
    if int(hnsw.get("ef_search") or 0) < SEARCH_EF:
        collection.modify(configuration={"hnsw": {"ef_search": SEARCH_EF}})


def _flat(metadata: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """Return the scalar metadata values (the only kind we store)."""
    return {
        key: value for key, value in metadata.items() if isinstance(value, str | int | float | bool)
    }


def chroma_where(where: Where | None) -> dict[str, Any] | None:
    """Translate simple metadata equality into a Chroma `where` clause."""
    if not where:
        return None
    clauses = [{key: {"$eq": value}} for key, value in where.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _embedding_function_class() -> type:
    """Build (once) and register the Chroma adapter class for langchain `Embeddings`."""
    global _ADAPTER
    if _ADAPTER is not None:
        return _ADAPTER
    from chromadb.api.types import Documents, EmbeddingFunction
    from chromadb.api.types import Embeddings as ChromaEmbeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class LangchainEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma embedding function that delegates to one of our langchain `Embeddings`."""

        def __init__(self, embeddings: Embeddings) -> None:
            self._embeddings = embeddings

        def __call__(self, input: Documents) -> ChromaEmbeddings:
            vectors = self._embeddings.embed_documents(list(input))
            return [np.asarray(vector, dtype=np.float32) for vector in vectors]

        def embed_query(self, input: Documents) -> ChromaEmbeddings:
            return [
                np.asarray(self._embeddings.embed_query(text), dtype=np.float32)
                for text in input
            ]

        @staticmethod
        def name() -> str:
            return "learncity-langchain"

        def default_space(self) -> Any:
            return "cosine"

        def supported_spaces(self) -> Any:
            return ["cosine"]

        def get_config(self) -> dict[str, Any]:
            model = getattr(self._embeddings, "name", type(self._embeddings).__name__)
            return {"model": model}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> LangchainEmbeddingFunction:
            from retrieval.embedding import UniversalSentenceEncoder

            if config.get("model") != UniversalSentenceEncoder.name:
                raise IndexStoreError(
                    f"collection was built with embedding model {config.get('model')!r}; "
                    "open it through ChromaVectorIndex with that model"
                )
            return LangchainEmbeddingFunction(UniversalSentenceEncoder())

    register_embedding_function(LangchainEmbeddingFunction)
    _ADAPTER = LangchainEmbeddingFunction
    return _ADAPTER


_ADAPTER: type | None = None


def embedding_function(embeddings: Embeddings) -> Any:
    """Return a Chroma embedding function backed by our langchain `Embeddings`."""
    return _embedding_function_class()(embeddings)


class ChromaVectorIndex:
    """`VectorIndex` on Chroma: embedded in a folder, or a Chroma server at a URL."""

    def __init__(
        self,
        *,
        embeddings: Embeddings,
        path: Path | str | None = None,
        url: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        timeout: float = WRITE_TIMEOUT,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout ({timeout}) must be more than 0 seconds")
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (embedded Chroma) or url (Chroma server)")
        if not collection:
            raise ValueError("collection name must not be empty")
        self._embeddings = embeddings
        self._path = Path(path) if path is not None else None
        self._url = url
        self._name = collection
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        self._timeout = timeout

    def __repr__(self) -> str:
        where = self._url if self._url else str(self._path)
        return f"ChromaVectorIndex({where!r}, collection={self._name!r})"

    @property
    def path(self) -> Path | None:
        """Return the folder of an embedded store (None for a Chroma server)."""
        return self._path

    @property
    def collection(self) -> Collection:
        """Return the Chroma collection, opening (or creating) it on first use."""
        if self._collection is None:
            self._collection = self._call("open", self._open)
        return self._collection

    def _call(self, what: str, call: Callable[[], T]) -> T:
        return guarded(what, call, timeout=self._timeout)

    def reachable(self, timeout: float = 2.0) -> bool:
        """Return True when the store answers: always when embedded, a heartbeat for a server."""
        if self._url is None:
            return True
        try:
            with urllib.request.urlopen(f"{self._url.rstrip('/')}/api/v2/heartbeat",
                                        timeout=timeout) as response:
                return bool(response.status == 200)
        except (OSError, ValueError):  # URLError is an OSError: refused, unknown host, timeout
            return False

    def health(self) -> Health:
        """Return whether the embedded store's files are there and readable ("ok" for a server).

        "missing": the folder or its SQLite file was deleted after it had been opened (a new,
        never opened folder is simply empty); "corrupt": the SQLite file is not a database.
        """
        if self._path is None:
            return "ok"
        database = self._path / "chroma.sqlite3"
        if not database.exists():
            return "missing" if self._collection is not None else "ok"
        try:
            with database.open("rb") as handle:
                header = handle.read(len(_SQLITE_HEADER))
        except OSError:
            return "corrupt"
        if header != _SQLITE_HEADER:
            return "corrupt"
        try:
            self.count()  # a file cut short keeps its header: only reading it tells
        except (IndexFullError, IndexTimeoutError):
            raise
        except IndexStoreError as error:
            logger.warning("vector index %r cannot be read: %s", self, error)
            return "corrupt"
        return "ok"

    def close(self) -> None:
        """Release the store's files (it opens again on next use)."""
        client = self._client
        self._collection = None
        self._client = None
        if client is not None:
            try:
                self._call("close", client.close)  # type: ignore[attr-defined]
            except IndexStoreError as error:
                logger.warning("closing vector index %r failed: %s", self, error)
        if self._path is not None:
            # Chroma caches one system per folder; a stale one would keep deleted files open.
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient._identifier_to_system.pop(str(self._path), None)
            SharedSystemClient._identifier_to_refcount.pop(str(self._path), None)

    def reset(self) -> None:
        """Close the store, delete its folder and open it again, empty (embedded stores only)."""
        if self._path is None:
            raise IndexStoreError(f"cannot rebuild {self!r}: a Chroma server is managed there")
        self.close()
        shutil.rmtree(self._path, ignore_errors=True)
        self.collection  # noqa: B018 - reopen now, so a failure shows here
        logger.warning("vector index %r was rebuilt empty", self)

    def _open(self) -> Collection:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self._url is not None:
                parsed = urlparse(self._url)
                if not parsed.hostname:
                    raise ValueError(f"Chroma server URL {self._url!r} has no host name")
                ssl = parsed.scheme == "https"
                self._client = chromadb.HttpClient(
                    host=parsed.hostname,
                    port=parsed.port or (443 if ssl else 8000),
                    ssl=ssl,
                    settings=chroma_settings,
                )
            else:
                assert self._path is not None
                self._path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self._path), settings=chroma_settings
                )
            collection = self._client.get_or_create_collection(
                self._name,
                embedding_function=embedding_function(self._embeddings),
                configuration={"hnsw": {"space": "cosine", "ef_search": SEARCH_EF}},
            )
            _search_wide(collection)
            return collection
        except IndexStoreError:
            raise
        except Exception as error:
            raise IndexStoreError(f"cannot open vector index {self!r}: {error}") from error

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace chunks with their vectors."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for start in range(0, len(chunks), _PAGE):
            batch = chunks[start : start + _PAGE]
            self._call(
                "upsert",
                functools.partial(
                    self.collection.upsert,
                    ids=[chunk.id for chunk in batch],
                    documents=[chunk.text for chunk in batch],
                    metadatas=[dict(chunk.metadata) for chunk in batch],
                    embeddings=np.asarray(vectors[start : start + _PAGE], dtype=np.float32),
                ),
            )

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Replace the metadata of chunks already stored, keeping their vectors."""
        for start in range(0, len(chunks), _PAGE):
            batch = chunks[start : start + _PAGE]
            self._call(
                "update",
                functools.partial(
                    self.collection.update,
                    ids=[chunk.id for chunk in batch],
                    metadatas=[dict(chunk.metadata) for chunk in batch],
                ),
            )

    def delete(self, ids: Iterable[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        id_list = list(ids)
        for start in range(0, len(id_list), _PAGE):
            page = id_list[start : start + _PAGE]
            self._call("delete", functools.partial(self.collection.delete, ids=page))

    def ids_by_path(self) -> dict[str, dict[str, str]]:
        """Return {path: {chunk_id: file_hash}} for every stored chunk."""
        result: dict[str, dict[str, str]] = {}
        for offset in range(0, self.count(), _PAGE):
            page = self._get(["metadatas"], offset)
            for chunk_id, metadata in zip(page["ids"], page["metadatas"] or [], strict=True):
                path = str(metadata.get("path", ""))
                result.setdefault(path, {})[chunk_id] = str(metadata.get("file_hash", ""))
        return result

    def all_chunks(self) -> list[Chunk]:
        """Return every stored chunk (text and metadata)."""
        chunks: list[Chunk] = []
        for offset in range(0, self.count(), _PAGE):
            page = self._get(["documents", "metadatas"], offset)
            for chunk_id, text, metadata in zip(
                page["ids"], page["documents"] or [], page["metadatas"] or [], strict=True
            ):
                chunks.append(Chunk(id=chunk_id, text=text or "", metadata=_flat(metadata)))
        return chunks

    def export(self) -> tuple[list[Chunk], np.ndarray]:
        """Return every stored chunk and its vector (row i of the matrix belongs to chunk i)."""
        chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        for offset in range(0, self.count(), _PAGE):
            page = self._get(["documents", "metadatas", "embeddings"], offset)
            embedded = page["embeddings"] if page["embeddings"] is not None else []
            for chunk_id, text, metadata, vector in zip(
                page["ids"], page["documents"] or [], page["metadatas"] or [], embedded,
                strict=True,
            ):
                chunks.append(Chunk(id=chunk_id, text=text or "", metadata=_flat(metadata)))
                vectors.append(np.asarray(vector, dtype=np.float32))
        matrix = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        return chunks, matrix

    def query(self, vector: Sequence[float], k: int, where: Where | None = None) -> list[Hit]:
        """Return the k nearest chunks (cosine similarity in `Hit.dense` and `Hit.score`)."""
        result = self._nearest(vector, k, where, ["documents", "metadatas", "distances"])
        hits: list[Hit] = []
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        for chunk_id, text, metadata, distance in zip(
            ids, documents, metadatas, distances, strict=True
        ):
            similarity = 1.0 - float(distance)
            chunk = Chunk(id=chunk_id, text=text or "", metadata=_flat(metadata))
            hits.append(Hit(chunk=chunk, score=similarity, dense=similarity))
        return hits

    def nearest_ids(self, vector: Sequence[float], k: int, where: Where | None = None) -> list[str]:
        """Return the ids of the k nearest chunks, nearest first (ids only: a quick shortlist)."""
        return list(self._nearest(vector, k, where, [])["ids"][0])

    def _nearest(
        self, vector: Sequence[float], k: int, where: Where | None, include: list[Any]
    ) -> Any:
        """Run one Chroma query for the k nearest chunks, with the fields in `include`."""
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        return self._call(
            "query",
            functools.partial(
                self.collection.query,
                query_embeddings=np.asarray([vector], dtype=np.float32),
                n_results=k,
                where=chroma_where(where),
                include=include,
            ),
        )

    def count(self) -> int:
        """Return the number of stored chunks."""
        return int(self._call("count", self.collection.count))

    def _get(self, include: list[Any], offset: int) -> Any:
        get = functools.partial(self.collection.get, include=include, limit=_PAGE, offset=offset)
        return self._call("get", get)
