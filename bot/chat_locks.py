"""Per-chat locks across replicas on PostgreSQL: an advisory lock per chat and an inbox of updates.

Each update of a chat is handled while its replica holds `pg_advisory_xact_lock(hi, lo)` on the
chat id (the two-int4 key space: the 64-bit chat id split in two halves, so it never meets the
one-bigint keys of `learncity.db.lock_chat`, which a handler may take on the app's pool during the
update). The lock lives in a transaction on a connection of a small pool of its own (asyncio
psycopg, never the app's SQLAlchemy pool and never a thread), so waiting for a busy chat costs no
thread and cannot starve the handlers' database calls. A replica killed mid-update loses its
session, and PostgreSQL releases the lock at once: no chat stays blocked.

The inbox (`bot_chat_inbox`) keeps order and drops re-deliveries:
  receive  INSERT (update_id, chat_id) ON CONFLICT DO NOTHING   (before waiting for the lock)
  hold     lock; wait (lock released meanwhile) while an older update of the chat is still
           unhandled and younger than `order_wait`; an update already handled is skipped
  done     UPDATE handled = now() and COMMIT in one go: the mark and the release are atomic
An older update whose replica died is waited for only `order_wait` seconds (2 s by default).

Updates a replica accepted but had not handled when it died are not lost: the inbox keeps each
update's JSON and its `owner`, the replica's presence key, which the replica holds as a
session-level advisory lock for as long as it lives. Every few seconds each replica looks for
unhandled rows of other owners; an owner whose presence lock it can take is dead, and the replica
claims that owner's rows (one UPDATE: two survivors never claim the same row) and handles them.

Errors: a database that cannot be reached raises `ChatLockUnavailable` (the caller handles the
update without the cross-replica lock rather than drop it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from sqlalchemy import BigInteger, DateTime, Index, Integer, Text, func
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column

from learncity.db import Base

log = logging.getLogger(__name__)

_INT32 = 1 << 32
# The first key of the replicas' presence locks: far from the high half of any chat id.
PRESENCE = 2**31 - 7
# An unhandled row of another replica is looked at only after this long (seconds).
ABANDONED_AFTER = 3.0


class InboxRow(Base):
    """An update received by some replica, and when it was handled (None: not yet)."""

    __tablename__ = "bot_chat_inbox"
    __table_args__ = (Index("ix_bot_chat_inbox_chat", "chat_id", "update_id"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    handled: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # the update, as JSON
    owner: Mapped[int | None] = mapped_column(Integer, nullable=True)  # presence key


class ChatLockUnavailable(Exception):
    """The lock database could not be reached for chat `chat_id`."""

    def __init__(self, chat_id: int, reason: str) -> None:
        super().__init__(f"no lock for chat {chat_id}: {reason}")
        self.chat_id = chat_id


def lock_halves(chat_id: int) -> tuple[int, int]:
    """Return the two signed int4 keys of a chat id (exact: no two chats share them)."""
    value = int(chat_id) & ((1 << 64) - 1)
    high, low = value >> 32, value & (_INT32 - 1)
    return (high - _INT32 if high >= 1 << 31 else high, low - _INT32 if low >= 1 << 31 else low)


def conninfo(database_url: str) -> str:
    """Return a libpq connection string for a SQLAlchemy PostgreSQL URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Held:
    """A chat's lock, held: `duplicate` when the update was handled already (skip it)."""

    duplicate: bool
    waited: float  # seconds spent waiting for the lock and for older updates


