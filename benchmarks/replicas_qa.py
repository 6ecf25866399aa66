"""Residents asking and going through a guided flow while three `learncity run` replicas serve them.

Run (starts a throw-away PostgreSQL 15 cluster and a Chroma server unless given URLs):

    nice python benchmarks/replicas_qa.py --replicas 3 --residents 200 --kill-one

What runs: the Telegram Bot API emulator (in this process) acting as the load balancer (its
`webhook_targets`: each update goes to the next replica round-robin, a dead one is skipped), and
N subprocesses `python -m app.cli run`, each a whole replica in webhook mode on its own port,
all on one PostgreSQL and one Chroma server, with a copy of the sample knowledge folder.

Each resident (an emulated Telegram user, English): asks a question, starts the quick
self-assessment (`/skills` -> quick version -> Start), answers four statements, pauses, asks a
second question, resumes from the Resume button, answers the five others (results: a chart and
the suggestions), then asks a third question. A resident waits for each reply before the next
step; a step that gets no reply in `--reply-timeout` seconds is done again (as a person would),
and counted. With `--kill-one`, once a third of the questions are answered, replica 1 is killed
with SIGKILL.

Ends with one line:
`replicas: residents 200, questions 600, answered once 600, lost 0, duplicates 0,
flows resumed 200/200, p95 reply 1.2 s`
(`answered once`: questions answered the first time they were asked; `lost`: question messages
that never got an answer, even late (the resident asked again); `duplicates`: answers beyond the
messages sent; `flows resumed`: flows paused, then resumed and finished (results shown), each
step on whichever replica the balancer chose; `p95 reply`: from the resident's message or tap to
the bot's reply, over every step.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTIONS = (
    "How do I enrol my child in primary school?",
    "Are there English courses for adults?",
    "Where can I learn to use a computer?",
    "What events are there this week?",
    "How much does the adult school cost?",
    "Is there a library near the station?",
)
FLOW = "lifecomp-quick"
ANSWER = "Quite like me"
SECRET = "bench-replica-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- throw-away servers -------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(given: str | None, root: Path) -> Iterator[str]:
    """Yield the database URL: the given one, or a throw-away PostgreSQL cluster's."""
    if given:
        yield given
        return
    import psycopg

    from tests.contracts.conftest import _as_postgres_user, _postgres_bin_dir

    bin_dir = _postgres_bin_dir()
    prefix = _as_postgres_user()
    if bin_dir is None or prefix is None:
        raise SystemExit("PostgreSQL binaries not found (or no 'postgres' user): pass "
                         "--database-url")
    folder = root / "pg"
    folder.mkdir()
    sockets = folder / "sockets"
    sockets.mkdir()
    if prefix:
        for path in (root, folder, sockets):
            shutil.chown(path, user="postgres", group="postgres")
    port = free_port()
    data, log = folder / "data", folder / "server.log"
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A",
                    "trust", "-E", "UTF8", "--no-locale", "--no-sync"], check=True,
                   capture_output=True)
    options = (f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200 "
               "-c fsync=off -c synchronous_commit=off")
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o",
                    options, "-w", "start"], check=True, capture_output=True)
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute("CREATE DATABASE bench")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                        "stop"], capture_output=True, check=False)


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def chroma(given: str | None, root: Path) -> Iterator[str]:
    """Yield the Chroma server URL: the given one, or a `chroma run` started here."""
    if given:
        yield given
        return
    binary = Path(sys.executable).parent / "chroma"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (root / "chroma.log").open("wb") as log:
        server = subprocess.Popen(
            [str(binary), "run", "--path", str(root / "chroma"), "--host", "127.0.0.1", "--port",
             str(port)], stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"}, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _heartbeat(url):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("chroma run did not start")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


# -- residents ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the residents saw."""

    latencies: list[float] = field(default_factory=list)
    asked: int = 0  # questions (not counting the times one was asked again)
    asked_again: int = 0  # questions sent again (at least once) after no answer in time
    sent: dict[int, int] = field(default_factory=dict)  # chat -> question messages sent
    steps_again: int = 0  # taps done again after no reply
    flows_done: int = 0
    answered: dict[tuple[int, int], int] = field(default_factory=dict)  # (chat, n) -> answers
    failures: list[str] = field(default_factory=list)


class Resident:
    """One emulated resident going through the script, step by step."""

    def __init__(self, emulator: Any, number: int, tally: Tally, timeout: float) -> None:
        self.emulator = emulator
        self.user = emulator.create_user(f"Resident {number}", language_code="en")
        self.number = number
        self.tally = tally
        self.timeout = timeout

    @property
    def chat(self) -> int:
        return int(self.user.chat_id)

    async def _reply(self, send: Any, *, count: int = 1, predicate: Any = None,
                     edits: bool = False, attempts: int = 4) -> list[Any]:
        """Do `send` and wait for the reply (again after a silence); return the replies."""
        for attempt in range(attempts):
            mark = (len(self.emulator.chat(self.chat).edit_log) if edits
                    else self.emulator.mark(self.chat))
            started = time.monotonic()
            await send()
            try:
                if edits:
                    replies = await self.emulator.wait_for_edits(
                        self.chat, count, timeout=self.timeout, predicate=predicate, since=mark)
                else:
                    replies = await self.emulator.wait_for(
                        self.chat, count, timeout=self.timeout, predicate=predicate, since=mark)
            except Exception:  # no reply in time: do it again, as a person would
                if attempt == 0:
                    self.tally.steps_again += 1
                continue
            self.tally.latencies.append(time.monotonic() - started)
            return list(replies)
        raise NoReply(f"resident {self.number}: no reply after {attempts} attempts")

    async def ask(self, n: int) -> None:
        """Ask question `n`; ask again when no answer came (and count it lost)."""
        question = QUESTIONS[(self.number + n) % len(QUESTIONS)]
        self.tally.asked += 1
        for attempt in range(4):
            mark = self.emulator.mark(self.chat)
            started = time.monotonic()
            await self.user.send_text(question)
            self.tally.sent[self.chat] = self.tally.sent.get(self.chat, 0) + 1
            try:
                await self.emulator.wait_for(self.chat, 1, timeout=self.timeout,
                                             predicate=_is_answer, since=mark)
            except Exception:
                self.tally.asked_again += 1 if attempt == 0 else 0
                continue
            self.tally.latencies.append(time.monotonic() - started)
            self.tally.answered[(self.chat, n)] = mark
            return
        raise NoReply(f"resident {self.number}: question {n} never answered")

    async def tap(self, message_id: int, label: str, *, edits: bool = True,
                  count: int = 1, predicate: Any = None, attempts: int = 4) -> list[Any]:
        async def press() -> None:
            await self.user.press(message_id, label)

        return await self._reply(press, edits=edits, count=count, predicate=predicate,
                                 attempts=attempts)

    async def resume(self) -> tuple[int, int] | None:
        """Find the flow again from /skills (a tap whose reply never came); None: it is done."""
        [menu] = await self._reply(lambda: self.user.send_command("skills"),
                                   predicate=lambda m: "quick version" in " ".join(m.button_texts))
        if not any("Resume: " in text for text in menu.button_texts):
            if any("results" in text.lower() for text in menu.button_texts):
                return None  # finished: its results are there
            raise NoReply(f"resident {self.number}: the flow is neither in progress nor done")
        [step] = await self.tap(menu.message_id, "Resume: ", edits=False,
                                predicate=lambda m: "/9" in (m.text or ""))
        return step.message_id, _number(step.text)

    async def run(self) -> None:
        await self.ask(0)
        [menu] = await self._reply(lambda: self.user.send_command("skills"),
                                   predicate=lambda m: "quick version" in " ".join(m.button_texts))
        [intro] = await self.tap(menu.message_id, "quick version", edits=False,
                                 predicate=lambda m: "Start" in " ".join(m.button_texts))
        [step] = await self.tap(intro.message_id, "Start")
        qid, current, paused = intro.message_id, _number(step.text), False
        while True:
            if current == 5 and not paused:
                [stopped] = await self.tap(qid, "Pause",
                                           predicate=lambda m: "Paused" in (m.text or ""))
                await self.ask(1)
                [resumed] = await self.tap(stopped.message_id, "Resume", edits=False,
                                           predicate=lambda m: "/9" in (m.text or ""))
                qid, current, paused = resumed.message_id, _number(resumed.text), True
                continue
            try:
                if current == 9:
                    await self.tap(qid, ANSWER, edits=False, attempts=2,
                                   predicate=lambda m: "Your results" in (m.text or ""))
                    break
                await self.tap(qid, ANSWER, predicate=_at(current + 1), attempts=2)
                current += 1
            except (NoReply, LookupError):
                # The step's reply never came, or the message moved on: find the flow again.
                found = await self.resume()
                if found is None:
                    break
                qid, current = found
        self.tally.flows_done += 1
        await self.ask(2)


class NoReply(Exception):
    """A resident got no reply after doing a step again."""


def _number(text: str | None) -> int:
    found = re.search(r"(\d)/9", text or "")
    if found is None:
        raise NoReply(f"no step number in {text!r}")
    return int(found.group(1))


def _is_answer(message: Any) -> bool:
    return "👍" in message.button_texts


def _at(number: int) -> Any:
    return lambda message: f"{number}/9" in (message.text or "")


# -- the run ------------------------------------------------------------------------------------


def start_replica(n: int, *, port: int, emulator: Any, database_url: str, chroma_url: str,
                  knowledge: Path, root: Path) -> subprocess.Popen[bytes]:
    data = root / f"replica-{n}"
    data.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "TELEGRAM_BASE_URL": emulator.base_url,
        "TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
        "WEBHOOK_URL": "https://bot.example.city/telegram",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET_TOKEN": SECRET,
        "DATABASE_URL": database_url,
        "CHROMA_SERVER_URL": chroma_url,
        "LEARNCITY_KNOWLEDGE_DIR": str(knowledge),
        "LEARNCITY_DATA_DIR": str(data),
        "DEFAULT_LANGUAGE": "en",
        "FLOOD_MAX_MESSAGES": "1000",
        "ANONYMIZED_TELEMETRY": "False",
    }
    log = (root / f"replica-{n}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "app.cli", "-v", "run"], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a replica exited with {process.returncode} while starting")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.5)
    raise SystemExit(f"a replica did not listen on {port} within {timeout} s")


