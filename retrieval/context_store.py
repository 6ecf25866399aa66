"""Conversation contexts in the assistant's database, so follow-ups survive a restart.

One row per conversation key ("tg:<chat id>" for Telegram, "cli:<name>" for the terminal and
`learncity ask --session`). A context older than `ttl` is not a conversation any more: a
"quanto costa?" the next day is a new question. /forget deletes the row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Engine, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from learncity.db import Base, upsert
from retrieval.conversation import Context

DEFAULT_TTL = dt.timedelta(minutes=30)


class ContextRow(Base):
    """The context of one conversation."""

    __tablename__ = "conversation_context"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def telegram_key(chat_id: int) -> str:
    """Return the context key of a Telegram chat."""
    return f"tg:{chat_id}"


class ContextStore:
    """Load and save conversation contexts."""

    def __init__(self, *, engine: Engine, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self._engine = engine
        self._ttl = ttl

    def create_schema(self) -> None:
        """Create the table when it is missing."""
        ContextRow.__table__.create(self._engine, checkfirst=True)  # type: ignore[attr-defined]

    def load(self, key: str, *, now: dt.datetime) -> Context:
        """Return the context of `key`, or an empty one when there is none or it is stale."""
        with Session(self._engine) as session:
            row = session.execute(select(ContextRow).where(ContextRow.key == key)).scalar()
            if row is None:
                return Context()
            updated = row.updated_at
            if updated.tzinfo is None:
                updated = updated.replace(tzinfo=dt.UTC)
            if now - updated > self._ttl:
                return Context()
            return Context.from_json(row.state)

    def save(self, key: str, context: Context, *, now: dt.datetime) -> None:
        """Store the context of `key`."""
        with Session(self._engine) as session, session.begin():
            upsert(
                session,
                ContextRow,
                {"key": key},
                {"state": context.to_json(), "updated_at": now.astimezone(dt.UTC)},
            )

    def forget(self, key: str) -> int:
        """Delete the context of `key`; return how many rows went."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(delete(ContextRow).where(ContextRow.key == key))
            return int(getattr(result, "rowcount", 0) or 0)

    def describe_user(self, user_id: int) -> dict[str, object]:
        """Return what is kept about a Telegram user's conversation (/privacy)."""
        with Session(self._engine) as session:
            row = session.execute(
                select(ContextRow).where(ContextRow.key == telegram_key(user_id))
            ).scalar()
            if row is None:
                return {}
            return {"conversation": list(Context.from_json(row.state).questions)}

    def forget_user(self, user_id: int) -> int:
        """Delete a Telegram user's conversation context (/forget)."""
        return self.forget(telegram_key(user_id))
