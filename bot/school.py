"""/school: a guided menu for families (enrolment, tutoring, early leaving, SEN, who to call)."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.answers import AnswerHandlers
from bot.deps import BotDeps
from bot.formatting import contact_html
from bot.keyboards import SCHOOL_ITEMS
from learncity.i18n import t


class SchoolHandlers:
    """Each menu item asks the assistant a well-worded question, or shows the school contact."""

    def __init__(self, *, deps: BotDeps, answers: AnswerHandlers) -> None:
        self._deps = deps
        self._answers = answers

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1)."""
        return [
            CommandHandler("school", self.school),
            CallbackQueryHandler(self.item, pattern=rf"^s:({'|'.join(SCHOOL_ITEMS)})$"),
        ]

    def _markup(self, lang: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(t(f"bot.school.{item}", lang), callback_data=f"s:{item}")]
                for item in SCHOOL_ITEMS
            ]
        )

    async def school(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the families' menu."""
        chat = update.effective_chat
        if chat is not None:
            lang = self._deps.language(update)
            await chat.send_message(t("bot.school.intro", lang), reply_markup=self._markup(lang))

    async def item(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer one menu item."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        lang = self._deps.language(update)
        item = str(query.data).split(":")[1]
        await query.answer()
        if item == "contacts":
            contact = await asyncio.to_thread(self._deps.assistant.contact_for, "school", lang)
            await chat.send_message(
                t("bot.school.contacts_header", lang) + "\n\n" + contact_html(contact, lang)
            )
            return
        await self._answers.answer(
            update, context, t(f"bot.school.question.{item}", lang), lang=lang
        )
