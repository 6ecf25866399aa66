"""A Telegram Bot API emulator on 127.0.0.1 for tests and benchmarks.

The bot talks to it through python-telegram-bot's real HTTP stack (``base_url``); tests act as
users and read what the bot sent. Telegram's rules that matter are applied (HTML entity parsing
with Telegram's error texts, 4,096 UTF-16 units after parsing, whitespace trimming, "message is
not modified", callback_data <= 64 bytes, ``{"ok": false, "error_code", "description"}``), and
errors can be injected. Markdown parse modes are passed through unparsed (the bot uses HTML).

Usage::

    from bot_api_emulator import BotApiEmulator
    from bot_api_emulator.ptb import polling       # run_polling's lifecycle, post_init included

    async with BotApiEmulator(clock=my_clock) as emulator:     # clock: () -> aware datetime
        settings = Settings(telegram_base_url=emulator.base_url,
                            telegram_base_file_url=emulator.base_file_url,
                            telegram_bot_token=emulator.token)
        anna = emulator.create_user("Anna", language_code="it")
        async with polling(build_application(settings, services)):
            await anna.send_command("start")
            [welcome] = await anna.wait_for()           # replies to Anna's latest action
            assert welcome.button_texts == ["Italiano", "English"]
            update = await anna.press(welcome, "English")
            await emulator.wait_for_callback_answer(update["callback_query"]["id"])
            [edited] = await emulator.wait_for_edits(anna.chat_id)   # or new messages:
            await anna.send_text("Corsi di inglese?")   # /cmd, links, @mentions get entities
            [answer] = await anna.wait_for(predicate=lambda m: "Fonti" in (m.text or ""))

Acting as users: ``create_user``, ``create_group``, ``create_channel``, ``post_to_channel``;
``EmulatedUser.send_text / send_command / reply / send_location / send_sticker / send_voice /
send_photo / send_document / send_contact / send_poll / edit_message / press(message, "text" or
data="forged")`` (pass ``chat=group`` to act in a group); each returns the update dict.

Reading: ``sent_messages(chat_id)``, ``last_message``, ``BotMessage`` (``text``, ``source_text``,
``parse_mode``, ``entities``, ``reply_markup``, ``buttons``, ``button_texts``,
``keyboard_texts``, ``document``, ``photo``, ``location``, ``edits``, ``deleted``, ``data``);
``chat_actions(chat_id)``; ``callback_answers``; ``calls`` / ``calls_to("sendMessage")`` (every
request and its outcome); ``files[file_id].content``; ``my_commands(language_code, scope)``;
``menu_buttons``; ``pending_updates``; ``webhook`` and ``webhook_last_error``.
``wait_for(chat_id, count=1, timeout=5, predicate=None, since=None)`` counts messages sent after
the latest user action in that chat (``since=emulator.mark(chat_id)`` for messages the bot sends
on its own, e.g. reminders; ``since=0`` for all); it raises ``EmulatorTimeout`` (an
``AssertionError``) listing what did arrive. ``wait_until(condition)`` waits for anything.

Injecting errors::

    emulator.block_chat(anna.chat_id)      # 403 "Forbidden: bot was blocked by the user"
    emulator.flood(2, retry_after=3)       # next 2 calls -> 429, parameters.retry_after = 3
    emulator.fail(1, 500, methods=["sendMessage"])    # next call -> 500 (a large count: for good)
    emulator.set_delay(0.5, methods=["sendMessage"])   # slow answers (time-outs); 0 clears
    emulator.limit_rate(per_chat=1, overall=30)        # strict 429 beyond the limits
    emulator.max_sends_in_window(1.0, chat_id=anna.chat_id) <= 1   # from send_log
    emulator.max_sends_in_window(1.0) <= 30

Webhooks: ``setWebhook`` makes the emulator POST updates to the URL with the
``X-Telegram-Bot-Api-Secret-Token`` header, in order, retrying failures.

Pytest: add ``pytest_plugins = ["bot_api_emulator.pytest_plugin"]`` to the root conftest for the
fixtures ``bot_api_emulator``, ``bot_api_emulator_factory`` (``await make(clock=...)``) and
``emulated_bot`` (an initialized ``telegram.Bot``).
"""

from bot_api_emulator.entities import EntityParseError, parse_html, utf16_len
from bot_api_emulator.server import DEFAULT_TOKEN, BotApiEmulator
from bot_api_emulator.state import ApiCall, ApiError, BotMessage, Chat, EmulatorTimeout, StoredFile
from bot_api_emulator.users import EmulatedUser

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "Chat",
    "EmulatedUser",
    "EmulatorTimeout",
    "EntityParseError",
    "StoredFile",
    "parse_html",
    "utf16_len",
]
