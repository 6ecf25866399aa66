"""Reminder tables on `learncity.db.Base` and the small store that reads and writes them.

The database is the source of truth: every outgoing message (a reminder, a "time changed" or
"cancelled" notice, a weekly digest) is a row of `reminders` (an outbox). Claiming a row and writing
its `reminder_deliveries` record happen in one transaction, so a restart never sends a row twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from learncity.db import Base, create_schema

# Subscription.status
ACTIVE = "active"
CANCELLED_BY_USER = "cancelled"  # the user pressed cancel
EVENT_CANCELLED = "event-cancelled"  # staff cancelled or removed the event
BLOCKED = "blocked"  # the user blocked the bot
DONE = "done"  # the occurrence is over

# Reminder.kind
KIND_REMINDER = "reminder"
KIND_MOVED = "moved"
KIND_CANCELLED = "cancelled"
KIND_DIGEST = "digest"

# Reminder.status
PENDING = "pending"
SENDING = "sending"  # claimed; its delivery record exists; not yet acknowledged
SENT = "sent"
DROPPED = "dropped"  # missed during downtime after the event started
WITHDRAWN = "withdrawn"  # the subscription went (cancel, event moved or cancelled, user blocked)
FAILED = "failed"  # permanent error from Telegram (not a block)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Store aware datetimes as naive UTC (SQLite keeps no zone) and return them aware in UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: reminders store aware datetimes only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Subscription(Base):
    """A user asked to be reminded of one occurrence of an event (or programme session)."""

    __tablename__ = "reminder_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    lang: Mapped[str] = mapped_column(String(5))
    target_kind: Mapped[str] = mapped_column(String(16))  # "event" or "programme"
    target_id: Mapped[str] = mapped_column(String(80), index=True)
    occurrence_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    offsets: Mapped[str] = mapped_column(String(100))  # "1d,1h"
    explicit: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Reminder(Base):
    """One message to send at `due_at` (reminder, notice or digest), at most until `not_after`."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder_subscriptions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    lang: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(16))
    target_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    occurrence_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    previous_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    offset: Mapped[str | None] = mapped_column(String(10), nullable=True)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    explicit: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    delivery_key: Mapped[str] = mapped_column(String(120), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_reminders_status_due", "status", "due_at"),)


class Delivery(Base):
    """The idempotent record of one delivery: written with the claim, completed on the ack."""

    __tablename__ = "reminder_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    reminder_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminders.id", ondelete="SET NULL"), nullable=True, index=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="in-flight")
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class DigestPreference(Base):
    """A user's weekly digest choice: opted in or not, and the topics they care about."""

    __tablename__ = "digest_preferences"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    lang: Mapped[str] = mapped_column(String(5))
    opted_in: Mapped[bool] = mapped_column(Boolean, default=False)
    interests: Mapped[str] = mapped_column(Text, default="")  # comma-separated Topic values
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UserReminderOffsets(Base):
    """A user's own choice of when to be reminded (overrides the settings' default)."""

    __tablename__ = "reminder_user_offsets"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    offsets: Mapped[str] = mapped_column(String(100))


class ReminderStore:
    """The reminder tables on one engine; implements `learncity.db.ForgetsUsers`."""

    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create_schema(self) -> None:
        """Create the tables that do not exist yet."""
        create_schema(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session that commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def describe_user(self, user_id: int) -> dict[str, object]:
        """Return what the reminder tables keep about the user, in plain values."""
        with self.session() as s:
            subs = s.scalars(
                select(Subscription).where(
                    Subscription.user_id == user_id, Subscription.status == ACTIVE
                )
            ).all()
            pref = s.get(DigestPreference, user_id)
            offsets = s.get(UserReminderOffsets, user_id)
            sent = s.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.user_id == user_id)
            )
            return {
                "reminders": [
                    {
                        "kind": sub.target_kind,
                        "id": sub.target_id,
                        "starts": sub.occurrence_start.isoformat(),
                        "offsets": sub.offsets,
                    }
                    for sub in subs
                ],
                "reminder_offsets": offsets.offsets if offsets else None,
                "digest": (
                    {"opted_in": pref.opted_in, "interests": pref.interests} if pref else None
                ),
                "messages_delivered": int(sent or 0),
            }

    def forget_user(self, user_id: int) -> int:
        """Delete every reminder row about the user; return how many rows went."""
        removed = 0
        with self.session() as s:
            for table, column in (
                (Delivery, Delivery.user_id),
                (Reminder, Reminder.user_id),
                (Subscription, Subscription.user_id),
                (DigestPreference, DigestPreference.user_id),
                (UserReminderOffsets, UserReminderOffsets.user_id),
            ):
                result = s.execute(delete(table).where(column == user_id))
                removed += int(getattr(result, "rowcount", 0) or 0)
        return removed
