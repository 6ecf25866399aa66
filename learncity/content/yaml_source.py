"""YAML with line numbers: the one reader of staff-written YAML (knowledge records and flows).

`parse_yaml` returns the data and its node tree, or raises `InvalidFile` with the line and the
problem in plain words; `line_of_node` turns a pydantic error location into the line to show.
The loader keeps YAML 1.1 surprises out (dates, base-60 times, octal phone numbers stay text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from learncity.content.errors import InvalidFile, KnowledgeError

__all__ = ["line_of_node", "parse_yaml", "yaml_problem"]


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 surprises that would corrupt staff data.

    Dates stay text so pydantic reports an impossible date in words (PyYAML would crash); "18:00"
    stays text instead of the base-60 number 1080; "0612345677" stays text instead of an octal.
    """


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"), list("-+0123456789")
)
_YamlLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def yaml_problem(error: yaml.MarkedYAMLError) -> str:
    """Return what is wrong at a YAML syntax error, in words staff can act on."""
    problem = (error.problem or "").strip()
    if "'\\t'" in problem:
        return "a tab character is used for indentation: indent with spaces only"
    if "mapping values are not allowed" in problem:
        return (
            "unexpected ':' on this line: put a text that contains ': ' in quotes, "
            "or check the indentation"
        )
    if "could not find expected ':'" in problem:
        return "a line is not 'field: value', or its indentation differs from the lines around it"
    if "expected a single document" in problem:
        return "a '---' line starts a second document: keep one list per file"
    if "found duplicate anchor" in problem or "undefined alias" in problem:
        return f"the YAML refers to an unknown '&' or '*' name ({problem})"
    if "found unexpected end of stream" in problem or "while scanning a quoted scalar" in str(
        error.context
    ):
        return "a quote (\" or ') is opened but never closed"
    context = f" ({error.context})" if error.context else ""
    return f"the YAML layout is broken here: {problem}{context}; check indentation, ':' and quotes"


def _check_duplicate_keys(path: str, node: Node, line_offset: int) -> list[KnowledgeError]:
    found: list[KnowledgeError] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, ScalarNode):
                    line = key.start_mark.line + 1 + line_offset
                    if key.value in seen:
                        found.append(
                            KnowledgeError(
                                path,
                                line,
                                f"field '{key.value}' is written twice (first on line "
                                f"{seen[key.value]}): keep one",
                            )
                        )
                    seen.setdefault(key.value, line)
                stack.append(value)
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
    return found


def parse_yaml(path: str, text: str, *, line_offset: int = 0) -> tuple[Any, Node | None]:
    """Return the data in `text` and its node tree (for lines); raise InvalidFile if broken."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        duplicates = _check_duplicate_keys(path, node, line_offset)
        if duplicates:
            raise InvalidFile(duplicates)
        return loader.construct_document(node), node
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 + line_offset if mark else None
        raise InvalidFile([KnowledgeError(path, line, yaml_problem(error))]) from error
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as error:
        message = f"the YAML cannot be read: {error}"
        raise InvalidFile([KnowledgeError(path, None, message)]) from error
    finally:
        loader.dispose()


def line_of_node(node: Node, loc: Sequence[int | str], line_offset: int = 0) -> int:
    """Return the line of the YAML node at `loc` (a pydantic error location) or its deepest parent.

    A mapping key's own line is used, so an error in a nested block points at its `field:` line.
    A part of `loc` that is not in the file (a union branch pydantic adds, such as "str") is
    skipped.
    """
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
        elif (
            isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line + line_offset
