"""The reminder store: the one public object, and the one place that writes reminder SQL.

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

The store is assembled from parts with one role each: the tables (`reminders.tables`), the
foundation (`reminders.store_base`), subscriptions (`reminders.subscription_queries`), digests
(`reminders.digest_queries`) and the outbox (`reminders.outbox_queries`). Every name callers
import from here (tables, status values, `DEFAULT_LEASE`, `Wanted`) is still importable here.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from reminders.digest_queries import DigestQueries
from reminders.outbox_queries import OutboxQueries
from reminders.store_base import DEFAULT_LEASE, StoreBase, Wanted, default_worker_id
from reminders.subscription_queries import SubscriptionQueries
from reminders.tables import (
    ACTIVE,
    BLOCKED,
    CANCELLED_BY_USER,
    DONE,
    DROPPED,
    EVENT_CANCELLED,
    FAILED,
    KIND_CANCELLED,
    KIND_DIGEST,
    KIND_MOVED,
    KIND_REMINDER,
    PENDING,
    SENDING,
    SENT,
    WITHDRAWN,
    Delivery,
    DigestPreference,
    Reminder,
    Subscription,
    UserReminderOffsets,
    UTCDateTime,
)

__all__ = [
    "ACTIVE",
    "BLOCKED",
    "CANCELLED_BY_USER",
    "DEFAULT_LEASE",
    "DONE",
    "DROPPED",
    "EVENT_CANCELLED",
    "FAILED",
    "KIND_CANCELLED",
    "KIND_DIGEST",
    "KIND_MOVED",
    "KIND_REMINDER",
    "PENDING",
    "SENDING",
    "SENT",
    "WITHDRAWN",
    "Delivery",
    "DigestPreference",
    "Reminder",
    "ReminderStore",
    "StoreBase",
    "Subscription",
    "UTCDateTime",
    "UserReminderOffsets",
    "Wanted",
    "default_worker_id",
]


class ReminderStore(SubscriptionQueries, DigestQueries, OutboxQueries):
    """The reminder tables on one engine; implements `learncity.db.ForgetsUsers`.

    `worker_id` names this worker's claims (set a distinct one per replica on one host); `lease` is
    how long a PostgreSQL claim holds (far longer than a send and any clock skew between replicas).
    """

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
