"""Every resident's language: Telegram's language on first contact, /language, commands, RTL."""

from __future__ import annotations

import re

import pytest

from bot.answers import send_html
from bot.sending import prepare_for_reading
from bot_api_emulator import EmulatedUser
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
    text = welcome.text or ""

    assert expected in text
    if code == "uk":
        assert len(CYRILLIC.findall(text)) > 50
    if code == "ar":
        assert len(ARABIC.findall(text)) > 50
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
    assert "Assistente della Città che Apprende" in (welcome.text or "")

    await rui.press(welcome, "🇺🇦 Українська")
    [menu] = await emulator.wait_for(rui.chat_id)
    assert "Відтепер я розмовлятиму українською" in (menu.text or "")
    assert "📚 Курси" in menu.button_texts

    await rui.send_command("help")
    [help_text] = await emulator.wait_for(rui.chat_id)
    assert "Як я можу допомогти" in (help_text.text or "")

    await rui.send_command("language")
    [choice] = await emulator.wait_for(rui.chat_id)
    assert choice.text == t("bot.choose_language", "uk")
    assert choice.button_texts == [language_name(lang) for lang in supported_languages()]
    await rui.press(choice, language_name("ar"))
    [arabic] = await emulator.wait_for(rui.chat_id)
    assert "بالعربية" in (arabic.text or "")

    await running.restart()
    await rui.send_command("help")
    [after_restart] = await emulator.wait_for(rui.chat_id)
    assert "كيف يمكنني مساعدتك" in (after_restart.text or "")


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


async def _choose_language(running: BotRunner, resident: EmulatedUser, lang: str) -> None:
    """Pick `lang` through /language, as a resident does."""
    emulator = running.emulator
    await resident.send_command("language")
    [choice] = await emulator.wait_for(resident.chat_id)
    await resident.press(choice, language_name(lang))
    await emulator.wait_for(resident.chat_id)


