"""Partner admins publish their listings in chat: send a document, see a preview, publish.

Partner admins are mapped to partners in `knowledge/partners.yaml`; everyone else is told
"not allowed". Each admin may send about 10 documents a minute. The JobQueue runs the feed
refresher every PARTNER_REFRESH_SECONDS; its problems go to the partner's admins and to staff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from html import escape
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.deps import BotDeps
from learncity.content.models import Event, Programme, text_in
from learncity.i18n import t
from partners.errors import FetchError, InvalidSource, UnsafeName
from partners.feeds import FeedProblem, FeedRefresher
from partners.registry import Partner
from partners.service import PartnerService, Preview

log = logging.getLogger(__name__)

DOCUMENTS_PER_MINUTE = 10
MAX_PENDING = 200  # previews waiting for Publish / Cancel (the oldest are dropped)
_SHOWN = 10  # problems or notes listed in one message
# Only listing formats come here; other files (a resident's PDF) get the usual "text only" reply.
_IMPORTABLE = (
    filters.Document.FileExtension("ics")
    | filters.Document.FileExtension("jsonld")
    | filters.Document.FileExtension("json")
    | filters.Document.FileExtension("csv")
    | filters.Document.FileExtension("yaml")
    | filters.Document.FileExtension("yml")
)


@dataclass(frozen=True)
class _Pending:
    user_id: int
    preview: Preview


def _short(record_id: str) -> str:
    # callback_data is at most 64 bytes; record ids may be 80 characters.
    return hashlib.sha1(record_id.encode("utf-8")).hexdigest()[:10]


class PartnerHandlers:
    """Document upload -> preview -> Publish / Cancel; /listings with a remove button each."""

    def __init__(
        self,
        *,
        service: PartnerService,
        deps: BotDeps,
        refresh_seconds: int,
        per_minute: int = DOCUMENTS_PER_MINUTE,
    ) -> None:
        self._service = service
        self._deps = deps
        self._refresh_seconds = refresh_seconds
        self._per_minute = per_minute
        self._limiters: dict[int, AsyncLimiter] = {}
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._bot: Bot | None = None
        self.refresher = FeedRefresher(service=service, on_problem=self._feed_problem)

    def handlers(self) -> list[BaseHandler[Update, Any, Any]]:
        """Return the handlers (group 1, before the catch-alls that answer any document)."""
        return [
            MessageHandler(_IMPORTABLE & filters.ChatType.PRIVATE, self.document),
            CommandHandler("listings", self.listings),
            CallbackQueryHandler(self.button, pattern=r"^pt:"),
        ]

    async def post_init(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Start the repeating feed refresh."""
        self._bot = application.bot
        if application.job_queue is not None:
            application.job_queue.run_repeating(
                self._refresh_job, interval=self._refresh_seconds, first=5, name="partner-feeds"
            )

    async def post_shutdown(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Stop the feed refresh."""
        if application.job_queue is not None:
            for job in application.job_queue.get_jobs_by_name("partner-feeds"):
                job.schedule_removal()

    # ------------------------------------------------------------ helpers

    def _partners_of(self, update: Update) -> list[Partner]:
        user = update.effective_user
        if user is None:
            return []
        try:
            return self._service.registry().of_admin(user.id)
        except InvalidSource as error:
            log.warning("partners.yaml is broken: %s", error)
            return []

    async def _limited(self, user_id: int) -> bool:
        limiter = self._limiters.setdefault(user_id, AsyncLimiter(self._per_minute, 60))
        if not limiter.has_capacity():
            return True
        await limiter.acquire()  # it has capacity: this does not wait
        return False

    async def _reload(self) -> None:
        await asyncio.to_thread(self._deps.reload_knowledge)

    # ------------------------------------------------------------ documents

    async def document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Validate a sent document and show a preview with Publish / Cancel."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.document is None:
            return
        lang = self._deps.language(update)
        partners = self._partners_of(update)
        if not partners:
            await message.reply_html(t("partners.not_allowed", lang))
            return
        if await self._limited(user.id):
            await message.reply_html(t("partners.too_many", lang))
            return
        sent = message.document
        limit = self._service.max_bytes
        if sent.file_size is not None and sent.file_size > limit:
            await message.reply_html(
                t(
                    "partners.too_large",
                    lang,
                    size=f"{sent.file_size / 1_048_576:.1f}",
                    limit=f"{limit / 1_048_576:g}",
                )
            )
            return
        partner = partners[0]  # an admin of several partners publishes for the first one
        name = sent.file_name or "document"
        try:
            telegram_file = await sent.get_file()
            data = bytes(await telegram_file.download_as_bytearray())
            preview = await asyncio.to_thread(
                self._service.preview,
                partner.name,
                data,
                document=name,
                source=f"telegram document '{name}' from user {user.id}",
            )
        except InvalidSource as error:
            await message.reply_html(self._refused_html(name, error, lang))
            return
        except UnsafeName as error:
            await message.reply_html(t("partners.unsafe", lang, problem=escape(str(error))))
            return
        except FetchError as error:
            await message.reply_html(t("partners.cannot_read", lang, problem=escape(str(error))))
            return
        token = secrets.token_hex(6)
        self._pending[token] = _Pending(user.id, preview)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t("partners.publish", lang), callback_data=f"pt:ok:{token}"
                    ),
                    InlineKeyboardButton(
                        t("partners.cancel", lang), callback_data=f"pt:no:{token}"
                    ),
                ]
            ]
        )
        await message.reply_html(self._preview_html(preview, partner, lang), reply_markup=keyboard)

    def _refused_html(self, name: str, error: InvalidSource, lang: str) -> str:
        lines = [t("partners.refused", lang, document=escape(name), count=len(error.errors))]
        lines += [f"• <code>{escape(str(problem))}</code>" for problem in error.errors[:_SHOWN]]
        if len(error.errors) > _SHOWN:
            lines.append(t("partners.more", lang, count=len(error.errors) - _SHOWN))
        return "\n".join(lines)

    def _preview_html(self, preview: Preview, partner: Partner, lang: str) -> str:
        events, programmes = preview.counts
        lines = [
            t(
                "partners.preview",
                lang,
                document=escape(preview.document),
                partner=escape(partner.title),
                events=events,
                programmes=programmes,
            )
        ]
        records: list[Programme | Event] = [*preview.parsed.programmes, *preview.parsed.events]
        for record in records[:_SHOWN]:
            lines.append(f"• {escape(text_in(record.title, lang))}")
        notes = preview.parsed.notes
        if notes:
            lines.append(t("partners.notes", lang, count=len(notes)))
            lines += [f"• <i>{escape(str(note))}</i>" for note in notes[:_SHOWN]]
        lines.append(t("partners.preview_changes", lang))
        return "\n".join(lines)

    # ------------------------------------------------------------ buttons

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Publish, cancel, or remove a listing."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or query.data is None:
            return
        lang = self._deps.language(update)
        _, action, *rest = query.data.split(":")
        if action in ("ok", "no"):
            pending = self._pending.get(rest[0]) if rest else None
            if pending is None or pending.user_id != user.id:
                await query.answer(t("partners.expired", lang), show_alert=True)
                return
            del self._pending[rest[0]]
            await query.answer()
            if action == "no":
                await query.edit_message_text(t("partners.cancelled", lang))
                return
            report = await asyncio.to_thread(self._service.publish, pending.preview)
            await self._reload()
            await query.edit_message_text(
                t(
                    "partners.published",
                    lang,
                    document=escape(pending.preview.document),
                    added=len(report.added),
                    updated=len(report.updated),
                    removed=len(report.removed),
                )
            )
            return
        if action == "rm" and len(rest) == 2:
            await self._remove(update, rest[0], rest[1], lang)
            return
        await query.answer()

    async def _remove(self, update: Update, partner_name: str, short: str, lang: str) -> None:
        query = update.callback_query
        assert query is not None
        if partner_name not in {p.name for p in self._partners_of(update)}:
            await query.answer(t("partners.not_allowed", lang), show_alert=True)
            return
        listings = await asyncio.to_thread(self._service.listings, partner_name)
        found = next((item for item in listings if _short(item.record_id) == short), None)
        if found is None:
            await query.answer(t("partners.gone", lang), show_alert=True)
            return
        await asyncio.to_thread(self._service.remove, partner_name, found.record_id)
        await self._reload()
        await query.answer(t("partners.removed", lang, title=text_in(found.title, lang)))
        partner = next(p for p in self._partners_of(update) if p.name == partner_name)
        text, keyboard = await self._listings_message(partner, lang)
        await query.edit_message_text(text, reply_markup=keyboard)

    # ------------------------------------------------------------ /listings

    async def listings(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the admin's listings, each with a remove button."""
        message = update.effective_message
        if message is None:
            return
        lang = self._deps.language(update)
        partners = self._partners_of(update)
        if not partners:
            await message.reply_html(t("partners.not_allowed", lang))
            return
        for partner in partners:
            text, keyboard = await self._listings_message(partner, lang)
            await message.reply_html(text, reply_markup=keyboard)

    async def _listings_message(
        self, partner: Partner, lang: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        listings = await asyncio.to_thread(self._service.listings, partner.name)
        if not listings:
            return t("partners.listings_none", lang, partner=escape(partner.title)), None
        text = t(
            "partners.listings_header", lang, partner=escape(partner.title), count=len(listings)
        )
        rows = [
            [
                InlineKeyboardButton(
                    t("partners.remove", lang, title=text_in(item.title, lang)[:40]),
                    callback_data=f"pt:rm:{partner.name}:{_short(item.record_id)}",
                )
            ]
            for item in listings[:50]
        ]
        return text, InlineKeyboardMarkup(rows)

    # ------------------------------------------------------------ feeds

    async def _refresh_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        results = await self.refresher.refresh()
        if any(result.status == "updated" for result in results):
            await self._reload()

    async def _feed_problem(self, problem: FeedProblem) -> None:
        """Tell the partner's admins and the staff that a feed could not be refreshed."""
        if self._bot is None:
            return
        recipients = list(problem.partner.admins)
        if self._deps.admin_chat_id is not None:
            recipients.append(self._deps.admin_chat_id)
        else:
            recipients.extend(self._deps.admin_ids)
        for chat_id in dict.fromkeys(recipients):
            lang = self._deps.storage.language_of(chat_id) or self._deps.default_language
            text = t(
                "partners.feed_problem",
                lang,
                partner=escape(problem.partner.title),
                url=escape(problem.url),
                problem=escape(problem.message[:1500]),
            )
            try:
                await self._bot.send_message(chat_id, text)
            except TelegramError as error:
                log.warning("could not tell chat %s about a feed problem: %s", chat_id, error)
