"""Text messages: ``sendMessage``, the three ``editMessage*`` methods and ``deleteMessage``."""

from __future__ import annotations

from typing import Any

from bot_api_emulator.protocol import (
    MAX_CAPTION,
    MAX_TEXT,
    Handler,
    Params,
    format_text,
    parse_markup,
)
from bot_api_emulator.state import BotMessage, Chat, bad_request
from bot_api_emulator.world import World

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class MessageMethods:
    """Sending, editing and deleting the bot's messages."""

    def __init__(self, world: World) -> None:
        self._world = world

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        return {
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "editmessagecaption": self.edit_message_caption,
            "deletemessage": self.delete_message,
        }

    async def send_message(self, params: Params) -> dict[str, Any]:
        """Send a text message (HTML parsed, limits checked)."""
        chat = self._world.find_chat(params)
        text, entities = format_text(params, "text", "entities", MAX_TEXT, required=True)
        markup = parse_markup(params)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._world.record_bot_message(
            chat, "sendMessage", content, params, source_key="text", markup=markup
        )

    async def edit_message_text(self, params: Params) -> dict[str, Any]:
        """Replace a text message's text (and its inline keyboard)."""
        chat, sent = self._bot_message(params, verb="edit")
        text, entities = format_text(params, "text", "entities", MAX_TEXT, required=True)
        markup = parse_markup(params)
        if "text" not in sent.data:
            raise bad_request("there is no text in the message to edit")
        changes = {"text": text, "entities": entities or None}
        if not entities and "entities" not in sent.data:
            changes.pop("entities")
        return self._apply_edit(chat, sent, changes, markup, params, "text")

    async def edit_message_caption(self, params: Params) -> dict[str, Any]:
        """Replace a media message's caption (and its inline keyboard)."""
        chat, sent = self._bot_message(params, verb="edit")
        caption, entities = format_text(
            params, "caption", "caption_entities", MAX_CAPTION, required=False
        )
        markup = parse_markup(params)
        changes: dict[str, Any] = {"caption": caption, "caption_entities": entities or None}
        return self._apply_edit(chat, sent, changes, markup, params, "caption")

    async def edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        """Replace (or remove) a message's inline keyboard."""
        chat, sent = self._bot_message(params, verb="edit")
        markup = parse_markup(params)
        return self._apply_edit(chat, sent, {}, markup, params, None)

    async def delete_message(self, params: Params) -> bool:
        """Delete a message from a chat (the bot's are kept, marked deleted)."""
        chat = self._world.find_chat(params)
        message_id = params.get_int("message_id", required=True)
        if message_id not in chat.messages:
            raise bad_request("message to delete not found")
        del chat.messages[message_id]
        for sent in chat.bot_messages:
            if sent.message_id == message_id:
                sent.deleted = True
        self._world.notify(chat.id)
        return True

    def _bot_message(self, params: Params, *, verb: str) -> tuple[Chat, BotMessage]:
        """Return the bot's message a request names, or Telegram's error for it."""
        if params.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._world.find_chat(params)
        message_id = params.get_int("message_id", required=True)
        for sent in reversed(chat.bot_messages):
            if sent.message_id == message_id and not sent.deleted:
                return chat, sent
        if message_id in chat.messages:
            raise bad_request(f"message can't be {verb}ed")
        raise bad_request(f"message to {verb} not found")

    def _apply_edit(
        self,
        chat: Chat,
        sent: BotMessage,
        changes: dict[str, Any],
        markup: dict[str, Any] | None,
        params: Params,
        source_key: str | None,
    ) -> dict[str, Any]:
        """Apply ``changes`` and the new inline keyboard, keeping the old version in ``edits``."""
        old_inline = sent.data.get("reply_markup")
        new_inline = markup if markup is not None and "inline_keyboard" in markup else None
        if all(sent.data.get(k) == v for k, v in changes.items()) and old_inline == new_inline:
            raise bad_request(_NOT_MODIFIED)
        sent.edits.append(dict(sent.data))
        data = _edited(sent.data, changes, new_inline)
        data["edit_date"] = self._world.now_timestamp()
        sent.data = data
        sent.markup = new_inline
        chat.edit_log.append(sent)
        if source_key is not None:
            sent.source_text = params.get_str(source_key)
            sent.parse_mode = params.get_str("parse_mode")
        chat.messages[sent.message_id] = data
        self._world.notify(chat.id)
        return data


def _edited(
    data: dict[str, Any], changes: dict[str, Any], inline: dict[str, Any] | None
) -> dict[str, Any]:
    """Return a copy of a message with ``changes`` applied (None or [] removes a field)."""
    edited = dict(data)
    for key, value in changes.items():
        if value in (None, []):
            edited.pop(key, None)
        else:
            edited[key] = value
    if inline is None:
        edited.pop("reply_markup", None)
    else:
        edited["reply_markup"] = inline
    return edited
