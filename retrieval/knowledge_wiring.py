"""Build the knowledge service for the deployment's shape (the composition root calls this).

- SQLite, embedded Chroma (the default, one process): the knowledge service syncs the index
  itself and the answer engine asks the `HybridSearcher`, as they always did.
- PostgreSQL (replicas): syncs go through `SharedIndexer` (one replica embeds, the others reload
  the published version) and a `VersionPoller` follows the published version.
- A Chroma server (`CHROMA_SERVER_URL`): the answer engine asks `KeywordFallback`, which answers
  with keyword search while the server is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings
from sqlalchemy import Engine

from learncity.db import LeaderTask, SharedVersion
from retrieval.indexer import Indexer
from retrieval.keyword_fallback import KeywordFallback
from retrieval.knowledge_service import KnowledgeService
from retrieval.search import HybridSearcher, Searcher
from retrieval.shared_index import TASK_NAME, SharedIndexer, VersionPoller
from retrieval.store import ChromaVectorIndex


@dataclass(frozen=True, slots=True)
class KnowledgeParts:
    """The knowledge service, the searcher answers use, and the optional replica helpers."""

    knowledge: KnowledgeService
    searcher: Searcher
    poller: VersionPoller | None = None
    fallback: KeywordFallback | None = None


def build_knowledge(
    *,
    root: Path,
    index: ChromaVectorIndex,
    indexer: Indexer,
    searcher: HybridSearcher,
    embeddings: Embeddings,
    engine: Engine,
) -> KnowledgeParts:
    """Return the knowledge service and the searcher for this database and vector index."""
    shared: SharedIndexer | None = None
    if engine.dialect.name == "postgresql":
        SharedVersion.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        shared = SharedIndexer(indexer=indexer, task=LeaderTask(engine=engine, name=TASK_NAME))
    fallback: KeywordFallback | None = None
    if index.path is None:  # a Chroma server: it can be away while the replica runs
        fallback = KeywordFallback(
            hybrid=searcher,
            embeddings=embeddings,
            knowledge=lambda: knowledge.current,
            reachable=index.reachable,
            recover=lambda: knowledge.reload(),
            name=f"the Chroma server {index!r}",
        )
    knowledge = KnowledgeService(
        root=root, indexer=shared or indexer, searcher=fallback or searcher
    )
    if fallback is not None:
        knowledge.subscribe(fallback.on_reload)
    poller = (VersionPoller(shared=shared, reload=knowledge.reload, ready=index.reachable)
              if shared else None)
    return KnowledgeParts(
        knowledge=knowledge, searcher=fallback or searcher, poller=poller, fallback=fallback
    )
