"""Load and validate the knowledge folder: programmes, events, guides and contacts.

Every problem becomes a `KnowledgeError` (path relative to the folder, line, plain words), not an
exception. A file with any problem is skipped whole; its last good version keeps serving, so a
broken edit never takes content away from residents: the previous load's version in a running
process, else the version kept on disk by `LastGoodStore` (so it survives restarts). Staff get a
notice naming the version served ("serving the version of 2 Dec 10:14"). A file deleted from the
folder is gone, with its last good version.

One file's mistake does not spread: an event whose `programme_id` names a programme that exists
nowhere (not even in a last good version) is left out alone, with a message; the rest of its
file serves.

Links: a symbolic link to a file inside the folder is read; a link that leaves the folder, a
link loop, a dangling link and a link to a folder are refused with a message, never followed.

Folder layout (`knowledge/README.md` explains it to staff):

    programmes/**/*.yaml|*.yml|*.csv     events/**/*.yaml|*.yml     contacts.yaml
    guides/**/*.md|*.txt|*.pdf|*.html    assessments/ (flows.definitions reads them)    README.md
    partners/<name>/programmes/** and partners/<name>/events/** (as above; partners.yaml and
    partners/<name>/feeds.yaml are read by the `partners` service, not here)
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import os
import re
import stat
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from learncity.content.errors import InvalidFile, KnowledgeError, UnknownRecordError
from learncity.content.guides import (
    GUIDE_SUFFIXES,
    HTML_SUFFIXES,
    PDF_SUFFIXES,
    Guide,
    guide_from_html,
    guide_from_pdf,
    guide_from_text,
    split_front_matter,
)
from learncity.content.models import (
    CITY_ZONE,
    Contact,
    ContactKind,
    Event,
    GuideMeta,
    Programme,
)
from learncity.content.snapshots import LastGoodStore
from learncity.content.yaml_source import line_of_node, parse_yaml

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Larger files are refused before reading: a guide this big is a mistake (a video, a scan)."""

CONTACTS_FILE = "contacts.yaml"
PARTNERS_DIR = "partners"  # partners/<name>/programmes/*.yaml and events/*.yaml (their listings)
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
IGNORED_DIRS = frozenset({"assessments"})  # loaded by flows.definitions

FileKind = Literal["programmes", "events", "guide", "contacts"]
Model = TypeVar("Model", bound=BaseModel)


# ---------------------------------------------------------------- results


@dataclass
class LoadedFile:
    """One knowledge file that loaded: its records (or guide) and the line of each record."""

    path: str
    sha256: str
    programmes: list[Programme] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    guide: Guide | None = None
    contacts: list[Contact] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # record id -> line of the record
    good_since: dt.datetime | None = None  # when this version was saved (file time), if known
    # The whole file as parsed, when items were left out of this one (a dangling reference): the
    # next load reuses the whole file, so a fixed reference brings the item back.
    whole: LoadedFile | None = field(default=None, repr=False)

    @property
    def kind(self) -> FileKind:
        """Return what the file holds."""
        if self.guide is not None:
            return "guide"
        if self.path == CONTACTS_FILE:
            return "contacts"
        return "events" if _classify(self.path) == "events" else "programmes"


