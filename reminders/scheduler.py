"""The reminder scheduler: one APScheduler 3 wake-up job, rebuilt from the database at start.

The database is the source of truth. The scheduler holds no per-reminder jobs (100,000 reminders
would cost 100,000 job objects): it keeps a single date job armed for the earliest moment something
may be due (`ReminderService.next_wakeup`), capped by a poll interval, and re-armed after every run
and whenever the service reports a change. Starting it runs `recover()` first, so a restart resumes
exactly where the database says.

On SQLite run one scheduler per database (the single-writer claim). On PostgreSQL every replica
may run one: rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` under a lease (see
`reminders.store`), and a dead replica's claims are taken over when the lease ends (the wake-up
also comes due at the earliest lease end).

Telegram's limits (about 30 messages a second per bot, one a second per chat, and a 429 pause)
are the bot's, not a replica's. With a `sender` election (`learncity.db.Leadership`, the bot
passes one on PostgreSQL) only the elected replica claims and sends, so its `Deliverer`'s limits
are the group's; the others check every `standby` seconds and the first to find the lock free
(the sender died: its session and lock went with it) becomes the sender with the whole budget.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from reminders.clock import Clock
from reminders.delivery import Deliverer
from reminders.service import ReminderService

log = logging.getLogger(__name__)

JOB_ID = "reminders-wakeup"
#: The advisory-lock name of the one replica that sends reminders.
SENDER_TASK = "reminder-sender"


class SenderElection(Protocol):
    """Who sends for the group (`learncity.db.Leadership`)."""

    def held(self) -> bool:
        """Return True while this process is the sender (becoming it if the place is free)."""
        ...

    def release(self) -> None:
        """Stop being the sender."""
        ...


class ReminderScheduler:
    """Wake up when something is due, claim it, and hand it to the deliverer."""

    def __init__(
        self,
        *,
        service: ReminderService,
        deliverer: Deliverer,
        clock: Clock,
        poll_interval: dt.timedelta = dt.timedelta(seconds=30),
        batch_size: int = 25,
        sender: SenderElection | None = None,
        standby: dt.timedelta = dt.timedelta(seconds=2),
        takeover_pause: dt.timedelta = dt.timedelta(seconds=1),
    ) -> None:
        if poll_interval <= dt.timedelta(0):
            raise ValueError(f"poll_interval ({poll_interval}) must be positive")
        if standby <= dt.timedelta(0):
            raise ValueError(f"standby ({standby}) must be positive")
        if batch_size < 1:
            raise ValueError(f"batch_size ({batch_size}) must be at least 1")
        self._service = service
        self._deliverer = deliverer
        self._clock = clock
        self._poll = poll_interval
        self._batch = batch_size
        self._sender = sender
        self._standby = standby
        self._takeover_pause = takeover_pause.total_seconds()
        self._sending = False  # this replica was the sender at its last run
        self._scheduler: AsyncIOScheduler | None = None
        self._running = asyncio.Lock()
        self._again = False
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.recovered = 0

    @property
    def started(self) -> bool:
        """Return True between `start()` and `stop()`."""
        return self._scheduler is not None

    async def start(self) -> None:
        """Recover from the last stop, then arm the wake-up (call from PTB's post_init)."""
        if self._scheduler is not None:
            return
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self.recovered = self._service.recover()
        self._scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self._scheduler.start()
        self._service.add_listener(self.wake)
        self._arm()
        log.info("reminder scheduler started (%d in-flight messages re-queued)", self.recovered)

    async def stop(self) -> None:
        """Stop waking up and wait for messages in flight (call from PTB's post_shutdown)."""
        scheduler, self._scheduler = self._scheduler, None
        self._stopping = True  # a run in progress finishes its current batch, claims no more
        if scheduler is not None:
            scheduler.remove_all_jobs()
        async with self._running:
            await self._deliverer.drain()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if self._sender is not None:  # a clean stop hands the sending over at once
            await asyncio.to_thread(self._sender.release)

    def wake(self) -> None:
        """Re-arm the wake-up: the outbox changed (a subscription, a notice, a retry)."""
        loop = self._loop
        if loop is None:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if not on_loop:  # called from a worker thread: re-arm on the loop's own thread
            loop.call_soon_threadsafe(self.wake)
            return
        if self._running.locked():
            self._again = True  # the current run checks again before it re-arms
            return
        self._arm()

    def _arm(self, *, standby: bool = False) -> None:
        if self._scheduler is None:
            return
        now = self._clock.now()
        if standby:  # another replica sends: ask again soon, whatever is due
            when = now + self._standby
        else:
            target = self._service.next_wakeup(now)
            ceiling = now + self._poll
            when = ceiling if target is None else max(now, min(target, ceiling))
        # The clock may be a test clock: keep the delay and apply it to the real clock.
        run_date = dt.datetime.now(dt.UTC) + (when - now)
        # Two instances: `run_due` arms the next wake-up before it returns, and a wake-up due at
        # once would otherwise fire while this run still counts as running, be skipped, and,
        # being a one-off date job, leave nothing armed. The second instance waits on
        # `_running` and then runs.
        self._scheduler.add_job(
            self.run_due, "date", run_date=run_date, id=JOB_ID, replace_existing=True,
            misfire_grace_time=None, coalesce=True, max_instances=2,
        )

    async def run_due(self) -> int:
        """Claim and send everything due now; return how many messages were handed over."""
        handed = 0
        async with self._running:
            if self._sender is not None:
                leads = await asyncio.to_thread(self._sender.held)
                if leads and not self._sending:
                    # A sender that just died may have sent to a chat within the last second.
                    await asyncio.sleep(self._takeover_pause)
                self._sending = leads
                if not leads:
                    self._arm(standby=True)
                    return 0
            # Staff may have moved or cancelled events since the last run (or during downtime).
            # Database work runs in a worker thread so the event loop keeps sending meanwhile.
            await asyncio.to_thread(self._service.reconcile_if_changed, now=self._clock.now())
            while True:
                self._again = False
                batch = await asyncio.to_thread(self._service.due, self._clock.now(),
                                                limit=self._batch)
                for message in batch:
                    await self._deliverer.submit(message)
                handed += len(batch)
                if self._stopping or (not batch and not self._again):
                    break
            await self._deliverer.drain()
        self._arm()
        return handed
