"""Telegram side of reminders: the "🔔 Remind me" buttons, /reminders, /digest, and the Sender.

Texts go out as plain text (parse_mode=None), whatever the application's default parse mode, so a
title holding "&" or "<" cannot break a message.

Callback data (all start with "rem:", at most 64 bytes)::

    rem:ev:<event_id>          remind me of the event's next date
    rem:prog:<programme_id>    remind me of the programme's next session
    rem:cancel:<sub_id>        cancel one reminder
    rem:list                   show /reminders
    rem:off:menu | rem:off:<offset> | rem:off:done        when to remind me
    rem:dig:menu | rem:dig:on | rem:dig:off | rem:dig:int | rem:int:<topic>   weekly digest
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from learncity.content.models import Topic
from learncity.db import BlockingCalls
from learncity.i18n import MissingText, normalize_language, t
from reminders.delivery import (
    OutgoingMessage,
    PermanentFailure,
    RecipientBlocked,
    RetryLater,
    TransientFailure,
)
from reminders.messages import OFFSET_CHOICES
from reminders.service import (
    NoUpcomingDate,
    ReminderService,
    UnknownSubscription,
    UnknownTarget,
)

log = logging.getLogger(__name__)

MAX_CAPTION = 1024
MAX_TEXT = 4096


def telegram_language(update: Update) -> str:
    """Return Telegram's language of the sender: only for an application without the bot's deps.

    The bot passes `BotDeps.language` (the resident's /language choice, read by the first handler
    group, else Telegram's): using this instead would ignore what the resident chose.
    """
    user = update.effective_user
    return normalize_language(user.language_code if user else None)


def _topic_label(topic: str, lang: str) -> str:
    try:
        return t(f"bot.topic.{topic}", lang)
    except MissingText:
        return topic.replace("-", " ")


class ReminderHandlers:
    """Thin handlers over the `ReminderService`; PTB gets the bound methods from `handlers()`."""

    def __init__(
        self,
        *,
        service: ReminderService,
        language: Callable[[Update], str] = telegram_language,
        now: Callable[[], dt.datetime] | None = None,
        run: BlockingCalls | None = None,
    ) -> None:
        self._service = service
        # Every service call touches the database: off the event loop, with a deadline.
        self._run = run or BlockingCalls()
        self._language = language
        self._now = now

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        """Return the handlers to register (any group before a catch-all text handler)."""
        return [
            CommandHandler("reminders", self.show_list),
            CommandHandler("digest", self.show_digest),
            CallbackQueryHandler(self.on_button, pattern=r"^rem:"),
        ]

    def _when(self) -> dt.datetime | None:
        return self._now() if self._now else None

    # -- /reminders -----------------------------------------------------------------------------

    def _list_view(self, user_id: int, lang: str) -> tuple[str, InlineKeyboardMarkup]:
        items = self._service.upcoming(user_id, now=self._when())
        rows: list[list[InlineKeyboardButton]] = []
        if not items:
            text = t("reminders.list_empty", lang)
        else:
            lines = [t("reminders.list_header", lang)]
            for item in items:
                when = self._service.format_when(item.starts_at, lang)
                if item.next_reminder_at:
                    lines.append(
                        t(
                            "reminders.list_item",
                            lang,
                            title=item.title,
                            when=when,
                            next=self._service.format_when(item.next_reminder_at, lang),
                        )
                    )
                else:
                    lines.append(t("reminders.list_item_none", lang, title=item.title, when=when))
                label = t("reminders.button_cancel", lang, title=item.title)
                rows.append(
                    [
                        InlineKeyboardButton(
                            label[:60], callback_data=f"rem:cancel:{item.subscription_id}"
                        )
                    ]
                )
            text = "\n".join(lines)[:MAX_TEXT]
        rows.append(
            [
                InlineKeyboardButton(
                    t("reminders.button_offsets", lang), callback_data="rem:off:menu"
                ),
                InlineKeyboardButton(
                    t("reminders.button_digest", lang), callback_data="rem:dig:menu"
                ),
            ]
        )
        return text, InlineKeyboardMarkup(rows)

    async def show_list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle /reminders: what is coming, with a cancel button for each."""
        if update.effective_user is None or update.effective_message is None:
            return
        user_id, lang = update.effective_user.id, self._language(update)
        text, markup = await self._run(self._list_view, user_id, lang)
        await update.effective_message.reply_text(text, reply_markup=markup, parse_mode=None)

    async def show_digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle /digest: the weekly digest switch and interests."""
        if update.effective_user is None or update.effective_message is None:
            return
        user_id, lang = update.effective_user.id, self._language(update)
        text, markup = await self._run(self._digest_view, user_id, lang)
        await update.effective_message.reply_text(text, reply_markup=markup, parse_mode=None)

    # -- buttons --------------------------------------------------------------------------------

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle every "rem:" button."""
        query = update.callback_query
        user = update.effective_user
        chat = update.effective_chat
        if query is None or user is None or chat is None or not query.data:
            return
        lang = self._language(update)
        parts = query.data.split(":", 2)
        action, arg = parts[1], (parts[2] if len(parts) > 2 else "")
        if action in ("ev", "prog"):
            await self._subscribe(update, action, arg, lang)
        elif action == "cancel":
            await self._cancel(update, arg, lang)
        elif action == "list":
            text, markup = await self._run(self._list_view, user.id, lang)
            await query.answer()
            await self._edit(update, text, markup)
        elif action == "off":
            await self._offsets(update, arg, lang)
        elif action in ("dig", "int"):
            await self._digest(update, action, arg, lang)
        else:
            await query.answer()

    async def _subscribe(self, update: Update, action: str, target_id: str, lang: str) -> None:
        query, user, chat = update.callback_query, update.effective_user, update.effective_chat
        assert query is not None and user is not None and chat is not None
        try:
            if action == "ev":
                confirmation = await self._run(
                    self._service.subscribe,
                    user_id=user.id,
                    chat_id=chat.id,
                    event_id=target_id,
                    lang=lang,
                    now=self._when(),
                )
            else:
                confirmation = await self._run(
                    self._service.subscribe_programme,
                    user_id=user.id,
                    chat_id=chat.id,
                    programme_id=target_id,
                    lang=lang,
                    now=self._when(),
                )
        except UnknownTarget:
            await query.answer(t("reminders.unknown_target", lang), show_alert=True)
            return
        except NoUpcomingDate:
            await query.answer(t("reminders.no_date", lang), show_alert=True)
            return
        await query.answer("🔔")
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t("reminders.button_stop", lang),
                        callback_data=f"rem:cancel:{confirmation.subscription_id}",
                    ),
                    InlineKeyboardButton(
                        t("reminders.button_offsets", lang), callback_data="rem:off:menu"
                    ),
                ]
            ]
        )
        await chat.send_message(confirmation.text, reply_markup=markup, parse_mode=None)

    async def _cancel(self, update: Update, arg: str, lang: str) -> None:
        query, user, chat = update.callback_query, update.effective_user, update.effective_chat
        assert query is not None and user is not None and chat is not None
        try:
            gone = await self._run(self._service.cancel, user_id=user.id, subscription_id=int(arg))
        except (UnknownSubscription, ValueError):
            await query.answer(t("reminders.unknown_subscription", lang))
            return
        text = t(
            "reminders.cancelled_ok",
            lang,
            title=gone.title,
            when=self._service.format_when(gone.starts_at, lang),
        )
        await query.answer(text[:200])
        message = query.message
        if message is not None and getattr(message, "text", None):
            # Pressed in the /reminders list or under a confirmation: show what is left in place.
            list_text, markup = await self._run(self._list_view, user.id, lang)
            await self._edit(update, text + "\n\n" + list_text, markup)
        else:
            await chat.send_message(text, parse_mode=None)

    async def _offsets(self, update: Update, arg: str, lang: str) -> None:
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        current = list(await self._run(self._service.offsets_for, user.id))
        if arg in OFFSET_CHOICES:
            chosen = [o for o in current if o != arg] if arg in current else current + [arg]
            if not chosen:
                await query.answer(t("reminders.offsets_need_one", lang), show_alert=True)
                return
            current = list(
                await self._run(
                    self._service.set_offsets, user_id=user.id, offsets=chosen, now=self._when()
                )
            )
        elif arg == "done":
            labels = ", ".join(self._offset_label(o, lang) for o in current)
            await query.answer()
            await self._edit(update, t("reminders.offsets_saved", lang, labels=labels), None)
            return
        await query.answer()
        await self._edit(
            update, t("reminders.offsets_menu", lang), self._offsets_markup(current, lang)
        )

    @staticmethod
    def _offset_label(offset: str, lang: str) -> str:
        try:
            return t(f"reminders.offset_label.{offset}", lang)
        except MissingText:
            return offset

    def _offsets_markup(self, current: Sequence[str], lang: str) -> InlineKeyboardMarkup:
        buttons = [
            InlineKeyboardButton(
                ("✅ " if o in current else "⬜ ") + self._offset_label(o, lang),
                callback_data=f"rem:off:{o}",
            )
            for o in OFFSET_CHOICES
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append([InlineKeyboardButton(t("reminders.done", lang), callback_data="rem:off:done")])
        return InlineKeyboardMarkup(rows)

    def _digest_view(self, user_id: int, lang: str) -> tuple[str, InlineKeyboardMarkup]:
        settings = self._service.digest_settings(user_id)
        schedule, quiet = self._service.digest, self._service.quiet
        day = t("reminders.weekday_names", lang).split(",")[schedule.weekday]
        text = t(
            "reminders.digest_menu",
            lang,
            day=day,
            time=schedule.at.strftime("%H:%M"),
            quiet=f"{quiet.start:%H:%M}-{quiet.end:%H:%M}",
        )
        switch = (
            InlineKeyboardButton(t("reminders.digest_on", lang), callback_data="rem:dig:off")
            if settings.opted_in
            else InlineKeyboardButton(t("reminders.digest_off", lang), callback_data="rem:dig:on")
        )
        return text, InlineKeyboardMarkup(
            [
                [switch],
                [
                    InlineKeyboardButton(
                        t("reminders.digest_button_interests", lang), callback_data="rem:dig:int"
                    )
                ],
            ]
        )

    def _interests_markup(self, chosen: Sequence[str], lang: str) -> InlineKeyboardMarkup:
        buttons = [
            InlineKeyboardButton(
                ("✅ " if topic.value in chosen else "") + _topic_label(topic.value, lang),
                callback_data=f"rem:int:{topic.value}",
            )
            for topic in Topic
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append([InlineKeyboardButton(t("reminders.done", lang), callback_data="rem:dig:menu")])
        return InlineKeyboardMarkup(rows)

    async def _digest(self, update: Update, action: str, arg: str, lang: str) -> None:
        query, user, chat = update.callback_query, update.effective_user, update.effective_chat
        assert query is not None and user is not None and chat is not None
        await query.answer()
        if action == "int":
            if arg not in {topic.value for topic in Topic}:
                return
            settings = await self._run(
                self._service.toggle_interest,
                user_id=user.id,
                chat_id=chat.id,
                lang=lang,
                topic=arg,
                now=self._when(),
            )
            await self._edit(
                update,
                t("reminders.interests_menu", lang, count=len(settings.interests)),
                self._interests_markup(settings.interests, lang),
            )
            return
        if arg in ("on", "off"):
            await self._run(
                self._service.set_digest,
                user_id=user.id,
                chat_id=chat.id,
                lang=lang,
                opted_in=arg == "on",
                now=self._when(),
            )
        if arg == "int":
            chosen = (await self._run(self._service.digest_settings, user.id)).interests
            await self._edit(
                update,
                t("reminders.interests_menu", lang, count=len(chosen)),
                self._interests_markup(chosen, lang),
            )
            return
        text, markup = await self._run(self._digest_view, user.id, lang)
        await self._edit(update, text, markup)

    async def _edit(self, update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
        query, chat = update.callback_query, update.effective_chat
        assert query is not None and chat is not None
        message = query.message
        if message is None or getattr(message, "document", None) is not None:
            await chat.send_message(text, reply_markup=markup, parse_mode=None)
            return
        try:
            await query.edit_message_text(text, reply_markup=markup, parse_mode=None)
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise


def _seconds(value: int | float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramSender:
    """Send reminder messages through a `telegram.Bot` (the .ics attached when there is one)."""

    def __init__(self, *, bot: Bot) -> None:
        self._bot = bot

    async def send(self, message: OutgoingMessage) -> int | None:
        """Send one message; translate Telegram's errors into `reminders.delivery` errors."""
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url)
                        for b in row
                    ]
                    for row in message.buttons
                ]
            )
        try:
            if message.ics is not None:
                sent = await self._bot.send_document(
                    message.chat_id,
                    document=InputFile(message.ics, filename=message.ics_filename or "event.ics"),
                    caption=message.text[:MAX_CAPTION],
                    reply_markup=markup,
                    parse_mode=None,  # plain text: a title with "&" or "<" must not break it
                )
            else:
                sent = await self._bot.send_message(
                    message.chat_id, message.text[:MAX_TEXT], reply_markup=markup
                )
        except Forbidden as error:
            raise RecipientBlocked(str(error), chat_id=message.chat_id) from error
        except RetryAfter as error:
            raise RetryLater(
                str(error), chat_id=message.chat_id, retry_after=_seconds(error.retry_after)
            ) from error
        except BadRequest as error:  # a subclass of NetworkError: caught first
            raise PermanentFailure(str(error), chat_id=message.chat_id) from error
        except NetworkError as error:  # includes TimedOut
            raise TransientFailure(str(error), chat_id=message.chat_id) from error
        except TelegramError as error:
            raise PermanentFailure(str(error), chat_id=message.chat_id) from error
        return sent.message_id
