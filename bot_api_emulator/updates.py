"""The queue of updates the bot has not confirmed yet, and which kinds it asked for."""

from __future__ import annotations

import itertools
from typing import Any

from bot_api_emulator.waiters import Waiters

#: The waiting topic woken when updates arrive, are confirmed, or the way they leave changes.
UPDATES = "updates"
#: Update types Telegram sends when ``allowed_updates`` is empty or was never set.
_DEFAULT_EXCLUDED_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}


class UpdateQueue:
    """Pending updates in order, filtered by ``allowed_updates``, shared by polling and webhooks."""

    def __init__(self, waiters: Waiters) -> None:
        self._waiters = waiters
        self._ids = itertools.count(1)
        self.pending: list[dict[str, Any]] = []
        self.allowed: list[str] = []
        #: Bumped by every getUpdates and setWebhook: a newer poll ends an older one.
        self.poll_generation = 0

    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update of the given type and return it."""
        update = {"update_id": next(self._ids), kind: payload}
        self.pending.append(update)
        self._waiters.notify(UPDATES)
        return update

    def set_allowed(self, allowed: object) -> None:
        """Remember the ``allowed_updates`` a request gave, if it gave a list."""
        if isinstance(allowed, list):
            self.allowed = [str(kind) for kind in allowed]

    def confirm(self, offset: int) -> None:
        """Forget updates before ``offset`` (a negative offset keeps the last ``-offset``)."""
        if offset < 0:
            self.pending = self.pending[offset:]
        else:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]

    def drop_disallowed(self) -> None:
        """Forget pending updates of kinds the bot did not ask for."""
        self.pending = [u for u in self.pending if self._is_allowed(u)]

    def clear(self) -> None:
        """Forget every pending update (``drop_pending_updates``)."""
        self.pending.clear()

    def remove_delivered(self, update: dict[str, Any]) -> None:
        """Forget ``update`` if it is still the first pending one."""
        if self.pending and self.pending[0] is update:
            self.pending.pop(0)

    def remove(self, update: dict[str, Any]) -> None:
        """Forget ``update`` wherever it is in the queue (delivered out of turn)."""
        self.pending = [pending for pending in self.pending if pending is not update]

    def new_poll(self) -> int:
        """Start a new poll generation (ending a waiting getUpdates) and return it."""
        self.poll_generation += 1
        self._waiters.notify(UPDATES)
        return self.poll_generation

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed:
            return kind in self.allowed
        return kind not in _DEFAULT_EXCLUDED_UPDATES
