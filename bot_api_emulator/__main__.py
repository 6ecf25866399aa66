"""Run the emulator by hand: ``python -m bot_api_emulator [--port 8081]``, then chat as a user.

Point the bot at it with ``TELEGRAM_BASE_URL`` / ``TELEGRAM_BASE_FILE_URL`` and the printed token;
each line typed here is sent as a message from one emulated user, and the bot's replies print.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot_api_emulator.server import DEFAULT_TOKEN, BotApiEmulator
from bot_api_emulator.state import BotMessage


def _show(message: BotMessage) -> None:
    print(f"bot> {message.text or message.method}")
    if message.button_texts:
        print(f"     buttons: {message.button_texts}")


async def _main(port: int, token: str) -> None:
    async with BotApiEmulator(port=port, token=token) as emulator:
        user = emulator.create_user("Resident", language_code="en")
        print(f"TELEGRAM_BOT_TOKEN={emulator.token}")
        print(f"TELEGRAM_BASE_URL={emulator.base_url}")
        print(f"TELEGRAM_BASE_FILE_URL={emulator.base_file_url}")
        print("Type a message (Ctrl-D to quit).")
        loop = asyncio.get_running_loop()
        shown = 0
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if line.strip():
                await user.send_text(line.strip())
            await asyncio.sleep(1.5)
            messages = emulator.sent_messages(user.chat_id, include_deleted=True)
            for message in messages[shown:]:
                _show(message)
            shown = len(messages)


def main() -> None:
    """Parse the command line and run the emulator until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    asyncio.run(_main(args.port, args.token))


if __name__ == "__main__":
    main()
