"""Free text -> answer, with sources, cards, calendar files, feedback and a shared location."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
import time
from collections.abc import Sequence
from html import escape
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.deps import BotDeps
from bot.formatting import answer_html, card_html, card_line, contact_html, passage_html, split_html
from bot.keyboards import (
    REASONS,
    answer_keyboard,
    card_rows,
    reason_keyboard,
    recall_view,
    remember_view,
    without_feedback,
)
from learncity.bidi import for_reading
from learncity.db import DatabaseUnavailable
from learncity.i18n import language_name, supported_languages, t
from learncity.safeguarding import detect
from retrieval.context_store import telegram_key
from retrieval.conversation import after_answer
from retrieval.types import Answer, Card

log = logging.getLogger(__name__)

FEEDBACK = "feedback"  # the persistent conversation's name
# After "other: write it", the next message is the reason only within this window (and only if it
# does not look like a new question).
REASON_TIMEOUT_SECONDS = 120
REASON = "reason"  # conversation state: waiting for the written reason after a 👎
_VIEW = r"[0-9a-f]{8}"
# How long an answer waits for its analytics row before it goes out anyway.
ANALYTICS_WAIT_SECONDS = 0.5

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


class SafeguardingFilter(filters.MessageFilter):
    """Match text messages that signal danger or distress."""

    def filter(self, message: Message) -> bool:
        """Return True when the text signals danger or distress."""
        return detect(message.text or "") is not None


async def send_html(
    chat_send: Any, html: str, *, reply_markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Send HTML split under Telegram's limit; the keyboard goes under the last part.

    Right-to-left replies get their Latin names, times, numbers and URLs isolated first.
    """
    parts = split_html(for_reading(html))
    sent: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        sent = await chat_send(part, reply_markup=reply_markup if last else None)
    return sent


