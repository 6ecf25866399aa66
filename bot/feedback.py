"""👍/👎 under an answer, the reason buttons, and the short wait for a reason in one's own words.

The wait is data, not a python-telegram-bot `ConversationHandler` (whose states are read once at
start, so a replica would never see a wait another replica set): "✍️ Other" stores in the user's
persisted data which answer the reason is for, in which chat, and until when. The user's data is
read from the database for each update on replicas (`SQLPersistence.refresh_user_data`), so the
next message is taken as the reason on whichever replica it reaches.

Group 0 (`wait_handler`): "✍️ Other" starts the wait, "Skip" ends it, a command ends it (and goes
on to its handler), and a text while waiting is the reason, unless it is late or reads as a new
question (then the free-text handler answers it). Group 1 (`handlers`): the votes and the reason
buttons.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from telegram import CallbackQuery, Message, MessageEntity, Update
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    TypeHandler,
)

from bot.deps import BotDeps
from bot.keyboards import REASONS, reason_keyboard, recall_view, without_feedback
from learncity.db import DatabaseUnavailable
from learncity.i18n import t

log = logging.getLogger(__name__)

# After "other: write it", the next message is the reason only within this window (and only if it
# does not look like a new question).
REASON_TIMEOUT_SECONDS = 120
VIEW = r"[0-9a-f]{8}"
_OTHER = re.compile(rf"^fbr:({VIEW}):x$")
# The wait, in the user's persisted data.
_FOR, _UNTIL, _CHAT = "reason_for", "reason_until", "reason_chat"

_QUESTION_START = re.compile(
    r"^\s*(?:e\s+|and\s+|ma\s+|but\s+)?(?:"
    r"chi|che|cosa|cos'è|come|dove|quando|quanto|quanta|quanti|quante|quale|quali|perché|perche"
    r"|c'è|c'e|ci sono|posso|si può|si puo|avete|esiste|esistono|mi sapete|sapete"
    r"|who|what|what's|when|where|where's|why|how|which|can|could|is|are|do|does|will|would"
    r"|should|may|any|is there|are there"
    r")\b",
    re.IGNORECASE,
)


def looks_like_question(text: str) -> bool:
    """Return True when a message reads as a new question rather than a comment on the last answer.

    "e corsi di inglese per adulti?" is a question; "mancava l'orario del sabato" is a reason.
    """
    stripped = text.strip()
    return stripped.endswith(("?", "？")) or _QUESTION_START.match(stripped) is not None


async def persist_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Write the user's and chat's data now, before the reply says so.

    PTB writes persistence every second; a kill -9 in that second would otherwise lose a state the
    resident was already told about.
    """
    persistence = context.application.persistence
    user = update.effective_user
    chat = update.effective_chat
    if persistence is None or user is None:
        return
    if context.user_data is not None:
        await persistence.update_user_data(user.id, context.user_data)
    if context.chat_data is not None and chat is not None:
        await persistence.update_chat_data(chat.id, context.chat_data)


def _is_command(message: Message) -> bool:
    entities = message.entities or ()
    first = entities[0] if entities else None
    return first is not None and first.type == MessageEntity.BOT_COMMAND and first.offset == 0


