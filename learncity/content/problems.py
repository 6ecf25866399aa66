"""Validation problems in words staff understand: pydantic errors turned into messages.

`describe_error` words one pydantic error for a place ("field 'venue.lat'", "column 'lat'");
`validate_node` validates YAML data as a model and raises `InvalidFile` with a line per problem.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import Node

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.yaml_source import line_of_node

Model = TypeVar("Model", bound=BaseModel)

_VALUE_LABELS = {
    "audiences": "audience",
    "audience": "audience",
    "topics": "topic",
    "skills": "skill",
    "learning_type": "learning type",
    "kind": "contact kind",
    "day": "day",
    "status": "status",
    "lang": "language",
    "language": "language",
}
_ID_HINT = (
    "use lowercase letters, digits, '-', '_' or '.' (no spaces or accents), starting with a letter "
    "or digit, e.g. 'italian-a1-centre'"
)
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DATE_ERRORS = (
    "date_parsing",
    "date_from_datetime_parsing",
    "date_from_datetime_inexact",
    "date_type",
)
_DATETIME_ERRORS = (
    "datetime_parsing",
    "datetime_from_date_parsing",
    "datetime_type",
    "datetime_object_invalid",
)
_TIME_ERRORS = ("time_parsing", "time_type")


def show_value(value: object) -> str:
    """Return a value as written, cut to 60 characters for a message."""
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number_text(ctx: dict[str, Any], *keys: str) -> str:
    value = next((ctx[key] for key in keys if key in ctx), "")
    return f"{value:g}" if isinstance(value, float) else str(value)


def _allowed(expected: str) -> str:
    return expected.replace("'", "").replace(" or ", ", ")


def _impossible_date(value: str) -> bool:
    """Return True for a well-formed but impossible date such as 2026-02-30."""
    if not _DATE_SHAPE.match(value):
        return False
    try:
        dt.date.fromisoformat(value[:10])
    except ValueError:
        return True
    return False


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """Return the model class of the mapping at `loc` (to list its fields), if there is one."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        found = _find_model(info.annotation)
        if found is None:
            return None
        current = found
    return current


def _find_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def describe_error(
    error: ErrorDetails, subject: str, model: type[BaseModel], *, csv: bool = False
) -> str:
    """Return a pydantic error in words a member of staff understands.

    `subject` names the place ("field 'venue.lat'", "column 'lat'"); `model` is the record's model.
    """
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx") or {}
    keys = [part for part in loc if isinstance(part, str)]
    last = keys[-1] if keys else ""
    if kind == "missing":
        return f"{subject} is required but missing"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        known = ", ".join(parent.model_fields) if parent else ""
        hint = f"; known fields: {known}" if known else ""
        return f"unknown field '{last}' (check the spelling){hint}"
    if value is None:
        return f"{subject} is empty: write a value, or remove the line"
    if kind in ("enum", "literal_error"):
        label = _VALUE_LABELS.get(last, "value")
        allowed = _allowed(str(ctx.get("expected", "")))
        problem = f"{label} '{show_value(value)}' is not allowed; allowed: {allowed}"
        return f"{subject}: {problem}" if csv else problem
    if kind in _DATE_ERRORS + _DATETIME_ERRORS + _TIME_ERRORS:
        return _date_problem(kind, subject, str(value))
    if kind in ("bool_parsing", "bool_type"):
        return f"{subject}: '{show_value(value)}' should be yes or no"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{subject}: '{show_value(value)}' should be a whole number"
    if kind in ("float_parsing", "float_type"):
        return f"{subject}: '{show_value(value)}' should be a number"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{subject}: {show_value(value)} should be at least {_number_text(ctx, 'ge', 'gt')}"
    if kind in ("less_than_equal", "less_than"):
        return f"{subject}: {show_value(value)} should be at most {_number_text(ctx, 'le', 'lt')}"
    if kind == "too_short" and isinstance(value, list | tuple):
        return f"{subject} needs at least {ctx.get('min_length', 1)} value"
    if kind == "too_long":
        return f"{subject} is too long (at most {ctx.get('max_length')})"
    if kind == "string_pattern_mismatch" and (last == "id" or last.endswith("_id")):
        return f"{subject}: '{show_value(value)}' is not a valid id: {_ID_HINT}"
    if kind == "string_type":
        return f"{subject} should be a text"
    if kind == "list_type":
        return f"{subject} should be a list (one '- value' line per item)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{subject} should be a group of 'field: value' lines"
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", error["msg"]))
        return f"{subject}: {message}" if keys else message
    message = error["msg"].replace("Input should be", "should be")
    return f"{subject}: {message}"


def _date_problem(kind: str, subject: str, value: str) -> str:
    """Return the words for a date, date-and-time or time that does not parse."""
    if kind in _DATE_ERRORS + _DATETIME_ERRORS and _impossible_date(value):
        return f"{subject}: {show_value(value)} is not a valid date"
    if kind in _DATE_ERRORS:
        hint = "" if _DATE_SHAPE.match(value) else " (write it as YYYY-MM-DD, e.g. 2026-03-14)"
        return f"{subject}: {show_value(value)} is not a valid date{hint}"
    if kind in _DATETIME_ERRORS:
        hint = (
            ""
            if _DATE_SHAPE.match(value) and len(value) > 10
            else (" (write it as YYYY-MM-DD HH:MM, e.g. 2026-03-14 18:30)")
        )
        return f"{subject}: {show_value(value)} is not a valid date and time{hint}"
    return f"{subject}: {show_value(value)} is not a valid time (write it as HH:MM, e.g. 18:30)"


def _field_subject(loc: Sequence[int | str]) -> str:
    keys = [part for part in loc if isinstance(part, str)]
    return f"field '{'.'.join(keys)}'" if keys else "the record"


def validate_node(
    path: str, model: type[Model], data: Any, node: Node, *, line_offset: int = 0
) -> Model:
    """Return `data` validated as `model`; raise InvalidFile with a line and words per problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidFile(
            KnowledgeError(
                path,
                line_of_node(node, problem["loc"], line_offset),
                describe_error(problem, _field_subject(problem["loc"]), model),
            )
            for problem in error.errors(include_url=False)
        ) from None
