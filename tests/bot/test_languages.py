"""Every resident's language: Telegram's language on first contact, /language, commands, RTL."""

from __future__ import annotations

import re

import pytest

from bot.answers import send_html
from learncity.bidi import LRI, PDI
from learncity.i18n import language_name, supported_languages, t
from tests.bot.conftest import BotRunner

CYRILLIC = re.compile(r"[\u0400-\u04FF]")
ARABIC = re.compile(r"[\u0600-\u06FF]")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("uk", "Помічник"),
        ("ar", "مساعد"),
        ("fr", "Assistant de la Ville apprenante"),
        ("es", "Asistente de la Ciudad que Aprende"),
    ],
)
async def test_first_contact_greets_in_the_telegram_language(
    running: BotRunner, code: str, expected: str
) -> None:
    emulator = running.emulator
    resident = emulator.create_user("Resident", language_code=code)

    await resident.send_command("start")
    [welcome] = await emulator.wait_for(resident.chat_id)

    assert expected in welcome.text
    if code == "uk":
        assert len(CYRILLIC.findall(welcome.text)) > 50
    if code == "ar":
        assert len(ARABIC.findall(welcome.text)) > 50
    # The welcome offers every language, each named in itself.
    for lang in supported_languages():
        assert language_name(lang) in welcome.button_texts
    assert t("bot.menu.courses", code) in welcome.button_texts


async def test_an_unknown_language_gets_italian_and_the_choice_is_remembered(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    rui = emulator.create_user("Rui", language_code="pt-br")

    await rui.send_command("start")
    [welcome] = await emulator.wait_for(rui.chat_id)
    assert "Assistente della Città che Apprende" in welcome.text

    await rui.press(welcome, "🇺🇦 Українська")
    [menu] = await emulator.wait_for(rui.chat_id)
    assert "Відтепер я розмовлятиму українською" in menu.text
    assert "📚 Курси" in menu.button_texts

    await rui.send_command("help")
    [help_text] = await emulator.wait_for(rui.chat_id)
    assert "Як я можу допомогти" in help_text.text

    await rui.send_command("language")
    [choice] = await emulator.wait_for(rui.chat_id)
    assert choice.text == t("bot.choose_language", "uk")
    assert choice.button_texts == [language_name(lang) for lang in supported_languages()]
    await rui.press(choice, language_name("ar"))
    [arabic] = await emulator.wait_for(rui.chat_id)
    assert "بالعربية" in arabic.text

    await running.restart()
    await rui.send_command("help")
    [after_restart] = await emulator.wait_for(rui.chat_id)
    assert "كيف يمكنني مساعدتك" in after_restart.text


async def test_commands_are_registered_in_every_language(running: BotRunner) -> None:
    emulator = running.emulator
    descriptions = {
        lang: {item["command"]: item["description"] for item in emulator.my_commands(lang)}
        for lang in supported_languages()
    }
    for lang, commands in descriptions.items():
        assert commands["language"] == t("bot.commands.language", lang)
    assert len({commands["forget"] for commands in descriptions.values()}) == len(descriptions)


async def test_right_to_left_replies_isolate_latin_names_and_times() -> None:
    sent: list[str] = []

    async def chat_send(text: str, **_: object) -> None:
        sent.append(text)

    await send_html(chat_send, "<b>Corso di italiano A2</b> 18:30 — في المكتبة")
    await send_html(chat_send, "<b>Corso di italiano A2</b> 18:30")

    assert sent[0] == f"<b>{LRI}Corso di italiano A2{PDI}</b> {LRI}18:30{PDI} — في المكتبة"
    assert sent[1] == "<b>Corso di italiano A2</b> 18:30"  # left-to-right text is left alone
