"""The hook for other areas: the reminders and skills services bring their handlers to the bot."""

from __future__ import annotations

from tests.bot.conftest import BotRunner


async def test_reminders_and_skills_areas_are_registered(runner: BotRunner) -> None:
    assert runner.services.reminders is not None and runner.services.skills is not None
    await runner.start()
    emulator = runner.emulator
    commands = {command["command"] for command in emulator.my_commands("en")}
    assert {"reminders", "skills"} <= commands
    ivo = emulator.create_user("Ivo", language_code="en")
    await ivo.send_command("help")
    [help_message] = await emulator.wait_for(ivo.chat_id)
    assert "/reminders" in help_message.text and "/skills" in help_message.text

    await ivo.send_command("events")
    [menu] = await emulator.wait_for(ivo.chat_id)
    await ivo.press(menu, "This month")
    [listing] = await emulator.wait_for(ivo.chat_id, timeout=10)
    assert "🔔" in listing.button_texts
    update = await ivo.press(listing, "🔔")
    await emulator.wait_for_callback_answer(update["callback_query"]["id"], timeout=10)
    [confirmation] = await emulator.wait_for(ivo.chat_id, timeout=10)
    assert "🔔" in confirmation.text  # the reminders area handled its own button

    await ivo.send_command("reminders")
    [listed] = await emulator.wait_for(ivo.chat_id, timeout=10)
    assert listed.text

    await ivo.send_command("privacy")
    [privacy] = await emulator.wait_for(ivo.chat_id)
    assert privacy.text.count("•") >= 1  # the reminder store describes what it keeps


async def test_skills_menu_button_and_command_reach_the_skills_area(runner: BotRunner) -> None:
    await runner.start()
    emulator = runner.emulator
    lea = emulator.create_user("Lea", language_code="en")
    await lea.send_command("skills")
    [menu] = await emulator.wait_for(lea.chat_id, timeout=10)
    assert menu.text and menu.button_texts


async def test_the_main_menu_leads_to_the_areas(runner: BotRunner) -> None:
    await runner.start()
    emulator = runner.emulator
    mia = emulator.create_user("Mia", language_code="en")
    await mia.send_command("help")
    [help_message] = await emulator.wait_for(mia.chat_id)
    assert "🧭 Soft skills" in help_message.button_texts
    assert "🔔 Reminders" in help_message.button_texts
    update = await mia.press(help_message, "Soft skills")
    await emulator.wait_for_callback_answer(update["callback_query"]["id"], timeout=10)
    [skills] = await emulator.wait_for(mia.chat_id, timeout=10)
    assert skills.text and "out of date" not in skills.text
