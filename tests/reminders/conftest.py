"""Fixtures for reminder tests: a real SQLite file, a manual clock, a small knowledge folder."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot_api_emulator.pytest_plugin import bot_api_emulator
from learncity.content.loader import KnowledgeBase, load_knowledge
from learncity.db import make_engine
from reminders.clock import Clock, ManualClock
from reminders.service import ReminderService
from reminders.store import ReminderStore

ROME = ZoneInfo("Europe/Rome")
__all__ = ["bot_api_emulator"]  # the emulator's fixture, used by the Telegram tests

EVENT_YAML = """\
events:
  - id: {id}
    title: {title}
    description: Una prova.
    topics: [{topic}]
    audiences: [everyone]
    venue: {{name: Biblioteca Ursino Recupero}}
    start: "{start}"
    {extra}
"""


CONTACTS = """\
contacts:
  - id: urp
    name: Ufficio Relazioni con il Pubblico
    kind: general
    phone: 095 000 0000
"""


def event_yaml(
    event_id: str, start: str, *, topic: str = "making", extra: str = "", title: str | None = None
) -> str:
    """Return one events file holding one event."""
    title = title or f'{{it: "Laboratorio {event_id}", en: "Workshop {event_id}"}}'
    return EVENT_YAML.format(id=event_id, start=start, topic=topic, extra=extra, title=title)


class Knowledge:
    """A real knowledge folder in a temp dir, reloaded with the real loader after each edit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "events").mkdir(parents=True)
        (root / "contacts.yaml").write_text(CONTACTS, encoding="utf-8")
        self.kb: KnowledgeBase = load_knowledge(root)

    def write(self, name: str, text: str) -> KnowledgeBase:
        """Write `events/<name>.yaml`, reload, and return the new knowledge base."""
        (self.root / "events" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        return self.reload()

    def remove(self, name: str) -> KnowledgeBase:
        """Delete `events/<name>.yaml` and reload."""
        (self.root / "events" / f"{name}.yaml").unlink()
        return self.reload()

    def reload(self) -> KnowledgeBase:
        """Load the folder again (keeping the last good version of broken files)."""
        self.kb = load_knowledge(self.root, self.kb)
        assert not self.kb.errors, [str(e) for e in self.kb.errors]
        return self.kb


@pytest.fixture
def knowledge(tmp_path: Path) -> Knowledge:
    """Return an empty knowledge folder."""
    return Knowledge(tmp_path / "knowledge")


@pytest.fixture
def clock() -> ManualClock:
    """Return a clock at Monday 2 November 2026, 12:00 in Rome."""
    return ManualClock(dt.datetime(2026, 11, 2, 12, 0, tzinfo=ROME))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'reminders.sqlite3'}"


@pytest.fixture
def make_service(
    db_url: str, knowledge: Knowledge, clock: ManualClock
) -> Iterator[Callable[..., ReminderService]]:
    """Return a factory of services on the same SQLite file (a new one simulates a restart)."""
    engines = []

    def build(use_clock: Clock | None = None) -> ReminderService:
        engine = make_engine(db_url)
        engines.append(engine)
        store = ReminderStore(engine=engine)
        store.create_schema()
        return ReminderService(store=store, knowledge=lambda: knowledge.kb,
                               clock=use_clock or clock, zone=ROME)

    yield build
    for engine in engines:
        engine.dispose()


class ShiftedClock:
    """The real clock moved to another moment: the real scheduler runs, at a chosen date."""

    def __init__(self, starts_at: dt.datetime) -> None:
        self.offset = starts_at - dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        """Return the shifted current time."""
        return dt.datetime.now(dt.UTC) + self.offset
