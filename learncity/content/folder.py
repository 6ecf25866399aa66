"""The walk over the knowledge folder: which files it holds, what each one is, what is not read.

Folder layout (`knowledge/README.md` explains it to staff):

    programmes/**/*.yaml|*.yml|*.csv     events/**/*.yaml|*.yml     contacts.yaml
    guides/**/*.md|*.txt|*.pdf|*.html    assessments/ (flows.definitions reads them)    README.md
    partners/<name>/programmes/** and partners/<name>/events/** (as above; partners.yaml and
    partners/<name>/feeds.yaml are read by the `partners` service, not here)

Links to folders are never followed (reported); links to files are left to `reading`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from learncity.content.errors import KnowledgeError
from learncity.content.guides import GUIDE_SUFFIXES

CONTACTS_FILE = "contacts.yaml"
PARTNERS_DIR = "partners"  # partners/<name>/programmes/*.yaml and events/*.yaml (their listings)
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
IGNORED_DIRS = frozenset({"assessments"})  # loaded by flows.definitions

FileKind = Literal["programmes", "events", "guide", "contacts"]


def classify(path: str) -> FileKind | None:
    """Return what a relative path holds, or None if the folder does not read such a file."""
    parts = path.split("/")
    suffix = Path(path).suffix.lower()
    if len(parts) == 1:
        return "contacts" if path == CONTACTS_FILE else None
    top = parts[0]
    if top == PARTNERS_DIR and len(parts) >= 4:  # partners/<name>/programmes|events/...
        return classify("/".join(parts[2:]))
    if top == "programmes" and (suffix in YAML_SUFFIXES or suffix == ".csv"):
        return "programmes"
    if top == "events" and suffix in YAML_SUFFIXES:
        return "events"
    if top == "guides" and suffix in GUIDE_SUFFIXES:
        return "guide"
    return None


def _partner_config(path: str) -> bool:
    parts = path.split("/")
    return path == f"{PARTNERS_DIR}.yaml" or (
        len(parts) == 3 and parts[0] == PARTNERS_DIR and parts[2] == "feeds.yaml"
    )


def _ignored_name(name: str) -> bool:
    lowered = name.lower()
    return (
        name.startswith((".", "~$", "#"))
        or name.endswith(("~", ".swp", ".tmp"))
        or lowered == "readme"
        or lowered.startswith("readme.")
        or lowered in ("thumbs.db", "desktop.ini")
    )


_WHERE = {
    "programmes": ".yaml or .csv",
    "events": ".yaml",
    "guides": ".md, .txt, .pdf or .html",
}


def discover(root: Path) -> tuple[list[tuple[str, FileKind]], list[KnowledgeError]]:
    """Return the knowledge files under `root` (sorted relative paths) and files it cannot use."""
    found: list[tuple[str, FileKind]] = []
    unused: list[KnowledgeError] = []
    for directory, subdirs, names in os.walk(root):  # links to folders are never followed
        relative_dir = Path(directory).relative_to(root).as_posix()
        for name in sorted(subdirs):
            if (Path(directory) / name).is_symlink():
                subdirs.remove(name)
                if not name.startswith("."):
                    path = name if relative_dir == "." else f"{relative_dir}/{name}"
                    unused.append(
                        KnowledgeError(
                            path,
                            None,
                            "this is a link to a folder: links to folders are not followed; "
                            "move the files themselves into the knowledge folder",
                        )
                    )
        subdirs[:] = sorted(
            name
            for name in subdirs
            if not name.startswith(".")
            and name != "__pycache__"
            and not (relative_dir == "." and name in IGNORED_DIRS)
        )
        for name in sorted(names):
            if _ignored_name(name):
                continue
            path = name if relative_dir == "." else f"{relative_dir}/{name}"
            kind = classify(path)
            if kind is not None:
                found.append((path, kind))
                continue
            if _partner_config(path):
                continue  # partners.yaml and feeds.yaml are read by the partners service
            top = path.split("/")[0]
            if top in _WHERE:
                message = f"this kind of file is not read here: {top}/ takes {_WHERE[top]} files"
            else:
                message = (
                    "this file is not read: the folder takes programmes/, events/, guides/ "
                    "and contacts.yaml"
                )
            unused.append(KnowledgeError(path, None, message))
    return sorted(found), unused
