"""Benchmark the self-assessments: step reply time and chart rendering time (p50/p95).

Measures
  step (service):  FlowService.answer + the step's keyboard, real SQLite file (a commit a step)
  step (emulator): a button press through the real PTB HTTP stack and the Bot API emulator,
                   until the edited question is back (the round trip a user waits for)
  chart:           one PNG (bars, 9 competences), after one warm-up render (matplotlib's import)
Targets: step p95 <= 200 ms, chart p95 <= 300 ms. Writes benchmarks/results/flows.json.

    nice -n 5 python benchmarks/flows_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from telegram.ext import ApplicationBuilder

from bot.skills import SkillsHandlers, _step_keyboard
from bot_api_emulator import BotApiEmulator
from flows.service import FlowService, ResultsView, StepView
from flows.store import FlowStore
from learncity.content.models import Programme
from learncity.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
FLOW = "lifecomp-full"


def _programmes() -> dict[str, Programme]:
    found = {}
    for path in sorted((ROOT / "knowledge" / "programmes").glob("*.yaml")):
        for record in yaml.safe_load(path.read_text(encoding="utf-8"))["programmes"]:
            found[record["id"]] = Programme.model_validate(record)
    return found


def _service(folder: Path) -> FlowService:
    store = FlowStore(engine=make_engine(f"sqlite:///{folder / 'bench.sqlite3'}"))
    store.create_schema()
    programmes = _programmes()
    return FlowService(assessments_dir=ROOT / "knowledge" / "assessments", store=store,
                       programmes=lambda: programmes)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


def bench_service(service: FlowService, rounds: int) -> tuple[list[float], list[float]]:
    """Time every step of `rounds` full questionnaires, and the chart of each result."""
    steps: list[float] = []
    charts: list[float] = []
    total = len(service.definition(FLOW).items)
    service.chart(_finish(service, 999, total), lang="en")  # warm-up: matplotlib's import
    for round_ in range(rounds):
        lang = ("it", "en")[round_ % 2]
        service.start(round_, FLOW, lang=lang)
        outcome: StepView | ResultsView | None = None
        for index in range(total):
            began = time.perf_counter()
            outcome = service.answer(round_, FLOW, (index % 5) + 1, at=index, lang=lang)
            if isinstance(outcome, StepView):
                _step_keyboard(outcome, lang)
            steps.append(time.perf_counter() - began)
        assert isinstance(outcome, ResultsView)
        for _ in range(4):
            began = time.perf_counter()
            png = service.chart(outcome, lang=lang)
            charts.append(time.perf_counter() - began)
            assert png[:4] == b"\x89PNG"
    return steps, charts


def _finish(service: FlowService, user: int, total: int) -> ResultsView:
    service.start(user, FLOW, lang="en")
    outcome = None
    for index in range(total):
        outcome = service.answer(user, FLOW, 3, at=index, lang="en")
    assert isinstance(outcome, ResultsView)
    return outcome


async def bench_emulator(service: FlowService, rounds: int) -> list[float]:
    """Time button press -> edited question through PTB and the emulator."""
    samples: list[float] = []
    async with BotApiEmulator() as emulator:
        app = (ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)
               .base_file_url(emulator.base_file_url).build())
        app.add_handlers(SkillsHandlers(service=service).handlers())
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        try:
            for round_ in range(rounds):
                user = emulator.create_user(f"U{round_}", language_code=("it", "en")[round_ % 2])
                await user.send_command("/skills")
                (menu,) = await user.wait_for()
                await user.press(menu.message_id, data=f"sk:s:{FLOW}")
                (intro,) = await user.wait_for()
                await user.press(intro.message_id, data=f"sk:go:{FLOW}")
                await emulator.wait_for_edits(user.id)
                for index in range(len(service.definition(FLOW).items) - 1):
                    since = len(emulator.chat(user.id).edit_log)
                    began = time.perf_counter()
                    await user.press(intro.message_id, data=f"sk:a:{FLOW}:{index}:{index % 5 + 1}")
                    await emulator.wait_for_edits(user.id, since=since)
                    samples.append(time.perf_counter() - began)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
    return samples


def main() -> None:
    """Run the benchmark, print a table, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        service = _service(Path(folder))
        steps, charts = bench_service(service, args.rounds)
        emulated = asyncio.run(bench_emulator(service, args.rounds))
    rows: dict[str, Any] = {
        "step_service": {**_percentiles(steps), "target_p95_ms": 200},
        "step_emulator": {**_percentiles(emulated), "target_p95_ms": 200},
        "chart": {**_percentiles(charts), "target_p95_ms": 300},
    }
    print(f"{'measure':<16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'target':>10}  ok")
    for name, row in rows.items():
        ok = row["p95_ms"] <= row["target_p95_ms"]
        print(f"{name:<16}{row['n']:>6}{row['p50_ms']:>10}{row['p95_ms']:>10}{row['max_ms']:>10}"
              f"{row['target_p95_ms']:>10}  {'yes' if ok else 'NO'}")
    out = ROOT / "benchmarks" / "results" / "flows.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": f"nice -n 5 python benchmarks/flows_bench.py --rounds {args.rounds}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "flow": FLOW,
        "results": rows,
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
