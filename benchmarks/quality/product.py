"""Running the product: the `learncity` command, `index`, and `ask --json -` fed on stdin."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from quality.common import log


def default_command() -> list[str]:
    """Return the `learncity` console script next to this interpreter, or the one on PATH."""
    beside = Path(sys.executable).with_name("learncity")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("learncity")
    if found:
        return [found]
    return [sys.executable, "-m", "app.cli"]


@dataclass
class AskRun:
    """The answers of one `ask` process, aligned with its questions (None where there is none)."""

    answers: list[dict[str, Any] | None]
    seconds: float
    returncode: int | None
    stderr_tail: str = ""
    misaligned: int = 0


@dataclass
class Product:
    """The `learncity` command on one knowledge folder and one data folder."""

    command: list[str]
    knowledge: Path
    data: Path
    timeout: float = 1800.0
    env: dict[str, str] = field(default_factory=dict)

    def _base(self) -> list[str]:
        return [*self.command, "--knowledge", str(self.knowledge), "--data", str(self.data)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("PYTHONIOENCODING", "utf-8")
        env.update(self.env)
        return env

    def index(self) -> tuple[float, str]:
        """Run `learncity index`; return the seconds and its last output line."""
        started = time.perf_counter()
        done = subprocess.run(
            [*self._base(), "index"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self._env(),
            timeout=self.timeout,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"learncity index failed ({done.returncode}): {done.stderr[-2000:]}")
        return seconds, (done.stdout.strip().splitlines() or [""])[-1]

    def supports_session(self) -> bool:
        """Return whether `ask` takes `--session` (the conversation mode)."""
        done = subprocess.run(
            [*self.command, "ask", "--help"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self._env(),
            timeout=120,
            check=False,
        )
        return "--session" in done.stdout

    def ask(self, questions: Sequence[str], *, session: str | None = None) -> AskRun:
        """Feed every question to one `ask --json -` process; read one JSON object a line."""
        lines = [" ".join(question.split()) or "?" for question in questions]
        argv = [*self._base(), "ask", "--json", *(["--session", session] if session else []), "-"]
        started = time.perf_counter()
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as errors:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                encoding="utf-8",
                env=self._env(),
                bufsize=1,
            )
            assert process.stdin is not None and process.stdout is not None
            writer = threading.Thread(target=_feed, args=(process.stdin, lines), daemon=True)
            writer.start()
            watchdog = threading.Timer(self.timeout, process.kill)
            watchdog.start()
            try:
                answers, misaligned = _read_answers(process.stdout, lines)
                process.wait()
            finally:
                watchdog.cancel()
                writer.join(timeout=5)
            errors.seek(0)
            tail = errors.read()[-1500:]
        answers = answers[: len(lines)] + [None] * max(0, len(lines) - len(answers))
        if process.returncode != 0 or misaligned:
            log(f"warning: ask exited {process.returncode}, {misaligned} misaligned; {tail[-300:]}")
        return AskRun(answers, time.perf_counter() - started, process.returncode, tail, misaligned)


def _feed(stdin: IO[str], lines: Sequence[str]) -> None:
    """Write the questions, one a line, then close stdin (run in a thread: a full stdout pipe
    never blocks our writes)."""
    try:
        for line in lines:
            stdin.write(line + "\n")
            stdin.flush()
    except OSError:  # BrokenPipeError included: the process ended early
        pass
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def _read_answers(
    stdout: Iterable[str], lines: Sequence[str]
) -> tuple[list[dict[str, Any] | None], int]:
    """Return the answers read one JSON object a line, and how many name another question."""
    answers: list[dict[str, Any] | None] = []
    misaligned = 0
    for raw in stdout:
        if not raw.strip():
            continue
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = None
        answer = parsed if isinstance(parsed, dict) else None
        index = len(answers)
        if (
            answer is not None
            and index < len(lines)
            and isinstance(answer.get("question"), str)
            and " ".join(answer["question"].split()) != lines[index]
        ):
            misaligned += 1
        answers.append(answer)
    return answers, misaligned
