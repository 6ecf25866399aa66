"""A replica process for the knowledge-sync tests: build the services and reload the folder.

    python -m tests.replicas.sync_replica DATABASE_URL CHROMA_URL KNOWLEDGE DATA HOLD_SECONDS

The real embedding model, held back `HOLD_SECONDS` before it embeds the folder's chunks (a big
folder takes that long), so the parent test can kill this replica while it holds the sync lock.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from langchain_core.embeddings import Embeddings

from app.root import build_services
from learncity.settings import Settings
from retrieval.embedding import UniversalSentenceEncoder


class HeldBack(Embeddings):
    """The real model, slow on the indexer's batches (many texts at once)."""

    name = UniversalSentenceEncoder.name

    def __init__(self, model: UniversalSentenceEncoder, hold: float) -> None:
        self._model = model
        self._hold = hold

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if len(texts) > 50:
            print("embedding", flush=True)
            time.sleep(self._hold)
        return self._model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._model.embed_query(text)


def main(argv: list[str]) -> int:
    """Reload the knowledge once through the shared index; print the version it serves."""
    database_url, chroma_url, knowledge, data, hold = argv
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, knowledge_dir=Path(knowledge), data_dir=Path(data),
        chroma_server_url=chroma_url, database_url=database_url,
    )
    model = UniversalSentenceEncoder(threads=1)
    services = build_services(settings, embeddings=HeldBack(model, float(hold)))
    report = services.knowledge.reload()
    print(f"reloaded {report.files} files, {report.index.embedded} embedded", flush=True)
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
