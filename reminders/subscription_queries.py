"""The reminder store's subscription queries: subscribe, plan rows, cancel, offsets, reconcile."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from learncity.db import lock_chat, lock_name
from reminders.store_base import StoreBase, Wanted
from reminders.tables import (
    ACTIVE,
    CANCELLED_BY_USER,
    DONE,
    EVENT_CANCELLED,
    KIND_CANCELLED,
    KIND_MOVED,
    KIND_REMINDER,
    PENDING,
    WITHDRAWN,
    Reminder,
    Subscription,
    UserReminderOffsets,
)


class SubscriptionQueries(StoreBase):
    """Subscriptions and their planned reminder rows (a part of `ReminderStore`)."""

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
