"""The reminder service: subscriptions, the outbox of messages to send, digests, and event changes.

Plain values in, plain values out; no Telegram here. Exceptions::

    ReminderError
    ├── UnknownTarget          no event (or programme) with that id in the knowledge folder
    ├── NoUpcomingDate         the event or programme has no date ahead
    ├── UnknownSubscription    no active reminder with that id for this user
    └── InvalidOffset          an offset that is not like "1w", "1d", "3h" or "30m"

Every SQL statement is in `reminders.store`; this module decides (which occurrence, which offsets,
quiet hours) and the store reads and writes; `reminders.messages` says what each message says.

Exactly once: `due()` claims rows (status pending -> sending) and writes their delivery record
(`reminder_deliveries`, unique key) in the same transaction; `mark_delivered()` completes both in
one transaction when Telegram acknowledges. On PostgreSQL several workers claim at once (`SELECT ...
FOR UPDATE SKIP LOCKED` with a lease; see `reminders.store`). `recover()` (at start-up) puts rows
left "sending" by a crash back in the queue: a message that reached Telegram in the instant before
the crash, but whose acknowledgement was not yet committed, is the only one that can arrive twice
(at most one per chat, at most `max_in_flight` in all); every acknowledged message is never sent
again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from learncity.content.models import Event, EventStatus, Programme, text_in
from learncity.i18n import t
from reminders import store as st
from reminders.clock import Clock
from reminders.delivery import OutgoingMessage, loggable_key
from reminders.digest import (
    DigestSchedule,
    QuietHours,
    at_local,
)
from reminders.messages import (
    EVENT,
    OFFSET_CHOICES,
    PROGRAMME,
    Catalog,
    IcsMaker,
    MessageRenderer,
    find_target,
    format_when,
)
from reminders.store import Reminder, ReminderStore, Subscription

__all__ = [
    "OFFSET_CHOICES", "Catalog", "Confirmation", "DigestSettings", "IcsMaker", "InvalidOffset",
    "NoUpcomingDate", "Notice", "ReminderError", "ReminderService", "UnknownSubscription",
    "UnknownTarget", "Upcoming", "due_time", "parse_offset", "programme_sessions",
]

log = logging.getLogger(__name__)

_OFFSET = re.compile(r"^(\d{1,3})([wdhm])$")
_UNIT_MINUTES = {"w": 7 * 24 * 60, "d": 24 * 60, "h": 60, "m": 1}
# A notice about an event starting sooner than this after the quiet hours end is sent at once.
_URGENT_NOTICE = dt.timedelta(hours=1)


class ReminderError(Exception):
    """A reminder request could not be carried out."""


class UnknownTarget(ReminderError):
    """No event or programme with that id."""


class NoUpcomingDate(ReminderError):
    """Nothing ahead to remind of."""


class UnknownSubscription(ReminderError):
    """No active reminder with that id for this user."""


class InvalidOffset(ReminderError):
    """An offset not like "1d"."""


def parse_offset(label: str) -> dt.timedelta:
    """Parse "1w", "1d", "3h" or "30m" into a duration."""
    match = _OFFSET.match(label.strip())
    if not match or int(match.group(1)) == 0:
        raise InvalidOffset(f"offset {label!r} must be a number and w, d, h or m, like 1d or 30m")
    return dt.timedelta(minutes=int(match.group(1)) * _UNIT_MINUTES[match.group(2)])


def due_time(start: dt.datetime, offset: str, zone: ZoneInfo) -> dt.datetime:
    """Return when the `offset` reminder of `start` is due (days and weeks keep the wall time)."""
    delta = parse_offset(offset)
    if offset.strip()[-1] in "wd":
        # "1 day before" a 10:00 event is 10:00 the day before, even across a DST change.
        local = start.astimezone(zone).replace(tzinfo=None) - delta
        return at_local(local.date(), local.time(), zone).astimezone(dt.UTC)
    return start.astimezone(dt.UTC) - delta  # in UTC: aware arithmetic in one zone is wall-clock


def programme_sessions(
    programme: Programme, after: dt.datetime, before: dt.datetime, zone: ZoneInfo
) -> list[dt.datetime]:
    """Return the programme's session starts in [after, before) (see `Schedule.sessions`)."""
    schedule = programme.schedule
    return schedule.sessions(after, before, zone) if schedule is not None else []


