"""The webhook methods: ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``."""

from __future__ import annotations

import re
from typing import Any

from bot_api_emulator.protocol import Handler, Params
from bot_api_emulator.state import bad_request
from bot_api_emulator.transport.webhook_delivery import Webhook, WebhookDelivery
from bot_api_emulator.updates import UPDATES
from bot_api_emulator.world import World

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class WebhookMethods:
    """Setting, removing and describing the webhook that ``WebhookDelivery`` posts to."""

    def __init__(self, world: World, delivery: WebhookDelivery) -> None:
        self._world = world
        self._delivery = delivery

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        return {
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
        }

    async def set_webhook(self, params: Params) -> bool:
        """Deliver updates to ``url`` from now on (an empty URL removes the webhook)."""
        url = params.get_str("url") or ""
        if not url:
            return await self.delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        updates = self._world.updates
        updates.set_allowed(params.get_json("allowed_updates"))
        if params.get_bool("drop_pending_updates"):
            updates.clear()
        max_connections = params.get_int("max_connections") or 40
        self._delivery.set(Webhook(url, secret, max_connections))
        updates.new_poll()
        return True

    async def delete_webhook(self, params: Params) -> bool:
        """Stop webhook delivery (and drop pending updates if asked)."""
        self._delivery.remove()
        if params.get_bool("drop_pending_updates"):
            self._world.updates.clear()
        self._world.notify(UPDATES)
        return True

    async def get_webhook_info(self, params: Params) -> dict[str, Any]:
        """Describe the webhook, the pending updates and the latest delivery error."""
        webhook = self._delivery.webhook
        updates = self._world.updates
        info: dict[str, Any] = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(updates.pending),
        }
        if webhook:
            info["max_connections"] = webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if updates.allowed:
                info["allowed_updates"] = updates.allowed
        if self._delivery.last_error:
            info["last_error_date"], info["last_error_message"] = self._delivery.last_error
        return info
