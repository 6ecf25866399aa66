"""Records the emulator keeps: chats, messages the bot sent, API calls, stored files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """An error the emulator answers with, shaped like Telegram's ``{"ok": false, ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """Return the JSON body Telegram would send for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """Return a 400 error with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


class EmulatorTimeout(AssertionError):
    """Raised by ``wait_for`` when the bot did not send what a test waited for in time."""


@dataclass
class Chat:
    """A chat the emulator knows: private (id = user id), group, supergroup or channel."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Index into ``bot_messages`` at the moment of the latest user action (see ``wait_for``).
    cursor: int = 0
    bot_messages: list[BotMessage] = field(default_factory=list)
    #: Every edit the bot made in this chat (the message as it stands), oldest first.
    edit_log: list[BotMessage] = field(default_factory=list)
    edit_cursor: int = 0
    actions: list[str] = field(default_factory=list)

    def mark_user_action(self) -> None:
        """Start counting the bot's messages and edits from now (a user just did something)."""
        self.cursor = len(self.bot_messages)
        self.edit_cursor = len(self.edit_log)

    def as_dict(self) -> dict[str, Any]:
        """Return the Chat object as Telegram sends it."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "last_name", "username"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def take_message_id(self) -> int:
        """Return the next message id in this chat (shared by users and the bot)."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class BotMessage:
    """A message the bot sent, as it stands now (edits update ``data``; deletes set ``deleted``)."""

    chat_id: int
    message_id: int
    method: str
    data: dict[str, Any]
    #: The text or caption exactly as the bot passed it (before HTML parsing).
    source_text: str | None = None
    parse_mode: str | None = None
    #: The reply markup the bot sent (Telegram echoes only inline keyboards back in ``data``).
    markup: dict[str, Any] | None = None
    sent_at: float = 0.0
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        """Return the plain text (or caption) after entity parsing."""
        value = self.data.get("text", self.data.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def caption(self) -> str | None:
        """Return the caption of a document or photo."""
        value = self.data.get("caption")
        return value if isinstance(value, str) else None

    @property
    def entities(self) -> list[dict[str, Any]]:
        """Return the text or caption entities."""
        value = self.data.get("entities", self.data.get("caption_entities", []))
        return list(value)

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        """Return the reply markup the bot attached (inline or reply keyboard, or remove)."""
        return self.markup

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Return the inline keyboard buttons, row after row."""
        markup = self.markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    @property
    def button_texts(self) -> list[str]:
        """Return the texts of the inline keyboard buttons, row after row."""
        return [str(button["text"]) for button in self.buttons]

    @property
    def keyboard_texts(self) -> list[str]:
        """Return the texts of a reply keyboard's buttons, row after row."""
        markup = self.markup or {}
        return [
            button if isinstance(button, str) else str(button.get("text"))
            for row in markup.get("keyboard", [])
            for button in row
        ]

    def button(self, text: str) -> dict[str, Any]:
        """Return the inline button whose text contains ``text``."""
        for candidate in self.buttons:
            if text in str(candidate.get("text", "")):
                return candidate
        raise LookupError(
            f"no button containing {text!r} in message {self.message_id}: {self.button_texts}"
        )

    @property
    def document(self) -> dict[str, Any] | None:
        """Return the Document object, if the bot sent a file."""
        value = self.data.get("document")
        return value if isinstance(value, dict) else None

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        """Return the PhotoSize list, if the bot sent a photo."""
        value = self.data.get("photo")
        return value if isinstance(value, list) else None

    @property
    def location(self) -> dict[str, Any] | None:
        """Return the Location object, if the bot sent a location."""
        value = self.data.get("location")
        return value if isinstance(value, dict) else None


@dataclass
class ApiCall:
    """One request the bot made, with the outcome the emulator answered."""

    method: str
    params: dict[str, Any]
    at: float
    ok: bool = True
    error_code: int | None = None
    description: str | None = None
    chat_id: int | None = None


@dataclass
class StoredFile:
    """A file uploaded by the bot or sent by an emulated user."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def as_file(self) -> dict[str, Any]:
        """Return the File object ``getFile`` answers with."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }
