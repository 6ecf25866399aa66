"""Updates of one chat one after the other, different chats in parallel (PTB's update processor).

python-telegram-bot hands each update to `process_update` as it arrives. Here each update first
takes its chat's asyncio lock (FIFO, so one process keeps arrival order), then a slot of the
concurrency limit, then, on PostgreSQL, the chat's lock across replicas (`bot.chat_locks`). While
it holds them PTB refreshes the user's and the chat's data from the database
(`SQLPersistence.refresh_*`), runs the handlers, and the processor writes the data back before
letting go, so the chat's next update, on whichever replica, starts from what this one left.

Order across replicas rests on the inbox: an update is noted there before the webhook answers
Telegram (the processor's `arrivals` queue is the application's update queue, and PTB's webhook
handler awaits `put` before it replies). Telegram posts a chat's next update only once the
previous one was accepted, so an older update is always in the inbox before a younger one of the
same chat is handled, on any replica.

Taking the chat lock before the concurrency slot keeps a chat that floods the bot from filling
the slots other chats need. On SQLite (one process) only the asyncio lock is used.

On PostgreSQL a sweeper (every `sweep_every` seconds, started with the first update) takes over
the updates a dead replica had accepted but not handled (`ChatLocks.abandoned`) and puts them in
this application's update queue. The application is the one whose `process_update` coroutines
this processor is handed (PTB gives the processor no other way to reach it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from sqlalchemy import Engine
from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.chat_locks import ChatLocks, ChatLockUnavailable

log = logging.getLogger(__name__)


class Flushes(Protocol):
    """The persistence's per-update write-back (`SQLPersistence.flush_update`)."""

    async def flush_update(self, *, user_id: int | None, chat_id: int | None) -> None: ...


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def chat_of(update: object) -> int | None:
    """Return the chat an update belongs to (the user's id when there is no chat), or None."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


async def _noted(locks: ChatLocks, chat_id: int, update: Update) -> bool:
    """Note an update in the chat inbox; False (and a warning) when the database is unreachable."""
    try:
        await locks.receive(chat_id=chat_id, update_id=update.update_id,
                            payload=json.dumps(update.to_dict()))
    except ChatLockUnavailable as error:
        log.warning("update not noted in the chat inbox: %s", error)
        return False
    return True


class InboxQueue(asyncio.Queue[object]):
    """The application's update queue: notes each update in the chat inbox before queueing it."""

    def __init__(self, locks: ChatLocks) -> None:
        super().__init__()
        self._locks = locks
        self.noted: set[int] = set()  # update ids noted here, not yet handled

    async def put(self, item: object) -> None:
        """Note the update in the inbox (so the webhook's reply comes after), then queue it."""
        chat_id = chat_of(item)
        if (
            isinstance(item, Update)
            and chat_id is not None
            and await _noted(self._locks, chat_id, item)
        ):
            self.noted.add(item.update_id)
        await super().put(item)


