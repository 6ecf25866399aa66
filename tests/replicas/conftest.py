"""Fixtures for the multi-worker tests: a real PostgreSQL (the contract tests' throwaway cluster).

Several workers are several engines (each its own connection pool) on one database, run in threads;
the PostgreSQL fixture skips with its reason, or fails under LEARNCITY_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from learncity.db import Base, make_engine
from tests.contracts.conftest import chroma_server_url, postgres_url

# The session fixtures that start PostgreSQL and a Chroma server, shared with the contracts.
__all__ = ["chroma_server_url", "postgres_url"]


@pytest.fixture
def pg_engines(postgres_url: str) -> Iterator[Callable[[], Engine]]:
    """Return a factory of engines on one emptied PostgreSQL database (one per worker)."""
    engines: list[Engine] = []

    def build() -> Engine:
        engine = make_engine(postgres_url)
        engines.append(engine)
        return engine

    first = build()
    Base.metadata.drop_all(first)  # one database per session: start each test empty
    yield build
    for engine in engines:
        engine.dispose()
