"""A private copy of the sample knowledge folder with two partners, and the fixture sources."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from app.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
PARTNERS_YAML = """\
partners:
  - name: biblioteca-ursino
    title: Biblioteca Castello Ursino (esempio)
    admins: [4242]
    topics: [reading]
  - name: cpia
    title: CPIA Catania 1 (esempio)
    admins: [4343]
    topics: [adult-education]
    learning_type: formal
"""


@pytest.fixture
def knowledge(tmp_path: Path, sample_knowledge_dir: Path) -> Path:
    """Return a copy of the sample folder with partners.yaml."""
    target = tmp_path / "knowledge"
    shutil.copytree(sample_knowledge_dir, target, ignore=shutil.ignore_patterns("partners*"))
    (target / "partners.yaml").write_text(PARTNERS_YAML, encoding="utf-8")
    return target


def run_cli(knowledge: Path, *args: str) -> tuple[int, str]:
    """Run `learncity --knowledge DIR ARGS` in-process; return the exit code and stdout."""
    out = io.StringIO()
    code = main(["--knowledge", str(knowledge), *args], out=out)
    return code, out.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file under `folder` with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
