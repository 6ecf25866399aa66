"""/privacy as residents read it: each store's plain values as a list in their language and time.

The stores describe themselves in plain values (`ForgetsUsers.describe_user`): ids, ISO times in
UTC, lists of dicts. This module turns the fields it knows into sentences (titles instead of ids,
the city's time zone, translated labels) and anything else into "key: value" text, never a dict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from learncity.i18n import MissingText, t

#: (kind, record id, lang) -> the record's title, or None when it is gone.
TitleOf = Callable[[str, str, str], str | None]


def _text(key: str, lang: str, fallback: str, **values: object) -> str:
    try:
        return t(key, lang, **values)
    except MissingText:
        return fallback


def _label(key: str, lang: str) -> str:
    return _text(f"bot.privacy.fields.{key}", lang, key.replace("_", " "))


def _time(value: object, lang: str, zone: ZoneInfo) -> str | None:
    """Return an ISO date-time (or a datetime) in the city's zone and the resident's format."""
    moment: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # the stores keep UTC
    return moment.astimezone(zone).strftime(t("bot.privacy.time_format", lang))


def _date(value: object, lang: str) -> str:
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return day.strftime(t("bot.privacy.date_format", lang))


def _interest(value: str, lang: str) -> str:
    area, _, name = value.partition(":")
    if area in ("topic", "audience") and name:
        return _text(f"bot.{area}.{name}", lang, name.replace("-", " "))
    return value.replace("-", " ")


def _offset(value: str, lang: str) -> str:
    return _text(f"reminders.offset_label.{value}", lang, value)


def _flow(value: object) -> str:
    return str(value).replace("-", " ").replace("_", " ")


def _plain(value: object, lang: str, zone: ZoneInfo) -> str:
    """Return any value as short readable text (no braces, no quotes, local times)."""
    when = _time(value, lang, zone)
    if when is not None:
        return when
    if value is True:
        return t("bot.privacy.answer_yes", lang)
    if value is False:
        return t("bot.privacy.answer_no", lang)
    if isinstance(value, Mapping):
        return "; ".join(
            f"{key.replace('_', ' ')}: {_plain(item, lang, zone)}" for key, item in value.items()
        )
    if isinstance(value, list | tuple | set):
        return ", ".join(_plain(item, lang, zone) for item in value) or "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def describe(
    key: str, value: object, lang: str, *, zone: ZoneInfo, title_of: TitleOf | None = None
) -> list[str]:
    """Return the lines (plain text, not yet escaped) that show one stored field."""
    if key == "language":
        return [{"it": "Italiano", "en": "English"}.get(str(value), str(value))]
    if key == "interests" and isinstance(value, list):
        return [", ".join(_interest(str(item), lang) for item in value)]
    if key == "since":
        return [_date(value, lang)]
    if key == "conversation_state":
        return [t("bot.privacy.answer_yes", lang)]
    if key == "reminder_offsets" and isinstance(value, list):
        return [", ".join(_offset(str(item), lang) for item in value)]
    if key == "reminders" and isinstance(value, list):
        lines = []
        for item in value:
            if not isinstance(item, Mapping):
                lines.append(_plain(item, lang, zone))
                continue
            kind, record = str(item.get("kind", "")), str(item.get("id", ""))
            title = (title_of(kind, record, lang) if title_of else None) or record
            when = _time(item.get("starts"), lang, zone) or "–"
            offsets = ", ".join(_offset(str(o), lang) for o in item.get("offsets") or [])
            line = t("bot.privacy.reminder_item", lang, title=title, when=when)
            lines.append(f"{line} ({offsets})" if offsets else line)
        return lines
    if key == "digest" and isinstance(value, Mapping):
        state = t(f"bot.privacy.state_{'on' if value.get('opted_in') else 'off'}", lang)
        topics = ", ".join(
            _interest(f"topic:{item}", lang) for item in value.get("interests") or []
        )
        return [t("bot.privacy.digest_value", lang, state=state, topics=topics or "–")]
    if key == "assessment_results" and isinstance(value, list):
        return [
            t(
                "bot.privacy.result_item",
                lang,
                flow=_flow(item.get("flow")),
                when=_time(item.get("finished_at"), lang, zone) or "–",
            )
            for item in value
            if isinstance(item, Mapping)
        ]
    if key == "assessments_in_progress" and isinstance(value, list):
        return [
            t(
                "bot.privacy.progress_item",
                lang,
                flow=_flow(item.get("flow")),
                count=item.get("answers", 0),
            )
            for item in value
            if isinstance(item, Mapping)
        ]
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        return [_plain(item, lang, zone) for item in value]
    return [_plain(value, lang, zone)]


def privacy_html(
    fields: Sequence[tuple[str, object]],
    lang: str,
    *,
    zone: ZoneInfo,
    title_of: TitleOf | None = None,
) -> str:
    """Return /privacy: a header, one bullet per field (sub-bullets for lists), a footer."""
    lines = [t("bot.privacy.header", lang)]
    if not fields:
        lines.append(t("bot.privacy.nothing", lang))
    for key, value in fields:
        shown = describe(key, value, lang, zone=zone, title_of=title_of)
        label = escape(_label(key, lang))
        if len(shown) == 1:
            lines.append(t("bot.privacy.item", lang, area=label, what=escape(shown[0])))
        else:
            lines.append(t("bot.privacy.item", lang, area=label, what=str(len(shown))))
            lines.extend(f"   ◦ {escape(line)}" for line in shown)
    lines.append("")
    lines.append(t("bot.privacy.footer", lang))
    return "\n".join(lines)


def as_fields(described: Mapping[str, Any]) -> list[tuple[str, object]]:
    """Return the fields a store really keeps (stores list empty fields too)."""
    return [
        (key, value)
        for key, value in described.items()
        if value not in (None, "", 0, False) and value != [] and value != {}
    ]