@dataclass
class KnowledgeBase:
    """Everything that loaded from the knowledge folder, and every problem found."""

    root: Path
    files: dict[str, LoadedFile]  # by relative path: files that loaded, or their last good version
    errors: list[KnowledgeError]
    programmes: dict[str, Programme] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    guides: dict[str, Guide] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    stale: set[str] = field(default_factory=set)  # paths serving their last good version
    # What staff must know that is not a mistake in a line: which files serve an older version.
    notices: list[KnowledgeError] = field(default_factory=list)
    _paths: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def assemble(
        cls,
        root: Path,
        files: dict[str, LoadedFile],
        errors: list[KnowledgeError],
        stale: set[str] | None = None,
    ) -> KnowledgeBase:
        """Return the base built from files already checked for duplicates (in the given order)."""
        kb = cls(root=root, files=files, errors=errors, stale=stale or set())
        for path, loaded in files.items():
            for programme in loaded.programmes:
                kb.programmes[programme.id] = programme
                kb._paths.setdefault(programme.id, path)
            for event in loaded.events:
                kb.events[event.id] = event
                kb._paths.setdefault(event.id, path)
            for contact in loaded.contacts:
                kb.contacts.append(contact)
                kb._paths.setdefault(contact.id, path)
            if loaded.guide is not None:
                kb.guides[path] = loaded.guide
        return kb

    def path_of(self, record_id: str) -> str:
        """Return the relative path of the file holding a programme, event or contact."""
        try:
            return self._paths[record_id]
        except KeyError:
            raise UnknownRecordError(record_id) from None

    def line_of(self, record_id: str) -> int | None:
        """Return the line where a record starts in its file (None if unknown)."""
        return self.files[self.path_of(record_id)].lines.get(record_id)


# ---------------------------------------------------------------- pydantic errors in plain words

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


def _show(value: object) -> str:
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
        problem = f"{label} '{_show(value)}' is not allowed; allowed: {allowed}"
        return f"{subject}: {problem}" if csv else problem
    if kind in _DATE_ERRORS + _DATETIME_ERRORS and _impossible_date(str(value)):
        return f"{subject}: {_show(value)} is not a valid date"
    if kind in _DATE_ERRORS:
        hint = "" if _DATE_SHAPE.match(str(value)) else " (write it as YYYY-MM-DD, e.g. 2026-03-14)"
        return f"{subject}: {_show(value)} is not a valid date{hint}"
    if kind in _DATETIME_ERRORS:
        hint = (
            ""
            if _DATE_SHAPE.match(str(value)) and len(str(value)) > 10
            else (" (write it as YYYY-MM-DD HH:MM, e.g. 2026-03-14 18:30)")
        )
        return f"{subject}: {_show(value)} is not a valid date and time{hint}"
    if kind in ("time_parsing", "time_type"):
        return f"{subject}: {_show(value)} is not a valid time (write it as HH:MM, e.g. 18:30)"
    if kind in ("bool_parsing", "bool_type"):
        return f"{subject}: '{_show(value)}' should be yes or no"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{subject}: '{_show(value)}' should be a whole number"
    if kind in ("float_parsing", "float_type"):
        return f"{subject}: '{_show(value)}' should be a number"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{subject}: {_show(value)} should be at least {_number_text(ctx, 'ge', 'gt')}"
    if kind in ("less_than_equal", "less_than"):
        return f"{subject}: {_show(value)} should be at most {_number_text(ctx, 'le', 'lt')}"
    if kind == "too_short" and isinstance(value, list | tuple):
        return f"{subject} needs at least {ctx.get('min_length', 1)} value"
    if kind == "too_long":
        return f"{subject} is too long (at most {ctx.get('max_length')})"
    if kind == "string_pattern_mismatch" and (last == "id" or last.endswith("_id")):
        return f"{subject}: '{_show(value)}' is not a valid id: {_ID_HINT}"
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


# ---------------------------------------------------------------- reading files


def _link_target(root: Path, path: str) -> Path:
    """Return the file to read for `path`: itself, or the target of a link inside the folder."""
    full = root / path
    if not full.is_symlink():
        return full
    try:
        shown = os.readlink(full)
    except OSError:
        shown = "?"
    try:
        target = full.resolve(strict=True)
    except FileNotFoundError:
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    f"this is a link to '{shown}', which does not exist: remove the link or put "
                    "the file itself here",
                )
            ]
        ) from None
    except (RuntimeError, OSError) as error:  # Python 3.11 raises RuntimeError on a loop
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    "this is a link that leads back to itself (a loop of links): put the file "
                    "itself here",
                )
            ]
        ) from error
    if not target.is_relative_to(root.resolve()):
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    f"this is a link to '{shown}', outside the knowledge folder: it is not read; "
                    "copy the file into the folder instead",
                )
            ]
        )
    return target


