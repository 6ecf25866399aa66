"""Inline keyboards and their callback data (at most 64 bytes, short prefixes).

Callback data scheme (every handler matches its prefix with a pattern; anything else is stale):
  lang:<code>                  choose the language (any language with a catalogue)
  m:<area>                     main menu (courses, events, school, help, privacy, language, ask)
  fb:<view>:<1|0>  fb:skip     👍 / 👎 on an answer, skip the reason
  fbr:<view>:<w|n|o|x>         the reason after a 👎: wrong, not what I asked, out of date, other
  src:<view>:<n>               show the passage of source n of a view
  d:<view>:<n>  ics:<view>:<n> card n of a view: details, add to calendar
  c:A  c:T  c:a:<audience>:<offset>  c:t:<topic>:<offset>      browse courses
  e:<today|week|weekend|month>  events
  s:<enrolment|tutoring|leaving|special_needs|contacts>         school menu
  f:<yes|no>                   /forget confirmation
A "view" is a short id for an answer or a list shown in a chat; what it refers to is kept in the
chat's data (persisted), so buttons keep working after a restart, for anyone in a group.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.formatting import short
from learncity.i18n import language_name, supported_languages, t
from retrieval.types import Card, Source

MAX_VIEWS = 12  # chat_data is rewritten after each answer: keep it small
MAX_SOURCE_BUTTONS = 4
MAX_CARD_BUTTONS = 5
MAIN_MENU = ("courses", "events", "school", "help", "privacy", "language")
EVENT_PERIODS = ("today", "week", "weekend", "month")
# Entry buttons of other areas (their own handlers answer these callbacks).
AREA_BUTTONS = {"skills": "m:skills", "reminders": "rem:list"}
SCHOOL_ITEMS = ("enrolment", "tutoring", "leaving", "special_needs", "contacts")

View = dict[str, Any]


def remember_view(
    chat_data: MutableMapping[str, Any] | None,
    *,
    sources: Sequence[Source] = (),
    cards: Sequence[Card] = (),
    abstained: bool = False,
) -> str:
    """Keep what an answer's buttons refer to; return the view id for its callback data."""
    view_id = secrets.token_hex(4)
    if chat_data is None:
        return view_id
    views: dict[str, View] = chat_data.setdefault("views", {})
    views[view_id] = {
        "sources": [
            {"title": source.title, "snippet": source.snippet, "path": source.path}
            for source in sources[:MAX_SOURCE_BUTTONS]
        ],
        "cards": [[card.kind, card.id] for card in cards[:MAX_CARD_BUTTONS]],
        "abstained": abstained,
    }
    while len(views) > MAX_VIEWS:
        views.pop(next(iter(views)))
    return view_id


def recall_view(chat_data: MutableMapping[str, Any] | None, view_id: str) -> View | None:
    """Return a kept view, or None when it is unknown (expired, forged, or forgotten)."""
    if chat_data is None:
        return None
    views = chat_data.get("views")
    if not isinstance(views, dict):
        return None
    view = views.get(view_id)
    return view if isinstance(view, dict) else None


def language_buttons() -> list[InlineKeyboardButton]:
    """Return a button for each supported language, named in that language."""
    return [
        InlineKeyboardButton(language_name(lang), callback_data=f"lang:{lang}")
        for lang in supported_languages()
    ]


def language_keyboard() -> InlineKeyboardMarkup:
    """Return the language choice, two buttons a row."""
    return InlineKeyboardMarkup(grid(language_buttons(), 2))


def main_menu(
    lang: str, *, with_language: bool = False, areas: Sequence[str] = ()
) -> InlineKeyboardMarkup:
    """Return the main menu (two buttons a row), with the optional areas' entry buttons."""
    rows: list[list[InlineKeyboardButton]] = []
    if with_language:
        rows.extend(grid(language_buttons(), 3))
    items = [item for item in MAIN_MENU if not (with_language and item == "language")]
    buttons = [
        InlineKeyboardButton(t(f"bot.menu.{item}", lang), callback_data=f"m:{item}")
        for item in items
    ]
    buttons += [
        InlineKeyboardButton(t(f"bot.menu.{area}", lang), callback_data=AREA_BUTTONS[area])
        for area in areas
        if area in AREA_BUTTONS
    ]
    rows.extend(buttons[index : index + 2] for index in range(0, len(buttons), 2))
    return InlineKeyboardMarkup(rows)


