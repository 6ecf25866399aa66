"""`run_bot` as a real process: long polling or a webhook, answering, then a clean SIGTERM stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot_api_emulator import BotApiEmulator

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging
from app.root import build_services, run_bot
from learncity.settings import Settings
logging.basicConfig(level=logging.INFO)
settings = Settings()
run_bot(settings, build_services(settings))
print("clean exit", flush=True)
"""


def free_port() -> int:
    """Return a TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment_for(emulator: BotApiEmulator, knowledge: Path, data: Path) -> dict[str, str]:
    """Return the environment that points a bot process at the emulator."""
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "TELEGRAM_BASE_URL": emulator.base_url,
        "TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
        "LEARNCITY_KNOWLEDGE_DIR": str(knowledge),
        "LEARNCITY_DATA_DIR": str(data),
        "ADMIN_USER_IDS": "",
        # The code under test, not whichever checkout the virtualenv's editable install points to.
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }


def start_bot(environment: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start `run_bot` in a new process."""
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_run_bot_answers_and_stops_cleanly_on_sigterm(
    bot_api_emulator: BotApiEmulator, tmp_path: Path, knowledge_copy: Path, mode: str
) -> None:
    emulator = bot_api_emulator
    environment = environment_for(emulator, knowledge_copy, tmp_path / "data")
    if mode == "webhook":
        port = free_port()
        environment.update(
            WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram-hook",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            WEBHOOK_SECRET_TOKEN="s3cret-Token_1",
        )
    process = start_bot(environment, tmp_path)
    try:
        await emulator.wait_until(lambda: emulator.calls_to("setMyCommands"), timeout=60)
        if mode == "webhook":
            await emulator.wait_until(lambda: emulator.webhook, timeout=20)
            assert emulator.webhook is not None
            assert emulator.webhook["url"].endswith("/telegram-hook")
        nora = emulator.create_user("Nora", language_code="en")
        await nora.send_command("help")
        [reply] = await emulator.wait_for(nora.chat_id, timeout=20)
        assert "How I can help" in reply.text
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, output
    assert "clean exit" in output
    assert emulator.token not in output  # the token never reaches the logs


async def test_kill_9_loses_nothing_the_resident_was_told(
    bot_api_emulator: BotApiEmulator, tmp_path: Path, knowledge_copy: Path
) -> None:
    emulator = bot_api_emulator
    environment = environment_for(emulator, knowledge_copy, tmp_path / "data")
    rosa = emulator.create_user("Rosa", language_code="it")
    process = start_bot(environment, tmp_path)
    try:
        await emulator.wait_until(lambda: emulator.calls_to("setMyCommands"), timeout=60)
        await rosa.send_command("start")
        [welcome] = await emulator.wait_for(rosa.chat_id, timeout=20)
        await rosa.press(welcome, "English")
        await emulator.wait_for(rosa.chat_id)
        await rosa.send_text("How do I enrol my child in primary school?")
        [answer] = await emulator.wait_for(rosa.chat_id, timeout=20)
        await rosa.press(answer, "👎")
        [reasons] = await emulator.wait_for(rosa.chat_id)
        await rosa.press(reasons, "✍️ Other: I will write it")
        [ask_reason] = await emulator.wait_for_edits(rosa.chat_id)
        assert "what was missing" in ask_reason.text
    finally:
        process.kill()  # SIGKILL: no shutdown, no final persistence run
        await asyncio.to_thread(process.communicate, timeout=30)

    process = start_bot(environment, tmp_path)
    try:
        await emulator.wait_until(lambda: len(emulator.calls_to("setMyCommands")) > 3, timeout=60)
        await rosa.send_text("The school calendar was missing")
        [thanks] = await emulator.wait_for(rosa.chat_id, timeout=20)
        assert "staff will read it" in thanks.text  # English, and still waiting for the reason
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.communicate, timeout=30)
