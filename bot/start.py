"""/start, /help, /language, the main menu, /privacy and /forget."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.deps import BotDeps
from bot.keyboards import MAIN_MENU, forget_keyboard, language_keyboard, main_menu
from bot.privacy_view import as_fields, privacy_html
from learncity.db import DatabaseUnavailable
from learncity.i18n import normalize_language, supported_languages, t, tn

log = logging.getLogger(__name__)

MenuAction = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


class StartHandlers:
    """First contact, language, help, the main menu, and the resident's data."""

    def __init__(self, *, deps: BotDeps) -> None:
        self._deps = deps
        self._menu: dict[str, MenuAction] = {
            "help": self.help,
            "privacy": self.privacy,
            "language": self.language,
        }

    def add_menu_action(self, item: str, action: MenuAction) -> None:
        """Route the main menu button `item` to `action` (areas register their entry command)."""
        self._menu[item] = action

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1), in order."""
        return [
            CommandHandler("start", self.start),
            CommandHandler("help", self.help),
            CommandHandler("language", self.language),
            CommandHandler("privacy", self.privacy),
            CommandHandler("forget", self.forget),
            CallbackQueryHandler(
                self.choose_language, pattern=rf"^lang:({'|'.join(supported_languages())})$"
            ),
            CallbackQueryHandler(self.menu, pattern=rf"^m:({'|'.join(MAIN_MENU)})$"),
            CallbackQueryHandler(self.confirm_forget, pattern=r"^f:(yes|no)$"),
        ]

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Welcome the resident: who I am, privacy in one line, language, main menu."""
        chat = update.effective_chat
        if chat is None:
            return
        if context.args and context.args[0] == "privacy":  # the deep link sent from a group
            await self.privacy(update, context)
            return
        lang = self._deps.language(update)
        text = "\n\n".join(
            (t("bot.welcome", lang), t("bot.privacy_notice", lang), t("bot.choose_language", lang))
        )
        await chat.send_message(
            text, reply_markup=main_menu(lang, with_language=True, areas=self._deps.areas)
        )

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say what the bot can do."""
        chat = update.effective_chat
        if chat is not None:
            lang = self._deps.language(update)
            text = "\n".join(
                [t("bot.help", lang), *(t(f"bot.help_area.{a}", lang) for a in self._deps.areas)]
            )
            await chat.send_message(text, reply_markup=main_menu(lang, areas=self._deps.areas))

    async def language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer the language choice."""
        chat = update.effective_chat
        if chat is not None:
            lang = self._deps.language(update)
            await chat.send_message(
                t("bot.choose_language", lang),
                reply_markup=language_keyboard(),
            )

    async def choose_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Store the chosen language and show the main menu in it."""
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None:
            return
        lang = normalize_language(str(query.data).split(":")[1], self._deps.default_language)
        try:
            await self._deps.db(self._deps.storage.set_language, user.id, lang)
        except DatabaseUnavailable as error:
            log.warning("language not saved: %s", error)
            await query.answer(t("bot.faults.setting_not_saved", lang), show_alert=True)
            return
        await query.answer()
        try:
            await query.edit_message_reply_markup(None)
        except BadRequest as error:
            log.debug("could not remove the language buttons: %s", error)
        chat = update.effective_chat
        if chat is not None:
            await chat.send_message(
                t("bot.language_set", lang) + "\n\n" + t("bot.main_menu", lang),
                reply_markup=main_menu(lang, areas=self._deps.areas),
            )

    async def menu(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Run the command behind a main menu button."""
        query = update.callback_query
        if query is None:
            return
        item = str(query.data).split(":")[1]
        action = self._menu.get(item)
        await query.answer()
        if action is not None:
            await action(update, context)

    async def _private_only(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Return True in a private chat; elsewhere point to one, and show nothing."""
        chat = update.effective_chat
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return True
        lang = self._deps.language(update)
        link = f"https://t.me/{context.bot.username}?start=privacy"
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(t("bot.privacy.private_button", lang), url=link)]]
        )
        if update.callback_query is not None:
            await update.callback_query.answer()
        await chat.send_message(t("bot.privacy.private_only", lang), reply_markup=markup)
        return False

    async def privacy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show everything stored about the resident, store by store (in a private chat only)."""
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None or not await self._private_only(update, context):
            return
        lang = self._deps.language(update)
        fields = await self._deps.db(self._describe, user.id)
        await chat.send_message(
            privacy_html(fields, lang, zone=self._deps.zone, title_of=self._title_of)
        )

    def _title_of(self, kind: str, record_id: str, lang: str) -> str | None:
        if kind not in ("programme", "event"):
            return None
        card = self._deps.assistant.card(kind, record_id, lang=lang)  # type: ignore[arg-type]
        return card.title if card is not None else None

    def _describe(self, user_id: int) -> list[tuple[str, object]]:
        found: list[tuple[str, object]] = []
        for store in self._deps.forgetters:
            # Stores list their fields even when empty; only what is really kept is shown.
            found.extend(as_fields(store.describe_user(user_id)))
        return found

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask for confirmation before deleting everything about the resident (privately)."""
        chat = update.effective_chat
        if chat is not None and await self._private_only(update, context):
            lang = self._deps.language(update)
            await chat.send_message(
                t("bot.forget.confirm", lang), reply_markup=forget_keyboard(lang)
            )

    async def confirm_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Delete every row about the resident in every store (or keep them, if they said no)."""
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None:
            return
        lang = self._deps.language(update)
        if str(query.data) == "f:no":
            await query.answer()
            await query.edit_message_text(t("bot.forget.cancelled", lang))
            return
        try:
            count = await self._deps.db(self._forget, user.id)
        except DatabaseUnavailable as error:
            # The buttons stay: pressing Yes again later finishes the job.
            log.warning("forget not done: %s", error)
            await query.answer(t("bot.faults.setting_not_saved", lang), show_alert=True)
            return
        await query.answer()
        # The in-memory copies go too, and PTB deletes their rows on its next persistence run.
        context.application.drop_user_data(user.id)
        chat = update.effective_chat
        if chat is not None and chat.id == user.id:
            context.application.drop_chat_data(chat.id)
        self._deps.flood.forget(user.id)
        log.info("a user asked to be forgotten: %d records deleted", count)
        await query.edit_message_text(tn("bot.forget.done", count, lang))

    def _forget(self, user_id: int) -> int:
        return sum(store.forget_user(user_id) for store in self._deps.forgetters)
