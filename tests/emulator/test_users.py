"""Every user-side helper produces an update python-telegram-bot parses as Telegram's would."""

from __future__ import annotations

from telegram import Bot, Update
from telegram.constants import MessageEntityType
from telegram.ext import filters

from bot_api_emulator import BotApiEmulator


def parse(update: dict[str, object], bot: Bot) -> Update:
    parsed = Update.de_json(update, bot)
    assert parsed is not None
    return parsed


async def test_user_messages_match_ptb_filters(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna", language_code="it")
    cases = [
        (await anna.send_text("Ciao"), filters.TEXT & ~filters.COMMAND),
        (await anna.send_command("start", "deep-link"), filters.COMMAND),
        (await anna.send_location(41.9, 12.5), filters.LOCATION),
        (await anna.send_sticker(), filters.Sticker.ALL),
        (await anna.send_voice(), filters.VOICE),
        (await anna.send_photo(caption="look"), filters.PHOTO),
        (await anna.send_document("a.pdf", b"%PDF"), filters.Document.PDF),
        (await anna.send_contact(), filters.CONTACT),
        (await anna.send_poll(), filters.POLL),
    ]
    for raw, message_filter in cases:
        update = parse(raw, emulated_bot)
        assert message_filter.check_update(update), raw
        assert update.effective_user is not None and update.effective_user.language_code == "it"
    command = parse(cases[1][0], emulated_bot).effective_message
    assert command is not None and command.text == "/start deep-link"
    assert command.entities[0].type == MessageEntityType.BOT_COMMAND
    ids = [raw["message"]["message_id"] for raw, _ in cases]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_reply_edit_group_and_channel(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    first = await anna.send_text("Corsi di inglese?")
    sent = await emulated_bot.send_message(anna.chat_id, "Quale livello?")
    reply = parse(await anna.reply(sent.message_id, "B1"), emulated_bot)
    assert reply.effective_message is not None
    assert reply.effective_message.reply_to_message is not None
    assert reply.effective_message.reply_to_message.text == "Quale livello?"

    edited = parse(await anna.edit_message(first, "Corsi di tedesco?"), emulated_bot)
    assert edited.edited_message is not None
    assert edited.edited_message.text == "Corsi di tedesco?"
    assert filters.UpdateType.EDITED_MESSAGE.check_update(edited)

    group = bot_api_emulator.create_group("Genitori")
    in_group = parse(await anna.send_command("help", chat=group), emulated_bot)
    assert in_group.effective_chat is not None and in_group.effective_chat.type == "group"
    assert in_group.effective_message is not None
    assert in_group.effective_message.text == f"/help@{bot_api_emulator.bot_username}"

    channel = bot_api_emulator.create_channel("Città")
    post = parse(await bot_api_emulator.post_to_channel(channel, "News"), emulated_bot)
    assert post.channel_post is not None and post.channel_post.sender_chat is not None


async def test_button_press_on_deleted_message_is_inaccessible(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    sent = await emulated_bot.send_message(anna.chat_id, "old menu")
    await emulated_bot.delete_message(anna.chat_id, sent.message_id)
    update = parse(await anna.press(sent.message_id, data="menu:old"), emulated_bot)
    assert update.callback_query is not None
    assert update.callback_query.data == "menu:old"
    assert update.callback_query.message is not None
    assert not update.callback_query.message.is_accessible


async def test_server_side_entities_like_telegram(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    anna = bot_api_emulator.create_user("Anna")
    unknown = parse(await anna.send_text("/nonexistent"), emulated_bot)
    assert filters.COMMAND.check_update(unknown)
    group = bot_api_emulator.create_group("Quartiere")
    mention = parse(
        await anna.send_text(f"@{bot_api_emulator.bot_username} corsi?", chat=group), emulated_bot
    )
    assert filters.Mention(bot_api_emulator.bot_username).check_update(mention)
    plain = parse(await anna.send_text("see https://comune.it/eventi."), emulated_bot)
    assert plain.effective_message is not None
    assert plain.effective_message.parse_entities() == {
        plain.effective_message.entities[0]: "https://comune.it/eventi"
    }
    assert not filters.COMMAND.check_update(plain)
