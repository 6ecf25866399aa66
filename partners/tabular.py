"""Our own programme CSV and programme/event YAML, exactly as staff write them in the folder.

The knowledge loader parses them (same columns, same messages with lines); the records then get
the partner's prefix on their ids, so two partners' `corso-1` are both kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml

from learncity.content.errors import InvalidFile, KnowledgeError
from learncity.content.loader import parse_records
from learncity.content.models import Event, Programme
from learncity.content.yaml_source import parse_yaml
from partners.errors import InvalidSource
from partners.records import Collector, Parsed, record_id
from partners.registry import Partner


def _kind_of_yaml(document: str, text: str) -> Literal["programmes", "events"]:
    try:
        data, _ = parse_yaml(document, text)
    except InvalidFile as error:
        raise InvalidSource(error.errors) from None
    if isinstance(data, dict) and set(data) & {"programmes", "events"}:
        if {"programmes", "events"} <= set(data):
            message = "a file holds 'programmes:' or 'events:', not both: send two files"
            raise InvalidSource([KnowledgeError(document, 1, message)])
        return "events" if "events" in data else "programmes"
    if isinstance(data, list) and data and all(isinstance(i, dict) and "start" in i for i in data):
        return "events"
    return "programmes"


def parse_tabular(
    data: str, *, document: str, partner: Partner, now: dt.datetime, city: ZoneInfo
) -> Parsed:
    """Return the records of our CSV (programmes) or YAML (programmes or events)."""
    kind: Literal["programmes", "events"] = (
        "programmes" if document.lower().endswith(".csv") else _kind_of_yaml(document, data)
    )
    try:
        loaded = parse_records(document, data, kind)
    except (InvalidFile, yaml.YAMLError) as error:
        errors = getattr(error, "errors", [KnowledgeError(document, None, str(error))])
        raise InvalidSource(errors) from None
    out = Collector(document=document, partner=partner, now=now, city=city)
    own = {p.id: record_id(partner.name, p.id) for p in loaded.programmes}
    for programme in loaded.programmes:
        record: dict[str, Any] = programme.model_dump(exclude_defaults=True)
        record["id"] = own[programme.id]
        out.add(Programme, record, loaded.lines.get(programme.id))
    for event in loaded.events:
        record = event.model_dump(exclude_defaults=True)
        record["id"] = record_id(partner.name, event.id)
        if event.programme_id in own:  # a link inside the same file follows the new ids
            record["programme_id"] = own[event.programme_id]
        out.add(Event, record, loaded.lines.get(event.id))
    return out.finish()
