"""Measure the emulator's throughput through PTB: ``python -m bot_api_emulator.bench``.

Prints sendMessage round trips per second (one after another, and 32 at a time) and the
user -> bot -> reply rate of an echo Application with 200 emulated users and 2,000 messages:
the ceiling the emulator and PTB's HTTP stack leave for the real bot benchmark.
"""

from __future__ import annotations

import asyncio
import time

from telegram import Bot, Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from bot_api_emulator.ptb import polling
from bot_api_emulator.server import BotApiEmulator


async def _send_rate(emulator: BotApiEmulator, total: int, concurrency: int) -> float:
    users = [emulator.create_user(f"S{concurrency}-{i}") for i in range(50)]
    request = HTTPXRequest(connection_pool_size=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with Bot(emulator.token, base_url=emulator.base_url, request=request) as bot:

        async def one(index: int) -> None:
            async with semaphore:
                chat_id = users[index % len(users)].chat_id
                await bot.send_message(chat_id, f"<b>answer</b> {index}", parse_mode="HTML")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        return total / (time.perf_counter() - started)


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_html(f"<b>Echo</b> {update.effective_message.text}")


async def _round_trips(emulator: BotApiEmulator, residents: int, each: int) -> tuple[float, float]:
    app = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .concurrent_updates(64)
        .connection_pool_size(64)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    users = [emulator.create_user(f"R{i}") for i in range(residents)]
    latencies: list[float] = []

    async def resident(index: int) -> None:
        user = users[index]
        for question in range(each):
            started = time.perf_counter()
            await user.send_text(f"question {question}")
            await user.wait_for(timeout=60)
            latencies.append(time.perf_counter() - started)

    async with polling(app):
        started = time.perf_counter()
        await asyncio.gather(*(resident(i) for i in range(residents)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.95)]


async def _main() -> None:
    async with BotApiEmulator() as emulator:
        sequential = await _send_rate(emulator, 1000, 1)
        concurrent = await _send_rate(emulator, 2000, 32)
        rate, p95 = await _round_trips(emulator, 200, 10)
    print(f"sendMessage round trips/s, one at a time: {sequential:.0f}")
    print(f"sendMessage round trips/s, 32 at a time:  {concurrent:.0f}")
    print(f"echo app, 200 users x 10 messages: {rate:.0f} replies/s, p95 {p95 * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(_main())
