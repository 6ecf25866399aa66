"""The database: one SQLAlchemy engine (SQLite file by default, PostgreSQL by DATABASE_URL).

Each area declares its tables on `Base` in its own module (bot/storage.py, flows/store.py,
reminders/store.py); `create_schema` creates whatever is missing.

Replicas on one PostgreSQL coordinate with advisory locks (no-ops on SQLite, one process)::

    lock_chat(session, chat_id)      transaction-scoped: one update of a chat at a time
    lock_name(session, "name")       transaction-scoped: one worker at a time for a named task
    try_leader(connection, "name")   session-scoped, non-blocking: elect one leader for a task
    LeaderTask(engine=, name=)       run a task (the knowledge sync) on one replica at a time and
                                     publish its result's version in `shared_versions`
    Leadership(engine=, name=)       lead a task while the process lives (the reminder sender)

Async code never calls the database on the event loop: `BlockingCalls` runs each call in its own
worker threads (so a locked database cannot starve the threads that compute answers) with a
deadline, and turns "locked", "unreachable" and "too slow" into one exception::

    DatabaseUnavailable     the call timed out or the database refused it (locked, down)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    String,
    Table,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: How long SQLite waits for another writer's lock before giving up ("database is locked").
SQLITE_BUSY_TIMEOUT = 5.0


class Base(DeclarativeBase):
    """The declarative base every table of the assistant uses."""


def make_engine(url: str, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> Engine:
    """Create the engine; SQLite gets WAL and foreign keys so a kill -9 loses nothing committed.

    `busy_timeout` (SQLite only) is how long a write waits for another writer's lock: long enough
    for ordinary contention, short enough that a stuck lock frees the worker thread soon.
    """
    if busy_timeout <= 0:
        raise ValueError(f"busy_timeout ({busy_timeout}) must be positive")
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upsert(
    executor: Connection | Session,
    table: Table | type[Base],
    key: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    update: Iterable[str] | None = None,
) -> None:
    """Insert a row, or on a key conflict update its `update` columns (default: all of `values`).

    One `INSERT ... ON CONFLICT` statement, so two writers of the same new key never collide (a
    read-then-insert does, on PostgreSQL and SQLite alike). An empty `update` keeps the row.
    """
    target = table if isinstance(table, Table) else cast(Table, table.__table__)
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    dialect = bind.dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(target)
    elif dialect == "sqlite":
        statement = sqlite.insert(target)
    else:
        raise ValueError(f"no upsert for database {dialect!r}: use SQLite or PostgreSQL")
    statement = statement.values({**key, **values})
    columns = list(values) if update is None else list(update)
    if columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={name: statement.excluded[name] for name in columns}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    executor.execute(statement)


# Named locks live far below any Telegram chat id (users > 0, groups about -10**12), so a named
# lock never waits on a chat's lock.
_NAMED_LOCK_BASE = -(2**62)


def lock_key(name: str) -> int:
    """Return the advisory-lock key of a named task (stable across processes and versions)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest()
    return _NAMED_LOCK_BASE + int.from_bytes(digest, "big")


def _dialect(executor: Connection | Session) -> str:
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    return bind.dialect.name


def lock_chat(executor: Connection | Session, chat_id: int) -> None:
    """Wait for the chat's lock until the transaction ends (PostgreSQL; SQLite has one writer).

    Two updates of one chat reaching two replicas at once then write one after the other;
    different chats never wait on each other. Call it first in the transaction that reads and
    writes the chat's state.
    """
    if _dialect(executor) == "postgresql":
        executor.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(chat_id)})


def lock_name(executor: Connection | Session, name: str) -> None:
    """Wait for the named task's lock until the transaction ends (PostgreSQL; no-op on SQLite)."""
    if _dialect(executor) == "postgresql":
        executor.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


def try_leader(connection: Connection, name: str) -> bool:
    """Try to become the leader for `name` on this connection; return True when it did.

    A session-level `pg_try_advisory_lock`: held until `release_leader` or until the connection
    closes (a killed replica's lock goes with its connection, so another takes over). Keep the
    connection open while leading. SQLite (one process) always leads.
    """
    if connection.dialect.name != "postgresql":
        return True
    return bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                  {"key": lock_key(name)}))


def release_leader(connection: Connection, name: str) -> None:
    """Give up the leadership taken with `try_leader` on this connection."""
    if connection.dialect.name == "postgresql":
        connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(name)})


