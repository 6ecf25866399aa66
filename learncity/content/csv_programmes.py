"""Programmes written as a spreadsheet (CSV): one row per programme, Italian exports included.

The delimiter is ',' or ';' (as Italian spreadsheets export); dates may be written 14/03/2026,
decimals with a comma, yes/no in Italian; multi-value cells are separated by ';'. A problem is
reported with its row's line and the column(s) to fix.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.knowledge_base import LoadedFile
from learncity.content.models import Programme
from learncity.content.problems import describe_error, show_value

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
                f"'{show_value(part)}' is not a weekly time: write the day and the hours, like "
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


def load_csv(path: str, text: str) -> LoadedFile:
    """Return the programmes of a CSV text (one per row); raise InvalidFile with every problem."""
    if not text.strip():
        raise InvalidFile([KnowledgeError(path, None, "the file is empty")])
    lines = text.splitlines(keepends=True)
    header_line = lines[0]
    # Italian spreadsheets export with ';' between cells; then multi-value cells are quoted.
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header, problems = _read_header(path, reader)
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
        try:
            programme = _row_programme(path, line, header, cells, delimiter)
        except InvalidFile as error:
            problems.extend(error.errors)
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


def _read_header(path: str, reader: Iterator[list[str]]) -> tuple[list[str], list[KnowledgeError]]:
    """Return the column names and their problems; raise InvalidFile if no row can follow."""
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
    return header, problems


def _row_programme(
    path: str, line: int, header: list[str], cells: list[str], delimiter: str
) -> Programme:
    """Return the programme in one row; raise InvalidFile with the row's problems."""
    if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
        raise InvalidFile(
            [
                KnowledgeError(
                    path,
                    line,
                    f"this row has {len(cells)} cells but the header has {len(header)} columns "
                    f"(a '{delimiter}' inside a cell needs quotes around the cell)",
                )
            ]
        )
    row = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}
    try:
        record = _row_to_record(row)
    except ValueError as error:
        raise InvalidFile([KnowledgeError(path, line, f"column 'weekly': {error}")]) from None
    try:
        return Programme.model_validate(record)
    except ValidationError as error:
        raise InvalidFile(
            KnowledgeError(
                path, line, describe_error(p, _csv_columns(p["loc"]), Programme, csv=True)
            )
            for p in error.errors(include_url=False)
        ) from None
