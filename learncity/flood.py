"""Per-user flood control: a leaky bucket per user (aiolimiter), and one "slow down" per burst."""

from __future__ import annotations

from collections import OrderedDict
from enum import StrEnum

from aiolimiter import AsyncLimiter


class Verdict(StrEnum):
    """What to do with a user's message."""

    ALLOW = "allow"
    WARN = "warn"  # over the limit: say "slow down" once
    DROP = "drop"  # still over the limit and already warned: stay quiet


class FloodControl:
    """Allow each user `max_messages` per `window_seconds` (bursts included), then warn once."""

    def __init__(
        self, *, max_messages: int, window_seconds: float, max_users: int = 10_000
    ) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages ({max_messages}) must be at least 1")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds ({window_seconds}) must be positive")
        self._max_messages = max_messages
        self._window = window_seconds
        self._max_users = max_users
        # Least recently seen users are evicted first, so memory stays bounded.
        self._limiters: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._warned: set[int] = set()

    async def check(self, user_id: int) -> Verdict:
        """Count one message from `user_id` and say whether to handle it."""
        limiter = self._limiters.get(user_id)
        if limiter is None:
            limiter = AsyncLimiter(self._max_messages, self._window)
            self._limiters[user_id] = limiter
            if len(self._limiters) > self._max_users:
                evicted, _ = self._limiters.popitem(last=False)
                self._warned.discard(evicted)
        else:
            self._limiters.move_to_end(user_id)
        if limiter.has_capacity():
            await limiter.acquire()  # has capacity, so this returns at once
            self._warned.discard(user_id)
            return Verdict.ALLOW
        if user_id in self._warned:
            return Verdict.DROP
        self._warned.add(user_id)
        return Verdict.WARN

    def forget(self, user_id: int) -> None:
        """Drop everything kept about `user_id`."""
        self._limiters.pop(user_id, None)
        self._warned.discard(user_id)
