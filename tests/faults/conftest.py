"""A copy of the sample folder indexed once per session; each test gets its own copy of both."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import retrieval.embedding
from app.root import Services, build_services
from learncity.content.models import CITY_ZONE
from learncity.settings import Settings

# When the sample's languages.yaml was last saved good: check names this version.
GOOD_VERSION = dt.datetime(2026, 12, 2, 10, 14, tzinfo=CITY_ZONE)


@dataclass(frozen=True)
class Site:
    """A knowledge folder and the data folder built from it."""

    knowledge: Path
    data: Path

    def argv(self, *command: str) -> list[str]:
        return ["--knowledge", str(self.knowledge), "--data", str(self.data), *command]


def make_services(site: Site, embeddings: object) -> Services:
    """Build every service on the site, as a new process would."""
    settings = Settings(_env_file=None, knowledge_dir=site.knowledge, data_dir=site.data)  # type: ignore[call-arg]
    return build_services(settings, embeddings=embeddings)  # type: ignore[arg-type]


def close(services: Services) -> None:
    """Release the database and the vector store's files, as the end of a process does."""
    services.index.close()
    services.close()


@pytest.fixture(scope="session")
def built_site(
    tmp_path_factory: pytest.TempPathFactory, sample_knowledge_dir: Path, embeddings: object
) -> Site:
    root = tmp_path_factory.mktemp("faults-built")
    site = Site(root / "knowledge", root / "data")
    shutil.copytree(sample_knowledge_dir, site.knowledge)
    stamp = GOOD_VERSION.timestamp()
    os.utime(site.knowledge / "programmes/languages.yaml", (stamp, stamp))
    services = make_services(site, embeddings)
    report = services.knowledge.reload()
    assert report.ok, report.errors
    close(services)
    return site


@pytest.fixture
def site(built_site: Site, tmp_path: Path) -> Site:
    root = tmp_path / "site"
    shutil.copytree(built_site.knowledge, root / "knowledge", symlinks=True)
    shutil.copytree(built_site.data, root / "data")
    return Site(root / "knowledge", root / "data")


@pytest.fixture(autouse=True)
def offline_model(
    monkeypatch: pytest.MonkeyPatch, embeddings: object, tmp_path: Path
) -> Iterator[None]:
    # `learncity` commands in-process share the session's model; away from any developer's .env.
    monkeypatch.setattr(retrieval.embedding, "make_embeddings", lambda settings: embeddings)
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "LLM_MODEL",
        "LEARNCITY_DATA_DIR",
        "LEARNCITY_KNOWLEDGE_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield


def break_languages(site: Site) -> None:
    """Mis-indent one line of programmes/languages.yaml (the fault seen in the field)."""
    path = site.knowledge / "programmes/languages.yaml"
    text = path.read_text(encoding="utf-8")
    broken = text.replace("    learning_type: non-formal\n", "   learning_type: non-formal\n", 1)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
