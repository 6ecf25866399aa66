"""Chat methods: ``getChat`` and ``sendChatAction`` (typing..., uploading...)."""

from __future__ import annotations

from typing import Any

from bot_api_emulator.protocol import Handler, Params
from bot_api_emulator.state import bad_request
from bot_api_emulator.world import World

_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}


class ChatMethods:
    """Describing a chat and showing the bot's activity in it."""

    def __init__(self, world: World) -> None:
        self._world = world

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        return {"getchat": self.get_chat, "sendchataction": self.send_chat_action}

    async def get_chat(self, params: Params) -> dict[str, Any]:
        """Return the ChatFullInfo of a known chat."""
        chat = self._world.find_chat(params)
        return {
            **chat.as_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def send_chat_action(self, params: Params) -> bool:
        """Record a chat action such as ``typing``."""
        chat = self._world.find_chat(params)
        action = params.get_str("action", required=True)
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action or "")
        self._world.notify(chat.id)
        return True
