"""Reminder tables on `learncity.db.Base` and the store: the one place that writes reminder SQL.

The database is the source of truth: every outgoing message (a reminder, a "time changed" or
"cancelled" notice, a weekly digest) is a row of `reminders` (an outbox). Claiming a row and writing
its `reminder_deliveries` record happen in one transaction, so a restart never sends a row twice.

Claims are dialect-specific behind one interface (`claim_due`):

- SQLite (one process per database): due rows are claimed in one write transaction (SQLite has one
  writer at a time); `recover()` at start puts every row left "sending" back in the queue.
- PostgreSQL (any number of workers): due rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED`
  and a lease (`claimed_by`, `claimed_until`), so two workers never claim the same row; a row whose
  lease ran out while "sending" (its worker died) is claimed again by any worker. `recover()` puts
  back only this worker's own earlier claims (same `worker_id`: a restart) and expired ones.

Either way the delivery record (unique `key`) is written in the claim's transaction and completed on
the acknowledgement: a message acknowledged once is never sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
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
    and_,
    delete,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from learncity.db import Base, create_schema, lock_chat, lock_name
from reminders.delivery import loggable_key

log = logging.getLogger(__name__)

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


#: How long a PostgreSQL claim holds before another worker may take the row over.
DEFAULT_LEASE = dt.timedelta(minutes=5)

Wanted = Callable[[Subscription], dict[str, dt.datetime]]  # offset -> due time, for a subscription


def default_worker_id() -> str:
    """Return this host's name: stable across restarts, distinct between replicas (containers)."""
    return socket.gethostname()[:64] or "worker"


