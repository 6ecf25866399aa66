"""SIGTERM during a sync whose store hangs: the process still stops, within the store timeout."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import REPO_ROOT

# A process shaped like the bot: an event loop, the reload in a worker thread, a SIGTERM handler
# that stops the loop (as python-telegram-bot's run_polling does). Chroma's upsert never returns.
SCRIPT = textwrap.dedent(
    """
    import asyncio, signal, sys
    from pathlib import Path
    from langchain_core.embeddings import Embeddings
    from retrieval.indexer import FileChunks, Indexer
    from retrieval.store import ChromaVectorIndex
    from retrieval.types import Chunk

    class Flat(Embeddings):
        def embed_documents(self, texts):
            return [[1.0, 0.0, 0.0] for _ in texts]
        def embed_query(self, text):
            return [1.0, 0.0, 0.0]

    index = ChromaVectorIndex(embeddings=Flat(), path=Path(sys.argv[1]), timeout=3)
    type(index.collection).upsert = lambda self, *a, **k: __import__("threading").Event().wait()
    indexer = Indexer(index=index, embeddings=Flat())
    chunk = Chunk(id="c1", text="testo", metadata={"kind": "guide", "title": "t", "lang": "it"})

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        sync = asyncio.create_task(
            asyncio.to_thread(indexer.sync, {"g.md": FileChunks(sha256="h", chunks=[chunk])})
        )
        print("syncing", flush=True)
        await stop.wait()
        print("stopping", flush=True)

    asyncio.run(main())
    """
)


def test_sigterm_is_not_blocked_by_a_hung_index_write(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "chroma")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "syncing"
        time.sleep(0.5)  # the upsert is hanging now
        process.send_signal(signal.SIGTERM)
        started = time.perf_counter()
        code = process.wait(timeout=30)
        elapsed = time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert code == 0, process.stderr.read() if process.stderr else ""
    assert elapsed < 10  # the 3 s store timeout, not forever
