"""The one error handler: log the update id and the error (never the token or the message text)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ContextTypes

from learncity.db import DatabaseUnavailable
from learncity.i18n import t

log = logging.getLogger(__name__)


def _where(error: BaseException | None) -> str:
    """Return the error's type and stack, without its message (it could quote the resident)."""
    if error is None:
        return "unknown error"
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 5:
        stack = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{type(current).__module__}.{type(current).__qualname__}\n{stack}")
        current = current.__cause__ or current.__context__
    return "\ncaused by ".join(parts)


class ErrorHandler:
    """Log, then apologise briefly when it makes sense; Telegram's own refusals are expected."""

    def __init__(
        self, *, token: str, language: Callable[[Update], str], default_language: str
    ) -> None:
        self._token = token
        self._language = language
        self._default_language = default_language

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle an error raised while processing `update`."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, Forbidden):
            # The resident blocked the bot or left the chat: nothing to say, nobody to say it to.
            log.info(
                "update %s: the bot may not write to this chat (%s)",
                update_id,
                type(error).__name__,
            )
            return
        if isinstance(error, RetryAfter):
            log.warning("update %s: Telegram asked to retry after %s", update_id, error.retry_after)
            return
        if isinstance(error, TimedOut | NetworkError) and not isinstance(error, BadRequest):
            log.warning("update %s: network problem (%s)", update_id, type(error).__name__)
            return
        if isinstance(error, DatabaseUnavailable):
            # Locked or down: say so plainly ("try again"), without a stack for an expected fault.
            log.warning("update %s: %s", update_id, error)
            key = "bot.faults.busy"
        else:
            log.error("update %s failed: %s", update_id, self._redact(_where(error)))
            key = "bot.error.apology"
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        lang = self._default_language
        try:
            lang = self._language(update)
        except Exception:  # the database may be what failed
            log.debug("could not read the language for the apology")
        query = update.callback_query
        if query is not None:
            try:
                await query.answer(t(key, lang), show_alert=True)
                return
            except TelegramError as answer_error:  # answered already: a message says it instead
                log.debug("button not answered: %s", type(answer_error).__name__)
        try:
            await update.effective_chat.send_message(t(key, lang))
        except TelegramError as send_error:
            log.warning("update %s: could not apologise (%s)", update_id, type(send_error).__name__)