def _read(root: Path, path: str, max_bytes: int) -> bytes:
    """Return the file's bytes; refuse it before reading if it is too large."""
    full = _link_target(root, path)
    status = full.stat()
    if not stat.S_ISREG(status.st_mode):  # a pipe or device would block or never end
        raise InvalidFile([KnowledgeError(path, None, "this is not a regular file")])
    size = status.st_size
    if size > max_bytes:
        raise InvalidFile([_too_large(path, size, max_bytes)])
    try:
        with full.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError as error:
        raise InvalidFile(
            [KnowledgeError(path, None, f"the file cannot be read: {error.strerror or error}")]
        ) from error
    if len(data) > max_bytes:  # it grew while being read
        raise InvalidFile([_too_large(path, len(data), max_bytes)])
    return data


def _too_large(path: str, size: int, max_bytes: int) -> KnowledgeError:
    return KnowledgeError(
        path,
        None,
        f"the file is too large ({size / 1_048_576:.1f} MB; the limit is "
        f"{max_bytes / 1_048_576:g} MB): split it into smaller files or remove images",
    )


def _refuse_binary(path: str, data: bytes) -> None:
    if b"\x00" in data[:8192]:
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    None,
                    f"the file holds binary data, not text: a '{Path(path).suffix}' file must be "
                    "plain text (was a different kind of file renamed?)",
                )
            ]
        )


def decode_text(path: str, data: bytes) -> str:
    """Return UTF-8 text; raise InvalidFile for binary data or another encoding."""
    _refuse_binary(path, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    line,
                    "the text is not saved as UTF-8 (a character here is not valid UTF-8): "
                    "open the file and save it again choosing the UTF-8 encoding",
                )
            ]
        ) from None


_EMPTY_HINT = "the file is empty: to remove all its records, delete the file (or write [] in it)"


