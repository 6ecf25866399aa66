"""Partner admins publish listings through the real bot: document -> preview -> Publish."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.conftest import BotRunner
from tests.partners.conftest import FIXTURES, PARTNERS_YAML

ADMIN = 4242  # biblioteca-ursino's admin in PARTNERS_YAML


@pytest.fixture
def partners_yaml(knowledge_copy: Path) -> Iterator[Path]:
    """Add partners.yaml to the module's knowledge copy; remove it and the listings after."""
    (knowledge_copy / "partners.yaml").write_text(PARTNERS_YAML, encoding="utf-8")
    yield knowledge_copy
    (knowledge_copy / "partners.yaml").unlink(missing_ok=True)
    shutil.rmtree(knowledge_copy / "partners", ignore_errors=True)


async def test_a_partner_admin_publishes_a_document_and_removes_a_listing(
    runner: BotRunner, partners_yaml: Path
) -> None:
    emulator = runner.emulator
    await runner.start()
    admin = emulator.create_user("Biblioteca", user_id=ADMIN, language_code="en")
    resident = emulator.create_user("Rosa", language_code="en")
    data = (FIXTURES / "biblioteca-agenda.ics").read_bytes()

    await resident.send_document("agenda.ics", data)
    [refusal] = await emulator.wait_for(resident.chat_id)
    assert "Only partner admins" in refusal.text

    await admin.send_document("agenda.ics", data)
    [preview] = await emulator.wait_for(admin.chat_id, timeout=15)
    assert "3 events, 0 courses" in preview.text
    assert "is in the past: not imported" in preview.text
    assert preview.button_texts == ["✅ Publish", "✖️ Cancel"]
    events_file = partners_yaml / "partners/biblioteca-ursino/events/agenda.yaml"
    assert not events_file.exists()  # nothing before Publish

    await admin.press(preview, "✅ Publish")
    [published] = await emulator.wait_for_edits(admin.chat_id, timeout=30)
    assert "Published" in published.text and "3 added" in published.text
    assert events_file.exists()
    kb = runner.services.knowledge.current
    assert "biblioteca-ursino-gruppo-lettura-2027" in kb.events

    await admin.send_command("listings")
    [listing] = await emulator.wait_for(admin.chat_id)
    assert "(3)" in listing.text and len(listing.button_texts) == 3
    await admin.press(listing, "🗑 Laboratorio di fumetto per ragazzi")
    [after] = await emulator.wait_for_edits(admin.chat_id, timeout=30)
    assert "(2)" in after.text
    assert "laboratorio-fumetto" not in events_file.read_text("utf-8")

    await resident.send_command("listings")
    [refusal] = await emulator.wait_for(resident.chat_id)
    assert "Only partner admins" in refusal.text


async def test_a_broken_document_is_refused_with_its_line(
    runner: BotRunner, partners_yaml: Path
) -> None:
    emulator = runner.emulator
    await runner.start()
    admin = emulator.create_user("Biblioteca", user_id=ADMIN, language_code="en")
    broken = (
        (FIXTURES / "biblioteca-agenda.ics")
        .read_bytes()
        .replace(b"20270108T173000", b"20271345T173000", 1)
    )
    await admin.send_document("agenda.ics", broken)
    [refused] = await emulator.wait_for(admin.chat_id, timeout=15)
    assert "was not published" in refused.text
    assert 'agenda.ics:27: DTSTART "20271345T173000" is not a date' in refused.text
    assert not (partners_yaml / "partners").exists()
    await asyncio.sleep(0)
