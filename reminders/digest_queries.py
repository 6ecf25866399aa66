"""The reminder store's digest queries: a user's weekly digest choice and the weekly queueing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from learncity.db import lock_name
from reminders.store_base import StoreBase
from reminders.tables import KIND_DIGEST, PENDING, DigestPreference, Reminder


class DigestQueries(StoreBase):
    """Weekly digest preferences and digest rows (a part of `ReminderStore`)."""

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
