"""Fixtures shared by every test package: the real embedding model (loaded once) and paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.embedding import UniversalSentenceEncoder

pytest_plugins = ["bot_api_emulator.pytest_plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_KNOWLEDGE = REPO_ROOT / "knowledge"


@pytest.fixture(scope="session")
def embeddings() -> UniversalSentenceEncoder:
    """Return the real offline embedding model, warmed up once per test session."""
    model = UniversalSentenceEncoder(threads=1)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def sample_knowledge_dir() -> Path:
    """Return the sample knowledge folder (read-only: copy it before changing files)."""
    return SAMPLE_KNOWLEDGE
