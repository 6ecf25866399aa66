"""Free text -> answer, with sources, cards, calendar files and a shared location.

Feedback on an answer (votes, reasons, the wait for a written reason) is `bot.feedback`.
"""

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
    MessageHandler,
    filters,
)

from bot.deps import BotDeps
from bot.feedback import VIEW, FeedbackHandlers
from bot.feedback import looks_like_question as looks_like_question  # re-exported
from bot.formatting import answer_html, card_html, card_line, contact_html, passage_html, split_html
from bot.keyboards import (
    answer_keyboard,
    card_rows,
    recall_view,
    remember_view,
)
from learncity.bidi import for_reading
from learncity.db import DatabaseUnavailable
from learncity.i18n import language_name, supported_languages, t
from learncity.safeguarding import detect
from retrieval.context_store import telegram_key
from retrieval.conversation import after_answer
from retrieval.types import Answer, Card

log = logging.getLogger(__name__)

_VIEW = VIEW
# How long an answer waits for its analytics row before it goes out anyway.
ANALYTICS_WAIT_SECONDS = 0.5

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
        #: Votes, reasons and the wait for a written reason (its group-0 handler: `wait_handler`).
        self.feedback = FeedbackHandlers(deps=deps)

    def safeguarding_handler(self) -> BaseHandler[Update, Any, Any]:
        """Return the handler that sends helplines before anything else."""
        return MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & SafeguardingFilter(),
            self.safeguarding,
        )

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1), in order."""
        return [
            *self.feedback.handlers(),
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