async def test_skills_and_reminders_speak_the_chosen_language_not_telegrams(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    olena = emulator.create_user("Olena", language_code="it")
    await _choose_language(running, olena, "uk")

    await olena.send_command("skills")
    [skills] = await emulator.wait_for(olena.chat_id)
    assert skills.text == t("flows.choose", "uk")
    assert len(CYRILLIC.findall(skills.text)) > 10
    # The flows have no Ukrainian texts: their titles fall back to English, never Italian.
    assert not any("Competenze" in label for label in skills.button_texts)

    await olena.send_command("reminders")
    [reminders] = await emulator.wait_for(olena.chat_id)
    assert reminders.text == t("reminders.list_empty", "uk")
    assert len(CYRILLIC.findall(reminders.text)) > 10
    assert t("reminders.button_digest", "uk") in reminders.button_texts

    await olena.send_command("digest")
    [digest] = await emulator.wait_for(olena.chat_id)
    assert len(CYRILLIC.findall(digest.text or "")) > 10


async def test_arabic_welcome_and_help_isolate_latin_runs(running: BotRunner) -> None:
    emulator = running.emulator
    amal = emulator.create_user("Amal", language_code="ar")

    await amal.send_command("start")
    [welcome] = await emulator.wait_for(amal.chat_id)
    await amal.send_command("help")
    [help_text] = await emulator.wait_for(amal.chat_id)

    for reply in (welcome, help_text):
        assert reply.text is not None and ARABIC.search(reply.text)
        assert LRI in reply.text and reply.text.count(LRI) == reply.text.count(PDI)
        # Every Latin letter and digit sits inside an isolate.
        outside = re.sub(f"{LRI}[^{PDI}]*{PDI}", "", reply.text)
        assert not re.search(r"[A-Za-z0-9]", outside), outside
        assert f"/{LRI}" not in reply.text  # commands stay whole ("/help"), hence clickable
    # Left-to-right residents get their text untouched.
    eva = emulator.create_user("Eva", language_code="en")
    await eva.send_command("help")
    [english] = await emulator.wait_for(eva.chat_id)
    assert english.text is not None and LRI not in english.text


async def test_a_questionnaire_without_french_says_so_once_and_runs_in_english(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    running_services = running.services
    assert running_services.skills is not None
    flow = running_services.skills.definition("lifecomp-quick")
    assert "fr" not in flow.languages()
    title = flow.text(flow.title, "fr")
    assert title == flow.title["en"]  # type: ignore[index]
    claire = emulator.create_user("Claire", language_code="fr")

    await claire.send_command("skills")
    [menu] = await emulator.wait_for(claire.chat_id)
    assert menu.text == t("flows.choose", "fr")
    await claire.press(menu, title)
    [intro] = await emulator.wait_for(claire.chat_id)
    notice = t(
        "flows.language_fallback", "fr", languages="italien et anglais", language="anglais"
    )
    assert intro.text is not None and intro.text.startswith(notice)
    assert intro.text.count("🌐") == 1
    assert flow.intro["en"].split()[0] in intro.text  # type: ignore[index]

    since = len(emulator.chat(claire.chat_id).edit_log)
    await claire.press(intro, t("flows.start_button", "fr"))
    edits = await emulator.wait_for_edits(claire.chat_id, since=since)
    question = edits[-1].text or ""
    assert flow.items[0].text["en"] in question  # type: ignore[index]
    assert t("flows.progress", "fr", number=1, total=len(flow.items)) in question
    assert "🌐" not in question  # said once, with the introduction
    labels = edits[-1].button_texts
    assert flow.scale.options[0].label["en"] in labels  # type: ignore[index]
    assert t("flows.pause_button", "fr") in labels


@pytest.mark.parametrize(
    "text", ["أريد أن أنتحر، لا أحد سيلاحظ", "I want to kill myself, nobody would notice"]
)
async def test_an_arabic_resident_in_distress_gets_the_helplines_in_arabic(
    running: BotRunner, text: str
) -> None:
    emulator = running.emulator
    for lang in supported_languages():
        assert t("bot.safeguarding.intro", lang)
        assert t("bot.safeguarding.emergency", lang)
        assert t("bot.safeguarding.after", lang)
    noor = emulator.create_user("Noor", language_code="it")
    await _choose_language(running, noor, "ar")

    await noor.send_text(text)
    [first] = await emulator.wait_for(noor.chat_id, timeout=10)

    assert first.text is not None and "112" in first.text
    intro = re.sub(r"<[^>]+>", "", t("bot.safeguarding.intro", "ar"))
    assert first.text.startswith(intro)
    assert len(ARABIC.findall(first.text)) > 50


async def test_an_arabic_questionnaire_step_isolates_the_english_question(
    running: BotRunner,
) -> None:
    emulator = running.emulator
    assert running.services.skills is not None
    flow = running.services.skills.definition("digcomp-quick")
    huda = emulator.create_user("Huda", language_code="ar")

    await huda.send_command("skills")
    [menu] = await emulator.wait_for(huda.chat_id)
    await huda.press(menu, flow.text(flow.title, "ar"))
    [intro] = await emulator.wait_for(huda.chat_id)
    notice = t(
        "flows.language_fallback", "ar", languages="الإيطالية والإنجليزية", language="الإنجليزية"
    )
    assert intro.text is not None and intro.text.startswith(notice)
    since = len(emulator.chat(huda.chat_id).edit_log)
    await huda.press(intro, t("flows.start_button", "ar"))
    [question] = await emulator.wait_for_edits(huda.chat_id, since=since)

    # The question itself is all English (the flow has no Arabic): it reads left to right.
    assert flow.items[0].text["en"] in (question.text or "")  # type: ignore[index]
    assert LRI not in (question.text or "")
    since = len(emulator.chat(huda.chat_id).edit_log)
    await huda.press(question, t("flows.pause_button", "ar"))
    [paused] = await emulator.wait_for_edits(huda.chat_id, since=since)
    # An edit passes the choke point too: Arabic text, its numbers isolated.
    assert paused.text is not None and ARABIC.search(paused.text)
    assert f"{LRI}1/{len(flow.items)}{PDI}" in paused.text
    assert f"{LRI}/skills{PDI}" in paused.text  # a command keeps its slash: still clickable


@pytest.mark.parametrize(
    ("endpoint", "data", "expected"),
    [
        (  # HTML: tags and entities stay, Latin runs are isolated
            "sendMessage",
            {"text": "<b>Corso A2</b> &amp; المكتبة", "parse_mode": "HTML"},
            f"<b>{LRI}Corso A2{PDI}</b> &amp; المكتبة",
        ),
        (  # plain text (reminders): nothing is escaped
            "editMessageText",
            {"text": "Corso <A2> & المكتبة"},
            f"{LRI}Corso <A2{PDI}> & المكتبة",
        ),
        ("sendPhoto", {"caption": "18:30 المكتبة"}, f"{LRI}18:30{PDI} المكتبة"),
        ("answerCallbackQuery", {"text": "🔔 Corso المكتبة"}, f"🔔 {LRI}Corso{PDI} المكتبة"),
        ("sendMessage", {"text": "Corso A2 18:30", "parse_mode": "HTML"}, "Corso A2 18:30"),
        ("sendMessage", {"text": "Corso المكتبة", "entities": [{"type": "bold"}]}, "Corso المكتبة"),
        ("sendMessage", {"text": "Corso المكتبة", "parse_mode": "MarkdownV2"}, "Corso المكتبة"),
        ("sendMessage", {"text": "A المكتبة " * 400}, "A المكتبة " * 400),  # over the limit
        ("setMyCommands", {"text": "Corso المكتبة"}, "Corso المكتبة"),
        (  # commands keep their slash, also when send_html isolated them already
            "sendMessage",
            {
                "text": f"عبر /digest و /{LRI}help{PDI} <a href='/x'>and/or</a>",
                "parse_mode": "HTML",
            },
            f"عبر {LRI}/digest{PDI} و {LRI}/help{PDI} <a href='/x'>{LRI}and/or{PDI}</a>",
        ),
        (
            "sendMessage",
            {"text": "عبر /reminders@learn_bot."},
            f"عبر {LRI}/reminders@learn_bot{PDI}.",
        ),
    ],
)
def test_the_send_choke_point_prepares_right_to_left_texts(
    endpoint: str, data: dict[str, object], expected: str
) -> None:
    field = "caption" if "caption" in data else "text"
    prepare_for_reading(endpoint, data)
    assert data[field] == expected
    prepare_for_reading(endpoint, data)  # a retried request is not isolated twice
    assert data[field] == expected


QUESTIONS = {
    "it": "corsi di italiano gratis per stranieri",
    "en": "free Italian courses for foreigners",
    "fr": "cours d'italien gratuits pour les étrangers",
    "es": "cursos de italiano gratis para extranjeros",
    "ar": "دورات مجانية لتعلم اللغة الإيطالية للأجانب",
    "uk": "безкоштовні курси італійської мови для іноземців",
}


@pytest.mark.parametrize("code", sorted(QUESTIONS))
async def test_a_resident_talks_to_the_bot_in_their_language_from_start_to_feedback(
    running: BotRunner, code: str
) -> None:
    """Every supported language: /start, a question, a button press, all in that language."""
    assert set(QUESTIONS) == set(supported_languages())  # a new catalogue needs a question here
    emulator = running.emulator
    resident = emulator.create_user("Resident", language_code=code)
    await resident.send_command("start")
    [welcome] = await emulator.wait_for(resident.chat_id)
    await resident.send_text(QUESTIONS[code])
    [answer] = await emulator.wait_for(resident.chat_id, timeout=15)
    update = await resident.press(answer, "👍")
    reply = await emulator.wait_for_callback_answer(update["callback_query"]["id"])
    assert reply.get("text") == t("bot.feedback.thanks", code)
    assert t("bot.menu.courses", code) in welcome.button_texts
    assert t("bot.answer.sources", code).split("<")[0].strip()[:10] in (answer.text or "")
    replies = [welcome.text or "", answer.text or "", reply.get("text", "")]
    if code == "uk":
        assert all(CYRILLIC.search(text) for text in replies), replies
    if code == "ar":
        assert all(ARABIC.search(text) for text in replies), replies
