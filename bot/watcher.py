"""Watch the knowledge folder (watchfiles) and re-index within seconds of a change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import awatch

from bot.deps import ReloadSummary

log = logging.getLogger(__name__)


class KnowledgeWatcher:
    """Run `reload` in a worker thread after each burst of changes, then hand the result on."""

    def __init__(
        self,
        *,
        root: Path,
        reload: Callable[[], ReloadSummary],
        on_reload: Callable[[ReloadSummary], Awaitable[None]],
        debounce_ms: int = 500,
        force_polling: bool | None = None,
    ) -> None:
        self._root = Path(root)
        self._reload = reload
        self._on_reload = on_reload
        self._debounce_ms = debounce_ms
        self._force_polling = force_polling
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0  # how many reloads the watcher ran (for tests and logs)

    def start(self) -> None:
        """Start watching in the background (inside the running event loop)."""
        if self._task is not None:
            return
        if not self._root.is_dir():
            log.warning("not watching %s: no such folder", self._root)
            return
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="knowledge-watcher")

    async def stop(self) -> None:
        """Stop watching and wait for a running reload to finish."""
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, timeout=10)
        except TimeoutError:
            self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        log.info("watching %s for changes", self._root)
        async for changes in awatch(
            self._root,
            debounce=self._debounce_ms,
            step=50,
            stop_event=self._stop,
            force_polling=self._force_polling,
        ):
            log.info("knowledge folder changed (%d paths): re-indexing", len(changes))
            try:
                result = await asyncio.to_thread(self._reload)
                self.reloads += 1
                await self._on_reload(result)
            except Exception:  # one bad reload must not stop the watching
                log.exception("re-indexing after a change failed")