class ChatSerialProcessor(BaseUpdateProcessor):
    """Handle one chat's updates one at a time (across replicas with `locks`), chats in parallel."""

    def __init__(
        self,
        max_concurrent_updates: int = 64,
        *,
        locks: ChatLocks | None = None,
        persistence: Flushes | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks = locks
        self._persistence = persistence
        #: The update queue to give the application (it notes updates in the inbox on arrival).
        self.arrivals: asyncio.Queue[object] = (
            InboxQueue(locks) if locks is not None else asyncio.Queue()
        )
        self._chats: dict[int, _Entry] = {}
        self.duplicates = 0  # updates skipped because another replica had handled them
        self.taken_over = 0  # updates of dead replicas handled here
        self.sweep_every = 2.0
        self._application: Any = None
        self._sweeper: asyncio.Task[None] | None = None
        self._warned = False

    @property
    def shared(self) -> bool:
        """Return True when chats are also locked across replicas (PostgreSQL)."""
        return self._locks is not None

    @contextlib.asynccontextmanager
    async def _local(self, chat_id: int) -> AsyncIterator[None]:
        entry = self._chats.get(chat_id)
        if entry is None:
            entry = self._chats[chat_id] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._chats[chat_id]

    async def process_update(  # type: ignore[misc]  # the chat lock must come before the slot
        self, update: object, coroutine: Awaitable[Any]
    ) -> None:
        """Wait for the chat's turn, then for a slot, then handle the update."""
        chat_id = chat_of(update)
        if chat_id is None:
            async with self._semaphore:
                await coroutine
            return
        if self._locks is not None and isinstance(update, Update):
            self._start_sweeper(coroutine)
            await self._note(chat_id, update)
        async with self._local(chat_id), self._semaphore:
            await self.do_process_update(update, coroutine)

    async def _note(self, chat_id: int, update: Update) -> None:
        """Note the update in the inbox unless the update queue did on arrival."""
        assert self._locks is not None
        if isinstance(self.arrivals, InboxQueue) and update.update_id in self.arrivals.noted:
            self.arrivals.noted.discard(update.update_id)
            return
        await _noted(self._locks, chat_id, update)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle the update, holding the chat's lock across replicas when there are any."""
        if self._locks is None or not isinstance(update, Update):
            await coroutine
            return
        chat_id = chat_of(update)
        assert chat_id is not None
        entered = False
        try:
            async with self._locks.hold(chat_id=chat_id, update_id=update.update_id) as held:
                entered = True
                if held.duplicate:
                    self.duplicates += 1
                    log.info("update %d was handled by another replica: skipped", update.update_id)
                    _close(coroutine)
                    return
                await coroutine
                if self._persistence is not None:
                    user = update.effective_user
                    await self._persistence.flush_update(
                        user_id=user.id if user is not None else None, chat_id=chat_id
                    )
        except ChatLockUnavailable as error:
            if entered:
                log.warning("chat lock: %s", error)
                return
            # Better answered without the lock than not at all (the handlers meet the same
            # database and say "try again later" if it is really gone).
            log.warning("update handled without the chat lock: %s", error)
            await coroutine

    def _start_sweeper(self, coroutine: Awaitable[Any]) -> None:
        """Learn the application from its `process_update` coroutine; start the sweeper once."""
        if self._sweeper is not None:
            return
        frame = getattr(coroutine, "cr_frame", None)
        application = frame.f_locals.get("self") if frame is not None else None
        if application is None or not hasattr(application, "update_queue"):
            if not self._warned:
                self._warned = True
                log.warning("no application found: updates of dead replicas are not taken over")
            return
        self._application = application
        self._sweeper = asyncio.create_task(self._sweep(), name="chat-inbox-sweeper")

    async def _sweep(self) -> None:
        """Every few seconds, queue here the updates dead replicas had accepted."""
        assert self._locks is not None
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                claimed = await self._locks.abandoned()
                if claimed:
                    log.warning("taking over %d updates a stopped replica had accepted",
                                len(claimed))
                for _, payload in claimed:
                    update = Update.de_json(json.loads(payload), self._application.bot)
                    self.taken_over += 1
                    await self._application.update_queue.put(update)
            except asyncio.CancelledError:
                raise
            except Exception:  # the sweeper must survive anything: log and go on
                log.exception("the chat inbox sweeper failed once")

    async def initialize(self) -> None:
        """Nothing to start: the lock pool connects on first use."""

    async def shutdown(self) -> None:
        """Stop the sweeper; close the lock pool's connections."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._locks is not None:
            await self._locks.close()


def _close(coroutine: Awaitable[Any]) -> None:
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()  # never awaited: say so to Python, not in a warning


def serial_processor(
    *, engine: Engine, persistence: Flushes | None = None, max_concurrent_updates: int = 64
) -> ChatSerialProcessor:
    """Return the update processor for `engine`'s database: cross-replica locks on PostgreSQL."""
    locks = None
    if engine.dialect.name == "postgresql":
        locks = ChatLocks(database_url=engine.url.render_as_string(hide_password=False))
    return ChatSerialProcessor(
        max_concurrent_updates, locks=locks, persistence=persistence if locks else None
    )
