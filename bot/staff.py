"""Staff commands (/reindex, /stats, /gaps) and knowledge problems sent to the admin chat."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from html import escape
from typing import Any

from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot.answers import send_html
from bot.deps import BotDeps, ReloadSummary
from bot.gaps import group_similar
from learncity.i18n import t
from learncity.privacy import mask_for_staff

log = logging.getLogger(__name__)

STAFF_COMMANDS = ("reindex", "stats", "gaps")


class StaffHandlers:
    """Commands for city staff (ADMIN_USER_IDS); everyone else gets "not allowed"."""

    def __init__(self, *, deps: BotDeps) -> None:
        self._deps = deps

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers of this area (group 1)."""
        return [
            CommandHandler("reindex", self.reindex),
            CommandHandler("stats", self.stats),
            CommandHandler("gaps", self.gaps),
        ]

    async def _allowed(self, update: Update) -> bool:
        if self._deps.is_staff(update):
            return True
        message = update.effective_message
        if message is not None:
            await message.reply_html(t("bot.staff.not_allowed", self._deps.language(update)))
        return False

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Reload the knowledge folder and report what changed and what is broken."""
        message = update.effective_message
        if message is None or not await self._allowed(update):
            return
        lang = self._deps.language(update)
        await message.reply_html(t("bot.staff.reindex_started", lang))
        result = await asyncio.to_thread(self._deps.reload_knowledge)
        await message.reply_html(t("bot.staff.reindex_done", lang, summary=escape(result.summary)))
        await send_html(message.reply_html, errors_html(result.errors, lang))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show users, questions per day, abstention rate and feedback."""
        message = update.effective_message
        if message is None or not await self._allowed(update):
            return
        lang = self._deps.language(update)
        stats = await self._deps.db(self._deps.storage.stats)
        lines = [
            t(
                "bot.staff.stats",
                lang,
                users=stats.users,
                questions=stats.questions,
                abstained=stats.abstained,
                rate=f"{stats.abstention_rate:.0%}",
                helpful=stats.helpful,
                not_helpful=stats.not_helpful,
                reasons=stats.reasons,
            )
        ]
        if stats.questions_per_day:
            lines.extend(
                t("bot.staff.stats_day", lang, day=day.isoformat(), count=count)
                for day, count in stats.questions_per_day
            )
        else:
            lines.append(t("bot.staff.stats_no_days", lang))
        lines.append(t("bot.faults.staff_undelivered", lang, count=stats.undelivered))
        lines.extend(
            t(
                "bot.faults.staff_undelivered_item",
                lang,
                at=item.at.astimezone(self._deps.zone).strftime("%Y-%m-%d %H:%M"),
                method=escape(item.method),
                error=escape(item.error),
                text=escape(mask_for_staff(item.text, limit=80)),
            )
            for item in stats.recent_undelivered
        )
        await send_html(message.reply_html, "\n".join(lines))

    async def gaps(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the most frequent unanswered questions, grouped by meaning."""
        message = update.effective_message
        if message is None or not await self._allowed(update):
            return
        lang = self._deps.language(update)
        # Stored masked; masked again so rows kept before a better rule are shown safely too.
        stored = await self._deps.db(self._deps.storage.unanswered)
        texts = [mask_for_staff(text) for text in stored]
        if not texts:
            await message.reply_html(t("bot.staff.gaps_none", lang))
            return
        vectors = await asyncio.to_thread(self._deps.embed, texts)
        groups = group_similar(texts, vectors)[:15]
        lines = [t("bot.staff.gaps_header", lang)]
        lines.extend(
            t("bot.staff.gaps_item", lang, rank=rank, count=gap.count, text=escape(gap.text))
            for rank, gap in enumerate(groups, 1)
        )
        await send_html(message.reply_html, "\n".join(lines))


def errors_html(errors: Sequence[str], lang: str) -> str:
    """Render knowledge problems (each "path:line: message") for staff."""
    if not errors:
        return t("bot.staff.knowledge_ok", lang)
    lines = [t("bot.staff.knowledge_errors", lang)]
    lines.extend(f"• <code>{escape(error)}</code>" for error in errors[:50])
    if len(errors) > 50:
        lines.append(f"… +{len(errors) - 50}")
    return "\n".join(lines)


async def notify_staff(bot: Bot, deps: BotDeps, result: ReloadSummary) -> None:
    """Send knowledge problems to the admin chat (or to each admin when no chat is set)."""
    if not result.errors:
        return
    targets = [deps.admin_chat_id] if deps.admin_chat_id is not None else sorted(deps.admin_ids)
    for chat_id in targets:
        await deps.load_language(chat_id)
        lang = deps.storage.cached_language(chat_id) or deps.default_language
        html = t("bot.staff.reindex_done", lang, summary=escape(result.summary)) + "\n\n"
        html += errors_html(result.errors, lang)
        try:
            await send_html(functools.partial(bot.send_message, chat_id), html)
        except TelegramError as error:
            log.warning("could not tell staff about knowledge problems: %s", type(error).__name__)
