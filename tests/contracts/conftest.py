"""Session fixtures for the contract tests: a real PostgreSQL and a real Chroma server.

Each store runs the same contract against its embedded default (SQLite, Chroma in a folder) and
its server option (PostgreSQL, Chroma server). The servers are started once per test session from
the binaries on this machine and stopped (and their folders deleted) at the end. When a binary is
missing the server-side tests skip with the reason; set LEARNCITY_REQUIRE_SERVERS=1 (CI) to make
that a failure instead. LEARNCITY_TEST_POSTGRES_URL / LEARNCITY_TEST_CHROMA_URL point the tests at
servers that are already running (a CI service container) instead of starting them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_DATABASE = "learncity_contract"
STARTUP_TIMEOUT = 60.0


def _unavailable(reason: str) -> None:
    """Skip (or fail, when the servers are required) because a server cannot be started."""
    if os.environ.get("LEARNCITY_REQUIRE_SERVERS") == "1":
        pytest.fail(f"LEARNCITY_REQUIRE_SERVERS=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# PostgreSQL


def _postgres_bin_dir() -> Path | None:
    """Return the folder holding initdb and pg_ctl (newest Debian install first, then PATH)."""
    override = os.environ.get("LEARNCITY_PG_BIN")
    candidates = [Path(override)] if override else []
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(path) for path in versions]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _as_postgres_user() -> list[str] | None:
    """Return the prefix that runs a command as `postgres` as root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser") or ("/usr/sbin/runuser" if Path("/usr/sbin/runuser").exists()
                                          else None)
    return [runuser, "-u", "postgres", "--"] if runuser else None


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=STARTUP_TIMEOUT)
    if result.returncode != 0:
        details = result.stderr.strip() or result.stdout.strip()
        if log is not None:
            details += "\n" + _log_tail(log)
        raise RuntimeError(f"{what} failed ({result.returncode}): {details}")


def _zone_on_another_date() -> str:
    """Return a zone whose calendar date differs from UTC's now.

    A server set to a local zone hands timestamptz values back in that zone; code that takes them
    for UTC (`.date()` of a stored instant) must fail here, whatever the time of the test run.
    """
    return "Etc/GMT+12" if dt.datetime.now(dt.UTC).hour < 12 else "Pacific/Kiritimati"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start a throw-away PostgreSQL on a free port of 127.0.0.1; yield its SQLAlchemy URL."""
    external = os.environ.get("LEARNCITY_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        _unavailable("PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin "
                     "or on PATH; set LEARNCITY_PG_BIN or LEARNCITY_TEST_POSTGRES_URL)")
    prefix = _as_postgres_user()
    if prefix is None:
        _unavailable("tests run as root and there is no 'postgres' user or runuser to start "
                     "PostgreSQL with (it refuses to run as root)")
    import psycopg  # the driver the server option uses; a missing one should fail, not skip

    assert bin_dir is not None and prefix is not None
    # Not under pytest's tmp_path: that folder is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="learncity-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if prefix:
        for path in (root, sockets):
            shutil.chown(path, user="postgres", group="postgres")
    port = _free_port()
    started = False
    try:
        _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--no-locale", "--no-sync"], "initdb")
        # Durability is not under test here: fsync off makes the session fast.
        options = (f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off "
                   f"-c timezone={_zone_on_another_date()}")
        _run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
              "-w", "-t", str(int(STARTUP_TIMEOUT)), "start"], "pg_ctl start", log)
        started = True
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f"CREATE DATABASE {PG_DATABASE}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=STARTUP_TIMEOUT, check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


# Chroma server


def _chroma_binary() -> Path | None:
    """Return the `chroma` CLI of the installed chromadb package (next to this Python first)."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.is_file():
        return beside
    found = shutil.which("chroma")
    return Path(found) if found else None


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def chroma_server_url() -> Iterator[str]:
    """Start `chroma run` on a free port of 127.0.0.1 with a temp folder; yield its URL."""
    external = os.environ.get("LEARNCITY_TEST_CHROMA_URL")
    if external:
        yield external.rstrip("/")
        return
    binary = _chroma_binary()
    if binary is None:
        _unavailable("the chroma CLI (from the chromadb package) is not installed")
    assert binary is not None
    root = Path(tempfile.mkdtemp(prefix="learncity-chroma-"))
    log = root / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(binary), "run", "--path", str(root / "data"), "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _heartbeat(url):
            if server.poll() is not None:
                raise RuntimeError(
                    f"chroma run exited with {server.returncode}:\n{_log_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not answer at {url} in {STARTUP_TIMEOUT} s:\n"
                                   f"{_log_tail(log)}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)
