"""The bot's own profile: ``getMe``, commands, menu button, name and descriptions."""

from __future__ import annotations

import json
import re
from typing import Any

from bot_api_emulator.protocol import Handler, Params
from bot_api_emulator.state import bad_request
from bot_api_emulator.world import World

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_MAX_COMMANDS = 100
_MENU_BUTTON_TYPES = {"default", "commands", "web_app"}
#: The texts ``setMy<Field>`` / ``getMy<Field>`` keep per language.
_BOT_TEXT_FIELDS = {
    "description": "description",
    "shortdescription": "short_description",
    "name": "name",
}


def _scope_key(scope: Any, language: str) -> tuple[str, str]:
    return json.dumps(scope, sort_keys=True), language


class BotProfileMethods:
    """What users see of the bot: its User, commands per scope and language, menu button, texts."""

    def __init__(self, world: World) -> None:
        self._world = world
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}

    def handlers(self) -> dict[str, Handler]:
        """Return this group's methods by lower-case name."""
        handlers: dict[str, Handler] = {
            "getme": self.get_me,
            "logout": self.accept,
            "close": self.accept,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "setchatmenubutton": self.set_chat_menu_button,
            "getchatmenubutton": self.get_chat_menu_button,
        }
        for suffix, field in _BOT_TEXT_FIELDS.items():
            handlers[f"setmy{suffix}"] = self._text_setter(field)
            handlers[f"getmy{suffix}"] = self._text_getter(field)
        return handlers

    def my_commands(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Return the commands the bot registered for a language and scope."""
        key = _scope_key(scope or {"type": "default"}, language_code)
        return list(self.commands.get(key, []))

    async def accept(self, params: Params) -> bool:
        """Answer True and do nothing (``logOut``, ``close``)."""
        return True

    async def get_me(self, params: Params) -> dict[str, Any]:
        """Return the bot's User with its capabilities."""
        return {
            **self._world.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def set_my_commands(self, params: Params) -> bool:
        """Register the command list for a scope and language (an empty list removes it)."""
        commands = params.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > _MAX_COMMANDS:
            raise bad_request("too many commands specified")
        clean = [_checked_command(item) for item in commands]
        key = self._requested_scope(params)
        if clean:
            self.commands[key] = clean
        else:
            self.commands.pop(key, None)
        return True

    async def get_my_commands(self, params: Params) -> list[dict[str, Any]]:
        """Return the command list of a scope and language."""
        return list(self.commands.get(self._requested_scope(params), []))

    async def delete_my_commands(self, params: Params) -> bool:
        """Remove the command list of a scope and language."""
        self.commands.pop(self._requested_scope(params), None)
        return True

    async def set_chat_menu_button(self, params: Params) -> bool:
        """Set the menu button of a chat (or the default one, without ``chat_id``)."""
        chat_id = params.get_int("chat_id")
        if chat_id is not None and chat_id not in self._world.chats:
            raise bad_request("chat not found")
        button = params.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in _MENU_BUTTON_TYPES:
            raise bad_request("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def get_chat_menu_button(self, params: Params) -> dict[str, Any]:
        """Return a chat's menu button, else the default one."""
        chat_id = params.get_int("chat_id")
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "default"}))

    def _text_setter(self, field: str) -> Handler:
        async def handler(params: Params) -> bool:
            language = params.get_str("language_code") or ""
            self.bot_texts[(field, language)] = params.get_str(field) or ""
            return True

        return handler

    def _text_getter(self, field: str) -> Handler:
        async def handler(params: Params) -> dict[str, Any]:
            value = self.bot_texts.get((field, params.get_str("language_code") or ""), "")
            if field == "name" and not value:
                value = self._world.bot_first_name
            return {field: value}

        return handler

    @staticmethod
    def _requested_scope(params: Params) -> tuple[str, str]:
        scope = params.get_json("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        language = params.get_str("language_code") or ""
        if language and not _LANGUAGE.fullmatch(language):
            raise bad_request("invalid language code specified")
        return _scope_key(scope, language)


def _checked_command(item: Any) -> dict[str, str]:
    """Return a BotCommand as sent, or Telegram's error for a malformed one."""
    if not isinstance(item, dict):
        raise bad_request("can't parse BotCommand JSON object")
    command = str(item.get("command", ""))
    description = str(item.get("description", ""))
    if not _COMMAND.fullmatch(command):
        raise bad_request("BOT_COMMAND_INVALID")
    if not 1 <= len(description) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return {"command": command, "description": description}
