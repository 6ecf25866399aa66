"""The database: one SQLAlchemy engine (SQLite file by default, PostgreSQL by DATABASE_URL).

Each area declares its tables on `Base` in its own module (bot/storage.py, flows/store.py,
reminders/store.py); `create_schema` creates whatever is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session


class Base(DeclarativeBase):
    """The declarative base every table of the assistant uses."""


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL and foreign keys so a kill -9 loses nothing committed."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

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
