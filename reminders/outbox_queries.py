"""The reminder store's outbox: recovering, claiming due rows, and marking their outcome.

Claims are dialect-specific behind one interface (`claim_due`); see `reminders.store`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from reminders.delivery import loggable_key
from reminders.store_base import StoreBase
from reminders.tables import (
    ACTIVE,
    BLOCKED,
    DROPPED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    WITHDRAWN,
    Delivery,
    DigestPreference,
    Reminder,
    Subscription,
)

log = logging.getLogger("reminders.store")


class OutboxQueries(StoreBase):
    """Due rows: claims with their delivery records, and acknowledgements (part of the store)."""

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
