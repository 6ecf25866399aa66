"""The house reads bottom-up: no module imports a floor above its own, and no import circles.

Floors (docs/architecture.md): ground `learncity` < services `retrieval`, `flows`, `reminders`,
`partners` < adapters `bot`, `terminal` < roof `app`. Every import counts, wherever it stands: at
the top, inside a function, or under `if TYPE_CHECKING:` (a typing-only arrow is still an arrow).
Services import only the ground, not each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

FLOORS: dict[str, int] = {
    "learncity": 0,
    "retrieval": 1,
    "flows": 1,
    "reminders": 1,
    "partners": 1,
    "bot": 2,
    "terminal": 2,
    "app": 3,
}
FLOOR_NAMES = ("ground", "services", "adapters", "roof")
SERVICES = 1


@dataclass(frozen=True, slots=True)
class Arrow:
    """One import: `module` (a dotted name) imports `target` at `line`."""

    module: str
    target: str
    line: int

    @property
    def source_package(self) -> str:
        return self.module.split(".")[0]

    @property
    def target_package(self) -> str:
        return self.target.split(".")[0]


def module_name(path: Path, root: Path) -> str:
    """Return the dotted module name of `path` under `root`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def arrows_of(module: str, source: str, *, is_package: bool = False) -> list[Arrow]:
    """Return every import of one module's source, relative imports resolved."""
    arrows: list[Arrow] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            arrows += [Arrow(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, target] if target else base)
            arrows.append(Arrow(module, target, node.lineno))
    return arrows


def house_arrows(root: Path = REPO_ROOT) -> list[Arrow]:
    """Return every import made by the modules of every floor under `root`."""
    arrows: list[Arrow] = []
    for package in FLOORS:
        for path in sorted((root / package).rglob("*.py")):
            arrows += arrows_of(
                module_name(path, root),
                path.read_text(encoding="utf-8"),
                is_package=path.name == "__init__.py",
            )
    return arrows


def upward(arrows: Iterable[Arrow], floors: Mapping[str, int] = FLOORS) -> list[str]:
    """Return the arrows that run up a floor, or across between two services."""
    problems = []
    for arrow in arrows:
        source, target = arrow.source_package, arrow.target_package
        if source not in floors or target not in floors or source == target:
            continue
        here, there = floors[source], floors[target]
        if there > here or (there == here == SERVICES):
            problems.append(
                f"{arrow.module}:{arrow.line} ({FLOOR_NAMES[here]}) imports {arrow.target} "
                f"({FLOOR_NAMES[there]})"
            )
    return problems


def circles(arrows: Iterable[Arrow], floors: Mapping[str, int] = FLOORS) -> list[list[str]]:
    """Return the import circles between top-level packages (each as a list of packages)."""
    graph: dict[str, set[str]] = {package: set() for package in floors}
    for arrow in arrows:
        source, target = arrow.source_package, arrow.target_package
        if source in graph and target in graph and source != target:
            graph[source].add(target)
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt == path[0]:
                found.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # each circle once, from its least package
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return found


def test_no_module_imports_a_higher_floor() -> None:
    assert upward(house_arrows()) == []


def test_no_import_circle_between_packages() -> None:
    assert circles(house_arrows()) == []


def test_every_floor_package_is_read() -> None:
    modules = {arrow.module for arrow in house_arrows()}
    assert {"learncity.settings", "retrieval.engine", "bot.application", "terminal.render",
            "app.root", "app.cli"} <= modules


def test_the_check_flags_an_upward_arrow_even_a_typing_or_late_one() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import learncity.i18n\n"
        "if TYPE_CHECKING:\n"
        "    from app.root import Services\n"
        "def f():\n"
        "    from bot import application\n"
    )
    arrows = arrows_of("learncity.content.fake", source)
    assert upward(arrows) == [
        "learncity.content.fake:4 (ground) imports app.root (roof)",
        "learncity.content.fake:6 (ground) imports bot (adapters)",
    ]
    across = arrows_of("reminders.fake", "from retrieval.types import Chunk\n")
    assert upward(across) == ["reminders.fake:1 (services) imports retrieval.types (services)"]
    down = arrows_of("bot.fake", "from reminders.service import ReminderService\nimport flows\n")
    assert upward(down) == []


def test_the_check_flags_a_circle_and_resolves_relative_imports() -> None:
    arrows = [
        *arrows_of("bot.fake", "from terminal.render import render_answer\n"),
        *arrows_of("terminal.fake", "from ..bot import deps\n"),
    ]
    assert arrows[1].target == "bot"
    assert circles(arrows) == [["bot", "terminal", "bot"]]
    assert circles(arrows_of("bot.fake", "import terminal\n")) == []