async def persist_now(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    conversation: tuple[str, object | None] | None = None,
) -> None:
    """Write the user's and chat's data (and a conversation state) now, before the reply says so.

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
    if conversation is not None and chat is not None:
        name, state = conversation
        await persistence.update_conversation(name, (chat.id, user.id), state)


def question_text(message: Message, bot_username: str | None) -> str:
    """Return the question in `message`, without an @mention of the bot."""
    text = message.text or ""
    if bot_username:
        text = re.sub(rf"@{re.escape(bot_username)}\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


class AnswerHandlers:
    """Answers to free text, their buttons, feedback, and nearest programmes for a location."""

    def __init__(self, *, deps: BotDeps) -> None:
        self._deps = deps
        self._background: set[asyncio.Task[None]] = set()

    def safeguarding_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the handler that sends helplines before anything else."""
        return MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & SafeguardingFilter(),
            self.safeguarding,
        )

    def feedback_conversation(self) -> ConversationHandler[Any]:
        """Return the "other: write it" -> written reason conversation (persistent)."""
        return ConversationHandler(
            entry_points=[CallbackQueryHandler(self.reason_other, pattern=rf"^fbr:{_VIEW}:x$")],
            states={
                REASON: [
                    MessageHandler(
                        filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND,
                        self.reason,
                    ),
                    CallbackQueryHandler(self.skip_reason, pattern=r"^fb:skip$"),
                ]
            },
            # A command ends the wait; the command itself is handled in the next group.
            fallbacks=[MessageHandler(filters.COMMAND, self.end_reason)],
            name=FEEDBACK,
            persistent=True,
            allow_reentry=True,
            # Later on, a message is a new question rather than the awaited reason.
            conversation_timeout=REASON_TIMEOUT_SECONDS,
        )

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1), in order."""
        return [
            CallbackQueryHandler(self.feedback_up, pattern=rf"^fb:{_VIEW}:1$"),
            CallbackQueryHandler(self.feedback_down, pattern=rf"^fb:{_VIEW}:0$"),
            CallbackQueryHandler(self.reason_button, pattern=rf"^fbr:{_VIEW}:[wno]$"),
            CallbackQueryHandler(self.skip_reason, pattern=r"^fb:skip$"),
            CallbackQueryHandler(self.show_source, pattern=rf"^src:{_VIEW}:\d$"),
            CallbackQueryHandler(self.details, pattern=rf"^d:{_VIEW}:\d$"),
            CallbackQueryHandler(self.calendar, pattern=rf"^ics:{_VIEW}:\d$"),
            MessageHandler(filters.UpdateType.MESSAGE & filters.LOCATION, self.location),
        ]

    def text_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the free-text handler (registered after every more specific handler)."""
        return MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self.free_text
        )

    # Safeguarding

    async def safeguarding(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send the helplines at once; stop there when the message signals urgent danger."""
        message = update.effective_message
        if message is None:
            return
        detection = detect(message.text or "")
        if detection is None:
            return
        lang = self._deps.language(update)
        contacts = await asyncio.to_thread(self._deps.assistant.safeguarding_contacts, lang)
        blocks = [t("bot.safeguarding.intro", lang)]
        blocks.extend(contact_html(contact, lang) for contact in contacts)
        blocks.append(t("bot.safeguarding.emergency", lang))
        blocks.append(t("bot.safeguarding.after", lang))
        await send_html(message.reply_html, "\n\n".join(blocks))
        # No user id and no text in the log: only that helplines went out, and why.
        log.info("safeguarding helplines sent (%s)", ", ".join(detection.concerns))
        if detection.urgent:
            raise ApplicationHandlerStop

    # Free text

    async def free_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a question in the resident's words."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        lang = self._deps.language(update)
        if len(message.text) > self._deps.max_question_chars:
            await message.reply_html(
                t(
                    "bot.odd.too_long",
                    lang,
                    length=len(message.text),
                    limit=self._deps.max_question_chars,
                )
            )
            return
        question = question_text(message, context.bot.username)
        if not question:
            await message.reply_html(t("bot.answer.ask_hint", lang))
            return
        sensitive = detect(question) is not None
        await self.answer(update, context, question, lang=lang, log_text=not sensitive)

    async def answer(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        question: str,
        *,
        lang: str,
        log_text: bool = True,
    ) -> None:
        """Ask the assistant and send the answer with its buttons."""
        chat = update.effective_chat
        if chat is None:
            return
        started = time.perf_counter()
        working = asyncio.create_task(
            asyncio.to_thread(self._converse, chat.id, question, lang, self._deps.now())
        )
        # "Typing…" only when the answer is not there at once: a quick answer needs none, and
        # every request counts against Telegram's ~30 messages/s.
        done, _ = await asyncio.wait({working}, timeout=self._deps.typing_after)
        if not done:
            try:
                await chat.send_action(ChatAction.TYPING)
            except TelegramError as error:
                log.debug("typing indicator not shown: %s", type(error).__name__)
        answer = await working
        if answer.helplines and detect(question) is not None:
            # The safeguarding handler has sent the helplines already, first.
            answer = dataclasses.replace(answer, helplines=())
        latency_ms = (time.perf_counter() - started) * 1000
        user = update.effective_user
        logged = asyncio.create_task(
            self._log_question(
                lang=answer.lang,
                abstained=answer.abstained,
                latency_ms=latency_ms,
                text=question if log_text else None,
                user_id=user.id if user is not None else None,
            )
        )
        self._background.add(logged)
        logged.add_done_callback(self._background.discard)
        # Logged before replying when the database is quick, so /stats never misses a question the
        # resident saw answered; a slow or locked database does not hold the answer back.
        await asyncio.wait({logged}, timeout=ANALYTICS_WAIT_SECONDS)
        await self.send_answer(update, context, answer)

    def _converse(self, chat_id: int, question: str, lang: str, now: dt.datetime) -> Answer:
        """Answer in the light of this chat's conversation, and remember it (worker thread)."""
        store = self._deps.contexts
        key = telegram_key(chat_id)
        before = None
        if store is not None:
            try:
                before = store.load(key, now=now)
            except SQLAlchemyError as error:  # no memory of the conversation, still an answer
                log.warning("conversation not loaded: %s", type(error).__name__)
        answer = self._deps.assistant.ask(question, lang=lang, now=now, context=before)
        if store is not None and before is not None and answer.kind == "answer":
            try:
                store.save(key, after_answer(before, answer), now=now)
            except SQLAlchemyError as error:
                log.warning("conversation not saved: %s", type(error).__name__)
        return answer

    async def _log_question(self, **row: Any) -> None:
        """Write the analytics row; on failure log it and drop the row: the answer counts."""
        try:
            await self._deps.db(self._deps.storage.log_question, **row)
        except DatabaseUnavailable as error:
            log.warning("question not logged (the answer went out anyway): %s", error)

    async def send_answer(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, answer: Answer
    ) -> None:
        """Send an answer: HTML text split cleanly, sources, cards and 👍/👎 as buttons."""
        chat = update.effective_chat
        if chat is None:
            return
        # A card already links to its record (Details); its twin source button would only clutter.
        card_titles = {card.title for card in answer.cards}
        sources = (
            []
            if answer.abstained
            else [source for source in answer.sources if source.title not in card_titles]
        )
        view_id = remember_view(
            context.chat_data, sources=sources, cards=answer.cards, abstained=answer.abstained
        )
        markup = answer_keyboard(
            view_id,
            sources=sources,
            cards=answer.cards,
            lang=answer.lang,
            remind=self._deps.reminders,
        )
        offer = self._switch_offer(update, context, answer.lang)
        if offer is not None:
            markup = InlineKeyboardMarkup([*markup.inline_keyboard, [offer]])
        shown = dataclasses.replace(answer, sources=tuple(sources))
        await send_html(chat.send_message, answer_html(shown), reply_markup=markup)

    def _switch_offer(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str
    ) -> InlineKeyboardButton | None:
        """Offer once per language to switch the bot to the language the resident wrote in."""
        if lang == self._deps.language(update) or lang not in supported_languages():
            return None
        chat_data = context.chat_data if context.chat_data is not None else {}
        offered = chat_data.setdefault("switch_offered", [])
        if lang in offered:
            return None
        offered.append(lang)
        label = t("bot.language.switch_offer", lang, language=language_name(lang))
        return InlineKeyboardButton(label, callback_data=f"lang:{lang}")

    async def send_cards(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        header: str,
        cards: Sequence[Card],
        lang: str,
        *,
        extra_rows: Sequence[Sequence[Any]] = (),
        edit: bool = False,
    ) -> None:
        """Send (or edit into) a list of cards with Details / calendar buttons."""
        view_id = remember_view(context.chat_data, cards=cards)
        lines = [header]
        lines.extend(card_line(card, lang, number) for number, card in enumerate(cards, 1))
        rows = card_rows(view_id, cards, lang, remind=self._deps.reminders)
        rows.extend(list(row) for row in extra_rows)
        markup = InlineKeyboardMarkup(rows) if rows else None
        html = "\n\n".join(lines)
        query = update.callback_query
        if edit and query is not None and query.message is not None and len(html) < 4000:
            try:
                await query.edit_message_text(html, reply_markup=markup)
                return
            except BadRequest as error:
                if "not modified" in str(error).lower():
                    return
                raise
        chat = update.effective_chat
        if chat is not None:
            await send_html(chat.send_message, html, reply_markup=markup)

    # Buttons under an answer

    async def _view(
        self, query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, lang: str
    ) -> tuple[dict[str, Any], int] | None:
        _, view_id, index = str(query.data).split(":")
        view = recall_view(context.chat_data, view_id)
        if view is None:
            await query.answer(t("bot.odd.stale_button", lang))
            return None
        return view, int(index)

    async def show_source(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the passage behind a source button."""
        query = update.callback_query
        if query is None:
            return
        lang = self._deps.language(update)
        found = await self._view(query, context, lang)
        if found is None:
            return
        view, index = found
        sources = view.get("sources", [])
        if index >= len(sources):
            await query.answer(t("bot.odd.stale_button", lang))
            return
        source = sources[index]
        await query.answer()
        if query.message is not None:
            await send_html(
                query.message.chat.send_message,
                passage_html(source["title"], source["snippet"], source["path"], lang),
            )

    async def _card(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> tuple[CallbackQuery, Chat, Card, str, str, str] | None:
        """Return the pressed card, or None once the press was answered (stale, gone)."""
        query = update.callback_query
        if query is None:
            return None
        lang = self._deps.language(update)
        found = await self._view(query, context, lang)
        if found is None:
            return None
        view, index = found
        cards = view.get("cards", [])
        if index >= len(cards):
            await query.answer(t("bot.odd.stale_button", lang))
            return None
        kind, record_id = cards[index]
        if kind not in ("programme", "event"):
            await query.answer(t("bot.odd.stale_button", lang))
            return None
        card = await asyncio.to_thread(
            self._deps.assistant.card, kind, record_id, lang=lang, now=self._deps.now()
        )
        if card is None or query.message is None:
            await query.answer(t("bot.card.gone", lang), show_alert=True)
            return None
        return query, query.message.chat, card, kind, record_id, lang

    async def details(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show a programme or event card in full."""
        found = await self._card(update, context)
        if found is None:
            return
        query, chat, card, _, _, lang = found
        await query.answer()
        view_id = remember_view(context.chat_data, cards=[card])
        rows = card_rows(view_id, [card], lang, remind=self._deps.reminders, details=False)
        await send_html(
            chat.send_message,
            card_html(card, lang),
            reply_markup=InlineKeyboardMarkup(rows),
        )

    async def calendar(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send an .ics file for a programme or event."""
        found = await self._card(update, context)
        if found is None:
            return
        query, chat, card, kind, record_id, lang = found
        ics = await asyncio.to_thread(self._deps.calendar_file, kind, record_id, lang)
        if ics is None:
            await query.answer(t("bot.card.no_dates", lang), show_alert=True)
            return
        await query.answer()
        await chat.send_document(
            InputFile(ics, filename=f"{record_id}.ics", attach=True),
            caption=f"<b>{escape(card.title)}</b>\n{t('bot.card.ics_caption', lang)}",
        )

    # Feedback

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

    async def reason_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Wait (briefly) for the reason in the resident's words."""
        query = update.callback_query
        lang = self._deps.language(update)
        if query is None:
            raise ApplicationHandlerStop(ConversationHandler.END)
        view_id = str(query.data).split(":")[1]
        if context.user_data is not None:
            context.user_data["reason_for"] = view_id
            context.user_data["reason_until"] = time.time() + REASON_TIMEOUT_SECONDS
        try:
            await persist_now(update, context, conversation=(FEEDBACK, REASON))
        except DatabaseUnavailable as error:
            # The wait works from memory; only a restart in the next two minutes would forget it.
            log.warning("the wait for a reason is not persisted: %s", error)
        await query.answer()
        await _edit_or_send(query, t("bot.feedback.reason_write", lang))
        raise ApplicationHandlerStop(REASON)

    async def reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
        """Store the written reason; a late message or a new question is answered instead."""
        message = update.effective_message
        user = update.effective_user
        lang = self._deps.language(update)
        data = context.user_data if context.user_data is not None else {}
        view_id = data.pop("reason_for", None)
        until = float(data.pop("reason_until", 0.0))
        text = message.text if message is not None else None
        if not (message is not None and user is not None and view_id and text):
            raise ApplicationHandlerStop(ConversationHandler.END)
        if time.time() > until or looks_like_question(text):
            # Not a reason: end the wait and let the free-text handler (next group) answer it.
            return ConversationHandler.END
        saved = await self._save_reason(user.id, str(view_id), text)
        if saved is None:
            await message.reply_html(t("bot.faults.reason_not_saved", lang))
        else:
            await message.reply_html(t("bot.feedback.reason_thanks", lang))
        raise ApplicationHandlerStop(ConversationHandler.END)

    async def skip_reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """End the wait for a reason (or drop the reason buttons)."""
        query = update.callback_query
        if context.user_data is not None:
            context.user_data.pop("reason_for", None)
            context.user_data.pop("reason_until", None)
        if query is not None:
            await query.answer(t("bot.feedback.skipped", self._deps.language(update)))
            try:
                await query.edit_message_reply_markup(None)
            except BadRequest as error:
                log.debug("could not remove the skip button: %s", error)
        raise ApplicationHandlerStop(ConversationHandler.END)

    async def end_reason(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        """End the wait for a reason when a command arrives."""
        if context.user_data is not None:
            context.user_data.pop("reason_for", None)
            context.user_data.pop("reason_until", None)
        return ConversationHandler.END

    # Location

    async def location(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the programmes and events nearest to a shared location."""
        message = update.effective_message
        if message is None or message.location is None:
            return
        lang = self._deps.language(update)
        cards = await asyncio.to_thread(
            self._deps.assistant.nearest,
            message.location.latitude,
            message.location.longitude,
            lang=lang,
            now=self._deps.now(),
        )
        if not cards:
            await message.reply_html(t("bot.location.none", lang))
            return
        await self.send_cards(update, context, t("bot.location.header", lang), cards, lang)


async def _edit_or_send(query: CallbackQuery, text: str) -> None:
    """Replace the pressed message's text (and drop its buttons), or send the text anew."""
    try:
        await query.edit_message_text(text)
    except BadRequest as error:
        log.debug("could not edit the reason message: %s", error)
        if query.message is not None:
            await query.message.chat.send_message(text)
