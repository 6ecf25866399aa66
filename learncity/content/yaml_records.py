"""Records written in YAML: programmes, events and contacts, each with the line it starts on.

A file is a list of records, or `programmes:` / `events:` / `contacts:` followed by that list. Every
problem in every record is reported (not just the first), with its line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.folder import FileKind
from learncity.content.knowledge_base import LoadedFile
from learncity.content.models import Contact, Event, Programme
from learncity.content.problems import Model, show_value, validate_node
from learncity.content.yaml_source import parse_yaml

EMPTY_HINT = "the file is empty: to remove all its records, delete the file (or write [] in it)"


def _yaml_records(path: str, data: Any, node: Node | None, key: str) -> list[tuple[Any, Node]]:
    """Return the items of a top-level list, or of `key:` holding that list, with their nodes."""
    if node is None:
        raise InvalidFile([KnowledgeError(path, None, EMPTY_HINT)])
    if isinstance(data, dict) and isinstance(node, MappingNode):
        extra = [k for k in data if k != key]
        if extra or key not in data:
            raise InvalidFile(
                [
                    KnowledgeError(
                        path,
                        node.start_mark.line + 1,
                        f"the file should be a list of records, or '{key}:' followed by that list; "
                        f"found '{show_value(', '.join(map(str, data)))}'",
                    )
                ]
            )
        data = data[key] if data[key] is not None else []
        node = next(v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key)
    if not isinstance(data, list) or not isinstance(node, SequenceNode):
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    node.start_mark.line + 1,
                    f"the file should be a list of records (each one starting with '- id: ...'), "
                    f"or '{key}:' followed by that list",
                )
            ]
        )
    return list(zip(data, node.value, strict=True))


def _validate_records(
    path: str, model: type[Model], items: Iterable[tuple[Any, Node]], noun: str
) -> tuple[list[Model], dict[str, int]]:
    """Return the valid records and their lines; raise InvalidFile with all problems found."""
    records: list[Model] = []
    lines: dict[str, int] = {}
    problems: list[KnowledgeError] = []
    for number, (item, item_node) in enumerate(items, start=1):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            problems.append(
                KnowledgeError(
                    path,
                    line,
                    f"item {number} should be {noun} (lines of 'field: value'), not "
                    f"'{show_value(item)}'",
                )
            )
            continue
        try:
            record = validate_node(path, model, item, item_node)
        except InvalidFile as error:
            problems.extend(error.errors)
            continue
        record_id = str(record.id)  # type: ignore[attr-defined]
        if record_id in lines:
            problems.append(
                KnowledgeError(
                    path,
                    line,
                    f"id '{record_id}' is used twice in this file "
                    f"(first on line {lines[record_id]})",
                )
            )
            continue
        records.append(record)
        lines[record_id] = line
    if problems:
        raise InvalidFile(problems)
    return records, lines


def load_yaml_records(path: str, text: str, kind: FileKind) -> LoadedFile:
    """Return the records of a programmes, events or contacts YAML text; raise InvalidFile."""
    sha = ""  # filled by the caller
    if not text.strip():
        raise InvalidFile([KnowledgeError(path, None, EMPTY_HINT)])
    data, node = parse_yaml(path, text)
    if kind == "contacts":
        items = _yaml_records(path, data, node, "contacts")
        contacts, lines = _validate_records(path, Contact, items, "a contact")
        if not contacts:
            message = "no contacts are listed: add at least one"
            raise InvalidFile([KnowledgeError(path, None, message)])
        return LoadedFile(path=path, sha256=sha, contacts=contacts, lines=lines)
    if kind == "events":
        events, lines = _validate_records(
            path, Event, _yaml_records(path, data, node, "events"), "an event"
        )
        return LoadedFile(path=path, sha256=sha, events=events, lines=lines)
    programmes, lines = _validate_records(
        path, Programme, _yaml_records(path, data, node, "programmes"), "a programme"
    )
    return LoadedFile(path=path, sha256=sha, programmes=programmes, lines=lines)
