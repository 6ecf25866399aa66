"""Emulated Telegram users: each helper queues the update a real client would cause."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot_api_emulator import media
from bot_api_emulator.entities import detect_entities, utf16_len
from bot_api_emulator.state import BotMessage, Chat, StoredFile

MessageRef = BotMessage | dict[str, Any] | int


class UserSide(Protocol):
    """What an emulated user needs of the emulator (``BotApiEmulator`` provides it)."""

    @property
    def bot_username(self) -> str:
        """Return the bot's username (without ``@``)."""
        ...

    def chat(self, chat_id: int) -> Chat:
        """Return a known chat."""
        ...

    def new_user_message(
        self, chat: Chat, sender: dict[str, Any] | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a message a user wrote and return its Message object."""
        ...

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for the bot and return it."""
        ...

    def new_callback_query(
        self, user: EmulatedUser, message: dict[str, Any], data: str | None
    ) -> dict[str, Any]:
        """Queue a ``callback_query`` for a button press and return the update."""
        ...

    def store_file(
        self,
        content: bytes,
        *,
        folder: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        extension: str = "",
    ) -> StoredFile:
        """Keep ``content`` as a file the bot can fetch."""
        ...

    def next_id(self) -> int:
        """Return a fresh number for ids."""
        ...

    def now_timestamp(self) -> int:
        """Return the emulator's time as a Unix timestamp."""
        ...

    async def wait_for(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float | None = None,
        predicate: Callable[[BotMessage], bool] | None = None,
    ) -> list[BotMessage]:
        """Wait for the bot's messages in a chat."""
        ...

    def sent_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[BotMessage]:
        """Return the messages the bot sent to a chat."""
        ...


class EmulatedUser:
    """A Telegram user talking to the bot; by default in their private chat."""

    def __init__(
        self,
        *,
        emulator: UserSide,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    def __repr__(self) -> str:
        return f"EmulatedUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        """Return the id of the private chat with the bot (equal to the user id)."""
        return self.id

    def as_user(self) -> dict[str, Any]:
        """Return the User object Telegram puts in ``from``."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    # ------------------------------------------------------------------ sending

    def _chat(self, chat: Chat | int | None) -> Chat:
        if chat is None:
            return self.emulator.chat(self.id)
        if isinstance(chat, Chat):
            return chat
        return self.emulator.chat(chat)

    async def send(
        self,
        content: dict[str, Any],
        *,
        chat: Chat | int | None = None,
        reply_to: MessageRef | None = None,
    ) -> dict[str, Any]:
        """Send a message with arbitrary content fields and return the ``message`` update."""
        target = self._chat(chat)
        if reply_to is not None:
            content = {**content, "reply_to_message": self._message_dict(target, reply_to)}
        message = self.emulator.new_user_message(target, self.as_user(), content)
        return self.emulator.push_update("message", message)

    async def send_text(
        self,
        text: str,
        *,
        chat: Chat | int | None = None,
        reply_to: MessageRef | None = None,
        entities: Sequence[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send a text message and return the update.

        Like Telegram's servers, finds commands, mentions, links, e-mails and hashtags in the
        text unless ``entities`` is given (pass ``[]`` for none).
        """
        content: dict[str, Any] = {"text": text}
        found = detect_entities(text) if entities is None else list(entities)
        if found:
            content["entities"] = found
        return await self.send(content, chat=chat, reply_to=reply_to)

    async def send_command(
        self,
        command: str,
        args: str = "",
        *,
        chat: Chat | int | None = None,
        mention: bool | None = None,
    ) -> dict[str, Any]:
        """Send ``/command args`` with a bot_command entity (``/cmd@bot`` in groups)."""
        name = command.lstrip("/")
        target = self._chat(chat)
        if mention or (mention is None and target.type != "private"):
            name = f"{name}@{self.emulator.bot_username}"
        head = "/" + name
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
        return await self.send_text(text, chat=target, entities=[entity])

    async def reply(
        self, to: MessageRef, text: str, *, chat: Chat | int | None = None
    ) -> dict[str, Any]:
        """Reply to a message (the bot's or anyone's) with text."""
        return await self.send_text(text, chat=chat, reply_to=to)

    async def send_location(
        self, latitude: float, longitude: float, *, chat: Chat | int | None = None
    ) -> dict[str, Any]:
        """Share a location."""
        return await self.send(
            {"location": {"latitude": latitude, "longitude": longitude}}, chat=chat
        )

    async def send_sticker(
        self, emoji: str = "👍", *, chat: Chat | int | None = None
    ) -> dict[str, Any]:
        """Send a sticker."""
        stored = self.emulator.store_file(
            b"RIFF\x00\x00\x00\x00WEBP", folder="stickers", extension=".webp"
        )
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self.send({"sticker": sticker}, chat=chat)

    async def send_voice(
        self, duration: int = 3, data: bytes = b"OggS\x00voice", *, chat: Chat | int | None = None
    ) -> dict[str, Any]:
        """Send a voice note."""
        stored = self.emulator.store_file(
            data, folder="voice", mime_type="audio/ogg", extension=".oga"
        )
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return await self.send({"voice": voice}, chat=chat)

    async def send_photo(
        self,
        data: bytes = media.TINY_PNG,
        *,
        caption: str | None = None,
        chat: Chat | int | None = None,
    ) -> dict[str, Any]:
        """Send a photo (a 1x1 PNG by default)."""
        stored = self.emulator.store_file(data, folder="photos", extension=".jpg")
        width, height = media.image_size(data) or (1, 1)
        content: dict[str, Any] = {
            "photo": [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            ]
        }
        if caption:
            content["caption"] = caption
        return await self.send(content, chat=chat)

    async def send_document(
        self,
        file_name: str = "notes.txt",
        data: bytes = b"hello",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: Chat | int | None = None,
    ) -> dict[str, Any]:
        """Send a file."""
        mime = mime_type or media.guess_mime(file_name) or "application/octet-stream"
        stored = self.emulator.store_file(
            data, folder="documents", file_name=file_name, mime_type=mime
        )
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime,
            "file_size": len(data),
        }
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return await self.send(content, chat=chat)

    async def send_contact(
        self,
        phone_number: str = "+39 06 0000000",
        first_name: str = "Mario",
        *,
        chat: Chat | int | None = None,
    ) -> dict[str, Any]:
        """Share a contact."""
        contact = {"phone_number": phone_number, "first_name": first_name}
        return await self.send({"contact": contact}, chat=chat)

    async def send_poll(
        self,
        question: str = "Which day?",
        options: Sequence[str] = ("Mon", "Tue"),
        *,
        chat: Chat | int | None = None,
    ) -> dict[str, Any]:
        """Send a poll."""
        number = self.emulator.next_id()
        poll = {
            "id": f"poll{number}",
            "question": question,
            "options": [
                {"text": option, "voter_count": 0, "persistent_id": str(index)}
                for index, option in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        return await self.send({"poll": poll}, chat=chat)

    async def edit_message(
        self, message: MessageRef, text: str, *, chat: Chat | int | None = None
    ) -> dict[str, Any]:
        """Edit one of this user's messages and return the ``edited_message`` update."""
        target = self._chat(chat)
        original = self._message_dict(target, message)
        edited = {**original, "text": text, "edit_date": self.emulator.now_timestamp()}
        edited.pop("entities", None)
        if found := detect_entities(text):
            edited["entities"] = found
        target.messages[edited["message_id"]] = edited
        target.mark_user_action()
        return self.emulator.push_update("edited_message", edited)

    async def press(
        self,
        message: MessageRef,
        button: str | None = None,
        *,
        data: str | None = None,
        chat: Chat | int | None = None,
    ) -> dict[str, Any]:
        """Press an inline button (found by its text) or send forged callback ``data``.

        Returns the ``callback_query`` update; its ``["callback_query"]["id"]`` is what
        ``emulator.wait_for_callback_answer`` takes.
        """
        target = self._chat(chat)
        current = self._message_dict(target, message)
        if data is None:
            if button is None:
                raise ValueError("press() needs a button text or callback data")
            rows = (current.get("reply_markup") or {}).get("inline_keyboard", [])
            for row in rows:
                for candidate in row:
                    if button in str(candidate.get("text", "")) and "callback_data" in candidate:
                        data = str(candidate["callback_data"])
                        break
                if data is not None:
                    break
            else:
                texts = [b.get("text") for row in rows for b in row]
                raise LookupError(
                    f"no callback button containing {button!r} in message "
                    f"{current['message_id']}: {texts}"
                )
        return self.emulator.new_callback_query(self, current, data)

    async def wait_for(
        self,
        count: int = 1,
        timeout: float | None = None,
        predicate: Callable[[BotMessage], bool] | None = None,
    ) -> list[BotMessage]:
        """Wait for the bot's replies in this user's private chat (see the emulator's)."""
        return await self.emulator.wait_for(self.id, count, timeout, predicate)

    @property
    def messages(self) -> list[BotMessage]:
        """Return what the bot sent to this user's private chat."""
        return self.emulator.sent_messages(self.id)

    def _message_dict(self, chat: Chat, ref: MessageRef) -> dict[str, Any]:
        if isinstance(ref, BotMessage):
            message_id = ref.message_id
        elif isinstance(ref, dict):
            inner = ref.get("message") or ref.get("edited_message") or ref
            message_id = int(inner["message_id"])
        else:
            message_id = int(ref)
        try:
            return chat.messages[message_id]
        except KeyError:
            # A deleted or unknown message reaches the bot as an InaccessibleMessage (date 0).
            return {"message_id": message_id, "date": 0, "chat": chat.as_dict()}