class SharedVersion(Base):
    """The version of something every replica must agree on (the knowledge index), by name."""

    __tablename__ = "shared_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LeaderTask:
    """Run a task on one replica at a time and publish the version it produced.

    The knowledge sync is the use: the replica that wins `try_leader` syncs the shared index and
    then publishes the new version; the others see `published()` change and reload their
    in-memory search structures. A version is published only after its sync finished, so a
    replica never loads a half-built index; a leader that dies mid-sync loses its lock with its
    connection and the next attempt elsewhere takes over.
    """

    def __init__(self, *, engine: Engine, name: str) -> None:
        if not name or len(name) > 64:
            raise ValueError(f"task name {name!r} must be 1 to 64 characters")
        self._engine = engine
        self.name = name

    def run_if_leader(self, work: Callable[[], str]) -> str | None:
        """Run `work` if no other replica runs it now; publish and return its version, else None."""
        with self._engine.connect() as connection:
            if not try_leader(connection, self.name):
                return None
            connection.commit()  # the lock is the session's, not the transaction's
            try:
                version = work()
                if not version or len(version) > 128:
                    raise ValueError(f"version {version!r} must be 1 to 128 characters")
                upsert(connection, SharedVersion, {"name": self.name},
                       {"version": version, "updated_at": dt.datetime.now(dt.UTC)})
                connection.commit()
                return version
            finally:
                release_leader(connection, self.name)
                connection.commit()

    def published(self) -> str | None:
        """Return the last version a leader published (None before the first)."""
        with self._engine.connect() as connection:
            value = connection.scalar(
                select(SharedVersion.version).where(SharedVersion.name == self.name)
            )
        return None if value is None else str(value)


class Leadership:
    """Lead a named task for as long as this process lives (the one reminder sender).

    The leader keeps one connection open holding `pg_try_advisory_lock(name)`; the others ask
    again at each `held()`. A leader killed, or cut off from the database, loses the lock with
    its session, and the next `held()` elsewhere takes it. SQLite (one process) always leads.
    """

    def __init__(self, *, engine: Engine, name: str) -> None:
        if not name or len(name) > 64:
            raise ValueError(f"task name {name!r} must be 1 to 64 characters")
        self._engine = engine
        self.name = name
        self._connection: Connection | None = None

    def held(self) -> bool:
        """Return True while this process leads; try to become the leader when it does not."""
        if self._engine.dialect.name != "postgresql":
            return True
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))  # the session, and its lock, live
                self._connection.commit()
                return True
            except SQLAlchemyError:
                log.warning("lost the %r leadership with its database session", self.name)
                self._drop()
        connection: Connection | None = None
        try:
            connection = self._engine.connect()
            if try_leader(connection, self.name):
                connection.commit()  # the lock is the session's, not the transaction's
                self._connection = connection
                log.info("leading %r", self.name)
                return True
            connection.commit()
        except SQLAlchemyError as error:
            log.warning("cannot ask for the %r leadership: %s", self.name, type(error).__name__)
        if connection is not None:
            connection.close()
        return False

    def release(self) -> None:
        """Give the leadership up (a clean stop), so another process takes it at once."""
        connection = self._connection
        if connection is None:
            return
        try:
            release_leader(connection, self.name)
            connection.commit()
        except SQLAlchemyError:
            pass  # the session is gone, and the lock with it
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # never back to the pool holding a lock
                connection.close()
            except SQLAlchemyError:
                pass


def create_schema(engine: Engine) -> None:
    """Create every table declared on `Base` that does not exist yet."""
    Base.metadata.create_all(engine)


class ForgetsUsers(Protocol):
    """A store that holds personal data: it can show it and delete it (/privacy, /forget)."""

    def describe_user(self, user_id: int) -> dict[str, object]:
        """Return what this store keeps about the user, in plain values."""
        ...

    def forget_user(self, user_id: int) -> int:
        """Delete every row about the user; return how many rows went."""
        ...


class DatabaseUnavailable(Exception):
    """A database call timed out or was refused (locked, unreachable); `call` names it."""

    def __init__(self, call: str, reason: str) -> None:
        super().__init__(f"database call {call!r} failed: {reason}")
        self.call = call
        self.reason = reason


class BlockingCalls:
    """Run blocking database calls off the event loop, in their own threads, with a deadline.

    A dedicated pool keeps a stuck database from using up the default executor, where answers are
    computed. A call past `timeout` raises `DatabaseUnavailable` at once; its thread finishes (or
    fails on SQLite's busy timeout) in the background.
    """

    def __init__(self, *, workers: int = 8, timeout: float = 8.0) -> None:
        if workers < 1:
            raise ValueError(f"workers ({workers}) must be at least 1")
        if timeout <= 0:
            raise ValueError(f"timeout ({timeout}) must be positive")
        self._workers = workers
        self.timeout = timeout
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="database")
        return self._executor

    async def __call__(self, function: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Return `function(*args, **kwargs)`, run in a database thread within the deadline."""
        name = getattr(function, "__qualname__", None) or repr(function)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool(), functools.partial(function, *args, **kwargs))
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise DatabaseUnavailable(name, f"no answer within {self.timeout:g} s") from None
        except (OperationalError, PoolTimeout) as error:
            # The message can quote the statement's parameters (user ids): keep only its kind.
            orig = getattr(error, "orig", None)
            reason = str(orig) if orig is not None else type(error).__name__
            raise DatabaseUnavailable(name, reason.splitlines()[0][:120]) from error

    def close(self) -> None:
        """Let running calls finish in the background; start no new ones."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
