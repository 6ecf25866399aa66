"""Webhook delivery: POST each pending update, in order, to the bot's URL; retry failures.

With ``targets`` (a list of URLs) the emulator plays a load balancer in front of several replicas
of the bot: the URL the bot set is recorded but each update goes to the next target round-robin;
a target that refuses the connection or answers an error is skipped for this update (the next
one gets it, as a balancer's failover does) and left out of the rotation for ``down_for``
seconds (a passive health check), then tried again. An update that no
target takes is retried after ``retry_delay``, as Telegram does. Like Telegram, up to the
webhook's ``max_connections`` updates are in flight at once, but only one per chat: a chat's next
update is posted once the previous one was accepted (the bot may still be handling it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout

from bot_api_emulator.state import EmulatorTimeout
from bot_api_emulator.updates import UPDATES
from bot_api_emulator.world import World

_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Webhook:
    """Where the bot asked updates to go (``setWebhook``)."""

    url: str
    secret_token: str | None
    max_connections: int

    def as_dict(self) -> dict[str, Any]:
        """Return the webhook as tests read it (``emulator.webhook``)."""
        return {
            "url": self.url,
            "secret_token": self.secret_token,
            "max_connections": self.max_connections,
        }


class WebhookDelivery:
    """One task posting the queue's updates to the webhook while one is set."""

    def __init__(
        self, world: World, *, retry_delay: float, targets: list[str] | None = None
    ) -> None:
        self._world = world
        self._retry_delay = retry_delay
        #: The balancer's targets (empty: post to the webhook's own URL).
        self.targets: list[str] = list(targets or [])
        #: How many updates each target accepted, by URL.
        self.delivered_to: dict[str, int] = {}
        #: Seconds a target that failed is left out of the rotation.
        self.down_for = 5.0
        self._down_until: dict[str, float] = {}
        self._next = 0
        self.webhook: Webhook | None = None
        #: (Unix time, message) of the latest failed delivery, as getWebhookInfo reports it.
        self.last_error: tuple[int, str] | None = None
        self._task: asyncio.Task[None] | None = None

    def set(self, webhook: Webhook) -> None:
        """Deliver to ``webhook`` from now on (starting the delivery task if needed)."""
        self.webhook = webhook
        self.last_error = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver())

    def remove(self) -> None:
        """Stop delivering (the task ends by itself); updates wait for getUpdates again."""
        self.webhook = None

    async def stop(self) -> None:
        """Cancel the delivery task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _deliver(self) -> None:
        if self.targets:
            await self._deliver_balanced()
            return
        updates = self._world.updates
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while self.webhook is not None and not self._world.closing:
                updates.drop_disallowed()
                if not updates.pending:
                    await self._wait_for_updates()
                    continue
                update = updates.pending[0]
                error = await self._post(session, self.webhook, update)
                if error is None:
                    updates.remove_delivered(update)
                    self._world.notify(UPDATES)
                else:
                    self.last_error = (self._world.now_timestamp(), error)
                    self._world.notify(UPDATES)
                    await asyncio.sleep(self._retry_delay)

    async def _deliver_balanced(self) -> None:
        """Post pending updates concurrently (one per chat at a time) over the targets."""
        updates = self._world.updates
        flying: dict[asyncio.Task[str | None], tuple[dict[str, Any], object]] = {}
        not_before: dict[int, float] = {}  # update_id -> when a failed one may be tried again
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            try:
                while self.webhook is not None and not self._world.closing:
                    updates.drop_disallowed()
                    webhook = self.webhook
                    busy = {chat for _, chat in flying.values()}
                    now = time.monotonic()
                    for update in list(updates.pending):
                        if len(flying) >= max(1, webhook.max_connections):
                            break
                        chat = _chat_of(update)
                        if chat in busy:
                            continue
                        busy.add(chat)  # later updates of this chat wait for this one
                        if not_before.get(update["update_id"], 0.0) > now or any(
                            sent is update for sent, _ in flying.values()
                        ):
                            continue
                        task = asyncio.create_task(self._post(session, webhook, update))
                        flying[task] = (update, chat)
                    if not flying:
                        if updates.pending:
                            await asyncio.sleep(self._retry_delay / 4)
                        else:
                            await self._wait_for_updates()
                        continue
                    done, _ = await asyncio.wait(
                        flying, timeout=0.05, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        update, _ = flying.pop(task)
                        error = task.result()
                        if error is None:
                            updates.remove(update)
                            not_before.pop(update["update_id"], None)
                        else:
                            self.last_error = (self._world.now_timestamp(), error)
                            not_before[update["update_id"]] = time.monotonic() + self._retry_delay
                        self._world.notify(UPDATES)
            finally:
                for task in flying:
                    task.cancel()
                await asyncio.gather(*flying, return_exceptions=True)

    async def _wait_for_updates(self) -> None:
        def ready() -> bool:
            return bool(self._world.updates.pending) or self.webhook is None or self._world.closing

        with contextlib.suppress(EmulatorTimeout):
            await self._world.waiters.wait_until(ready, timeout=1.0, topic=UPDATES)

    async def _post(
        self, session: ClientSession, webhook: Webhook, update: dict[str, Any]
    ) -> str | None:
        """POST one update (to the next target that takes it); None when delivered, else why not."""
        if not self.targets:
            return await self._post_to(session, webhook.url, webhook, update)
        error: str | None = "no webhook target"
        targets = list(self.targets)
        now = time.monotonic()
        up = [url for url in targets if self._down_until.get(url, 0.0) <= now] or targets
        first = self._next % len(up)
        self._next = first + 1  # taken now: posts in flight at once go to different targets
        for attempt in range(len(up)):
            url = up[(first + attempt) % len(up)]
            error = await self._post_to(session, url, webhook, update)
            if error is None:
                self.delivered_to[url] = self.delivered_to.get(url, 0) + 1
                break
            # A passive health check, as nginx's max_fails=1: left out for a while.
            self._down_until[url] = time.monotonic() + self.down_for
        return error

    async def _post_to(
        self, session: ClientSession, url: str, webhook: Webhook, update: dict[str, Any]
    ) -> str | None:
        headers = {_SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        try:
            async with session.post(url, json=update, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except Exception as exc:  # any failure is reported like Telegram does
            return f"Connection failed: {type(exc).__name__}"


def _chat_of(update: dict[str, Any]) -> object:
    """Return what orders an update: its chat (or sender) id, else the update itself."""
    for key, value in update.items():
        if key == "update_id" or not isinstance(value, dict):
            continue
        message = value.get("message") if isinstance(value.get("message"), dict) else value
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        sender = value.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return sender["id"]
    return update["update_id"]