def _end_wait(context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.user_data is not None:
        for key in (_FOR, _UNTIL, _CHAT):
            context.user_data.pop(key, None)


class FeedbackHandlers:
    """Votes, reason buttons and the wait for a written reason."""

    def __init__(self, *, deps: BotDeps) -> None:
        self._deps = deps

    def wait_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the group-0 handler of the wait for a written reason."""
        return TypeHandler(Update, self.wait)

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the vote and reason-button handlers (group 1)."""
        return [
            CallbackQueryHandler(self.feedback_up, pattern=rf"^fb:{VIEW}:1$"),
            CallbackQueryHandler(self.feedback_down, pattern=rf"^fb:{VIEW}:0$"),
            CallbackQueryHandler(self.reason_button, pattern=rf"^fbr:{VIEW}:[wno]$"),
        ]

    async def wait(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Start, end or answer the wait for a reason; let anything else through."""
        query = update.callback_query
        if query is not None:
            data = str(query.data or "")
            found = _OTHER.match(data)
            if found is not None:
                await self.reason_other(update, context, found.group(1))
            elif data == "fb:skip":
                await self.skip_reason(update, context)
            return
        message = update.message
        if message is None or message.text is None:
            return
        if _is_command(message):
            _end_wait(context)  # the command itself is handled in the next group
            return
        if context.user_data is not None and context.user_data.get(_FOR):
            await self.reason(update, context)

    # Votes

    async def feedback_up(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Record a 👍."""
        await self._vote(update, context, helpful=True)

    async def feedback_down(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Record a 👎 and offer the reasons as buttons (one of them: "other: write it")."""
        view_id = await self._vote(update, context, helpful=False)
        if view_id is None:
            return
        lang = self._deps.language(update)
        chat = update.effective_chat
        if chat is not None:
            await chat.send_message(
                t("bot.feedback.reason_choose", lang), reply_markup=reason_keyboard(view_id, lang)
            )

    async def _vote(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, *, helpful: bool
    ) -> str | None:
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None:
            return None
        lang = self._deps.language(update)
        view_id = str(query.data).split(":")[1]
        view = recall_view(context.chat_data, view_id)
        if view is None:
            await query.answer(t("bot.odd.stale_button", lang))
            return None
        try:
            await self._deps.db(
                self._deps.storage.record_feedback,
                user_id=user.id,
                answer_id=view_id,
                helpful=helpful,
                abstained=bool(view.get("abstained")),
            )
        except DatabaseUnavailable as error:
            # The buttons stay, so the resident can vote again.
            log.warning("vote not saved: %s", error)
            await query.answer(t("bot.faults.vote_not_saved", lang), show_alert=True)
            return None
        await query.answer(t("bot.feedback.thanks", lang))
        message = query.message
        if isinstance(message, Message):
            try:
                await query.edit_message_reply_markup(without_feedback(message.reply_markup))
            except BadRequest as error:
                log.debug("could not remove the feedback buttons: %s", error)
        return view_id

    # Reasons

    async def _save_reason(self, user_id: int, view_id: str, reason: str) -> bool | None:
        """Attach a reason to the 👎; None when the database could not take it."""
        try:
            return await self._deps.db(
                self._deps.storage.record_reason, user_id=user_id, answer_id=view_id, reason=reason
            )
        except DatabaseUnavailable as error:
            log.warning("reason not saved: %s", error)
            return None

    async def reason_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Store a reason chosen with a button (wrong, not what I asked, out of date)."""
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None:
            return
        lang = self._deps.language(update)
        _, view_id, code = str(query.data).split(":")
        saved = await self._save_reason(user.id, view_id, REASONS[code][1])
        if saved is None:
            await query.answer(t("bot.faults.reason_not_saved", lang), show_alert=True)
            return
        if not saved:
            await query.answer(t("bot.odd.stale_button", lang))
            return
        await query.answer()
        await _edit_or_send(query, t("bot.feedback.reason_thanks", lang))

    async def reason_other(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, view_id: str
    ) -> None:
        """Wait (briefly) for the reason in the resident's words."""
        query = update.callback_query
        chat = update.effective_chat
        lang = self._deps.language(update)
        if query is None or context.user_data is None:
            raise ApplicationHandlerStop
        context.user_data[_FOR] = view_id
        context.user_data[_UNTIL] = time.time() + REASON_TIMEOUT_SECONDS
        context.user_data[_CHAT] = chat.id if chat is not None else None
        try:
            await persist_now(update, context)
        except DatabaseUnavailable as error:
            # The wait works from memory; only a restart in the next two minutes would forget it.
            log.warning("the wait for a reason is not persisted: %s", error)
        await query.answer()
        await _edit_or_send(query, t("bot.feedback.reason_write", lang))
        raise ApplicationHandlerStop

    async def reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Store the written reason; a late message or a new question is answered instead."""
        message = update.message
        user = update.effective_user
        chat = update.effective_chat
        data = context.user_data if context.user_data is not None else {}
        view_id = data.get(_FOR)
        until = float(data.get(_UNTIL) or 0.0)
        waiting_in = data.get(_CHAT)
        if waiting_in is not None and chat is not None and waiting_in != chat.id:
            return  # the wait belongs to another chat (a group): this text is not the reason
        _end_wait(context)
        text = message.text if message is not None else None
        if message is None or user is None or not view_id or not text:
            return
        if time.time() > until or looks_like_question(text):
            return  # not a reason: the free-text handler (next group) answers it
        lang = self._deps.language(update)
        saved = await self._save_reason(user.id, str(view_id), text)
        if saved is None:
            await message.reply_html(t("bot.faults.reason_not_saved", lang))
        else:
            await message.reply_html(t("bot.feedback.reason_thanks", lang))
        raise ApplicationHandlerStop

    async def skip_reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """End the wait for a reason (or drop the reason buttons)."""
        query = update.callback_query
        _end_wait(context)
        if query is not None:
            await query.answer(t("bot.feedback.skipped", self._deps.language(update)))
            try:
                await query.edit_message_reply_markup(None)
            except BadRequest as error:
                log.debug("could not remove the skip button: %s", error)
        raise ApplicationHandlerStop


async def _edit_or_send(query: CallbackQuery, text: str) -> None:
    """Replace the pressed message's text (and drop its buttons), or send the text anew."""
    try:
        await query.edit_message_text(text)
    except BadRequest as error:
        log.debug("could not edit the reason message: %s", error)
        if query.message is not None:
            await query.message.chat.send_message(text)
