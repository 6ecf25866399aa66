"""The real scheduler keeps up with reminders falling due one after another, milliseconds apart.

A run arms the next wake-up before it returns; when that wake-up is due at once it fires while the
run still counts as running. It must wait and run, not be skipped (a skipped one-off job leaves
nothing armed, and delivery would stall until the next subscription).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from reminders.clock import SystemClock
from reminders.delivery import Deliverer, OutgoingMessage
from reminders.scheduler import ReminderScheduler
from reminders.service import ReminderService
from reminders.store import KIND_REMINDER, PENDING, Reminder


class ListSender:
    """The edge: keeps the keys it was asked to send."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def send(self, message: OutgoingMessage) -> int | None:
        """Record the message."""
        self.keys.append(message.key)
        return len(self.keys)


async def test_reminders_due_milliseconds_apart_are_all_sent(
    make_service: Callable[..., ReminderService],
) -> None:
    clock = SystemClock()
    service = make_service(clock)
    now = clock.now()
    start = now + dt.timedelta(hours=2)
    with service.store.session() as s:
        for i in range(40):
            s.add(Reminder(
                user_id=100 + i, chat_id=100 + i, lang="en", kind=KIND_REMINDER,
                target_kind="event", target_id=f"ev-{i}", occurrence_start=start, offset="1h",
                due_at=now + dt.timedelta(milliseconds=200 + 30 * i), not_after=start,
                explicit=True, status=PENDING, delivery_key=f"reminder:{i}:1h:0", attempts=0,
            ))
    sender = ListSender()
    deliverer = Deliverer(sender=sender, ledger=service, clock=clock, rate_per_second=500)
    scheduler = ReminderScheduler(service=service, deliverer=deliverer, clock=clock)
    await scheduler.start()
    try:
        for _ in range(200):
            if len(sender.keys) == 40:
                break
            await asyncio.sleep(0.05)
    finally:
        await scheduler.stop()
    assert sorted(sender.keys) == sorted(f"reminder:{i}:1h:0" for i in range(40))
