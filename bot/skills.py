"""/skills: guided self-assessments in Telegram, a thin adapter over `flows.service.FlowService`.

Callback data (at most 64 bytes; the flow and the step are in the data, progress is in the
database, so buttons keep working after a restart and old ones are recognised):
  m:skills  sk:menu            the list of flows (main menu button, /skills)
  sk:s:<flow>                  a flow's introduction       sk:go:<flow>   start it
  sk:r:<flow>                  resume it                   sk:h:<flow>    last results
  sk:a:<flow>:<step>:<value>   answer step <step>          sk:b:<flow>:<step>  back
  sk:p:<flow>  sk:x:<flow>     pause, cancel
  sk:d:<programme>             programme details
  sk:w:<flow>                  weekly digest on the topics of the latest results (recomputed)
  rem:prog:<programme>         "Remind me" (handled by the reminders area)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from html import escape
from typing import Any, Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from flows.errors import InvalidAnswer, NoProgress, StaleStep, UnknownFlow
from flows.service import FlowService, ResultsView, StepView
from learncity.db import BlockingCalls, DatabaseUnavailable
from learncity.i18n import normalize_language, t

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64
Language = Callable[[Update], str]


def telegram_language(update: Update) -> str:
    """Return Telegram's language of the sender: only for an application without the bot's deps.

    The bot passes `BotDeps.language` (the resident's /language choice, read by the first handler
    group, else Telegram's): using this instead would ignore what the resident chose.
    """
    user = update.effective_user
    return normalize_language(user.language_code if user else None)


class DigestSubscriber(Protocol):
    """The part of the reminders service that opts a user into the weekly digest."""

    def set_digest(
        self, *, user_id: int, chat_id: int, lang: str, opted_in: bool,
        interests: Sequence[str] | None = None,
    ) -> object: ...


class _InFlow(filters.UpdateFilter):
    """Passes a text message only when its sender is answering a questionnaire right now.

    Filters cannot wait: `known` holds what `SkillsHandlers.prefetch` read (off the event loop)
    for this update; without it (an application that does not prefetch) the store is asked here.
    """

    def __init__(self, service: FlowService, known: dict[int, str | None]) -> None:
        super().__init__(name="in_flow")
        self._service = service
        self._known = known

    def filter(self, update: Update) -> bool:
        user = update.effective_user
        if user is None:
            return False
        if user.id in self._known:
            return self._known[user.id] is not None
        return self._service.active_flow(user.id) is not None


class SkillsHandlers:
    """The /skills handlers; PTB gets the bound methods from `handlers()`."""

    def __init__(
        self,
        *,
        service: FlowService,
        language: Language = telegram_language,
        reminders: DigestSubscriber | None = None,
        run: BlockingCalls | None = None,
        reads: BlockingCalls | None = None,
    ) -> None:
        self._service = service
        self._language = language
        self._reminders = reminders  # None: no digest button under the results
        # Every service call touches the database (or draws a chart): off the event loop.
        self._run = run or BlockingCalls()
        self._reads = reads or self._run  # prefetch: threads writes cannot fill up
        self._active: dict[int, str | None] = {}  # user -> flow in progress, read by prefetch

    async def prefetch(self, update: Update) -> None:
        """Read, off the event loop, whether the sender of a text is in a questionnaire."""
        user, message = update.effective_user, update.message
        if user is None or message is None or not message.text or message.text.startswith("/"):
            return
        if len(self._active) > 10_000:
            self._active.clear()
        try:
            self._active[user.id] = await self._reads(self._service.active_flow, user.id)
        except DatabaseUnavailable:
            # Unknown: the text goes to the answer engine (better than waiting on a disk).
            self._active[user.id] = None

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """Return the handlers, to register before the free-text handler (same or lower group)."""
        return [
            CommandHandler("skills", self.menu),
            CallbackQueryHandler(self.menu, pattern=r"^(m:skills|sk:menu)$"),
            CallbackQueryHandler(self.button, pattern=r"^sk:"),
            MessageHandler(filters.TEXT & ~filters.COMMAND & _InFlow(self._service, self._active),
                           self.free_text),
        ]

    # -- handlers -------------------------------------------------------------------------------

    async def menu(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the flows, with Resume for those in progress and the last results."""
        user = update.effective_user
        if user is None or update.effective_chat is None:
            return
        lang = self._language(update)
        rows: list[list[InlineKeyboardButton]] = []
        summaries = await self._run(self._service.flows, user.id, lang=lang)
        for summary in summaries:
            if summary.done is not None:
                rows.append([_button(t("flows.resume_button", lang, title=summary.title,
                                       done=summary.done, total=summary.items),
                                     f"sk:r:{summary.id}")])
        for summary in summaries:
            rows.append([_button(t("flows.flow_button", lang, title=summary.title,
                                   minutes=summary.minutes), f"sk:s:{summary.id}")])
        for summary in summaries:
            if summary.has_results:
                rows.append([_button(t("flows.last_results_button", lang, title=summary.title),
                                     f"sk:h:{summary.id}")])
        text = t("flows.choose", lang) if summaries else t("flows.no_flows", lang)
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                       reply_markup=InlineKeyboardMarkup(rows))

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle every sk: button: parse, call the service, edit the question in place."""
        query = update.callback_query
        user = update.effective_user
        if query is None or user is None or query.data is None:
            return
        lang = self._language(update)
        parts = query.data.split(":")
        action, args = parts[1], parts[2:]
        message = query.message if isinstance(query.message, Message) else None
        try:
            if action == "s" and args:
                await query.answer()
                intro = await self._run(self._service.intro, args[0], lang=lang)
                await self._send(context, update, intro,
                                 [[_button(t("flows.start_button", lang), f"sk:go:{args[0]}")]])
            elif action == "go" and args:
                await query.answer()
                started = await self._run(self._service.start, user.id, args[0], lang=lang)
                await self._show_step(message, started, lang)
            elif action == "r" and args:
                await query.answer()
                view = await self._run(self._service.resume, user.id, args[0], lang=lang)
                await self._send(context, update, view.text, _step_keyboard(view, lang))
            elif action == "a" and len(args) == 3:
                flow_id, step, value = args[0], int(args[1]), int(args[2])
                outcome = await self._run(self._service.answer, user.id, flow_id, value,
                                          at=step, lang=lang)
                await query.answer()
                if isinstance(outcome, StepView):
                    await self._show_step(message, outcome, lang)
                else:
                    await self._show_results(context, update, message, outcome, lang)
            elif action == "b" and len(args) == 2:
                view = await self._run(self._service.back, user.id, args[0], at=int(args[1]),
                                       lang=lang)
                await query.answer()
                await self._show_step(message, view, lang)
            elif action == "p" and args:
                text = await self._run(self._service.pause, user.id, args[0], lang=lang)
                await query.answer()
                await self._replace(message, text,
                                    [[_button(t("flows.resume_short", lang), f"sk:r:{args[0]}")]])
            elif action == "x" and args:
                text = await self._run(self._service.cancel, user.id, args[0], lang=lang)
                await query.answer()
                await self._replace(message, text, None)
            elif action == "h" and args:
                await query.answer()
                results = await self._run(self._service.last_results, user.id, args[0], lang=lang)
                if results is None:
                    await self._send(context, update, t("flows.history_empty", lang), None)
                else:
                    await self._send_results(context, update, results, lang)
            elif action == "d" and args:
                await query.answer()
                programme_id = ":".join(args)
                rows = [[_button(t("flows.remind_one", lang), f"rem:prog:{programme_id}")]]
                details = await self._run(self._service.programme_details, programme_id,
                                          lang=lang)
                await self._send(context, update, details, rows)
            elif action == "w" and len(args) == 1:
                await self._digest(context, update, args[0], lang)
            else:
                await query.answer(t("flows.not_in_progress", lang), show_alert=True)
        except StaleStep:
            await query.answer(t("flows.answered_already", lang))
        except NoProgress as error:
            finished = await self._run(self._service.has_finished, user.id, error.flow_id)
            key = "flows.finished_already" if finished else "flows.not_in_progress"
            await query.answer(t(key, lang), show_alert=True)
        except (UnknownFlow, InvalidAnswer, ValueError) as error:
            log.info("flow button %r refused: %s", query.data, error)
            await query.answer(t("flows.unknown_flow", lang), show_alert=True)

    async def free_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer text typed during a questionnaire: use the buttons, or Cancel."""
        user = update.effective_user
        if user is None or update.effective_message is None:
            return
        lang = self._language(update)
        flow_id = await self._run(self._service.active_flow, user.id)
        rows = [[_button(t("flows.cancel_button", lang), f"sk:x:{flow_id}")]] if flow_id else None
        await update.effective_message.reply_text(
            t("flows.use_buttons", lang),
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )

    async def _digest(
        self, context: ContextTypes.DEFAULT_TYPE, update: Update, flow_id: str, lang: str
    ) -> None:
        """Opt the user into the weekly digest on the topics of their latest results."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        if self._reminders is None:
            await query.answer(t("flows.digest_unavailable", lang), show_alert=True)
            return
        # Recomputed from the stored results: the button carries only the flow id.
        topics = await self._run(self._service.digest_topics, user.id, flow_id)
        if not topics:
            await query.answer(t("flows.digest_no_results", lang), show_alert=True)
            return
        chat_id = update.effective_chat.id if update.effective_chat else user.id
        await self._run(self._reminders.set_digest, user_id=user.id, chat_id=chat_id, lang=lang,
                        opted_in=True, interests=list(topics))
        await query.answer()
        names = self._service.topic_names(topics, lang=lang)
        await self._send(context, update, t("flows.digest_done", lang, topics=escape(names)),
                         None)

    # -- rendering ------------------------------------------------------------------------------

    async def _show_step(self, message: Message | None, view: StepView, lang: str) -> None:
        await self._replace(message, view.text, _step_keyboard(view, lang))

    async def _replace(
        self, message: Message | None, text: str,
        rows: Sequence[Sequence[InlineKeyboardButton]] | None,
    ) -> None:
        if message is None:
            return
        await message.edit_text(text, parse_mode=ParseMode.HTML,
                                reply_markup=InlineKeyboardMarkup(rows) if rows else None)

    async def _send(
        self, context: ContextTypes.DEFAULT_TYPE, update: Update, text: str,
        rows: Sequence[Sequence[InlineKeyboardButton]] | None,
    ) -> None:
        if update.effective_chat is None:
            return
        await context.bot.send_message(
            update.effective_chat.id, text, parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )

    async def _show_results(
        self, context: ContextTypes.DEFAULT_TYPE, update: Update, message: Message | None,
        view: ResultsView, lang: str,
    ) -> None:
        flow = self._service.definition(view.flow_id)
        total = len(flow.items)
        done = t("flows.progress", lang, number=total, total=total)
        await self._replace(message, f"✅ {done}", None)
        await self._send_results(context, update, view, lang)

    async def _send_results(
        self, context: ContextTypes.DEFAULT_TYPE, update: Update, view: ResultsView, lang: str
    ) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        png = await self._run(self._service.chart, view, lang=lang)
        await context.bot.send_photo(chat.id, png,
                                     caption=self._service.chart_caption(view.flow_id, lang=lang))
        rows: list[list[InlineKeyboardButton]] = []
        for suggestion in view.suggestions:
            row = [
                _button(t("flows.details_button", lang, number=suggestion.number),
                        f"sk:d:{suggestion.programme_id}"),
                _button(t("flows.remind_button", lang, number=suggestion.number),
                        f"rem:prog:{suggestion.programme_id}"),
            ]
            rows.append(row)
        if self._reminders is not None and view.digest_topics:
            rows.append([_button(t("flows.digest_button", lang), f"sk:w:{view.flow_id}")])
        await self._send(context, update, view.text, rows)


def _button(text: str, data: str) -> InlineKeyboardButton:
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        # Telegram refuses longer data; ids are short by the knowledge rules, so this is a bug.
        raise ValueError(f"callback data {data!r} is longer than {MAX_CALLBACK_BYTES} bytes")
    return InlineKeyboardButton(text, callback_data=data)


def _step_keyboard(view: StepView, lang: str) -> list[list[InlineKeyboardButton]]:
    rows = [
        [_button(("✅ " if option.selected else "") + option.label,
                 f"sk:a:{view.flow_id}:{view.index}:{option.value}")]
        for option in view.options
    ]
    controls = []
    if view.can_go_back:
        controls.append(_button(t("flows.back_button", lang), f"sk:b:{view.flow_id}:{view.index}"))
    controls.append(_button(t("flows.pause_button", lang), f"sk:p:{view.flow_id}"))
    controls.append(_button(t("flows.cancel_button", lang), f"sk:x:{view.flow_id}"))
    rows.append(controls)
    return rows
