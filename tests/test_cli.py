"""The `learncity` command, driven through `main(argv)` on a copy of the sample folder."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import retrieval.embedding
from app.cli import main

ANSWER_KEYS = {
    "question",
    "lang",
    "kind",
    "abstained",
    "safeguarding",
    "answer",
    "sources",
    "programmes",
    "events",
    "helplines",
    "latency_ms",
}


@pytest.fixture(scope="module")
def folders(
    tmp_path_factory: pytest.TempPathFactory, sample_knowledge_dir: Path
) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(sample_knowledge_dir, root / "knowledge")
    return root / "knowledge", root / "data"


@pytest.fixture(autouse=True)
def offline_model(monkeypatch: pytest.MonkeyPatch, embeddings, tmp_path: Path) -> Iterator[None]:
    # Share the session's loaded model; run away from any developer's .env.
    monkeypatch.setattr(retrieval.embedding, "make_embeddings", lambda settings: embeddings)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


def run(argv: list[str], stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None):
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def base(folders: tuple[Path, Path]) -> list[str]:
    knowledge, data = folders
    return ["--knowledge", str(knowledge), "--data", str(data)]


def test_index_reports_what_changed(folders: tuple[Path, Path]) -> None:
    code, out = run([*base(folders), "index"])
    assert code == 0
    assert "files" in out and "chunks in the index" in out
    code, again = run([*base(folders), "index"])
    assert code == 0
    assert "0 chunks embedded" in again  # unchanged folder: no embedding work


def test_ask_json_schema(folders: tuple[Path, Path]) -> None:
    code, out = run(
        [*base(folders), "ask", "corso di italiano gratis la sera per mia madre?", "--json"]
    )
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == ANSWER_KEYS
    assert answer["lang"] == "it" and answer["abstained"] is False
    assert answer["programmes"][0]["id"] == "ita-l2-librino-sera"
    assert {"path", "title", "score"} <= set(answer["sources"][0])
    assert not answer["sources"][0]["path"].startswith("/")  # relative to the knowledge dir
    assert answer["latency_ms"] > 0


def test_ask_stdin_writes_one_json_object_per_line(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = (
        "come si iscrive un figlio alla prima elementare?\n\nricetta della pasta alla norma\n"
    )
    code, out = run([*base(folders), "ask", "-"], stdin=questions, monkeypatch=monkeypatch)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["question"] for line in lines] == [
        "come si iscrive un figlio alla prima elementare?",
        "ricetta della pasta alla norma",
    ]
    assert all(set(line) == ANSWER_KEYS for line in lines)
    assert lines[0]["abstained"] is False and lines[0]["sources"][0]["path"].startswith("guides/")
    assert lines[1]["abstained"] is True and lines[1]["sources"] == []


def test_ask_plain_text_shows_sources(folders: tuple[Path, Path]) -> None:
    code, out = run([*base(folders), "ask", "how do I enrol my child in primary school?"])
    assert code == 0
    assert "Sources:" in out and "guides/" in out


def test_check_lists_every_problem_and_fails(tmp_path: Path, sample_knowledge_dir: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(sample_knowledge_dir, knowledge)
    (knowledge / "programmes" / "broken.yaml").write_text("programmes:\n  - id: [oops\n", "utf-8")
    (knowledge / "events" / "empty.yaml").write_text("", "utf-8")
    code, out = run(["--knowledge", str(knowledge), "check"])
    assert code == 1
    problems = out.splitlines()
    assert any(line.startswith("programmes/broken.yaml:") for line in problems)
    assert any(line.startswith("events/empty.yaml") for line in problems)
    broken = next(line for line in problems if line.startswith("programmes/broken.yaml:"))
    assert broken.split(":")[1].isdigit()  # path:line: message


def test_check_passes_on_the_sample_folder(folders: tuple[Path, Path]) -> None:
    code, out = run([*base(folders), "check"])
    assert code == 0 and out.startswith("OK:")


def test_ask_session_answers_a_follow_up_about_the_previous_answer(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = "corso di italiano gratis la sera a librino\nquanto costa?\ndov'è?\n"
    code, out = run(
        [*base(folders), "ask", "--session", "t1", "-"], stdin=conversation, monkeypatch=monkeypatch
    )
    assert code == 0
    first, cost, where = (json.loads(line) for line in out.splitlines())
    assert first["programmes"][0]["id"] == "ita-l2-librino-sera"
    assert cost["programmes"][0]["id"] == "ita-l2-librino-sera"
    assert "Gratuito" in cost["answer"] or "Gratis" in cost["answer"]
    assert where["sources"][0]["record_id"] == "ita-l2-librino-sera"
    # Without a session every question stands alone: "quanto costa?" has no subject.
    code, out = run([*base(folders), "ask", "-"], stdin="quanto costa?\n", monkeypatch=monkeypatch)
    assert json.loads(out)["programmes"] != first["programmes"]


def test_ask_json_marks_distress_and_gives_helplines(folders: tuple[Path, Path]) -> None:
    code, out = run([*base(folders), "ask", "voglio farla finita, non ce la faccio più", "--json"])
    answer = json.loads(out)
    assert code == 0 and answer["safeguarding"] is True
    assert any("19696" in line or "112" in line for line in answer["helplines"])


def test_chat_switches_language_and_quits(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = "/lang en\nhow do I enrol my child in primary school?\n/nonsense\n/quit\n"
    code, out = run([*base(folders), "chat"], stdin=session, monkeypatch=monkeypatch)
    assert code == 0
    assert "Language: English." in out
    assert "guides/" in out  # the answer shows its sources
    assert "Unknown command" in out
    assert out.rstrip().endswith("Goodbye!")


def test_chat_gives_helplines_first_to_a_message_of_distress(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = "mio figlio viene picchiato dai compagni a scuola, ho paura\n/quit\n"
    code, out = run(
        [*base(folders), "chat", "--lang", "it"], stdin=session, monkeypatch=monkeypatch
    )
    assert code == 0
    reply = out.split("tu> ", 1)[1]
    helplines = reply.split("\n\n", 1)[0]
    assert helplines.startswith("Se tu o qualcun altro siete in pericolo")  # before any answer
    assert "19696" in helplines and "112" in helplines  # from contacts.yaml


def test_chat_ends_cleanly_at_end_of_input(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run([*base(folders), "chat", "--lang", "it"], stdin="", monkeypatch=monkeypatch)
    assert code == 0 and "Arrivederci!" in out


def test_run_without_token_explains_botfather_and_chats(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(
        [*base(folders), "run", "--lang", "en"], stdin="/quit\n", monkeypatch=monkeypatch
    )
    assert code == 0
    assert "@BotFather" in out and "TELEGRAM_BOT_TOKEN" in out
    assert "Goodbye!" in out


def test_terminal_shows_no_library_debug_logs(folders: tuple[Path, Path]) -> None:
    # A real process: the log handlers are the command's own, not pytest's.
    run_once = [*base(folders), "index"]
    assert run(run_once)[0] == 0  # the folder is indexed: the child only searches
    # This checkout's modules, whichever checkout the environment was installed from.
    repo = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join([repo, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    command = [sys.executable, "-m", "app.cli", *base(folders), "ask", "corsi gratis"]
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert quiet.returncode == 0 and quiet.stdout.strip()
    assert "DEBUG" not in quiet.stderr and "INFO" not in quiet.stderr, quiet.stderr
    verbose = subprocess.run(
        [sys.executable, "-m", "app.cli", "-v", *command[3:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert verbose.returncode == 0
    assert "INFO learncity" in verbose.stderr or "INFO retrieval" in verbose.stderr
    assert "DEBUG" not in verbose.stderr  # -v is our progress, not third-party internals
    assert "INFO" not in verbose.stdout  # logs go to stderr: stdout stays the answer


def test_chat_answers_follow_ups_and_small_talk(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = (
        "ciao\ncorso di italiano gratis la sera a librino\nquanto costa?\ngrazie\n/lang fr\n"
        "/skills\n/quit\n"
    )
    code, out = run(
        [*base(folders), "chat", "--lang", "it"], stdin=session, monkeypatch=monkeypatch
    )
    assert code == 0
    replies = out.split("tu> ")
    assert "Ciao!" in replies[1]  # a greeting, not "I don't have this information"
    assert "Italiano" in replies[2] or "italiano" in replies[2]
    assert "Su quello che ti ho appena mostrato" in replies[3] and "Gratuito" in replies[3]
    assert "Prego" in replies[4]
    assert "Langue : français." in out and "bot Telegram" in out  # /skills is in the bot
