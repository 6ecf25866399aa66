"""Long polling: ``getUpdates`` waits for updates, and a newer call ends an older one."""

from __future__ import annotations

import contextlib
from typing import Any

from bot_api_emulator.protocol import Handler, Params
from bot_api_emulator.state import ApiError, EmulatorTimeout
from bot_api_emulator.transport.webhook_delivery import WebhookDelivery
from bot_api_emulator.updates import UPDATES
from bot_api_emulator.world import World


class LongPolling:
    """The ``getUpdates`` method, refused while a webhook is set."""

    def __init__(self, world: World, webhooks: WebhookDelivery) -> None:
        self._world = world
        self._webhooks = webhooks

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        return {"getupdates": self.get_updates}

    async def get_updates(self, params: Params) -> list[dict[str, Any]]:
        """Confirm updates before ``offset`` and return the pending ones, waiting if none."""
        if self._webhooks.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        updates = self._world.updates
        offset = params.get_int("offset")
        limit = params.get_int("limit") or 100
        if not 1 <= limit <= 100:
            limit = 100
        timeout = max(0.0, params.get_float("timeout") or 0.0)
        updates.set_allowed(params.get_json("allowed_updates"))
        if offset is not None:
            updates.confirm(offset)
        updates.drop_disallowed()
        generation = updates.new_poll()
        if not updates.pending and timeout > 0 and not self._world.closing:
            await self._wait(generation, timeout)
            updates.drop_disallowed()
        return updates.pending[:limit]

    async def _wait(self, generation: int, timeout: float) -> None:
        """Wait for an update, the end of the emulator, or a newer poll (409, as on Telegram)."""
        updates = self._world.updates

        def arrived() -> bool:
            return (
                bool(updates.pending)
                or self._world.closing
                or generation != updates.poll_generation
            )

        with contextlib.suppress(EmulatorTimeout):
            await self._world.waiters.wait_until(arrived, timeout=timeout, topic=UPDATES)
        if generation != updates.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