class ReminderStore:
    """The reminder tables on one engine; implements `learncity.db.ForgetsUsers`.

    `worker_id` names this worker's claims (set a distinct one per replica on one host); `lease` is
    how long a PostgreSQL claim holds (far longer than a send and any clock skew between replicas).
    """

    def __init__(
        self, *, engine: Engine, worker_id: str | None = None, lease: dt.timedelta = DEFAULT_LEASE
    ) -> None:
        if lease <= dt.timedelta(0):
            raise ValueError(f"lease ({lease}) must be positive")
        worker = worker_id if worker_id is not None else default_worker_id()
        if not worker or len(worker) > 64:
            raise ValueError(f"worker_id {worker!r} must be 1 to 64 characters")
        self.engine = engine
        self.worker_id = worker
        self.lease = lease
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def multi_worker(self) -> bool:
        """Return True when claims are leased rows that several workers share (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    def create_schema(self) -> None:
        """Create the tables that do not exist yet (and the lease columns of older databases)."""
        create_schema(self.engine)
        self._add_lease_columns()

    def _add_lease_columns(self) -> None:
        columns = {column["name"] for column in inspect(self.engine).get_columns("reminders")}
        missing = [c for c in ("claimed_by", "claimed_until") if c not in columns]
        if not missing:
            return
        table = Reminder.__table__
        with self.engine.begin() as connection:
            for name in missing:
                kind = table.c[name].type.compile(dialect=self.engine.dialect)
                connection.execute(sql_text(f"ALTER TABLE reminders ADD COLUMN {name} {kind}"))
        log.info("reminders table upgraded: lease columns %s added", ", ".join(missing))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session that commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    # -- subscriptions --------------------------------------------------------------------------

    def offsets(self, user_id: int) -> tuple[str, ...] | None:
        """Return the user's own reminder offsets, or None when they never chose."""
        with self.session() as s:
            row = s.get(UserReminderOffsets, user_id)
            return tuple(row.offsets.split(",")) if row else None

    def subscribe(
        self, *, user_id: int, chat_id: int, lang: str, kind: str, target_id: str,
        start: dt.datetime, offsets: Sequence[str], now: dt.datetime, wanted: Wanted,
    ) -> tuple[int, bool, list[dt.datetime]]:
        """Add (or refresh) a subscription and plan its rows; return (id, already, pending dues).

        The chat's advisory lock (PostgreSQL) makes a double tap reaching two replicas at once
        land one after the other: the second finds the first's subscription.
        """
        with self.session() as s:
            lock_chat(s, chat_id)
            sub = s.scalars(
                select(Subscription).where(
                    Subscription.user_id == user_id,
                    Subscription.target_kind == kind,
                    Subscription.target_id == target_id,
                    Subscription.occurrence_start == start,
                    Subscription.status == ACTIVE,
                )
            ).first()
            already = sub is not None
            if sub is None:
                sub = Subscription(
                    user_id=user_id, chat_id=chat_id, lang=lang, target_kind=kind,
                    target_id=target_id, occurrence_start=start, offsets=",".join(offsets),
                    explicit=True, status=ACTIVE, created_at=now,
                )
                s.add(sub)
                s.flush()
            else:
                sub.chat_id, sub.lang = chat_id, lang
            self._plan(s, sub, wanted(sub), now)
            s.flush()
            pending = list(s.scalars(
                select(Reminder.due_at).where(
                    Reminder.subscription_id == sub.id,
                    Reminder.kind == KIND_REMINDER,
                    Reminder.status == PENDING,
                ).order_by(Reminder.due_at)
            ).all())
            return sub.id, already, pending

    @staticmethod
    def _plan(s: Session, sub: Subscription, wanted: dict[str, dt.datetime],
              now: dt.datetime) -> None:
        """Make the pending reminder rows of `sub` match its occurrence and `wanted` offsets."""
        rows = s.scalars(
            select(Reminder).where(
                Reminder.subscription_id == sub.id, Reminder.kind == KIND_REMINDER
            )
        ).all()
        have: set[str] = set()
        for row in rows:
            current = (row.offset in wanted and row.occurrence_start == sub.occurrence_start)
            if row.status == PENDING and not current:
                row.status = WITHDRAWN
            elif current and row.status != WITHDRAWN:
                have.add(row.offset or "")
        for offset, due in wanted.items():
            if offset in have or due <= now:
                continue
            stamp = int(sub.occurrence_start.timestamp())
            s.add(Reminder(
                subscription_id=sub.id, user_id=sub.user_id, chat_id=sub.chat_id, lang=sub.lang,
                kind=KIND_REMINDER, target_kind=sub.target_kind, target_id=sub.target_id,
                occurrence_start=sub.occurrence_start, offset=offset, due_at=due,
                not_after=sub.occurrence_start, explicit=sub.explicit, status=PENDING,
                delivery_key=f"reminder:{sub.id}:{offset}:{stamp}", attempts=0,
            ))

    def upcoming(
        self, user_id: int, *, now: dt.datetime
    ) -> tuple[list[Subscription], dict[int, dt.datetime]]:
        """Return the user's active subscriptions ahead, soonest first, and each one's next due."""
        with self.session() as s:
            subs = list(s.scalars(
                select(Subscription).where(
                    Subscription.user_id == user_id,
                    Subscription.status == ACTIVE,
                    Subscription.occurrence_start > now,
                ).order_by(Subscription.occurrence_start)
            ).all())
            next_due = dict(s.execute(
                select(Reminder.subscription_id, func.min(Reminder.due_at)).where(
                    Reminder.user_id == user_id, Reminder.status == PENDING,
                    Reminder.kind == KIND_REMINDER,
                ).group_by(Reminder.subscription_id)
            ).tuples().all())
        return subs, {k: v for k, v in next_due.items() if k is not None}

    def cancel(self, *, user_id: int, subscription_id: int) -> Subscription | None:
        """Cancel the user's active subscription and withdraw its rows; None when there is none."""
        with self.session() as s:
            sub = s.get(Subscription, subscription_id)
            if sub is None or sub.user_id != user_id or sub.status != ACTIVE:
                return None
            sub.status = CANCELLED_BY_USER
            self._withdraw(s, Reminder.subscription_id == sub.id)
            return sub

    @staticmethod
    def _withdraw(s: Session, *where: Any) -> int:
        result = s.execute(
            update(Reminder).where(Reminder.status == PENDING, *where).values(status=WITHDRAWN)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def set_offsets(
        self, *, user_id: int, offsets: str, now: dt.datetime, wanted: Wanted
    ) -> None:
        """Store the user's offsets ("1d,1h") and re-plan their active subscriptions ahead."""
        with self.session() as s:
            row = s.get(UserReminderOffsets, user_id)
            if row is None:
                s.add(UserReminderOffsets(user_id=user_id, offsets=offsets))
            else:
                row.offsets = offsets
            for sub in s.scalars(select(Subscription).where(
                Subscription.user_id == user_id, Subscription.status == ACTIVE,
                Subscription.occurrence_start > now,
            )).all():
                sub.offsets = offsets
                self._plan(s, sub, wanted(sub), now)

    def digest_preference(self, user_id: int) -> tuple[bool, tuple[str, ...]] | None:
        """Return (opted in, interests) or None when the user never chose."""
        with self.session() as s:
            pref = s.get(DigestPreference, user_id)
            if pref is None:
                return None
            return pref.opted_in, tuple(i for i in pref.interests.split(",") if i)

    def set_digest(
        self, *, user_id: int, chat_id: int, lang: str, opted_in: bool,
        interests: Sequence[str] | None, now: dt.datetime,
    ) -> None:
        """Store the user's digest choice; opting out withdraws their queued digests."""
        with self.session() as s:
            pref = s.get(DigestPreference, user_id)
            if pref is None:
                pref = DigestPreference(user_id=user_id, chat_id=chat_id, lang=lang,
                                        opted_in=opted_in, interests="", updated_at=now)
                s.add(pref)
            pref.chat_id, pref.lang, pref.opted_in, pref.updated_at = chat_id, lang, opted_in, now
            if interests is not None:
                pref.interests = ",".join(sorted(set(interests)))
            if not opted_in:
                self._withdraw(s, Reminder.user_id == user_id, Reminder.kind == KIND_DIGEST)

    def reconcile(
        self, *, now: dt.datetime, new_start: Callable[[Subscription], dt.datetime | None],
        wanted: Wanted,
    ) -> list[tuple[str, Subscription, dt.datetime, dt.datetime | None]]:
        """Move or cancel active subscriptions whose occurrence changed; queue the notices.

        `new_start` says where a subscription's occurrence is now (None: cancelled or gone).
        Returns (kind, subscription, old start, new start) for each change. On PostgreSQL one
        worker at a time reconciles (a named advisory lock), so a notice is queued once.
        """
        changes: list[tuple[str, Subscription, dt.datetime, dt.datetime | None]] = []
        with self.session() as s:
            lock_name(s, "reminders:reconcile")
            subs = s.scalars(select(Subscription).where(Subscription.status == ACTIVE)).all()
            for sub in subs:
                old = sub.occurrence_start
                if old <= now:
                    sub.status = DONE
                    continue
                new = new_start(sub)
                if new == old:
                    continue
                stamp = int(old.timestamp())
                if new is None:
                    sub.status = EVENT_CANCELLED
                    self._withdraw(s, Reminder.subscription_id == sub.id)
                    self._queue_notice(s, sub, KIND_CANCELLED, old, old, now,
                                       f"cancelled:{sub.id}:{stamp}")
                    changes.append((KIND_CANCELLED, sub, old, None))
                    continue
                sub.occurrence_start = new
                self._plan(s, sub, wanted(sub), now)
                self._queue_notice(s, sub, KIND_MOVED, new, old, now,
                                   f"moved:{sub.id}:{stamp}:{int(new.timestamp())}")
                changes.append((KIND_MOVED, sub, old, new))
        return changes

    @staticmethod
    def _queue_notice(
        s: Session, sub: Subscription, kind: str, start: dt.datetime,
        previous: dt.datetime, now: dt.datetime, key: str,
    ) -> None:
        if s.scalar(select(Reminder.id).where(Reminder.delivery_key == key)) is not None:
            return
        s.add(Reminder(
            subscription_id=sub.id, user_id=sub.user_id, chat_id=sub.chat_id, lang=sub.lang,
            kind=kind, target_kind=sub.target_kind, target_id=sub.target_id,
            occurrence_start=start, previous_start=previous, due_at=now,
            not_after=start if kind == KIND_MOVED else previous, explicit=False,
            status=PENDING, delivery_key=key, attempts=0,
        ))

    # -- the outbox -----------------------------------------------------------------------------

    def plan_digests(
        self, *, week: str, moment: dt.datetime, not_after: dt.datetime
    ) -> None:
        """Queue this week's digest for every opted-in user that has none yet (once per key)."""
        with self.session() as s:
            lock_name(s, "reminders:digests")  # two workers planning at once queue it once
            prefs = s.scalars(select(DigestPreference).where(DigestPreference.opted_in.is_(True)))
            wanted = {f"digest:{p.user_id}:{week}": p for p in prefs.all()}
            if not wanted:
                return
            have = set(s.scalars(select(Reminder.delivery_key).where(
                Reminder.delivery_key.in_(list(wanted)))).all())
            for key, pref in wanted.items():
                if key in have:
                    continue
                s.add(Reminder(
                    user_id=pref.user_id, chat_id=pref.chat_id, lang=pref.lang,
                    kind=KIND_DIGEST, due_at=moment, not_after=not_after,
                    explicit=False, status=PENDING, delivery_key=key, attempts=0,
                ))

    def recover(self, *, now: dt.datetime) -> int:
        """Queue again what a stopped worker left claimed; return how many rows.

        SQLite (one process): every "sending" row. PostgreSQL: this worker's own claims (it
        restarted) and expired or unleased ones; other live workers' claims are left alone.
        """
        where: list[Any] = [Reminder.status == SENDING]
        if self.multi_worker:
            where.append(or_(Reminder.claimed_by == self.worker_id,
                             Reminder.claimed_until.is_(None), Reminder.claimed_until <= now))
        with self.session() as s:
            result = s.execute(update(Reminder).where(*where).values(
                status=PENDING, claimed_by=None, claimed_until=None))
            return int(getattr(result, "rowcount", 0) or 0)

    def _due_query(self, now: dt.datetime, limit: int) -> Any:
        query = select(Reminder)
        if self.multi_worker:
            # Pending and due, or "sending" under a lease that ran out (its worker died).
            query = query.where(or_(
                and_(Reminder.status == PENDING, Reminder.due_at <= now),
                and_(Reminder.status == SENDING, Reminder.claimed_until <= now),
            ))
        else:
            query = query.where(Reminder.status == PENDING, Reminder.due_at <= now)
        query = query.order_by(Reminder.due_at, Reminder.id).limit(limit)
        if self.multi_worker:
            query = query.with_for_update(skip_locked=True)  # rows another worker holds: skip
        return query

    def claim_due(
        self, now: dt.datetime, *, limit: int,
        hold_until: Callable[[Reminder], dt.datetime | None],
    ) -> tuple[list[Reminder], list[Reminder]]:
        """Claim up to `limit` due rows (status sending, delivery record written).

        Returns (claimed, dropped): rows past `not_after` are dropped; `hold_until(row)` returns
        when a row held back (quiet hours) is due again, or None to send it now; a row whose key
        was already acknowledged is marked sent and never handed out.
        """
        claimed: list[Reminder] = []
        dropped: list[Reminder] = []
        with self.session() as s:
            while len(claimed) < limit:
                # Every row handled leaves the query (claimed, dropped, deferred, or done).
                rows = s.scalars(self._due_query(now, limit - len(claimed))).all()
                if not rows:
                    break
                self._claim_rows(s, rows, now, claimed, dropped, hold_until)
        return claimed, dropped

    def _claim_rows(
        self, s: Session, rows: Sequence[Reminder], now: dt.datetime, claimed: list[Reminder],
        dropped: list[Reminder], hold_until: Callable[[Reminder], dt.datetime | None],
    ) -> None:
        records = {d.key: d for d in s.scalars(select(Delivery).where(
            Delivery.key.in_([row.delivery_key for row in rows]))).all()}
        for row in rows:
            if row.status == SENDING:
                log.warning("taking over %s: its claim by %s expired at %s",
                            loggable_key(row.delivery_key), row.claimed_by,
                            row.claimed_until.isoformat() if row.claimed_until else "?")
            if row.not_after <= now:
                row.status = DROPPED
                dropped.append(row)
                continue
            held = hold_until(row)
            if held is not None:
                row.status, row.due_at = PENDING, held  # held back until the quiet hours end
                continue
            record = records.get(row.delivery_key)
            if record is not None and record.sent_at is not None:
                row.status = SENT  # already delivered under the same key: never twice
                continue
            if record is None:
                record = Delivery(key=row.delivery_key, reminder_id=row.id, user_id=row.user_id,
                                  chat_id=row.chat_id, claimed_at=now, outcome="in-flight",
                                  attempts=1)
                s.add(record)
                records[row.delivery_key] = record
            else:
                record.claimed_at, record.attempts = now, record.attempts + 1
                record.outcome, record.reminder_id = "in-flight", row.id
            row.status = SENDING
            row.claimed_by, row.claimed_until = self.worker_id, now + self.lease
            row.attempts += 1
            claimed.append(row)
        s.flush()

    def next_due(self) -> tuple[dt.datetime | None, bool]:
        """Return the earliest pending due time and whether anyone takes the digest."""
        with self.session() as s:
            first = s.scalar(select(func.min(Reminder.due_at)).where(Reminder.status == PENDING))
            if self.multi_worker:
                # A claim left by a dead worker is due again when its lease ends.
                expiry = s.scalar(select(func.min(Reminder.claimed_until))
                                  .where(Reminder.status == SENDING))
                if expiry is not None and (first is None or expiry < first):
                    first = expiry
            digest_users = s.scalar(select(func.count()).select_from(DigestPreference)
                                    .where(DigestPreference.opted_in.is_(True)))
        return first, bool(digest_users)

    def mark_delivered(self, key: str, *, message_id: int | None, now: dt.datetime) -> None:
        """Complete the delivery record and the row in one transaction (the acknowledgement)."""
        with self.session() as s:
            s.execute(update(Delivery).where(Delivery.key == key)
                      .values(sent_at=now, message_id=message_id, outcome="sent"))
            s.execute(update(Reminder).where(Reminder.delivery_key == key,
                                             Reminder.status == SENDING).values(status=SENT))

    def mark_failed(self, key: str) -> None:
        """Record a permanent failure for `key`."""
        with self.session() as s:
            s.execute(update(Delivery).where(Delivery.key == key).values(outcome="failed"))
            s.execute(update(Reminder).where(Reminder.delivery_key == key,
                                             Reminder.status == SENDING)
                      .values(status=FAILED))

    def mark_blocked(self, key: str) -> int:
        """The user blocked the bot: unsubscribe them from everything; return rows withdrawn."""
        with self.session() as s:
            record = s.scalars(select(Delivery).where(Delivery.key == key)).first()
            if record is None:
                return 0
            user_id = record.user_id
            record.outcome = "blocked"
            s.execute(update(Reminder).where(Reminder.delivery_key == key)
                      .values(status=WITHDRAWN))
            withdrawn = self._withdraw(s, Reminder.user_id == user_id)
            s.execute(update(Subscription).where(Subscription.user_id == user_id,
                                                 Subscription.status == ACTIVE)
                      .values(status=BLOCKED))
            s.execute(update(DigestPreference).where(DigestPreference.user_id == user_id)
                      .values(opted_in=False))
        return withdrawn

    def release(self, key: str, *, retry_at: dt.datetime, max_attempts: int) -> list[int]:
        """Queue a claimed row again at `retry_at`; return the attempts of rows given up."""
        given_up: list[int] = []
        with self.session() as s:
            for row in s.scalars(select(Reminder).where(Reminder.delivery_key == key,
                                                        Reminder.status == SENDING)).all():
                row.claimed_by, row.claimed_until = None, None
                if row.attempts >= max_attempts:
                    row.status = FAILED
                    given_up.append(row.attempts)
                else:
                    row.status, row.due_at = PENDING, retry_at
        return given_up

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
