"""Deliver claimed messages within Telegram's limits, and record each outcome in the database.

Exceptions a `Sender` raises (nothing else may escape it)::

    DeliveryError
    ├── RecipientBlocked   the user blocked the bot (403): unsubscribe them, never retry
    ├── RetryLater         flood control (429): wait `retry_after` seconds, then try again
    ├── TransientFailure   network trouble or a 5xx: retry a few times with back-off
    └── PermanentFailure   any other refusal (400 chat not found...): record it, never retry

Limits: about 25 messages per second overall and one per second per chat (aiolimiter leaky buckets),
one message in flight per chat, and at most `max_in_flight` in flight overall. A 429 pauses every
send for `retry_after` seconds, because Telegram's flood limits are not only per chat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from aiolimiter import AsyncLimiter

from reminders.clock import Clock

log = logging.getLogger(__name__)

_DIGEST_KEY = re.compile(r"^digest:\d+:")


def loggable_key(key: str) -> str:
    """Return a delivery key fit for a log line: no user id (a digest key holds one)."""
    return _DIGEST_KEY.sub("digest:<user>:", key)


@dataclass(frozen=True)
class Button:
    """An inline button: a callback (data <= 64 bytes) or a link."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One claimed message: text, optional .ics attachment, buttons, and its idempotency key."""

    key: str
    kind: str  # "reminder", "moved", "cancelled", "digest"
    user_id: int
    chat_id: int
    lang: str
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ics: bytes | None = None
    ics_filename: str | None = None
    due_at: dt.datetime | None = None
    reminder_id: int | None = None


class Sender(Protocol):
    """Sends one message to a chat (Telegram in production: `bot.reminders.TelegramSender`)."""

    async def send(self, message: OutgoingMessage) -> int | None:
        """Send `message`; return the platform's message id; raise a `DeliveryError` on failure."""
        ...


class DeliveryLedger(Protocol):
    """Where outcomes are written (the `ReminderService`)."""

    def mark_delivered(self, key: str, *, message_id: int | None = None) -> None:
        """Record that the message with `key` reached the user."""
        ...

    def mark_blocked(self, key: str) -> int:
        """Record that the user blocked the bot and unsubscribe them; return rows withdrawn."""
        ...

    def mark_failed(self, key: str, *, reason: str) -> None:
        """Record a permanent failure: the message is not retried."""
        ...

    def release(self, key: str, *, retry_at: dt.datetime) -> None:
        """Put a claimed message back in the queue, due again at `retry_at`."""
        ...


class DeliveryError(Exception):
    """Sending a message failed."""

    def __init__(self, message: str, *, chat_id: int) -> None:
        super().__init__(message)
        self.chat_id = chat_id


class RecipientBlocked(DeliveryError):
    """The user blocked the bot or deleted the chat."""


class RetryLater(DeliveryError):
    """Flood control: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, chat_id: int, retry_after: float) -> None:
        super().__init__(message, chat_id=chat_id)
        self.retry_after = retry_after


class TransientFailure(DeliveryError):
    """A network error or a server error: worth retrying."""


class PermanentFailure(DeliveryError):
    """A refusal that retrying will not fix."""


@dataclass
class _ChatState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_sent: float = float("-inf")


@dataclass
class DeliveryStats:
    """Counters since start (for logs and benchmarks)."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    released: int = 0
    retry_after_waits: int = 0
    retry_after_seconds: float = 0.0
    lateness: list[float] = field(default_factory=list)  # seconds between due and ack