@dataclass(frozen=True)
class Confirmation:
    """What the user is told after "Remind me": the exact local times."""

    subscription_id: int
    target_kind: str
    target_id: str
    title: str
    starts_at: dt.datetime  # city time
    reminders_at: tuple[dt.datetime, ...]  # city time, only those still ahead
    already: bool
    text: str


@dataclass(frozen=True)
class Upcoming:
    """One active reminder subscription, for /reminders."""

    subscription_id: int
    target_kind: str
    target_id: str
    title: str
    starts_at: dt.datetime  # city time
    next_reminder_at: dt.datetime | None  # city time
    offsets: tuple[str, ...]


@dataclass(frozen=True)
class Notice:
    """A change reconcile found: the matching message is queued in the outbox."""

    kind: str  # "moved" or "cancelled"
    user_id: int
    chat_id: int
    target_kind: str
    target_id: str
    previous_start: dt.datetime
    new_start: dt.datetime | None


@dataclass(frozen=True)
class DigestSettings:
    """A user's digest choice."""

    opted_in: bool
    interests: tuple[str, ...]


class ReminderService:
    """Subscriptions, the outbox, digests and event changes, on the reminder store."""

    def __init__(
        self,
        *,
        store: ReminderStore,
        knowledge: Callable[[], Catalog],
        clock: Clock,
        zone: ZoneInfo,
        default_offsets: Sequence[str] = ("1d", "1h"),
        quiet_hours: QuietHours | None = None,
        digest: DigestSchedule | None = None,
        ics: IcsMaker | None = None,
        delivery_rate_per_second: float = 25.0,
    ) -> None:
        for offset in default_offsets:
            parse_offset(offset)
        if not default_offsets:
            raise InvalidOffset("default_offsets must hold at least one offset, like 1d")
        self.store = store
        self._knowledge = knowledge
        self.clock = clock
        self.delivery_rate_per_second = delivery_rate_per_second
        self._reconciled: Catalog | None = None
        self.zone = zone
        self.default_offsets = tuple(default_offsets)
        self.quiet = quiet_hours or QuietHours(dt.time(21), dt.time(8), zone)
        self.digest = digest or DigestSchedule(0, dt.time(9), zone)
        self._messages = MessageRenderer(
            knowledge=knowledge, zone=zone, digest_interests=self._interests, ics=ics
        )
        self._listeners: list[Callable[[], None]] = []

    # -- wiring ---------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the outbox changes (the scheduler re-arms its wake-up)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def _now(self, now: dt.datetime | None) -> dt.datetime:
        value = now or self.clock.now()
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        return value

    def local(self, when: dt.datetime) -> dt.datetime:
        """Return `when` in the city's time zone."""
        return when.astimezone(self.zone)

    def format_when(self, when: dt.datetime, lang: str) -> str:
        """Return "Sat 28 Mar 2026, 10:00" (in `lang`) for `when` in city time."""
        return format_when(when, lang, self.zone)

    # -- knowledge ------------------------------------------------------------------------------

    def _target(self, kind: str, target_id: str) -> Event | Programme | None:
        return find_target(self._knowledge(), kind, target_id)

    def _starts(
        self, target: Event | Programme, after: dt.datetime, before: dt.datetime
    ) -> list[dt.datetime]:
        if isinstance(target, Event):
            return target.occurrences(after, before, self.zone)
        return programme_sessions(target, after, before, self.zone)

    def _next_start(self, target: Event | Programme, now: dt.datetime) -> dt.datetime | None:
        found = self._starts(target, now, now + dt.timedelta(days=731))
        return found[0] if found else None

    def _title(self, kind: str | None, target_id: str | None, lang: str) -> str:
        if kind is None or target_id is None:
            return ""
        target = self._target(kind, target_id)
        return text_in(target.title, lang) if target is not None else target_id

    # -- subscribing ----------------------------------------------------------------------------

    def offsets_for(self, user_id: int) -> tuple[str, ...]:
        """Return the user's reminder offsets (their own choice, else the default)."""
        return self.store.offsets(user_id) or self.default_offsets

    def subscribe(
        self,
        *,
        user_id: int,
        chat_id: int,
        event_id: str,
        lang: str,
        now: dt.datetime | None = None,
    ) -> Confirmation:
        """Remind the user of the event's next occurrence; return the confirmation."""
        return self._subscribe(EVENT, event_id, user_id=user_id, chat_id=chat_id, lang=lang,
                               now=self._now(now))

    def subscribe_programme(
        self,
        *,
        user_id: int,
        chat_id: int,
        programme_id: str,
        lang: str,
        now: dt.datetime | None = None,
    ) -> Confirmation:
        """Remind the user of the programme's next session; return the confirmation."""
        return self._subscribe(PROGRAMME, programme_id, user_id=user_id, chat_id=chat_id,
                               lang=lang, now=self._now(now))

    def _subscribe(
        self, kind: str, target_id: str, *, user_id: int, chat_id: int, lang: str, now: dt.datetime
    ) -> Confirmation:
        target = self._target(kind, target_id)
        if target is None:
            raise UnknownTarget(f"no {kind} with id {target_id!r}")
        if isinstance(target, Event) and target.status == EventStatus.CANCELLED:
            raise NoUpcomingDate(f"event {target_id!r} is cancelled")
        start = self._next_start(target, now)
        if start is None:
            raise NoUpcomingDate(f"{kind} {target_id!r} has no date after {now.isoformat()}")
        offsets = self.offsets_for(user_id)
        sub_id, already, pending = self.store.subscribe(
            user_id=user_id, chat_id=chat_id, lang=lang, kind=kind, target_id=target_id,
            start=start, offsets=offsets, now=now, wanted=self._wanted,
        )
        self._changed()
        title = text_in(target.title, lang)
        times = tuple(self.local(when) for when in pending)
        when_text = self.format_when(start, lang)
        if times:
            lines = "\n".join(f"• {self.format_when(when, lang)}" for when in times)
            text = t("reminders.confirm", lang, title=title, when=when_text, times=lines)
        else:
            text = t("reminders.confirm_too_soon", lang, title=title, when=when_text)
        if already:
            text = t("reminders.already", lang) + "\n" + text
        log.info("a user subscribed to %s %s at %s (%d reminders)",
                 kind, target_id, start.isoformat(), len(times))
        return Confirmation(sub_id, kind, target_id, title, self.local(start), times, already, text)

    def _wanted(self, sub: Subscription) -> dict[str, dt.datetime]:
        """Return when each of the subscription's reminders is due, by offset."""
        return {off: due_time(sub.occurrence_start, off, self.zone)
                for off in sub.offsets.split(",")}

    def upcoming(self, user_id: int, *, now: dt.datetime | None = None) -> list[Upcoming]:
        """Return the user's active reminders for what is still ahead, soonest first."""
        now = self._now(now)
        subs, next_due = self.store.upcoming(user_id, now=now)
        result = []
        for sub in subs:
            due = next_due.get(sub.id)
            result.append(Upcoming(
                sub.id, sub.target_kind, sub.target_id,
                self._title(sub.target_kind, sub.target_id, sub.lang),
                self.local(sub.occurrence_start), self.local(due) if due else None,
                tuple(sub.offsets.split(",")),
            ))
        return result

    def cancel(self, *, user_id: int, subscription_id: int) -> Upcoming:
        """Cancel one of the user's reminders; return what was cancelled."""
        sub = self.store.cancel(user_id=user_id, subscription_id=subscription_id)
        if sub is None:
            raise UnknownSubscription(
                f"no active reminder with id {subscription_id} for user {user_id}")
        gone = Upcoming(sub.id, sub.target_kind, sub.target_id,
                        self._title(sub.target_kind, sub.target_id, sub.lang),
                        self.local(sub.occurrence_start), None, tuple(sub.offsets.split(",")))
        self._changed()
        log.info("a user cancelled reminder %s", subscription_id)
        return gone

    def set_offsets(
        self, *, user_id: int, offsets: Sequence[str], now: dt.datetime | None = None
    ) -> tuple[str, ...]:
        """Set when the user is reminded (e.g. ["1d", "1h"]); re-plan their active reminders."""
        now = self._now(now)
        clean = sorted({o.strip() for o in offsets}, key=parse_offset, reverse=True)
        if not clean:
            raise InvalidOffset("choose at least one offset, like 1d")
        self.store.set_offsets(user_id=user_id, offsets=",".join(clean), now=now,
                               wanted=self._wanted)
        self._changed()
        return tuple(clean)

    # -- digest preferences ---------------------------------------------------------------------

    def _interests(self, user_id: int) -> tuple[str, ...]:
        return self.digest_settings(user_id).interests

    def digest_settings(self, user_id: int) -> DigestSettings:
        """Return the user's digest choice (off, no interests, when never chosen)."""
        found = self.store.digest_preference(user_id)
        return DigestSettings(*found) if found is not None else DigestSettings(False, ())

    def set_digest(
        self, *, user_id: int, chat_id: int, lang: str, opted_in: bool,
        interests: Sequence[str] | None = None, now: dt.datetime | None = None,
    ) -> DigestSettings:
        """Opt in or out of the weekly digest; `interests` (topic ids) replace the old ones."""
        now = self._now(now)
        self.store.set_digest(user_id=user_id, chat_id=chat_id, lang=lang, opted_in=opted_in,
                              interests=interests, now=now)
        self._changed()
        return self.digest_settings(user_id)

    def toggle_interest(self, *, user_id: int, chat_id: int, lang: str, topic: str,
                        now: dt.datetime | None = None) -> DigestSettings:
        """Add or remove one interest (opting in to the digest if not yet)."""
        current = self.digest_settings(user_id)
        chosen = set(current.interests) ^ {topic}
        return self.set_digest(user_id=user_id, chat_id=chat_id, lang=lang, opted_in=True,
                               interests=sorted(chosen), now=now)

    # -- event changes --------------------------------------------------------------------------

    def reconcile(self, knowledge: Catalog, *, now: dt.datetime | None = None) -> list[Notice]:
        """Move or cancel reminders whose event changed; queue the notices; return them."""
        now = self._now(now)

        def new_start(sub: Subscription) -> dt.datetime | None:
            target: Event | Programme | None = (
                knowledge.events.get(sub.target_id) if sub.target_kind == EVENT
                else knowledge.programmes.get(sub.target_id)
            )
            return self._new_start(target, sub.occurrence_start, now)

        notices: list[Notice] = []
        for _kind, sub, old, new in self.store.reconcile(now=now, new_start=new_start,
                                                        wanted=self._wanted):
            if new is None:
                notices.append(Notice("cancelled", sub.user_id, sub.chat_id, sub.target_kind,
                                      sub.target_id, old, None))
                log.info("%s %s cancelled: reminder %s withdrawn, its user told",
                         sub.target_kind, sub.target_id, sub.id)
            else:
                notices.append(Notice("moved", sub.user_id, sub.chat_id, sub.target_kind,
                                      sub.target_id, old, new))
                log.info("%s %s moved from %s to %s: reminder %s re-planned",
                         sub.target_kind, sub.target_id, old.isoformat(), new.isoformat(), sub.id)
        if notices:
            self._changed()
        return notices

    def reconcile_if_changed(self, *, now: dt.datetime | None = None) -> list[Notice]:
        """Reconcile when the knowledge base was reloaded since the last time (cheap otherwise)."""
        current = self._knowledge()
        if current is self._reconciled:
            return []
        notices = self.reconcile(current, now=now)
        self._reconciled = current
        return notices

    def _new_start(
        self, target: Event | Programme | None, old: dt.datetime, now: dt.datetime
    ) -> dt.datetime | None:
        """Return where the subscribed occurrence is now (None: cancelled or gone)."""
        if target is None:
            return None
        if isinstance(target, Event):
            if target.status == EventStatus.CANCELLED:
                return None
            if not target.rrule:
                first = target.occurrences(now, now + dt.timedelta(days=3660), self.zone)
                return first[0] if first else None
        if self._starts(target, old, old + dt.timedelta(seconds=1)):
            return old
        # A recurring date that moved: the same local day if it still has one, else the next.
        day = self.local(old).date()
        same_day = self._starts(target, at_local(day, dt.time(0), self.zone),
                                at_local(day + dt.timedelta(days=1), dt.time(0), self.zone))
        found = [start for start in same_day if start > now]
        return found[0] if found else self._next_start(target, now)

    # -- the outbox -----------------------------------------------------------------------------

    def recover(self, *, now: dt.datetime | None = None) -> int:
        """Put back in the queue what a crash left claimed but unacknowledged; return how many."""
        now = self._now(now)
        count = self.store.recover(now=now)
        if count:
            log.warning("%d messages were in flight when the bot stopped: queued again", count)
        return count

    def due(self, now: dt.datetime | None = None, *, limit: int = 50) -> list[OutgoingMessage]:
        """Claim what is due (quiet hours and downtime applied) and return it ready to send."""
        now = self._now(now)
        self._plan_digests(now)
        claimed, dropped = self.store.claim_due(now, limit=limit,
                                                hold_until=self._hold_until(now))
        for row in dropped:
            log.info("dropped %s: due %s, missed (the bot was down) and %s already started",
                     loggable_key(row.delivery_key), row.due_at.isoformat(),
                     row.target_id or "the week")
        messages = []
        for row in claimed:
            try:
                messages.append(self._messages.render(row))
            except Exception as error:  # a broken record must not leave the row claimed forever
                log.exception("could not build message %s", loggable_key(row.delivery_key))
                self.mark_failed(row.delivery_key, reason=f"render: {error}")
        return messages

    def _hold_until(self, now: dt.datetime) -> Callable[[Reminder], dt.datetime | None]:
        """Return the quiet-hours rule: when a row due now must wait, until when."""
        quiet = self.quiet.contains(now)
        quiet_end = self.quiet.ends_after(now)

        def hold(row: Reminder) -> dt.datetime | None:
            if quiet and not self._may_break_quiet(row, quiet_end):
                return quiet_end
            return None

        return hold

    def _may_break_quiet(self, row: Reminder, quiet_end: dt.datetime) -> bool:
        if row.kind == st.KIND_REMINDER:
            return row.explicit
        if row.kind in (st.KIND_MOVED, st.KIND_CANCELLED):
            soonest = min(x for x in (row.occurrence_start, row.previous_start) if x is not None)
            return soonest < quiet_end + _URGENT_NOTICE
        return False

    def next_wakeup(self, now: dt.datetime | None = None) -> dt.datetime | None:
        """Return when something may next be due (a queued row or this week's digest)."""
        now = self._now(now)
        first, digest_users = self.store.next_due()
        candidates = [first] if first is not None else []
        if digest_users:
            candidates.append(self.digest.next_moment(now))
        return min(candidates) if candidates else None

    def _plan_digests(self, now: dt.datetime) -> None:
        moment = self.digest.moment(now)
        if now < moment:
            return
        self.store.plan_digests(week=self.digest.week_key(now), moment=moment,
                                not_after=self.digest.week_end(now))

    # -- outcomes (the `DeliveryLedger` the `Deliverer` writes to) ------------------------------

    def mark_delivered(self, key: str, *, message_id: int | None = None,
                       now: dt.datetime | None = None) -> None:
        """Record in one transaction that the message with `key` reached the user."""
        self.store.mark_delivered(key, message_id=message_id, now=self._now(now))

    def mark_failed(self, key: str, *, reason: str) -> None:
        """Record a permanent failure for `key`; it is not retried."""
        self.store.mark_failed(key)
        log.warning("message %s failed for good: %s", loggable_key(key), reason)

    def mark_blocked(self, key: str) -> int:
        """The user blocked the bot: unsubscribe them from everything; return rows withdrawn."""
        return self.store.mark_blocked(key)

    def release(self, key: str, *, retry_at: dt.datetime, max_attempts: int = 6) -> None:
        """Queue a claimed message again at `retry_at` (given up after `max_attempts` claims)."""
        for attempts in self.store.release(key, retry_at=retry_at, max_attempts=max_attempts):
            log.error("message %s given up after %d attempts", loggable_key(key), attempts)
        self._changed()
