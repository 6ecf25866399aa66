"""The gate (channels, groups, flood control) and polite replies to what the bot cannot use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.deps import BotDeps
from bot.keyboards import main_menu
from learncity.flood import Verdict
from learncity.i18n import t

log = logging.getLogger(__name__)

_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


def mentions_bot(message: Message, username: str | None) -> bool:
    """Return True when `message` mentions the bot or replies to one of its messages."""
    replied = message.reply_to_message
    if (
        replied is not None
        and replied.from_user is not None
        and replied.from_user.username == username
    ):
        return True
    if not username:
        return False
    entities = message.parse_entities([MessageEntity.MENTION])
    entities.update(message.parse_caption_entities([MessageEntity.MENTION]))
    return any(text.lstrip("@").lower() == username.lower() for text in entities.values())


def _is_command(message: Message) -> bool:
    entities = message.entities or ()
    return (
        bool(entities) and entities[0].type == MessageEntity.BOT_COMMAND and entities[0].offset == 0
    )


class Gate:
    """Drop channel posts and group chatter, and slow down residents who flood the bot."""

    def __init__(
        self,
        *,
        deps: BotDeps,
        prefetch: Sequence[Callable[[Update], Awaitable[None]]] = (),
    ) -> None:
        self._deps = deps
        self._prefetch = tuple(prefetch)

    def scope_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the handler that keeps the bot out of channels and group chatter (first group)."""
        return TypeHandler(Update, self.scope)

    def prefetch_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the handler that reads what later handlers and filters need into memory."""
        return TypeHandler(Update, self.prefetch)

    async def prefetch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Read the language choice (and the areas' state) off the event loop.

        `deps.language` and PTB filters are synchronous: they then read memory, never a disk.
        """
        if update.effective_user is None:
            return
        await asyncio.gather(
            self._deps.load_language(update.effective_user.id),
            *(prefetch(update) for prefetch in self._prefetch),
        )

    def flood_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the per-user flood control handler (after safeguarding)."""
        return TypeHandler(Update, self.flood)

    async def scope(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop updates the bot must not answer: channel posts, group messages not for it."""
        if update.channel_post or update.edited_channel_post:
            raise ApplicationHandlerStop
        if update.my_chat_member or update.chat_member or update.chat_join_request:
            raise ApplicationHandlerStop
        message = update.message or update.edited_message
        if message is None or message.chat.type not in _GROUPS:
            return
        if update.edited_message is not None:
            raise ApplicationHandlerStop
        if _is_command(message) or mentions_bot(message, context.bot.username):
            return
        raise ApplicationHandlerStop

    async def flood(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let a resident's update through unless they are over the limit."""
        user = update.effective_user
        if user is None:
            return
        verdict = await self._deps.flood.check(user.id)
        if verdict is Verdict.ALLOW:
            return
        if verdict is Verdict.WARN:
            lang = self._deps.language(update)
            log.info("flood control: a user is over the limit")
            if update.callback_query is not None:
                await update.callback_query.answer(t("bot.flood.slow_down", lang), show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_html(t("bot.flood.slow_down", lang))
        elif update.callback_query is not None:
            await update.callback_query.answer()
        raise ApplicationHandlerStop


class OddHandlers:
    """Short, polite replies to what the bot cannot use; registered last, to catch leftovers."""

    def __init__(self, *, deps: BotDeps) -> None:
        self._deps = deps

    def edited_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the handler of edited messages (registered first: text filters match them too)."""
        return MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.edited)

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the catch-all handlers (registered after every other handler of the group)."""
        return [
            MessageHandler(filters.COMMAND, self.unknown_command),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.StatusUpdate.ALL, self.other),
            CallbackQueryHandler(self.stale_button),
        ]

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask for a new message instead of an edit."""
        message = update.edited_message
        if message is not None:
            await message.reply_html(t("bot.odd.edited", self._deps.language(update)))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Point to /help."""
        message = update.effective_message
        if message is not None:
            await message.reply_html(t("bot.odd.unknown_command", self._deps.language(update)))

    async def other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say what the bot can read, in words that fit what was sent."""
        message = update.effective_message
        if message is None:
            return
        lang = self._deps.language(update)
        if message.voice or message.audio:
            key = "voice"
        elif message.sticker:
            key = "sticker"
        elif (
            message.photo
            or message.video
            or message.document
            or message.animation
            or message.video_note
        ):
            key = "media"
        elif message.contact:
            key = "contact"
        elif message.poll:
            key = "poll"
        else:
            key = "not_text"
        await message.reply_html(t(f"bot.odd.{key}", lang))

    async def stale_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a button the bot no longer knows (forged, or outdated) with the menu."""
        query = update.callback_query
        if query is None:
            return
        lang = self._deps.language(update)
        await query.answer(t("bot.odd.stale_button", lang))
        chat = update.effective_chat
        if chat is not None:
            await chat.send_message(
                t("bot.odd.stale_button", lang),
                reply_markup=main_menu(lang, areas=self._deps.areas),
            )