def _yaml_records(path: str, data: Any, node: Node | None, key: str) -> list[tuple[Any, Node]]:
    """Return the items of a top-level list, or of `key:` holding that list, with their nodes."""
    if node is None:
        raise InvalidFile([KnowledgeError(path, None, _EMPTY_HINT)])
    if isinstance(data, dict) and isinstance(node, MappingNode):
        extra = [k for k in data if k != key]
        if extra or key not in data:
            raise InvalidFile(
                [
                    KnowledgeError(
                        path,
                        node.start_mark.line + 1,
                        f"the file should be a list of records, or '{key}:' followed by that list; "
                        f"found '{_show(', '.join(map(str, data)))}'",
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
                    f"'{_show(item)}'",
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


def _load_yaml_records(path: str, text: str, kind: FileKind) -> LoadedFile:
    sha = ""  # filled by the caller
    if not text.strip():
        raise InvalidFile([KnowledgeError(path, None, _EMPTY_HINT)])
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


def _load_guide(path: str, data: bytes) -> Guide:
    suffix = Path(path).suffix.lower()
    if suffix in PDF_SUFFIXES:
        return guide_from_pdf(path, data)
    if suffix in HTML_SUFFIXES:
        _refuse_binary(path, data)
        return guide_from_html(path, data)
    text = decode_text(path, data)
    if not text.strip():
        raise InvalidFile([KnowledgeError(path, None, "the file is empty")])
    front, body = split_front_matter(path, text)
    meta = GuideMeta()
    if front is not None:
        front_data, node = parse_yaml(path, front)
        if node is not None:
            if not isinstance(front_data, dict):
                raise InvalidFile(
                    [
                        KnowledgeError(
                            path,
                            2,
                            "the front matter between the '---' lines should be "
                            "'field: value' lines",
                        )
                    ]
                )
            meta = validate_node(path, GuideMeta, front_data, node)
    return guide_from_text(path, body, meta, markdown=suffix != ".txt")


# ---------------------------------------------------------------- CSV programmes

CSV_COLUMNS = (
    "id",
    "title_it",
    "title_en",
    "description_it",
    "description_en",
    "learning_type",
    "topics",
    "audiences",
    "provider",
    "venue_name",
    "venue_address",
    "district",
    "lat",
    "lon",
    "online",
    "start_date",
    "end_date",
    "weekly",
    "rrule",
    "schedule_notes_it",
    "schedule_notes_en",
    "free",
    "amount_eur",
    "cost_notes",
    "languages",
    "accessibility",
    "enrolment_it",
    "enrolment_en",
    "phone",
    "email",
    "url",
    "skills",
    "age_min",
    "age_max",
    "lang",
)
# Where a record field comes from in a CSV row (longest prefix first), for error messages.
_CSV_SOURCE: dict[tuple[str, ...], tuple[str, ...]] = {
    ("title",): ("title_it", "title_en"),
    ("description",): ("description_it", "description_en"),
    ("venue", "name"): ("venue_name",),
    ("venue", "address"): ("venue_address",),
    ("venue", "district"): ("district",),
    ("venue", "lat"): ("lat",),
    ("venue", "lon"): ("lon",),
    ("venue",): ("venue_name", "lat", "lon"),
    ("schedule", "start_date"): ("start_date",),
    ("schedule", "end_date"): ("end_date",),
    ("schedule", "weekly"): ("weekly",),
    ("schedule", "rrule"): ("rrule",),
    ("schedule", "notes"): ("schedule_notes_it", "schedule_notes_en"),
    ("schedule",): ("start_date", "end_date"),
    ("cost", "free"): ("free",),
    ("cost", "amount_eur"): ("amount_eur",),
    ("cost", "notes"): ("cost_notes",),
    ("cost",): ("free", "amount_eur"),
    ("contact", "phone"): ("phone",),
    ("contact", "email"): ("email",),
    ("contact", "url"): ("url",),
    ("enrolment",): ("enrolment_it", "enrolment_en"),
}
_TRUE = frozenset({"yes", "y", "true", "1", "sì", "si", "vero", "x"})
_FALSE = frozenset({"no", "n", "false", "0", "falso"})
_SLOT = re.compile(r"^(\S+)\s+(\d{1,2}[:.]\d{2})(?:\s*-\s*(\d{1,2}[:.]\d{2}))?$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def _csv_columns(loc: Sequence[int | str]) -> str:
    keys = tuple(part for part in loc if isinstance(part, str))
    for size in range(len(keys), 0, -1):
        columns = _CSV_SOURCE.get(keys[:size])
        if columns:
            break
    else:
        columns = (keys[0],) if keys else ()
    if not columns:
        return "the row"
    if len(columns) == 1:
        return f"column '{columns[0]}'"
    return "column " + " or ".join(f"'{column}'" for column in columns)


def _localized(row: dict[str, str], base: str) -> dict[str, str] | None:
    texts = {lang: row[f"{base}_{lang}"] for lang in ("it", "en") if row.get(f"{base}_{lang}")}
    return texts or None


def _number(cell: str) -> str:
    cell = cell.replace("€", "").strip()
    return cell.replace(",", ".") if _DECIMAL_COMMA.match(cell) else cell


def _date(cell: str) -> str:
    match = _DMY.match(cell)
    if match:  # Italian spreadsheets write 14/03/2026
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return cell


def _boolean(cell: str) -> bool | str:
    word = cell.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return cell


def _weekly(cell: str) -> list[dict[str, str]]:
    slots = []
    for part in filter(None, (piece.strip() for piece in cell.split(";"))):
        match = _SLOT.match(part)
        if not match:
            raise ValueError(
                f"'{_show(part)}' is not a weekly time: write the day and the hours, like "
                "'mon 18:00-20:00; wed 18:00-20:00'"
            )
        day, start, end = match.groups()
        slot = {"day": day, "start": start}  # the model reads day names and 18.30
        if end:
            slot["end"] = end
        slots.append(slot)
    return slots


def _row_to_record(row: dict[str, str]) -> dict[str, Any]:
    """Return the Programme fields written in one CSV row (empty cells are left out)."""

    def many(name: str) -> list[str] | None:
        values = [part.strip() for part in row.get(name, "").split(";") if part.strip()]
        return values or None

    record: dict[str, Any] = {
        "id": row.get("id") or None,
        "title": _localized(row, "title"),
        "description": _localized(row, "description"),
        "learning_type": row.get("learning_type") or None,
        "topics": many("topics"),
        "audiences": many("audiences"),
        "provider": row.get("provider") or None,
        "languages": many("languages"),
        "accessibility": row.get("accessibility") or None,
        "enrolment": _localized(row, "enrolment"),
        "skills": many("skills"),
        "age_min": row.get("age_min") or None,
        "age_max": row.get("age_max") or None,
        "lang": row.get("lang") or None,
        "url": row.get("url") or None,
    }
    if row.get("online"):
        record["online"] = _boolean(row["online"])
    venue = {
        "name": row.get("venue_name") or None,
        "address": row.get("venue_address") or None,
        "district": row.get("district") or None,
        "lat": _number(row["lat"]) if row.get("lat") else None,
        "lon": _number(row["lon"]) if row.get("lon") else None,
    }
    if any(venue.values()):
        record["venue"] = {key: value for key, value in venue.items() if value is not None}
    schedule: dict[str, Any] = {
        "start_date": _date(row["start_date"]) if row.get("start_date") else None,
        "end_date": _date(row["end_date"]) if row.get("end_date") else None,
        "rrule": row.get("rrule") or None,
        "notes": _localized(row, "schedule_notes"),
    }
    if row.get("weekly"):
        schedule["weekly"] = _weekly(row["weekly"])
    if any(value is not None for value in schedule.values()):
        record["schedule"] = {key: value for key, value in schedule.items() if value is not None}
    cost: dict[str, Any] = {
        "free": _boolean(row["free"]) if row.get("free") else None,
        "amount_eur": _number(row["amount_eur"]) if row.get("amount_eur") else None,
        "notes": row.get("cost_notes") or None,
    }
    if any(value is not None for value in cost.values()):
        record["cost"] = {key: value for key, value in cost.items() if value is not None}
    contact = {name: row[name] for name in ("phone", "email") if row.get(name)}
    if contact:
        record["contact"] = contact
    # Leaving empty cells out lets the model's defaults and "is required" messages apply.
    return {key: value for key, value in record.items() if value is not None}


def _load_csv(path: str, text: str) -> LoadedFile:
    if not text.strip():
        raise InvalidFile([KnowledgeError(path, None, "the file is empty")])
    lines = text.splitlines(keepends=True)
    header_line = lines[0]
    # Italian spreadsheets export with ';' between cells; then multi-value cells are quoted.
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    problems: list[KnowledgeError] = []
    try:
        header = [name.strip().lower().replace(" ", "_") for name in next(reader)]
    except csv.Error as error:
        message = f"the header row cannot be read: {error}"
        raise InvalidFile([KnowledgeError(path, 1, message)]) from error
    for name in header:
        if name and name not in CSV_COLUMNS:
            problems.append(
                KnowledgeError(
                    path, 1, f"unknown column '{name}' (known columns: {', '.join(CSV_COLUMNS)})"
                )
            )
        elif name and header.count(name) > 1:
            problems.append(KnowledgeError(path, 1, f"column '{name}' appears twice in the header"))
    if "id" not in header:
        problems.append(KnowledgeError(path, 1, "the header row has no 'id' column"))
        raise InvalidFile(problems)
    programmes: list[Programme] = []
    record_lines: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(KnowledgeError(path, line, f"this row cannot be read: {error}"))
            break
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            problems.append(
                KnowledgeError(
                    path,
                    line,
                    f"this row has {len(cells)} cells but the header has {len(header)} columns "
                    f"(a '{delimiter}' inside a cell needs quotes around the cell)",
                )
            )
            continue
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}
        try:
            record = _row_to_record(row)
        except ValueError as error:
            problems.append(KnowledgeError(path, line, f"column 'weekly': {error}"))
            continue
        try:
            programme = Programme.model_validate(record)
        except ValidationError as error:
            problems.extend(
                KnowledgeError(
                    path, line, describe_error(p, _csv_columns(p["loc"]), Programme, csv=True)
                )
                for p in error.errors(include_url=False)
            )
            continue
        if programme.id in record_lines:
            problems.append(
                KnowledgeError(
                    path,
                    line,
                    f"id '{programme.id}' is used twice in this file (first on line "
                    f"{record_lines[programme.id]})",
                )
            )
            continue
        programmes.append(programme)
        record_lines[programme.id] = line
    if problems:
        raise InvalidFile(problems)
    return LoadedFile(path=path, sha256="", programmes=programmes, lines=record_lines)


# ---------------------------------------------------------------- the folder


def file_sha256(data: bytes) -> str:
    """Return the hex SHA-256 of a file's bytes (the index re-embeds a file when it changes)."""
    return hashlib.sha256(data).hexdigest()


def _classify(path: str) -> FileKind | None:
    """Return what a relative path holds, or None if the folder does not read such a file."""
    parts = path.split("/")
    suffix = Path(path).suffix.lower()
    if len(parts) == 1:
        return "contacts" if path == CONTACTS_FILE else None
    top = parts[0]
    if top == PARTNERS_DIR and len(parts) >= 4:  # partners/<name>/programmes|events/...
        return _classify("/".join(parts[2:]))
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
            kind = _classify(path)
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


def _load_file(
    root: Path, path: str, kind: FileKind, max_bytes: int, reuse: LoadedFile | None
) -> tuple[LoadedFile, bytes]:
    data = _read(root, path, max_bytes)
    sha = file_sha256(data)
    if reuse is not None and reuse.sha256 == sha:
        return reuse, data  # unchanged since the last load: nothing to parse again
    try:
        mtime = (root / path).stat().st_mtime
        saved: dt.datetime | None = dt.datetime.fromtimestamp(mtime, dt.UTC)
    except OSError:
        saved = None
    return parse_file(path, kind, data, sha=sha, good_since=saved), data


def parse_file(
    path: str, kind: FileKind, data: bytes, *, sha: str, good_since: dt.datetime | None
) -> LoadedFile:
    """Return the records (or guide) in a file's bytes; raise InvalidFile with every problem."""
    if kind == "guide":
        guide = _load_guide(path, data)
        return LoadedFile(path=path, sha256=sha, guide=guide, good_since=good_since)
    text = decode_text(path, data)
    if kind == "programmes" and path.lower().endswith(".csv"):
        loaded = _load_csv(path, text)
    else:
        loaded = _load_yaml_records(path, text, kind)
    loaded.sha256 = sha
    loaded.good_since = good_since
    return loaded


def parse_records(path: str, text: str, kind: Literal["programmes", "events"]) -> LoadedFile:
    """Return the records of a programmes/events text (YAML, or CSV when `path` ends in .csv).

    Raise InvalidFile with every problem, named by `path` and line, as for a file in the folder.
    """
    if kind == "programmes" and path.lower().endswith(".csv"):
        return _load_csv(path, text)
    return _load_yaml_records(path, text, kind)


class _Registry:
    """Ids claimed so far across files, to report duplicates with both places."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, int | None]] = {}
        self.programmes: set[str] = set()

    def conflicts(self, loaded: LoadedFile) -> list[KnowledgeError]:
        problems: list[KnowledgeError] = []
        records: list[Programme | Event] = [*loaded.programmes, *loaded.events]
        for record in records:
            if record.id in self.records:
                other_path, other_line = self.records[record.id]
                where = f"{other_path}:{other_line}" if other_line else other_path
                problems.append(
                    KnowledgeError(
                        loaded.path,
                        loaded.lines.get(record.id),
                        f"id '{record.id}' is already used in {where}: each id must be used "
                        "once in the whole folder",
                    )
                )
        return problems

    def dangling(self, loaded: LoadedFile) -> list[KnowledgeError]:
        """Return one problem per event whose programme_id names no programme claimed so far."""
        return [
            KnowledgeError(
                loaded.path,
                loaded.lines.get(event.id),
                f"event '{event.id}': programme_id '{event.programme_id}' does not match any "
                "programme in programmes/; this event is left out until it is fixed (the rest "
                "of the file serves)",
            )
            for event in loaded.events
            if event.programme_id and event.programme_id not in self.programmes
        ]

    def claim(self, loaded: LoadedFile) -> None:
        for programme in loaded.programmes:
            self.records[programme.id] = (loaded.path, loaded.lines.get(programme.id))
            self.programmes.add(programme.id)
        for event in loaded.events:
            self.records[event.id] = (loaded.path, loaded.lines.get(event.id))


_KIND_ORDER: dict[FileKind, int] = {"programmes": 0, "events": 1, "contacts": 2, "guide": 3}


def load_knowledge(
    root: Path,
    previous: KnowledgeBase | None = None,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    last_good: LastGoodStore | None = None,
) -> KnowledgeBase:
    """Load and validate every file under `root`; bad files are reported and skipped.

    With `previous`, unchanged files are reused without parsing, and a file that is now broken keeps
    its last good version from `previous` (listed in `stale`). With `last_good`, the last good
    version of every file is also kept on disk and serves a broken file after a restart; files
    deleted from the folder are dropped, with their kept versions.
    """
    root = Path(root)
    earlier = {
        path: loaded.whole or loaded
        for path, loaded in (previous.files.items() if previous is not None else ())
    }
    if not root.is_dir():
        error = KnowledgeError(".", None, f"the knowledge folder {root} does not exist")
        return KnowledgeBase.assemble(root, dict(earlier), [error], set(earlier))
    entries, errors = discover(root)
    fresh: dict[str, LoadedFile] = {}
    kinds: dict[str, FileKind] = {}
    to_keep: dict[str, bytes] = {}  # bytes of good files whose kept version is older
    for path, kind in entries:
        try:
            loaded, data = _load_file(root, path, kind, max_file_bytes, earlier.get(path))
            fresh[path] = loaded
            if last_good is not None and last_good.sha256(path) != loaded.sha256:
                to_keep[path] = data
        except InvalidFile as error:
            errors.extend(error.errors)
        except (FileNotFoundError, NotADirectoryError):
            log.info("knowledge file %s disappeared while loading; treated as removed", path)
            continue
        except OSError as error:  # whatever the disk says, a problem for staff, not a crash
            reason = error.strerror or str(error)
            errors.append(KnowledgeError(path, None, f"the file cannot be read: {reason}"))
        kinds[path] = kind
    kept = last_good.paths() if last_good is not None else set()

    def fallback(path: str) -> LoadedFile | None:
        """Return the last good version of a file: this process's, else the one kept on disk."""
        if path in earlier:
            return earlier[path]
        if last_good is None or path not in kept:
            return None
        snapshot = last_good.get(path)
        if snapshot is None:
            return None
        try:
            return parse_file(
                path,
                kinds[path],
                snapshot.data,
                sha=snapshot.sha256,
                good_since=snapshot.good_since,
            )
        except InvalidFile as error:  # kept by an older release that read it differently
            log.warning("last good version of %s no longer loads: %s", path, error.errors[0])
            return None

    # Files that were there before claim their ids first, so a new file cannot push out old content.
    order = sorted(
        kinds,
        key=lambda p: (_KIND_ORDER[kinds[p]], p not in earlier and p not in kept, p),
    )
    registry = _Registry()
    accepted: dict[str, LoadedFile] = {}
    stale: set[str] = set()
    for path in order:
        current = fresh.get(path)
        for number in (0, 1):
            candidate = current if number == 0 else fallback(path)
            if candidate is None or (number == 1 and candidate is current):
                continue
            loaded = candidate
            problems = registry.conflicts(loaded)
            if problems:
                if number == 0:
                    errors.extend(problems)
                else:  # staff already see this file's current problems; old lines would confuse
                    log.warning("last good version of %s conflicts too: %s", path, problems[0])
                continue
            dangling = registry.dangling(loaded)
            if dangling:
                if number == 0:
                    errors.extend(dangling)
                left_out = {
                    event.id
                    for event in loaded.events
                    if event.programme_id and event.programme_id not in registry.programmes
                }
                loaded = replace(
                    loaded,
                    events=[e for e in loaded.events if e.id not in left_out],
                    lines={i: n for i, n in loaded.lines.items() if i not in left_out},
                    whole=loaded.whole or loaded,
                )
            registry.claim(loaded)
            accepted[path] = loaded
            if number == 0 and path in to_keep and last_good is not None:
                last_good.save(path, to_keep[path], loaded.good_since or _now())
            if number == 1:
                stale.add(path)
                log.info("knowledge file %s has errors; its last good version serves", path)
            break
    if last_good is not None:
        last_good.forget(kept - set(kinds))  # deleted from the folder: gone for good

    if CONTACTS_FILE not in accepted and CONTACTS_FILE not in kinds:
        errors.append(
            KnowledgeError(
                CONTACTS_FILE,
                None,
                "the file is missing: the assistant needs contacts to point people to a person",
            )
        )
    elif CONTACTS_FILE in accepted and not any(
        c.kind == ContactKind.GENERAL for c in accepted[CONTACTS_FILE].contacts
    ):
        errors.append(
            KnowledgeError(
                CONTACTS_FILE,
                None,
                "no contact has kind 'general': add one, for questions the folder cannot answer",
            )
        )
    errors = sorted(_unique(errors), key=lambda e: (e.path, e.line or 0))
    kb = KnowledgeBase.assemble(root, dict(sorted(accepted.items())), errors, stale)
    kb.notices = [_serving_notice(path, accepted[path].good_since) for path in sorted(stale)]
    log.info(
        "knowledge loaded: %d files, %d programmes, %d events, %d guides, %d contacts, %d errors",
        len(kb.files),
        len(kb.programmes),
        len(kb.events),
        len(kb.guides),
        len(kb.contacts),
        len(kb.errors),
    )
    return kb


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def version_time(when: dt.datetime) -> str:
    """Return a version's time as staff read it, in city time: '2 Dec 10:14'."""
    local = when.astimezone(CITY_ZONE)
    return f"{local.day} {local:%b %H:%M}"


def _serving_notice(path: str, good_since: dt.datetime | None) -> KnowledgeError:
    """Return the staff notice for a broken file whose last good version serves."""
    version = (
        f"the version of {version_time(good_since)}" if good_since else "the last good version"
    )
    return KnowledgeError(
        path,
        None,
        f"serving {version} (its last good version) until the problems in this file are fixed",
    )


def _unique(errors: list[KnowledgeError]) -> list[KnowledgeError]:
    seen: set[KnowledgeError] = set()
    result = []
    for error in errors:
        if error not in seen:
            seen.add(error)
            result.append(error)
    return result


def check_folder(root: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> list[KnowledgeError]:
    """Return every problem in the knowledge folder (empty when it is all good)."""
    return load_knowledge(root, max_file_bytes=max_file_bytes).errors