class ChatLocks:
    """The cross-replica chat locks, on a pool of `size` connections of their own."""

    def __init__(
        self,
        *,
        database_url: str,
        size: int = 10,
        order_wait: float = 2.0,
        lock_timeout: float = 60.0,
        keep_handled: dt.timedelta = dt.timedelta(hours=1),
    ) -> None:
        if size < 1:
            raise ValueError(f"lock pool size ({size}) must be at least 1")
        self._conninfo = conninfo(database_url)
        self._size = size
        self._order_wait = order_wait
        self._lock_timeout = lock_timeout
        self._keep = keep_handled
        self._idle: list[psycopg.AsyncConnection[tuple[object, ...]]] = []
        self._slots = asyncio.Semaphore(size)
        self._created = False
        self._last_prune = 0.0
        #: This replica's presence key (held as an advisory lock while it lives).
        self.replica_key = 1 + secrets.randbelow(2**31 - 2)
        self._presence: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._presence_lock = asyncio.Lock()

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=5,
            application_name="learncity-chat-locks",
            # A host that vanishes (not a process that dies) is noticed within half a minute.
            keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
        )
        timeout_ms = int(self._lock_timeout * 1000)
        await connection.execute(f"SET lock_timeout = {timeout_ms}")
        # A replica stuck in an update (not dead) frees its chats after five minutes.
        await connection.execute("SET idle_in_transaction_session_timeout = 300000")
        return connection

    async def create_table(self) -> None:
        """Create the inbox when it does not exist (idempotent; replicas may race)."""
        async with self._connection() as connection:
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                await connection.execute(
                    "CREATE TABLE IF NOT EXISTS bot_chat_inbox ("
                    " update_id BIGINT PRIMARY KEY, chat_id BIGINT NOT NULL,"
                    " received TIMESTAMPTZ NOT NULL DEFAULT now(), handled TIMESTAMPTZ,"
                    " payload TEXT, owner INTEGER)"
                )
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                await connection.execute(
                    "CREATE INDEX IF NOT EXISTS ix_bot_chat_inbox_chat"
                    " ON bot_chat_inbox (chat_id, update_id)"
                )
        self._created = True

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        """Lend a pooled connection; a broken one is closed instead of going back."""
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            if connection is None or connection.closed:
                connection = await self._connect()
            broken = True
            try:
                yield connection
                broken = connection.closed or connection.broken
            finally:
                if broken:
                    with contextlib.suppress(Exception):
                        await connection.close()
                else:
                    self._idle.append(connection)

    async def _present(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        """Hold this replica's presence lock on a connection of its own (reconnecting)."""
        async with self._presence_lock:
            connection = self._presence
            if connection is None or connection.closed or connection.broken:
                connection = await self._connect()
                await connection.execute(
                    "SELECT pg_advisory_lock(%s, %s)", (PRESENCE, self.replica_key)
                )
                self._presence = connection
            return connection

    async def receive(self, *, chat_id: int, update_id: int, payload: str | None = None) -> None:
        """Note that this update of `chat_id` arrived (before waiting for the chat's lock)."""
        try:
            if not self._created:
                await self.create_table()
            # On the presence connection, not the pool: updates being handled hold the pool's
            # connections, and an arriving update must be noted at once (a replica dying before
            # noting it would lose it).
            presence = await self._present()
            async with self._presence_lock:
                await presence.execute(
                    "INSERT INTO bot_chat_inbox (update_id, chat_id, payload, owner)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (update_id) DO NOTHING",
                    (update_id, chat_id, payload, self.replica_key),
                )
        except (psycopg.Error, OSError) as error:
            raise ChatLockUnavailable(chat_id, type(error).__name__) from error

    async def abandoned(self) -> list[tuple[int, str]]:
        """Claim the unhandled updates of replicas that died; return them (id, JSON) in order."""
        if not self._created:
            return []
        claimed: list[tuple[int, str]] = []
        try:
            presence = await self._present()
            async with self._connection() as connection:
                owners = await (await connection.execute(
                    "SELECT DISTINCT owner FROM bot_chat_inbox WHERE handled IS NULL"
                    " AND owner IS NOT NULL AND owner <> %s AND payload IS NOT NULL"
                    " AND received < now() - make_interval(secs => %s)",
                    (self.replica_key, ABANDONED_AFTER),
                )).fetchall()
                for (owner,) in owners:
                    async with self._presence_lock:
                        row = await (await presence.execute(
                            "SELECT pg_try_advisory_lock(%s, %s)", (PRESENCE, owner)
                        )).fetchone()
                        if not (row and row[0]):
                            continue  # alive: its presence lock is held
                        await presence.execute(
                            "SELECT pg_advisory_unlock(%s, %s)", (PRESENCE, owner)
                        )
                    rows = await (await connection.execute(
                        "UPDATE bot_chat_inbox SET owner = %s, received = now()"
                        " WHERE owner = %s AND handled IS NULL AND payload IS NOT NULL"
                        " RETURNING update_id, payload",
                        (self.replica_key, owner),
                    )).fetchall()
                    claimed.extend((int(str(update_id)), str(payload))
                                   for update_id, payload in rows)
        except (psycopg.Error, OSError) as error:
            log.warning("abandoned updates not looked for: %s", type(error).__name__)
        return sorted(claimed)

    @contextlib.asynccontextmanager
    async def hold(self, *, chat_id: int, update_id: int) -> AsyncIterator[Held]:
        """Hold the chat's lock while the body runs; mark the update handled on a clean exit."""
        high, low = lock_halves(chat_id)
        started = time.monotonic()
        try:
            async with self._connection() as connection:
                while True:
                    try:
                        await connection.execute("BEGIN")
                        await connection.execute(
                            "SELECT pg_advisory_xact_lock(%s, %s)", (high, low)
                        )
                        row = await (await connection.execute(
                            "SELECT handled IS NOT NULL,"
                            " (SELECT count(*) FROM bot_chat_inbox o WHERE o.chat_id = %s"
                            "  AND o.update_id < %s AND o.handled IS NULL"
                            "  AND o.received > now() - make_interval(secs => %s))"
                            " FROM bot_chat_inbox WHERE update_id = %s",
                            (chat_id, update_id, self._order_wait, update_id),
                        )).fetchone()
                    except (psycopg.Error, OSError) as error:
                        raise ChatLockUnavailable(chat_id, type(error).__name__) from error
                    handled, older = (bool(row[0]), int(str(row[1]))) if row else (False, 0)
                    waiting = time.monotonic() - started
                    if handled or not older or waiting >= self._order_wait:
                        break
                    # An older update of this chat is not handled yet: let it go first.
                    await connection.execute("ROLLBACK")
                    await asyncio.sleep(0.02)
                body_ok = False
                try:
                    yield Held(duplicate=handled, waited=time.monotonic() - started)
                    body_ok = True
                finally:
                    await self._finish(connection, update_id, mark=body_ok and not handled)
        except ChatLockUnavailable:
            raise
        except (psycopg.Error, OSError) as error:
            raise ChatLockUnavailable(chat_id, type(error).__name__) from error
        await self._prune()

    async def _finish(
        self, connection: psycopg.AsyncConnection[tuple[object, ...]], update_id: int, *, mark: bool
    ) -> None:
        """Mark the update handled and release the lock in the same commit."""
        if connection.closed:
            return
        try:
            if mark:
                await connection.execute(
                    "UPDATE bot_chat_inbox SET handled = now() WHERE update_id = %s", (update_id,)
                )
            await connection.execute("COMMIT")
        except (psycopg.Error, OSError) as error:
            # The lock goes with the session anyway; the update's row stays unhandled and is
            # waited for at most `order_wait` by the chat's next update.
            log.warning("chat lock not released cleanly: %s", type(error).__name__)
            with contextlib.suppress(Exception):
                await connection.close()

    async def _prune(self) -> None:
        """Drop inbox rows handled long ago (at most once a minute per replica)."""
        now = time.monotonic()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        try:
            async with self._connection() as connection:
                await connection.execute(
                    "DELETE FROM bot_chat_inbox WHERE received < now() - make_interval(secs => %s)",
                    (self._keep.total_seconds(),),
                )
        except (psycopg.Error, OSError) as error:
            log.warning("chat inbox not pruned: %s", type(error).__name__)

    async def close(self) -> None:
        """Close the pooled connections (held locks are released by their transactions)."""
        if self._presence is not None:
            with contextlib.suppress(Exception):
                await self._presence.close()
            self._presence = None
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.close()
