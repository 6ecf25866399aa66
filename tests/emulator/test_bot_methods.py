"""The emulator answers the real python-telegram-bot HTTP stack the way Telegram does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import ClientSession
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TimedOut,
)

from bot_api_emulator import BotApiEmulator, EmulatorTimeout

Emulator = BotApiEmulator


async def test_get_me_describes_the_bot(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    me = await emulated_bot.get_me()
    assert me.id == bot_api_emulator.bot_id
    assert me.is_bot and me.username == bot_api_emulator.bot_username


async def test_wrong_token_is_unauthorized(bot_api_emulator: Emulator) -> None:
    bot = Bot("42:wrong", base_url=bot_api_emulator.base_url)
    with pytest.raises(InvalidToken):
        await bot.initialize()
    url = f"{bot_api_emulator.base_url}42:wrong/getMe"
    async with ClientSession() as session, session.post(url) as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }


async def test_unknown_method_is_not_found(emulated_bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await emulated_bot.do_api_request("noSuchMethod")


async def test_json_form_and_query_bodies_are_accepted(bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    url = f"{bot_api_emulator.base_url}{bot_api_emulator.token}/sendMessage"
    async with ClientSession() as session:
        async with session.post(url, json={"chat_id": user.chat_id, "text": "json"}) as resp:
            assert (await resp.json())["result"]["text"] == "json"
        async with session.post(url, data={"chat_id": str(user.chat_id), "text": "form"}) as resp:
            assert (await resp.json())["result"]["text"] == "form"
        async with session.get(url, params={"chat_id": user.chat_id, "text": "query"}) as resp:
            assert (await resp.json())["result"]["text"] == "query"
        async with session.post(url, json={"chat_id": user.chat_id, "text": "<b>x"}) as resp:
            # No parse_mode: tags are plain text.
            assert (await resp.json())["result"]["text"] == "<b>x"
        async with session.post(url, json={"chat_id": 1, "text": "x"}) as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
    assert [m.text for m in user.messages] == ["json", "form", "query", "<b>x"]


async def test_html_becomes_entities(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    message = await emulated_bot.send_message(
        user.chat_id,
        '<b>Corsi</b> &amp; <a href="https://example.org">eventi</a> 😀 <i>oggi</i>',
        parse_mode=ParseMode.HTML,
    )
    assert message.text == "Corsi & eventi 😀 oggi"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 5),
        ("text_link", 8, 6),
        ("italic", 18, 4),
    ]
    sent = bot_api_emulator.last_message(user.chat_id)
    assert sent.source_text is not None and sent.source_text.startswith("<b>Corsi</b>")
    assert sent.parse_mode == "HTML"


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("<b>x</i>", "Unmatched end tag at byte offset 4"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_bad_html_is_rejected(
    emulated_bot: Bot, bot_api_emulator: Emulator, html: str, problem: str
) -> None:
    user = bot_api_emulator.create_user("Anna")
    with pytest.raises(BadRequest, match="Can't parse entities") as caught:
        await emulated_bot.send_message(user.chat_id, html, parse_mode=ParseMode.HTML)
    assert problem.lower() in caught.value.message.lower()
    assert user.messages == []


async def test_all_allowed_tags_parse(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><code>c</code><pre>p</pre><tg-spoiler>t</tg-spoiler>"
        '<span class="tg-spoiler">x</span><blockquote>q</blockquote>'
        '<pre><code class="language-python">x = 1</code></pre>'
    )
    message = await emulated_bot.send_message(user.chat_id, html, parse_mode=ParseMode.HTML)
    kinds = [e.type for e in message.entities]
    assert kinds.count("bold") == 2 and kinds.count("spoiler") == 2
    assert message.entities[-1].type == "pre" and message.entities[-1].language == "python"


async def test_length_is_counted_in_utf16_after_parsing(
    emulated_bot: Bot, bot_api_emulator: Emulator
) -> None:
    user = bot_api_emulator.create_user("Anna")
    await emulated_bot.send_message(user.chat_id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await emulated_bot.send_message(user.chat_id, "😀" * 2048)  # 4,096 UTF-16 units
    with pytest.raises(BadRequest, match="Message is too long"):
        await emulated_bot.send_message(user.chat_id, "😀" * 2048 + "a")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await emulated_bot.send_message(user.chat_id, "   ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await emulated_bot.send_message(user.chat_id, "<b></b>", parse_mode="HTML")


async def test_keyboards_are_validated(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Sì", callback_data="lang:it"),
                InlineKeyboardButton("Sito", url="https://example.org"),
            ]
        ]
    )
    message = await emulated_bot.send_message(user.chat_id, "Lingua?", reply_markup=markup)
    assert message.reply_markup == markup
    assert bot_api_emulator.last_message(user.chat_id).button_texts == ["Sì", "Sito"]
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await emulated_bot.send_message(user.chat_id, "x", reply_markup=too_long)

    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Italiano"), "English"]])
    message = await emulated_bot.send_message(user.chat_id, "Scegli", reply_markup=keyboard)
    assert message.reply_markup is None  # Telegram echoes only inline keyboards
    assert bot_api_emulator.last_message(user.chat_id).keyboard_texts == ["Italiano", "English"]
    await emulated_bot.send_message(user.chat_id, "ok", reply_markup=ReplyKeyboardRemove())
    assert bot_api_emulator.last_message(user.chat_id).reply_markup == {"remove_keyboard": True}


async def test_edit_and_not_modified(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="p:2")]])
    message = await emulated_bot.send_message(user.chat_id, "Page 1", reply_markup=markup)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await emulated_bot.edit_message_text(
            "Page 1", chat_id=user.chat_id, message_id=message.message_id, reply_markup=markup
        )
    edited = await emulated_bot.edit_message_text(
        "<b>Page 2</b>",
        chat_id=user.chat_id,
        message_id=message.message_id,
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert isinstance(edited, Message)
    assert edited.text == "Page 2" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await emulated_bot.edit_message_reply_markup(
            chat_id=user.chat_id, message_id=message.message_id, reply_markup=markup
        )
    await emulated_bot.edit_message_reply_markup(
        chat_id=user.chat_id, message_id=message.message_id
    )
    sent = bot_api_emulator.last_message(user.chat_id)
    assert sent.text == "Page 2" and sent.buttons == [] and len(sent.edits) == 2
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await emulated_bot.edit_message_text("x", chat_id=user.chat_id, message_id=999)
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await emulated_bot.edit_message_text(
            "<b>x", chat_id=user.chat_id, message_id=message.message_id, parse_mode="HTML"
        )


async def test_delete_message(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    message = await emulated_bot.send_message(user.chat_id, "bye")
    assert await emulated_bot.delete_message(user.chat_id, message.message_id)
    assert user.messages == []
    assert bot_api_emulator.sent_messages(user.chat_id, include_deleted=True)[0].deleted
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await emulated_bot.delete_message(user.chat_id, message.message_id)


async def test_reply_parameters(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    update = await user.send_text("question")
    asked = update["message"]["message_id"]
    message = await emulated_bot.send_message(
        user.chat_id, "answer", reply_parameters=ReplyParameters(asked)
    )
    assert message.reply_to_message is not None
    assert message.reply_to_message.text == "question"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await emulated_bot.send_message(user.chat_id, "x", reply_parameters=ReplyParameters(999))


async def test_callback_query_answer(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="fb:up")]])
    await emulated_bot.send_message(user.chat_id, "Useful?", reply_markup=markup)
    update = await user.press(bot_api_emulator.last_message(user.chat_id), "👍")
    query = update["callback_query"]
    assert query["data"] == "fb:up" and query["message"]["text"] == "Useful?"
    await emulated_bot.answer_callback_query(query["id"], text="Thanks")
    answer = await bot_api_emulator.wait_for_callback_answer(query["id"])
    assert answer["text"] == "Thanks"
    with pytest.raises(BadRequest, match="Query is too old"):
        await emulated_bot.answer_callback_query(query["id"])
    forged = await user.press(bot_api_emulator.last_message(user.chat_id), data="forged:1")
    assert forged["callback_query"]["data"] == "forged:1"


async def test_chat_action_location_and_chat(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna", language_code="it")
    await emulated_bot.send_chat_action(user.chat_id, "typing")
    assert bot_api_emulator.chat_actions(user.chat_id) == ["typing"]
    with pytest.raises(BadRequest):
        await emulated_bot.send_chat_action(user.chat_id, "dancing")
    message = await emulated_bot.send_location(user.chat_id, latitude=41.9, longitude=12.5)
    assert message.location is not None and message.location.latitude == 41.9
    chat = await emulated_bot.get_chat(user.chat_id)
    assert chat.first_name == "Anna" and chat.type == "private"
    with pytest.raises(BadRequest, match="Chat not found"):
        await emulated_bot.get_chat(12345)


async def test_commands_per_language_and_scope(
    emulated_bot: Bot, bot_api_emulator: Emulator
) -> None:
    await emulated_bot.set_my_commands([BotCommand("start", "Start")])
    await emulated_bot.set_my_commands([BotCommand("start", "Inizia")], language_code="it")
    await emulated_bot.set_my_commands(
        [BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats()
    )
    assert [c.description for c in await emulated_bot.get_my_commands()] == ["Start"]
    assert [c.description for c in await emulated_bot.get_my_commands(language_code="it")] == [
        "Inizia"
    ]
    assert bot_api_emulator.my_commands("it") == [{"command": "start", "description": "Inizia"}]
    assert bot_api_emulator.my_commands(scope={"type": "all_private_chats"})[0]["command"] == (
        "help"
    )
    await emulated_bot.delete_my_commands(language_code="it")
    assert await emulated_bot.get_my_commands(language_code="it") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await emulated_bot.set_my_commands([BotCommand("Not Valid", "x")])
    assert await emulated_bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert isinstance(await emulated_bot.get_chat_menu_button(), MenuButtonCommands)


async def test_blocked_chat_is_forbidden(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    bot_api_emulator.block_chat(user.chat_id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await emulated_bot.send_message(user.chat_id, "hello")
    group = bot_api_emulator.create_group("Parents")
    bot_api_emulator.block_chat(group.id)
    with pytest.raises(Forbidden, match="kicked"):
        await emulated_bot.send_message(group.id, "hello")
    bot_api_emulator.unblock_chat(user.chat_id)
    await emulated_bot.send_message(user.chat_id, "hello again")
    assert [call.error_code for call in bot_api_emulator.calls_to("sendMessage")] == [
        403,
        403,
        None,
    ]


async def test_flood_gives_retry_after(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    bot_api_emulator.flood(2, retry_after=7)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await emulated_bot.send_message(user.chat_id, "x")
        assert caught.value.retry_after == 7
    await emulated_bot.send_message(user.chat_id, "x")
    async with ClientSession() as session:
        bot_api_emulator.flood(1, retry_after=3)
        url = f"{bot_api_emulator.base_url}{bot_api_emulator.token}/sendMessage"
        async with session.post(url, json={"chat_id": user.chat_id, "text": "x"}) as resp:
            assert resp.status == 429
            assert await resp.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }


async def test_slow_responses(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    bot_api_emulator.set_delay(0.3, methods=["sendMessage"])
    started = time.monotonic()
    await emulated_bot.send_message(user.chat_id, "slow")
    await emulated_bot.get_me()
    assert time.monotonic() - started >= 0.3
    bot_api_emulator.set_delay(0)
    started = time.monotonic()
    await emulated_bot.send_message(user.chat_id, "fast")
    assert time.monotonic() - started < 2


async def test_send_rates_are_recorded(emulated_bot: Bot, bot_api_emulator: Emulator) -> None:
    anna = bot_api_emulator.create_user("Anna")
    marco = bot_api_emulator.create_user("Marco")
    for _ in range(3):
        await emulated_bot.send_message(anna.chat_id, "a")
    await emulated_bot.send_message(marco.chat_id, "m")
    assert len(bot_api_emulator.send_times(anna.chat_id)) == 3
    assert bot_api_emulator.max_sends_in_window(1.0, chat_id=anna.chat_id) == 3
    assert bot_api_emulator.max_sends_in_window(1.0) == 4
    assert bot_api_emulator.max_sends_per_chat_in_window(1.0) == 3


async def test_clock_sets_message_dates() -> None:
    from datetime import UTC, datetime

    fixed = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    async with BotApiEmulator(clock=lambda: fixed) as emulator:
        user = emulator.create_user("Anna")
        update = await user.send_text("hi")
        assert update["message"]["date"] == int(fixed.timestamp())
        async with Bot(emulator.token, base_url=emulator.base_url) as bot:
            message = await bot.send_message(user.chat_id, "hi")
        assert message.date == fixed


async def test_strict_rate_limit(
    bot_api_emulator_factory: Callable[..., Awaitable[Emulator]],
) -> None:
    now = [100.0]
    emulator = await bot_api_emulator_factory(monotonic=lambda: now[0])
    anna, marco, third = (emulator.create_user(n) for n in ("Anna", "Marco", "Third"))
    emulator.limit_rate(per_chat=1, overall=2, window=1.0)
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        await bot.send_message(anna.chat_id, "1")
        with pytest.raises(RetryAfter):
            await bot.send_message(anna.chat_id, "2")
        await bot.send_message(marco.chat_id, "1")
        with pytest.raises(RetryAfter):
            await bot.send_message(third.chat_id, "1")
        now[0] += 1.0
        await bot.send_message(anna.chat_id, "2")
    assert emulator.max_sends_per_chat_in_window(1.0) == 1
    assert emulator.max_sends_in_window(1.0) == 2


async def test_wait_for_counts_replies_to_the_latest_action(
    emulated_bot: Bot, bot_api_emulator: Emulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    await emulated_bot.send_message(anna.chat_id, "old")
    await anna.send_text("hi")
    with pytest.raises(EmulatorTimeout, match="expected 1 message"):
        await anna.wait_for(timeout=0.1)
    waiting = asyncio.create_task(anna.wait_for(count=2))
    await emulated_bot.send_message(anna.chat_id, "new 1")
    sent = await emulated_bot.send_message(anna.chat_id, "new 2")
    assert [m.text for m in await waiting] == ["new 1", "new 2"]
    assert [m.text for m in await bot_api_emulator.wait_for(anna.chat_id, 3, since=0)] == [
        "old",
        "new 1",
        "new 2",
    ]
    mark = bot_api_emulator.mark(anna.chat_id)
    await emulated_bot.send_message(anna.chat_id, "reminder")
    [reminder] = await bot_api_emulator.wait_for(anna.chat_id, since=mark)
    assert reminder.text == "reminder"

    await anna.send_text("next page")
    await emulated_bot.edit_message_text("page 2", chat_id=anna.chat_id, message_id=sent.message_id)
    [edited] = await bot_api_emulator.wait_for_edits(anna.chat_id)
    assert edited.text == "page 2" and edited.edits[0]["text"] == "new 2"


async def test_surrounding_whitespace_is_trimmed(
    emulated_bot: Bot, bot_api_emulator: Emulator
) -> None:
    user = bot_api_emulator.create_user("Anna")
    message = await emulated_bot.send_message(
        user.chat_id, "\n  <b>Title</b>\nbody\n\n", parse_mode="HTML"
    )
    assert message.text == "Title\nbody"
    assert [(e.offset, e.length) for e in message.entities] == [(0, 5)]


async def test_a_slow_answer_times_out_in_ptb(
    emulated_bot: Bot, bot_api_emulator: Emulator
) -> None:
    user = bot_api_emulator.create_user("Anna")
    bot_api_emulator.set_delay(0.5, methods=["sendMessage"])
    with pytest.raises(TimedOut):
        await emulated_bot.send_message(user.chat_id, "late", read_timeout=0.1)
    # As on Telegram, the message may still arrive after the client gave up.
    [late] = await bot_api_emulator.wait_for(user.chat_id, since=0)
    assert late.text == "late"
