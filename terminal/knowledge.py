"""`learncity index` and `learncity check`: what a sync changed, and every problem in the folder."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any


def print_index_report(report: Any, *, out: IO[str], err: IO[str]) -> int:
    """Print what a knowledge reload changed and each problem once; return the exit code."""
    index = report.index
    print(
        f"indexed {report.files} files in {report.seconds:.2f} s: {index.added} added, "
        f"{index.updated} updated, {index.removed} removed, {index.unchanged} unchanged, "
        f"{index.kept} kept; {index.embedded} chunks embedded, {index.chunks} chunks in the index",
        file=out,
    )
    for path in index.removed_paths:
        print(f"removed: {path}", file=out)
    return print_problems(report.errors, err=err)


def print_problems(errors: Any, *, err: IO[str]) -> int:
    """Print each problem of a reload (the knowledge service logs only a count); 1 if any."""
    for error in errors:
        print(str(error), file=err)
    if errors:
        print(
            f"{len(errors)} problem(s): those files were skipped "
            "(their last good version, if any, keeps serving)",
            file=err,
        )
        return 1
    return 0


def check_folder(knowledge_dir: Path, data_dir: Path, *, out: IO[str], err: IO[str]) -> int:
    """Validate the knowledge folder only; list every problem as path:line: message."""
    from flows.definitions import load_definitions
    from learncity.content.loader import load_knowledge
    from learncity.content.snapshots import LastGoodStore, last_good_dir

    # Read-only: check names the version a broken file serves, and changes nothing.
    kept = LastGoodStore(last_good_dir(data_dir), read_only=True)
    kb = load_knowledge(knowledge_dir, last_good=kept)
    flows, flow_errors = load_definitions(knowledge_dir / "assessments")
    errors = [*kb.errors, *flow_errors]
    for error in dict.fromkeys(str(error) for error in [*errors, *kb.notices]):
        print(error, file=out)
    if errors:
        print(f"{len(errors)} problem(s) in {knowledge_dir}", file=err)
        return 1
    print(
        f"OK: {len(kb.files)} files, {len(kb.programmes)} programmes, {len(kb.events)} events, "
        f"{len(kb.guides)} guides, {len(kb.contacts)} contacts, {len(flows)} assessments",
        file=out,
    )
    return 0
