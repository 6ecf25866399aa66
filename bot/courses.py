"""/courses: browse programmes by audience or topic, one page at a time, in one edited message."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.answers import AnswerHandlers
from bot.deps import BotDeps
from bot.keyboards import grid
from learncity.content.models import Audience, Topic
from learncity.db import DatabaseUnavailable
from learncity.i18n import t

log = logging.getLogger(__name__)

PAGE_SIZE = 5
_FACETS = {"a": ("audience", {str(a) for a in Audience}), "t": ("topic", {str(x) for x in Topic})}


class CourseHandlers:
    """Browse programmes with inline keyboards: facet -> value -> pages."""

    def __init__(self, *, deps: BotDeps, answers: AnswerHandlers) -> None:
        self._deps = deps
        self._answers = answers

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1)."""
        return [
            CommandHandler("courses", self.courses),
            CallbackQueryHandler(self.root, pattern=r"^c:R$"),
            CallbackQueryHandler(self.facet, pattern=r"^c:[AT]$"),
            CallbackQueryHandler(self.page, pattern=r"^c:[at]:[a-z-]{1,40}:\d{1,4}$"),
        ]

    def _root_markup(self, lang: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(t("bot.courses.by_audience", lang), callback_data="c:A"),
                    InlineKeyboardButton(t("bot.courses.by_topic", lang), callback_data="c:T"),
                ]
            ]
        )

    async def courses(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer browsing by audience or by topic."""
        chat = update.effective_chat
        if chat is not None:
            lang = self._deps.language(update)
            await chat.send_message(
                t("bot.courses.choose", lang), reply_markup=self._root_markup(lang)
            )

    async def root(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Go back to the audience / topic choice."""
        query = update.callback_query
        if query is None:
            return
        lang = self._deps.language(update)
        await query.answer()
        await _edit(query, t("bot.courses.choose", lang), self._root_markup(lang))

    async def facet(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """List the audiences or the topics as buttons."""
        query = update.callback_query
        if query is None:
            return
        lang = self._deps.language(update)
        kind = "a" if query.data == "c:A" else "t"
        area, _ = _FACETS[kind]
        values = list(Audience) if kind == "a" else list(Topic)
        buttons = [
            InlineKeyboardButton(
                t(f"bot.{area}.{value}", lang), callback_data=f"c:{kind}:{value}:0"
            )
            for value in values
        ]
        rows = grid(buttons)
        rows.append([InlineKeyboardButton(t("bot.courses.back", lang), callback_data="c:R")])
        await query.answer()
        prompt = t("bot.courses.pick_audience" if kind == "a" else "bot.courses.pick_topic", lang)
        await _edit(query, prompt, InlineKeyboardMarkup(rows))

    async def page(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show one page of programmes for an audience or topic."""
        query = update.callback_query
        user = update.effective_user
        if query is None:
            return
        lang = self._deps.language(update)
        _, kind, value, offset_text = str(query.data).split(":")
        area, allowed = _FACETS[kind]
        if value not in allowed:
            await query.answer(t("bot.odd.stale_button", lang))
            return
        offset = int(offset_text)
        arguments = {area: value}
        cards, total = await asyncio.to_thread(
            self._deps.assistant.browse,
            lang=lang,
            offset=offset,
            limit=PAGE_SIZE,
            now=self._deps.now(),
            **arguments,
        )
        if user is not None:
            try:
                await self._deps.db(
                    self._deps.storage.add_interest, user.id, f"{area}:{value}", language=lang
                )
            except DatabaseUnavailable as error:
                # A remembered interest is a convenience: browsing goes on without it.
                log.warning("interest not saved: %s", error)
        await query.answer()
        label = t(f"bot.{area}.{value}", lang)
        back = [
            InlineKeyboardButton(t("bot.courses.back", lang), callback_data=f"c:{kind.upper()}")
        ]
        if not cards:
            await _edit(
                query, t("bot.courses.empty", lang, label=label), InlineKeyboardMarkup([back])
            )
            return
        paging = []
        if offset > 0:
            paging.append(
                InlineKeyboardButton(
                    t("bot.courses.previous", lang),
                    callback_data=f"c:{kind}:{value}:{max(offset - PAGE_SIZE, 0)}",
                )
            )
        if offset + len(cards) < total:
            paging.append(
                InlineKeyboardButton(
                    t("bot.courses.next", lang),
                    callback_data=f"c:{kind}:{value}:{offset + PAGE_SIZE}",
                )
            )
        header = t(
            "bot.courses.header",
            lang,
            label=label,
            first=offset + 1,
            last=offset + len(cards),
            total=total,
        )
        extra = [row for row in (paging, back) if row]
        await self._answers.send_cards(
            update, context, header, cards, lang, extra_rows=extra, edit=True
        )


async def _edit(query: Any, text: str, markup: InlineKeyboardMarkup) -> None:
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as error:
        # Pressing the same button twice is harmless.
        if "not modified" not in str(error).lower():
            raise
