"""/events: what is on today, this week, this weekend or this month (in the city's time zone)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.answers import AnswerHandlers
from bot.deps import BotDeps
from bot.keyboards import EVENT_PERIODS, grid
from learncity.i18n import t
from retrieval.types import Filters

# Filters offered under an event listing (callback e:<period>:<name>).
EVENT_FILTERS = {
    "free": Filters(free_only=True),
    "families": Filters(audiences=("families", "children", "parents")),
}


def period_bounds(period: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return [start, end) of `period` ("today", "week", "weekend", "month") from aware `now`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def day(offset: int) -> dt.datetime:
        # Wall-clock midnight, so daylight-saving changes do not shift the day.
        date = midnight.date() + dt.timedelta(days=offset)
        return dt.datetime.combine(date, dt.time(), tzinfo=now.tzinfo)

    weekday = now.weekday()
    if period == "today":
        return now, day(1)
    if period == "week":
        return now, day(7 - weekday)
    if period == "weekend":
        start = now if weekday >= 5 else day(5 - weekday)
        return start, day(7 - weekday)
    if period == "month":
        first_next = (midnight.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return now, dt.datetime.combine(first_next, dt.time(), tzinfo=now.tzinfo)
    raise ValueError(f"unknown period {period!r}; known: {', '.join(EVENT_PERIODS)}")


class EventHandlers:
    """Events by period, as cards with Details and Add to calendar."""

    def __init__(self, *, deps: BotDeps, answers: AnswerHandlers) -> None:
        self._deps = deps
        self._answers = answers

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1)."""
        return [
            CommandHandler("events", self.events),
            CallbackQueryHandler(
                self.period,
                pattern=rf"^e:({'|'.join(EVENT_PERIODS)})(:({'|'.join(EVENT_FILTERS)}))?$",
            ),
        ]

    def _markup(self, lang: str) -> InlineKeyboardMarkup:
        buttons = [
            InlineKeyboardButton(t(f"bot.events.{period}", lang), callback_data=f"e:{period}")
            for period in EVENT_PERIODS
        ]
        return InlineKeyboardMarkup(grid(buttons))

    async def events(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer the periods."""
        chat = update.effective_chat
        if chat is not None:
            lang = self._deps.language(update)
            await chat.send_message(t("bot.events.choose", lang), reply_markup=self._markup(lang))

    async def period(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List the events of the chosen period, optionally only free ones or for families."""
        query = update.callback_query
        if query is None:
            return
        lang = self._deps.language(update)
        parts = str(query.data).split(":")
        period = parts[1]
        chosen = parts[2] if len(parts) > 2 else None
        start, end = period_bounds(period, self._deps.now())
        cards = await asyncio.to_thread(
            self._deps.assistant.events_between,
            start,
            end,
            lang=lang,
            filters=EVENT_FILTERS[chosen] if chosen else None,
        )
        await query.answer()
        label = t(f"bot.events.{period}", lang)
        if chosen:
            label = f"{label} · {t(f'bot.events.filter_{chosen}', lang)}"
        filter_row = [
            InlineKeyboardButton(
                t(f"bot.events.filter_{name}", lang), callback_data=f"e:{period}:{name}"
            )
            for name in EVENT_FILTERS
            if name != chosen
        ]
        chat = update.effective_chat
        if not cards:
            if chat is not None:
                await chat.send_message(
                    t("bot.events.none", lang, period=label.lower()),
                    reply_markup=self._markup(lang),
                )
            return
        await self._answers.send_cards(
            update,
            context,
            t("bot.events.header", lang, period=label),
            cards[:10],
            lang,
            extra_rows=[filter_row],
        )
