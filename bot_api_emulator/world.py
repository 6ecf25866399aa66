"""What the emulated Telegram holds for one bot: chats, messages, files, calls and updates.

Every method group and the transport share one ``World``; the operations here keep its parts
consistent (a stored message wakes the chat's waiters, a button press queues an update).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot_api_emulator.protocol import Params, maybe_int
from bot_api_emulator.send_log import SendLog
from bot_api_emulator.state import ApiCall, BotMessage, Chat, StoredFile, bad_request
from bot_api_emulator.updates import UpdateQueue
from bot_api_emulator.waiters import Waiters

DEFAULT_TOKEN = "123456789:TEST-emulator-token"

Clock = Callable[[], datetime]


class World:
    """The state of the emulated Telegram for one bot token."""

    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_first_name: str,
        clock: Clock | None,
        monotonic: Callable[[], float],
    ) -> None:
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            raise ValueError(f"token {token!r} must look like '<bot id>:<secret>'")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self.chats: dict[int, Chat] = {}
        self.calls: list[ApiCall] = []
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        #: Answers to callback queries by query id (text, show_alert, url, cache_time).
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.waiters = Waiters()
        self.updates = UpdateQueue(self.waiters)
        self.send_log = SendLog()
        #: Set when the emulator stops: long polls and webhook delivery end.
        self.closing = False
        self._ids = itertools.count(1)

    @property
    def bot_user(self) -> dict[str, Any]:
        """Return the bot's User object (the ``from`` of every message it sends)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def now_timestamp(self) -> int:
        """Return the injected clock's time as a Unix timestamp (message dates)."""
        return int(self.clock().timestamp())

    def next_id(self) -> int:
        """Return a fresh number for ids (files, polls, callback queries)."""
        return next(self._ids)

    def notify(self, topic: object = None) -> None:
        """Wake waiters on ``topic`` and the ones waiting for any change (all if None)."""
        self.waiters.notify(topic)

    # ------------------------------------------------------------------ chats

    def chat(self, chat_id: int) -> Chat:
        """Return a known chat."""
        try:
            return self.chats[chat_id]
        except KeyError:
            raise KeyError(f"no chat with id {chat_id}") from None

    def find_chat(self, params: Params, name: str = "chat_id") -> Chat:
        """Return the chat a request names by id or ``@username``, or answer "chat not found"."""
        raw = params.values.get(name)
        if raw is None or raw == "":
            raise bad_request(f"{name} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for known in self.chats.values():
                if known.username and "@" + known.username.lower() == raw.lower():
                    return known
            raise bad_request("chat not found")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    # ------------------------------------------------------------------ files

    def store_file(
        self,
        content: bytes,
        *,
        folder: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        extension: str = "",
    ) -> StoredFile:
        """Keep ``content`` as a file the bot can fetch with ``getFile``."""
        number = self.next_id()
        digest = hashlib.sha1(content).hexdigest()[:16]
        if not extension and file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=f"BQAC{number:06d}{digest}",
            file_unique_id=f"AgAD{digest[:12]}",
            file_path=f"{folder}/file_{number}{extension}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    # ------------------------------------------------------- what users do

    def new_user_message(
        self, chat: Chat, sender: dict[str, Any] | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a message a user (or channel) wrote and return its Message object."""
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "date": self.now_timestamp(),
            "chat": chat.as_dict(),
        }
        if sender is not None:
            message["from"] = sender
        elif chat.type == "channel":
            message["sender_chat"] = chat.as_dict()
        message.update(content)
        chat.messages[message["message_id"]] = message
        chat.mark_user_action()
        return message

    def new_callback_query(
        self, sender: dict[str, Any], message: dict[str, Any], data: str | None
    ) -> dict[str, Any]:
        """Queue a ``callback_query`` from ``sender`` for a button press and return the update."""
        query_id = str(self.next_id() * 7919 + 1_000_000)
        query: dict[str, Any] = {
            "id": query_id,
            "from": sender,
            "message": message,
            "chat_instance": str(abs(message["chat"]["id"]) * 31 + 17),
        }
        if data is not None:
            query["data"] = data
        self.callback_queries[query_id] = query
        self.chats[message["chat"]["id"]].mark_user_action()
        return self.updates.push("callback_query", query)

    # -------------------------------------------------------- what the bot does

    def record_bot_message(
        self,
        chat: Chat,
        method: str,
        content: dict[str, Any],
        params: Params,
        *,
        source_key: str,
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Store a message the bot sent with ``method`` and return its Message object."""
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": self.bot_user,
            "chat": chat.as_dict(),
            "date": self.now_timestamp(),
        }
        replied = _replied_message(params, chat)
        if replied is not None:
            message["reply_to_message"] = replied
        message.update(content)
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        chat.messages[message["message_id"]] = message
        now = self.monotonic()
        chat.bot_messages.append(
            BotMessage(
                chat_id=chat.id,
                message_id=message["message_id"],
                method=method,
                data=message,
                source_text=params.get_str(source_key),
                parse_mode=params.get_str("parse_mode"),
                markup=markup,
                sent_at=now,
            )
        )
        self.send_log.record(now, chat.id, method)
        self.notify(chat.id)
        return message


def _replied_message(params: Params, chat: Chat) -> dict[str, Any] | None:
    """Return the message a send replies to (``reply_parameters`` or the legacy field)."""
    reply = params.get_json("reply_parameters")
    message_id: int | None = None
    allow_missing = params.get_bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        message_id = maybe_int(reply.get("message_id"))
        allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
    elif params.has("reply_to_message_id"):
        message_id = params.get_int("reply_to_message_id")
    if message_id is None:
        return None
    target = chat.messages.get(message_id)
    if target is None:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return {k: v for k, v in target.items() if k != "reply_to_message"}
