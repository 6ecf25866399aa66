"""The database: one SQLAlchemy engine (SQLite file by default, PostgreSQL by DATABASE_URL).

Each area declares its tables on `Base` in its own module (bot/storage.py, flows/store.py,
reminders/store.py); `create_schema` creates whatever is missing.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase


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
