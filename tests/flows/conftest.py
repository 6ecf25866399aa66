"""Fixtures of the flows tests: shipped definitions, a real SQLite store, sample programmes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from flows.definitions import FlowDefinition, load_definitions
from flows.service import FlowService
from flows.store import FlowStore
from learncity.content.models import Programme
from learncity.db import make_engine

ASSESSMENTS = Path(__file__).resolve().parents[2] / "knowledge" / "assessments"
PROGRAMMES = Path(__file__).resolve().parents[2] / "knowledge" / "programmes"


@pytest.fixture(scope="session")
def shipped() -> dict[str, FlowDefinition]:
    """Return the shipped flow definitions."""
    flows, errors = load_definitions(ASSESSMENTS)
    assert errors == []
    return flows


@pytest.fixture(scope="session")
def programmes() -> dict[str, Programme]:
    """Return the sample programmes of the knowledge folder."""
    found: dict[str, Programme] = {}
    for path in sorted(PROGRAMMES.glob("*.yaml")):
        for record in yaml.safe_load(path.read_text(encoding="utf-8"))["programmes"]:
            programme = Programme.model_validate(record)
            found[programme.id] = programme
    return found


class Clock:
    """A settable clock (aware datetimes)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """Return a clock standing at 10 March 2026, 10:00 UTC."""
    return Clock(dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC))


@pytest.fixture
def make_service(
    tmp_path: Path, programmes: dict[str, Programme], clock: Clock
) -> Callable[[], FlowService]:
    """Return a factory of FlowServices on one SQLite file (a new one is 'after a restart')."""
    url = f"sqlite:///{tmp_path / 'flows.sqlite3'}"

    def make() -> FlowService:
        store = FlowStore(engine=make_engine(url))
        store.create_schema()
        return FlowService(assessments_dir=ASSESSMENTS, store=store,
                           programmes=lambda: programmes, clock=clock)

    return make
