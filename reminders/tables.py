"""The reminder tables on `learncity.db.Base` and their status values (the schema only).

`reminders.store.ReminderStore` is the one place that reads and writes these tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column

from learncity.db import Base

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
    # The lease of a "sending" row: which worker claimed it and until when (PostgreSQL workers).
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

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
