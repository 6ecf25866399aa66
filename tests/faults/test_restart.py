"""A broken file after a restart: its last good version serves, through every entry point."""

from __future__ import annotations

import io
import json

import pytest

from app.cli import main
from tests.faults.conftest import Site, break_languages, close, make_services

LANGUAGE_PROGRAMMES = {"ita-l2-librino-sera", "cpia-alfabetizzazione-a2", "language-cafe-tandem"}
# Events in both event files; two point into languages.yaml, the Repair Café does not.
EVENTS = {"ev-repair-cafe"}


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_knowledge_service_recreated_on_the_same_data_serves_the_last_good_version(
    site: Site, embeddings: object
) -> None:
    break_languages(site)

    services = make_services(site, embeddings)
    try:
        report = services.knowledge.reload()
        kb = services.knowledge.current
        answer = services.assistant.ask(
            "corso di italiano gratis la sera per mia madre?", lang="it"
        )
    finally:
        close(services)

    assert set(kb.programmes) >= LANGUAGE_PROGRAMMES
    assert set(kb.events) >= EVENTS
    pointing = {e.id for e in kb.events.values() if e.programme_id in LANGUAGE_PROGRAMMES}
    assert pointing, "the sample has events pointing into languages.yaml"
    messages = [str(error) for error in report.errors]
    [problem] = [m for m in messages if m.startswith("programmes/languages.yaml:")]
    assert problem.endswith(
        "; serving the version of 2 Dec 10:14 (its last good version) until the problems in "
        "this file are fixed"
    )
    assert [str(n) for n in report.notices] == [
        "programmes/languages.yaml: serving the version of 2 Dec 10:14 (its last good version) "
        "until the problems in this file are fixed"
    ]
    assert not any(m.startswith("events/") for m in messages)  # no cascade
    assert not any("search index" in m for m in messages)
    assert report.index.embedded == 0  # the kept version's chunks are already in the index
    assert answer.cards and answer.cards[0].id == "ita-l2-librino-sera"


def test_learncity_ask_after_a_restart_answers_from_the_last_good_version(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    break_languages(site)

    code, out = run(site.argv("ask", "corso di italiano gratis la sera per mia madre?", "--json"))

    assert code == 0
    warning = "1 broken file(s) serve their last good version: programmes/languages.yaml"
    assert warning in capsys.readouterr().err  # the staff warning, on stderr
    answer = json.loads(out)
    assert answer["abstained"] is False
    assert answer["programmes"][0]["id"] == "ita-l2-librino-sera"


def test_check_names_the_version_served_and_fails(site: Site) -> None:
    break_languages(site)

    code, out = run(site.argv("check"))

    assert code == 1
    lines = out.splitlines()
    assert (
        "programmes/languages.yaml: serving the version of 2 Dec 10:14 (its last good version) "
        "until the problems in this file are fixed" in lines
    )
    assert not any(line.startswith("events/") for line in lines)
    assert len(lines) == len(set(lines))  # each problem once


def test_index_exits_1_and_prints_each_problem_once(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    break_languages(site)

    code, out = run(site.argv("index"))

    assert code == 1
    err = capsys.readouterr().err
    problems = [line for line in err.splitlines() if line.startswith("programmes/languages.yaml")]
    assert len(problems) == 1  # printed once, not logged again
    assert "serving the version of 2 Dec 10:14" in problems[0]
    assert "1 broken file(s) serve their last good version: programmes/languages.yaml" in err
    assert "indexed" in out


def test_a_deleted_file_is_gone_after_a_restart(site: Site, embeddings: object) -> None:
    (site.knowledge / "programmes/languages.yaml").unlink()

    services = make_services(site, embeddings)
    try:
        report = services.knowledge.reload()
        kb = services.knowledge.current
    finally:
        close(services)

    assert not LANGUAGE_PROGRAMMES & set(kb.programmes)
    assert "programmes/languages.yaml" in report.index.removed_paths
    assert set(kb.events) >= EVENTS  # only the events pointing into it are left out


def test_links_out_and_loops_are_refused_by_check_and_index_without_a_traceback(
    site: Site, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env.example").write_text("TELEGRAM_BOT_TOKEN=123:secret\n")
    (site.knowledge / "guides/env.md").symlink_to(tmp_path / ".env.example")
    (site.knowledge / "guides/loop-a.md").symlink_to("loop-b.md")
    (site.knowledge / "guides/loop-b.md").symlink_to("loop-a.md")

    check_code, check_out = run(site.argv("check"))
    index_code, _ = run(site.argv("index"))
    ask_code, ask_out = run(site.argv("ask", "TELEGRAM_BOT_TOKEN secret", "--json"))

    err = capsys.readouterr().err
    assert (check_code, index_code, ask_code) == (1, 1, 0)
    assert "Traceback" not in err
    assert (
        f"guides/env.md: this is a link to '{tmp_path / '.env.example'}', outside the "
        "knowledge folder: it is not read; copy the file into the folder instead" in check_out
    )
    assert "guides/loop-a.md: this is a link that leads back to itself" in check_out
    assert "secret" not in json.loads(ask_out)["answer"]
    assert all(s["path"] != "guides/env.md" for s in json.loads(ask_out)["sources"])
