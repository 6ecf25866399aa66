"""Load benchmark: simulated residents asking questions to the real bot through the emulator.

Questions arrive at a steady overall rate (Poisson arrivals, `--arrival-rate` per second), spread
over the residents; a resident never sends a question before the previous one was answered.
`--arrival-rate 0` sends as fast as answers come back (saturation: the bot's top throughput,
latency then only measures the queue).

The bot is the real Application (real PTB HTTP stack, long polling) with the real services
(embedding model, Chroma index of a copy of the knowledge folder, SQLite). The Bot API emulator and
the residents run in a second process, as Telegram and its users would; the bot's process is the
one measured (CPU per answer, peak memory).

    python benchmarks/bot_load.py                       # 200 residents, 2,000 questions, 60/s
    python benchmarks/bot_load.py --arrival-rate 0      # saturation: as fast as answered
    python benchmarks/bot_load.py --rate 30             # with Telegram's ~30 messages/s ceiling

Prints a table and writes benchmarks/results/bot_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import multiprocessing
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = [
    ("How do I enrol my child in primary school?", "en"),
    ("Come iscrivo mio figlio a scuola?", "it"),
    ("corsi di italiano per stranieri", "it"),
    ("free Italian courses for foreigners", "en"),
    ("doposcuola gratuito per ragazzi", "it"),
    ("homework help for my son", "en"),
    ("cosa c'è questo fine settimana per bambini?", "it"),
    ("events this weekend", "en"),
    ("corsi di informatica per anziani", "it"),
    ("digital skills course for seniors", "en"),
    ("come ottengo lo SPID?", "it"),
    ("How do I get SPID digital identity?", "en"),
    ("sostegno per alunni con disabilità", "it"),
    ("special educational needs support at school", "en"),
    ("diploma serale per adulti", "it"),
    ("evening school for adults", "en"),
    ("volontariato in città", "it"),
    ("where can I volunteer?", "en"),
    ("biblioteca e maker space", "it"),
    ("quanto costa un volo per Tokyo?", "it"),
]


def percentile(values: list[float], share: float) -> float:
    """Return the `share` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[index]


async def drive(connection: Any, residents: int, questions: int, arrival_rate: float) -> None:
    """Run the emulator and the residents (in their own process, like Telegram and its users)."""
    from bot_api_emulator import BotApiEmulator

    async with BotApiEmulator() as emulator:
        connection.send(
            {
                "token": emulator.token,
                "base_url": emulator.base_url,
                "base_file_url": emulator.base_file_url,
            }
        )
        await asyncio.to_thread(connection.recv)  # the bot is polling
        users = [emulator.create_user(f"R{n}", language_code="it") for n in range(residents)]
        # Arrival times of every question (seconds from the start), dealt to residents in turn.
        generator = random.Random(42)
        arrivals: list[list[float]] = [[] for _ in range(residents)]
        moment = 0.0
        for number in range(questions):
            if arrival_rate > 0:
                moment += generator.expovariate(arrival_rate)
            arrivals[number % residents].append(moment)
        latencies: list[float] = []
        failures = 0
        started = time.perf_counter() + 0.2

        async def resident(index: int) -> None:
            nonlocal failures
            user = users[index]
            for step, due in enumerate(arrivals[index]):
                text, _ = QUESTIONS[(index + step) % len(QUESTIONS)]
                delay = started + due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.perf_counter()
                await user.send_text(text)
                try:
                    await emulator.wait_for(user.chat_id, timeout=120)
                except AssertionError:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(resident(n) for n in range(residents)))
        elapsed = time.perf_counter() - started
        connection.send({"latencies": latencies, "failures": failures, "elapsed": elapsed})
        await asyncio.to_thread(connection.recv)  # the bot stopped polling: close the emulator


def drive_process(connection: Any, residents: int, questions: int, arrival_rate: float) -> None:
    """Entry point of the driver process."""
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(drive(connection, residents, questions, arrival_rate))


async def serve(connection: Any, rate: float, threads: int) -> dict[str, Any]:
    """Run the real bot against the driver's emulator until the driver reports."""
    from app.root import build_application, build_services
    from learncity.settings import Settings

    endpoint = await asyncio.to_thread(connection.recv)
    workdir = Path(tempfile.mkdtemp(prefix="bot-load-"))
    shutil.copytree(REPO / "knowledge", workdir / "knowledge")
    process = psutil.Process()
    peak_rss = process.memory_info().rss
    sampling = True

    async def sample_memory() -> None:
        nonlocal peak_rss
        while sampling:
            peak_rss = max(peak_rss, process.memory_info().rss)
            await asyncio.sleep(0.05)

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        knowledge_dir=workdir / "knowledge",
        data_dir=workdir / "data",
        telegram_bot_token=endpoint["token"],
        telegram_base_url=endpoint["base_url"],
        telegram_base_file_url=endpoint["base_file_url"],
        embedding_threads=threads,
        flood_max_messages=1000,
    )
    started_build = time.perf_counter()
    services = build_services(settings)
    app = build_application(settings, services, watch=False, max_messages_per_second=rate)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # warms the model and index
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=10)
    warm_seconds = time.perf_counter() - started_build
    sampler = asyncio.create_task(sample_memory())
    cpu_before = process.cpu_times()
    connection.send("ready")
    report = await asyncio.to_thread(connection.recv)
    cpu_after = process.cpu_times()
    sampling = False
    await sampler
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    services.close()
    connection.send("stopped")
    shutil.rmtree(workdir, ignore_errors=True)
    latencies: list[float] = report["latencies"]
    elapsed: float = report["elapsed"]
    answered = len(latencies)
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    return {
        "answered": answered,
        "failures": report["failures"],
        "seconds": round(elapsed, 2),
        "answered_per_second": round(answered / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "bot_cpu_ms_per_answer": round(cpu / answered * 1000, 1) if answered else None,
        "bot_peak_rss_mb": round(peak_rss / 2**20, 1),
        "bot_ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "startup_seconds": round(warm_seconds, 1),
    }


def run(
    residents: int, questions: int, rate: float, threads: int, arrival_rate: float
) -> dict[str, Any]:
    """Start the driver process, serve it, and return the figures."""
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    driver = context.Process(
        target=drive_process, args=(theirs, residents, questions, arrival_rate), daemon=True
    )
    driver.start()
    try:
        figures = asyncio.run(serve(mine, rate, threads))
    finally:
        driver.join(timeout=30)
        if driver.is_alive():
            driver.terminate()
    return {
        "residents": residents,
        "questions": questions,
        **figures,
        "arrival_rate": arrival_rate or "saturation",
        "overall_rate_limit": rate,
        "embedding_threads": threads,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    """Parse arguments, run, print a table and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="overall messages/s the bot may send (Telegram allows about 30; default: no ceiling)",
    )
    parser.add_argument("--threads", type=int, default=1, help="embedding model threads")
    parser.add_argument(
        "--arrival-rate", type=float, default=60.0, help="questions per second (0: saturation)"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "bot_load.json"
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(
        arguments.residents,
        arguments.questions,
        arguments.rate,
        arguments.threads,
        arguments.arrival_rate,
    )
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(f"written to {arguments.output}")


if __name__ == "__main__":
    main()
