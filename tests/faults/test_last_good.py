"""The last good version of a broken file serves after a restart, and nothing cascades.

"Restart" here is what a new process does: `load_knowledge` with no previous base in memory, only
the `LastGoodStore` kept in the data folder.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from learncity.content.loader import load_knowledge
from learncity.content.models import CITY_ZONE
from learncity.content.snapshots import LastGoodStore, last_good_dir
from tests.content.test_bad_input import GOOD
from tests.content.test_loader import EVENTS, PROGRAMMES, write

# An unrelated event in the same file as one that points into languages.yaml.
REPAIR = """\
  - id: repair-cafe
    title: Repair Café
    description: Ripariamo insieme.
    topics: [making]
    audiences: [everyone]
    start: 2026-09-04 18:00
    rrule: FREQ=WEEKLY;BYDAY=FR
"""
BROKEN = PROGRAMMES.replace("  learning_type: non-formal\n", " learning_type: non-formal\n", 1)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(tmp_path / "knowledge", {**GOOD, "events/open-days.yaml": EVENTS + REPAIR})


@pytest.fixture
def kept(tmp_path: Path) -> LastGoodStore:
    return LastGoodStore(last_good_dir(tmp_path / "data"))


def saved_at(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_a_file_broken_while_down_serves_its_last_good_version_after_a_restart(
    folder: Path, kept: LastGoodStore, tmp_path: Path
) -> None:
    saved_at(
        folder / "programmes/languages.yaml", dt.datetime(2026, 12, 2, 10, 14, tzinfo=CITY_ZONE)
    )
    load_knowledge(folder, last_good=kept)  # the process that saw it good
    write(folder, {"programmes/languages.yaml": BROKEN})  # a mis-indented line, then a restart

    kb = load_knowledge(folder, last_good=LastGoodStore(last_good_dir(tmp_path / "data")))

    assert [e.path for e in kb.errors] == ["programmes/languages.yaml"]
    assert {"italian-a1", "coding-club"} <= set(kb.programmes)
    assert kb.stale == {"programmes/languages.yaml"}
    assert [str(n) for n in kb.notices] == [
        "programmes/languages.yaml: serving the version of 2 Dec 10:14 (its last good version) "
        "until the problems in this file are fixed"
    ]
    # No cascade: the events that point into the broken file resolve to its last good records.
    assert {"open-day", "repair-cafe"} <= set(kb.events)


def test_without_any_good_version_only_the_dangling_item_is_left_out(folder: Path) -> None:
    write(folder, {"programmes/languages.yaml": BROKEN})  # broken from the start: nothing kept

    kb = load_knowledge(folder)

    assert "repair-cafe" in kb.events  # the unrelated event in the same file serves
    assert "open-day" not in kb.events
    assert [str(e) for e in kb.errors if e.path.startswith("events/")] == [
        "events/open-days.yaml:2: event 'open-day': programme_id 'italian-a1' does not match any "
        "programme in programmes/; this event is left out until it is fixed (the rest of the "
        "file serves)"
    ]


def test_a_fixed_reference_brings_the_left_out_item_back(folder: Path) -> None:
    write(folder, {"programmes/languages.yaml": BROKEN})
    first = load_knowledge(folder)
    write(folder, {"programmes/languages.yaml": PROGRAMMES})

    second = load_knowledge(folder, first)  # the events file is unchanged: reused whole

    assert second.errors == []
    assert {"open-day", "repair-cafe"} <= set(second.events)


def test_a_deleted_file_is_gone_with_its_last_good_version(
    folder: Path, kept: LastGoodStore, tmp_path: Path
) -> None:
    load_knowledge(folder, last_good=kept)
    (folder / "guides/scuola.md").unlink()
    load_knowledge(folder, last_good=kept)
    write(folder, {"guides/scuola.md": "\x00binary"})  # a new, broken file with the same name

    kb = load_knowledge(folder, last_good=LastGoodStore(last_good_dir(tmp_path / "data")))

    assert "guides/scuola.md" not in kb.guides and kb.stale == set()
    assert "guides/scuola.md" not in kept.paths()


def test_a_damaged_snapshot_is_ignored_not_served(
    folder: Path, kept: LastGoodStore, tmp_path: Path
) -> None:
    load_knowledge(folder, last_good=kept)
    (kept.folder / "files/programmes/languages.yaml").write_text("- id: tampered\n")
    write(folder, {"programmes/languages.yaml": BROKEN})

    kb = load_knowledge(folder, last_good=LastGoodStore(last_good_dir(tmp_path / "data")))

    assert "italian-a1" not in kb.programmes and kb.stale == set()
    assert "repair-cafe" in kb.events


def test_a_read_only_store_is_never_written(folder: Path, tmp_path: Path) -> None:
    store = LastGoodStore(tmp_path / "ro", read_only=True)

    load_knowledge(folder, last_good=store)

    assert not (tmp_path / "ro").exists()


def test_a_full_disk_loses_the_snapshot_not_the_answers(
    folder: Path, kept: LastGoodStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from learncity.content import snapshots

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(snapshots, "_atomic_write", full)

    kb = load_knowledge(folder, last_good=kept)

    assert kb.errors == [] and "italian-a1" in kb.programmes
    assert kept.paths() == set()


# ---------------------------------------------------------------- links


def test_a_link_loop_is_refused_with_a_message(folder: Path) -> None:
    (folder / "guides/a.md").symlink_to("b.md")
    (folder / "guides/b.md").symlink_to("a.md")

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors] == [
        "guides/a.md: this is a link that leads back to itself (a loop of links): put the file "
        "itself here",
        "guides/b.md: this is a link that leads back to itself (a loop of links): put the file "
        "itself here",
    ]
    assert "guides/scuola.md" in kb.guides


@pytest.mark.parametrize("target", ["/etc/passwd", "../../.env.example"])
def test_a_link_out_of_the_folder_is_refused_and_not_served(
    folder: Path, tmp_path: Path, target: str
) -> None:
    (tmp_path / ".env.example").write_text("TELEGRAM_BOT_TOKEN=secret\n")
    (folder / "guides/secrets.md").symlink_to(target)

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors] == [
        f"guides/secrets.md: this is a link to '{target}', outside the knowledge folder: it is "
        "not read; copy the file into the folder instead"
    ]
    assert "guides/secrets.md" not in kb.guides


def test_a_dangling_link_is_reported(folder: Path) -> None:
    (folder / "guides/old.md").symlink_to("gone.md")

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors] == [
        "guides/old.md: this is a link to 'gone.md', which does not exist: remove the link or "
        "put the file itself here"
    ]


def test_a_link_inside_the_folder_is_read(folder: Path) -> None:
    (folder / "guides/copy.md").symlink_to("scuola.md")

    kb = load_knowledge(folder)

    assert kb.errors == [] and "guides/copy.md" in kb.guides


def test_a_link_to_a_folder_is_not_followed(folder: Path, tmp_path: Path) -> None:
    (folder / "guides/loop").symlink_to(folder)  # a folder loop, too

    kb = load_knowledge(folder)

    assert [str(e) for e in kb.errors] == [
        "guides/loop: this is a link to a folder: links to folders are not followed; move the "
        "files themselves into the knowledge folder"
    ]