class Deliverer:
    """Send messages concurrently within the rate limits and record each outcome once."""

    def __init__(
        self,
        *,
        sender: Sender,
        ledger: DeliveryLedger,
        clock: Clock,
        rate_per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        max_in_flight: int = 8,
        max_attempts: int = 4,
        release_delay: dt.timedelta = dt.timedelta(minutes=1),
        max_chats: int = 20_000,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second ({rate_per_second}) must be positive")
        if per_chat_interval <= 0:
            raise ValueError(f"per_chat_interval ({per_chat_interval}) must be positive")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight ({max_in_flight}) must be at least 1")
        self._sender = sender
        self._ledger = ledger
        self._clock = clock
        self._per_chat_interval = per_chat_interval
        self._max_attempts = max_attempts
        self._release_delay = release_delay
        self._max_chats = max_chats
        # A bucket of two sends refilled at `rate`: evenly spaced sends that can make up for a
        # short stall (a busy CPU) yet stay near the rate (rate + 2 at most in any second;
        # Telegram allows about 30). Database work stays off the event loop.
        self._global = AsyncLimiter(2, 2.0 / rate_per_second)
        # Per chat: a lock (one message in flight) and when the last one went out.
        self._chats: OrderedDict[int, _ChatState] = OrderedDict()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0  # loop time; a 429 pauses every send until then
        self.stats = DeliveryStats()

    async def submit(self, message: OutgoingMessage) -> None:
        """Start sending `message` as soon as an in-flight slot is free (waits for one)."""
        await self._slots.acquire()
        task = asyncio.create_task(self._deliver(message), name=f"deliver {message.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every submitted message has an outcome."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _chat(self, chat_id: int) -> _ChatState:
        entry = self._chats.get(chat_id)
        if entry is None:
            entry = _ChatState()
            self._chats[chat_id] = entry
            # Forget idle chats first so memory stays bounded; a busy chat's lock is kept.
            while len(self._chats) > self._max_chats:
                oldest, state = next(iter(self._chats.items()))
                if state.lock.locked():
                    break
                del self._chats[oldest]
        else:
            self._chats.move_to_end(chat_id)
        return entry

    async def _wait_if_paused(self) -> None:
        loop = asyncio.get_running_loop()
        while (delay := self._paused_until - loop.time()) > 0:
            await asyncio.sleep(delay)

    async def _global_slot(self) -> None:
        """Wait for a send slot; a slot taken while a 429 pause began is not used."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wait_if_paused()
            await self._global.acquire()
            if self._paused_until <= loop.time():
                return

    async def _deliver(self, message: OutgoingMessage) -> None:
        try:
            chat = self._chat(message.chat_id)
            async with chat.lock:
                await self._attempts(message, chat)
        except Exception:  # a bug must not lose the message: it goes back to the queue
            log.exception(
                "delivery of %s failed unexpectedly; released for a retry",
                loggable_key(message.key),
            )
            await self._release(message)
        finally:
            self._slots.release()

    async def _attempts(self, message: OutgoingMessage, chat: _ChatState) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(1, self._max_attempts + 1):
            # Spacing is measured between real sends (under the chat's lock), not reservations.
            while (wait := chat.last_sent + self._per_chat_interval - loop.time()) > 0:
                await asyncio.sleep(wait)
            await self._global_slot()
            chat.last_sent = loop.time()
            try:
                message_id = await self._sender.send(message)
            except RetryLater as error:
                self.stats.retry_after_waits += 1
                self.stats.retry_after_seconds += error.retry_after
                log.warning(
                    "flood control: waiting %.1f s (attempt %d of %s)",
                    error.retry_after, attempt, loggable_key(message.key),
                )
                self._paused_until = max(self._paused_until, loop.time() + error.retry_after)
                continue
            except RecipientBlocked:
                # Database work in a thread: a locked database must not stall the event loop.
                withdrawn = await asyncio.to_thread(self._ledger.mark_blocked, message.key)
                self.stats.blocked += 1
                log.info(
                    "a user blocked the bot: unsubscribed, %d pending messages withdrawn",
                    withdrawn,
                )
                return
            except PermanentFailure as error:
                await asyncio.to_thread(
                    self._ledger.mark_failed, message.key, reason=str(error)
                )
                self.stats.failed += 1
                log.warning(
                    "message %s refused for good: %s", loggable_key(message.key), error
                )
                return
            except TransientFailure as error:
                log.warning(
                    "message %s: %s (attempt %d)", loggable_key(message.key), error, attempt
                )
                await asyncio.sleep(min(2.0**attempt, 30.0))
                continue
            # The acknowledgement is one short transaction, in a thread to keep the loop free.
            await asyncio.to_thread(self._ledger.mark_delivered, message.key,
                                    message_id=message_id)
            self.stats.sent += 1
            if message.due_at is not None:
                lateness = (self._clock.now() - message.due_at).total_seconds()
                self.stats.lateness.append(lateness)
            return
        await self._release(message)

    async def _release(self, message: OutgoingMessage) -> None:
        self.stats.released += 1
        retry_at = self._clock.now() + self._release_delay
        await asyncio.to_thread(self._ledger.release, message.key, retry_at=retry_at)