def remind_data(card: Card) -> str | None:
    """Return the reminders area's callback data for a card, when it fits in 64 bytes."""
    data = f"rem:{'ev' if card.kind == 'event' else 'prog'}:{card.id}"
    return data if len(data.encode()) <= 64 else None


def card_rows(
    view_id: str,
    cards: Sequence[Card],
    lang: str,
    *,
    remind: bool = False,
    details: bool = True,
) -> list[list[InlineKeyboardButton]]:
    """Return a row for each card: Details, Add to calendar, and 🔔 when reminders are on."""
    rows = []
    for index, card in enumerate(cards[:MAX_CARD_BUTTONS]):
        row = []
        if details:
            row.append(
                InlineKeyboardButton(
                    t("bot.card.details", lang, title=short(card.title, 28)),
                    callback_data=f"d:{view_id}:{index}",
                )
            )
        calendar = "📅" if details else t("bot.card.calendar", lang)
        row.append(InlineKeyboardButton(calendar, callback_data=f"ics:{view_id}:{index}"))
        data = remind_data(card) if remind else None
        if data is not None:
            row.append(InlineKeyboardButton("🔔", callback_data=data))
        rows.append(row)
    return rows


def answer_keyboard(
    view_id: str,
    *,
    sources: Sequence[Source],
    cards: Sequence[Card],
    lang: str,
    remind: bool = False,
) -> InlineKeyboardMarkup:
    """Return an answer's buttons: sources, cards, then 👍/👎."""
    rows: list[list[InlineKeyboardButton]] = []
    for index, source in enumerate(sources[:MAX_SOURCE_BUTTONS]):
        label = t("bot.source.show", lang, title=short(source.title, 36))
        if source.url:
            rows.append([InlineKeyboardButton(label, url=source.url)])
        else:
            rows.append([InlineKeyboardButton(label, callback_data=f"src:{view_id}:{index}")])
    rows.extend(card_rows(view_id, cards, lang, remind=remind))
    rows.append(feedback_row(view_id, lang))
    return InlineKeyboardMarkup(rows)


def feedback_row(view_id: str, lang: str) -> list[InlineKeyboardButton]:
    """Return the 👍/👎 row."""
    return [
        InlineKeyboardButton(t("bot.feedback.up", lang), callback_data=f"fb:{view_id}:1"),
        InlineKeyboardButton(t("bot.feedback.down", lang), callback_data=f"fb:{view_id}:0"),
    ]


def without_feedback(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """Return `markup` without its 👍/👎 row (after the resident voted)."""
    if markup is None:
        return None
    rows = [
        list(row)
        for row in markup.inline_keyboard
        if not any(str(button.callback_data or "").startswith("fb:") for button in row)
    ]
    return InlineKeyboardMarkup(rows) if rows else None


#: The reasons offered after a 👎 (callback code -> text key and the value stored).
REASONS = {
    "w": ("bot.feedback.reason_wrong", "[wrong answer]"),
    "n": ("bot.feedback.reason_not_asked", "[not what I asked]"),
    "o": ("bot.feedback.reason_outdated", "[out of date]"),
}


def reason_keyboard(view_id: str, lang: str) -> InlineKeyboardMarkup:
    """Return the reason buttons after a 👎, "other: write it" and Skip."""
    buttons = [
        InlineKeyboardButton(t(key, lang), callback_data=f"fbr:{view_id}:{code}")
        for code, (key, _) in REASONS.items()
    ]
    buttons.append(
        InlineKeyboardButton(t("bot.feedback.reason_other", lang), callback_data=f"fbr:{view_id}:x")
    )
    rows = grid(buttons, 2)
    rows.append([InlineKeyboardButton(t("bot.feedback.skip", lang), callback_data="fb:skip")])
    return InlineKeyboardMarkup(rows)


def forget_keyboard(lang: str) -> InlineKeyboardMarkup:
    """Return the /forget confirmation buttons."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t("bot.forget.confirm_yes", lang), callback_data="f:yes"),
                InlineKeyboardButton(t("bot.forget.confirm_no", lang), callback_data="f:no"),
            ]
        ]
    )


def grid(
    buttons: Sequence[InlineKeyboardButton], columns: int = 2
) -> list[list[InlineKeyboardButton]]:
    """Arrange buttons in rows of `columns`."""
    return [list(buttons[index : index + columns]) for index in range(0, len(buttons), columns)]
