"""Uploads and downloads go through PTB's multipart and file-download code."""

from __future__ import annotations

import pytest
from telegram import Bot, InputFile
from telegram.error import BadRequest

from bot_api_emulator import BotApiEmulator
from bot_api_emulator.media import TINY_PNG

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


async def test_document_round_trip(emulated_bot: Bot, bot_api_emulator: BotApiEmulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    message = await emulated_bot.send_document(
        user.chat_id,
        InputFile(ICS, filename="festival.ics"),
        caption="<b>Festival</b> in calendar",
        parse_mode="HTML",
    )
    assert message.document is not None
    assert message.document.file_name == "festival.ics"
    assert message.document.file_size == len(ICS)
    assert message.caption == "Festival in calendar"
    assert message.caption_entities[0].type == "bold"

    sent = bot_api_emulator.last_message(user.chat_id)
    assert sent.document is not None and sent.document["file_name"] == "festival.ics"
    assert bot_api_emulator.files[sent.document["file_id"]].content == ICS

    telegram_file = await emulated_bot.get_file(message.document.file_id)
    assert telegram_file.file_path is not None
    assert telegram_file.file_path.startswith(bot_api_emulator.base_file_url)
    assert bytes(await telegram_file.download_as_bytearray()) == ICS

    # Sending again by file_id reuses the stored file.
    again = await emulated_bot.send_document(user.chat_id, message.document.file_id)
    assert again.document is not None
    assert again.document.file_unique_id == message.document.file_unique_id


async def test_photo_upload(emulated_bot: Bot, bot_api_emulator: BotApiEmulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    message = await emulated_bot.send_photo(user.chat_id, TINY_PNG, caption="chart")
    assert message.photo and message.photo[-1].width == 1
    assert message.caption == "chart"
    downloaded = await (await message.photo[-1].get_file()).download_as_bytearray()
    assert bytes(downloaded) == TINY_PNG
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await emulated_bot.send_photo(user.chat_id, b"not an image")


async def test_bad_file_references(emulated_bot: Bot, bot_api_emulator: BotApiEmulator) -> None:
    user = bot_api_emulator.create_user("Anna")
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await emulated_bot.send_document(user.chat_id, "no-such-file-id")
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await emulated_bot.get_file("no-such-file-id")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await emulated_bot.send_document(
            user.chat_id, InputFile(b"x", filename="x.txt"), caption="c" * 1025
        )


async def test_bot_downloads_what_a_user_sent(
    emulated_bot: Bot, bot_api_emulator: BotApiEmulator
) -> None:
    user = bot_api_emulator.create_user("Anna")
    update = await user.send_document("programme.pdf", b"%PDF-1.4 fake")
    document = update["message"]["document"]
    assert document["mime_type"] == "application/pdf"
    telegram_file = await emulated_bot.get_file(document["file_id"])
    assert bytes(await telegram_file.download_as_bytearray()) == b"%PDF-1.4 fake"
