"""The wire side of the Bot API: reading parameters, checking text and keyboards, answering."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from bot_api_emulator import media
from bot_api_emulator.entities import EntityParseError, parse_html, utf16_len
from bot_api_emulator.state import bad_request

N = TypeVar("N", int, float)

MAX_TEXT = 4096
MAX_CAPTION = 1024

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class Params:
    """Request parameters from JSON, form or multipart bodies, converted on access."""

    def __init__(self, values: dict[str, Any], files: dict[str, media.Upload]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        """Return whether the request carries a value or a file under ``name``."""
        return name in self.values or name in self.files

    def get_str(self, name: str, *, required: bool = False, empty: str | None = None) -> str | None:
        """Return a parameter as text (None when absent or empty, 400 if ``required``)."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(empty or f"{name} is empty")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def get_int(self, name: str, *, required: bool = False) -> int | None:
        """Return a parameter as an integer (400 if it is not one)."""
        return self._get_number(name, int, required=required)

    def get_float(self, name: str, *, required: bool = False) -> float | None:
        """Return a parameter as a float (400 if it is not one)."""
        return self._get_number(name, float, required=required)

    def _get_number(self, name: str, kind: Callable[[Any], N], *, required: bool) -> N | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        """Return a parameter as a boolean ("true"/"1" in forms)."""
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in {"true", "1"}
        return bool(value)

    def get_json(self, name: str, *, error: str | None = None) -> Any:
        """Return a JSON-valued parameter, decoding it when it came as form text."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        return value


#: A Bot API method: the request's parameters in, the ``result`` out (or an ``ApiError``).
Handler = Callable[[Params], Awaitable[Any]]


def format_text(
    params: Params, text_key: str, entities_key: str, limit: int, *, required: bool
) -> tuple[str | None, list[dict[str, Any]]]:
    """Return the plain text and entities of a text or caption parameter."""
    source = params.get_str(text_key)
    if source is None:
        if required:
            raise bad_request("message text is empty")
        return None, []
    parse_mode = (params.get_str("parse_mode") or "").lower()
    if parse_mode == "html":
        try:
            text, entities = parse_html(source)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    elif parse_mode in {"", "markdown", "markdownv2"}:
        # Markdown is passed through unparsed: the bot uses HTML.
        text = source
        raw_entities = params.get_json(entities_key)
        entities = list(raw_entities) if isinstance(raw_entities, list) else []
    else:
        raise bad_request("unsupported parse_mode")
    if not text.strip():
        if required:
            raise bad_request("message text is empty")
        return None, []
    text, entities = strip_text(text, entities)
    if utf16_len(text) > limit:
        raise bad_request(
            "message is too long" if text_key == "text" else "message caption is too long"
        )
    return text, entities


def parse_markup(params: Params) -> dict[str, Any] | None:
    """Return the validated ``reply_markup``, or None when there is none."""
    markup = params.get_json("reply_markup", error="can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'can\'t parse inline keyboard button: field "inline_keyboard" '
                "of the InlineKeyboardMarkup must be an Array of Arrays"
            )
        for row in rows:
            for button in row:
                check_inline_button(button)
        if sum(len(r) for r in rows) > 100:
            raise bad_request("reply markup is too long")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                text = (
                    button
                    if isinstance(button, str)
                    else (button.get("text") if isinstance(button, dict) else None)
                )
                if not isinstance(text, str) or not text:
                    raise bad_request("can't parse keyboard button: Text must be non-empty")
    elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def check_inline_button(button: Any) -> None:
    """Reject an inline keyboard button the way Telegram does."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace as Telegram does, moving and clipping the entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(int(entity["offset"]) - lead, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def add_caption(content: dict[str, Any], caption: str | None, entities: list[Any]) -> None:
    """Add a caption and its entities to a message's content, if there is one."""
    if caption:
        content["caption"] = caption
        if entities:
            content["caption_entities"] = entities


def maybe_int(value: Any) -> int | None:
    """Return ``value`` as an integer, or None if it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def loggable(params: Params) -> dict[str, Any]:
    """Return the parameters with uploads replaced by a short description."""
    values = dict(params.values)
    for name, upload in params.files.items():
        values[name] = f"<file {upload.filename!r}, {len(upload.content)} bytes>"
    return values


def json_response(body: dict[str, Any], status: int) -> web.Response:
    """Return a JSON response as the Bot API sends it."""
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        status=status,
        content_type="application/json",
    )


async def read_params(request: web.Request) -> Params:
    """Read query, JSON, form-urlencoded and multipart parameters."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, media.Upload] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON body") from None
            if isinstance(body, dict):
                values.update(body)
        else:
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = media.Upload(
                        filename=value.filename,
                        content=value.file.read(),
                        content_type=value.content_type
                        if value.content_type != "application/octet-stream"
                        else None,
                    )
                else:
                    values[name] = value
    return Params(values, files)