async def run(args: argparse.Namespace, database_url: str, chroma_url: str, root: Path) -> str:
    from bot_api_emulator.server import BotApiEmulator

    knowledge = root / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    async with BotApiEmulator(default_timeout=args.reply_timeout) as emulator:
        ports = [free_port() for _ in range(args.replicas)]
        emulator.webhook_targets = [f"http://127.0.0.1:{port}/telegram" for port in ports]
        processes = []
        started = time.monotonic()
        for n, port in enumerate(ports):
            processes.append(start_replica(n, port=port, emulator=emulator,
                                           database_url=database_url, chroma_url=chroma_url,
                                           knowledge=knowledge, root=root))
            if n == 0:  # the first one syncs the index; the others then start from it
                await wait_listening(port, processes[0], args.start_timeout)
        for port, process in zip(ports, processes, strict=True):
            await wait_listening(port, process, args.start_timeout)
        print(f"{args.replicas} replicas listening after {time.monotonic() - started:.0f} s",
              flush=True)
        tally = Tally()
        residents = [Resident(emulator, n, tally, args.reply_timeout)
                     for n in range(args.residents)]
        killed = None
        began = time.monotonic()

        async def killer() -> None:
            nonlocal killed
            target = args.residents  # a third of the questions (three each) answered
            while len(tally.answered) < target:
                await asyncio.sleep(0.2)
            processes[1].send_signal(signal.SIGKILL)
            killed = f"replica-1 after {len(tally.answered)} answers"
            print(f"killed replica-1 (SIGKILL) after {len(tally.answered)} answers, "
                  f"{time.monotonic() - began:.0f} s", flush=True)

        async def resident(person: Resident, delay: float) -> None:
            await asyncio.sleep(delay)
            try:
                await person.run()
            except Exception as error:  # noqa: BLE001 - counted, the run goes on
                tally.failures.append(f"{type(error).__name__}: {error}")

        kill_task = asyncio.create_task(killer()) if args.kill_one else None
        # Residents arrive over `--arrival` seconds.
        await asyncio.gather(*(resident(person, args.arrival * n / args.residents)
                               for n, person in enumerate(residents)))
        if kill_task is not None and not kill_task.done():
            kill_task.cancel()
        elapsed = time.monotonic() - began
        await asyncio.sleep(2.0)  # late duplicates have time to arrive
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

        # Per chat: answers beyond the messages sent are duplicates; messages never answered
        # (even late) are lost.
        duplicates = lost = 0
        for person in residents:
            answers = sum(1 for m in emulator.sent_messages(person.chat) if _is_answer(m))
            sent = tally.sent.get(person.chat, 0)
            duplicates += max(0, answers - sent)
            lost += max(0, sent - answers)
        answered_once = tally.asked - tally.asked_again
        latencies = sorted(tally.latencies)
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("nan")
        print(f"{args.replicas} replicas, killed {killed or 'none'}; {elapsed:.0f} s; "
              f"updates per replica {sorted(emulator.webhook_deliveries.values())}; "
              f"questions asked again {tally.asked_again}, taps done again {tally.steps_again}; "
              f"failures {len(tally.failures)}"
              + (f" (first: {tally.failures[0]})" if tally.failures else ""), flush=True)
        return (f"replicas: residents {args.residents}, questions {tally.asked}, "
                f"answered once {answered_once}, lost {lost}, "
                f"duplicates {duplicates}, flows resumed {tally.flows_done}/{args.residents}, "
                f"p95 reply {p95:.1f} s")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL (default: a throw-away one)")
    parser.add_argument("--chroma-url", help="a Chroma server (default: `chroma run` here)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL replica 1 midway")
    parser.add_argument("--arrival", type=float, default=20.0,
                        help="seconds over which the residents start")
    parser.add_argument("--reply-timeout", type=float, default=30.0)
    parser.add_argument("--start-timeout", type=float, default=600.0)
    args = parser.parse_args()
    if args.replicas < 2 or args.residents < 1:
        parser.error("--replicas must be at least 2 and --residents at least 1")
    root = Path(tempfile.mkdtemp(prefix="learncity-replicas-"))
    os.chmod(root, 0o755)
    print(f"logs in {root}", flush=True)
    with postgres(args.database_url, root) as database_url, \
            chroma(args.chroma_url, root) as chroma_url:
        print(asyncio.run(run(args, database_url, chroma_url, root)), flush=True)


if __name__ == "__main__":
    main()
