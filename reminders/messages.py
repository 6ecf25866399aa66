"""What reminder messages say: dates in words, reminders, moves, cancellations, the weekly digest.

`MessageRenderer.render(row)` turns one claimed outbox row into an `OutgoingMessage` (text in the
row's language, the occurrence's .ics, the buttons); `ReminderService.due` calls it. No Telegram
here, and no SQL: the row and the current knowledge hold everything a message needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

from learncity.content.models import WEEKDAYS, Event, Programme, text_in
from learncity.i18n import t
from reminders import store as st
from reminders.delivery import Button, OutgoingMessage
from reminders.digest import events_for_digest
from reminders.store import Reminder

EVENT = "event"
PROGRAMME = "programme"
OFFSET_CHOICES: tuple[str, ...] = ("1w", "2d", "1d", "3h", "1h", "30m", "15m")
_ICS_CACHE_SIZE = 256


class Catalog(Protocol):
    """The current knowledge: `learncity.content.KnowledgeBase` fits."""

    @property
    def events(self) -> Mapping[str, Event]:
        """Events by id."""
        ...

    @property
    def programmes(self) -> Mapping[str, Programme]:
        """Programmes by id."""
        ...


class IcsMaker(Protocol):
    """Builds an iCalendar file for one occurrence (`learncity.content.calendar.event_ics` fits)."""

    def __call__(
        self, event: Event, occurrence_start: dt.datetime, zone: ZoneInfo, lang: str
    ) -> bytes:
        """Return the .ics bytes."""
        ...


def default_ics(event: Event, occurrence_start: dt.datetime, zone: ZoneInfo, lang: str) -> bytes:
    """Build the .ics with the shared calendar module."""
    from learncity.content.calendar import (
        event_ics,  # imported late: icalendar is only needed to send
    )

    return event_ics(event, occurrence_start, zone, lang)


def find_target(catalog: Catalog, kind: str, target_id: str) -> Event | Programme | None:
    """Return the event (kind "event") or programme with `target_id`, or None."""
    if kind == EVENT:
        return catalog.events.get(target_id)
    return catalog.programmes.get(target_id)


def format_when(when: dt.datetime, lang: str, zone: ZoneInfo) -> str:
    """Return "Sat 28 Mar 2026, 10:00" (in `lang`) for `when` in the city's time."""
    local = when.astimezone(zone)
    days = t("reminders.weekdays", lang).split(",")
    months = t("reminders.months", lang).split(",")
    return t(
        "reminders.datetime", lang,
        weekday=days[local.weekday()].strip(), day=local.day,
        month=months[local.month - 1].strip(), year=local.year,
        time=local.strftime("%H:%M"),
    )


class MessageRenderer:
    """Build the outbox's messages; each occurrence's .ics is built once and kept (256 at most)."""

    def __init__(
        self,
        *,
        knowledge: Callable[[], Catalog],
        zone: ZoneInfo,
        digest_interests: Callable[[int], Sequence[str]],
        ics: IcsMaker | None = None,
    ) -> None:
        self._knowledge = knowledge
        self.zone = zone
        self._digest_interests = digest_interests
        self._ics = ics or default_ics
        self._ics_cache: dict[tuple[int, str, dt.datetime, str], bytes] = {}

    def _when(self, when: dt.datetime, lang: str) -> str:
        return format_when(when, lang, self.zone)

    def render(self, row: Reminder) -> OutgoingMessage:
        """Return the message of one claimed outbox row: text, .ics and buttons."""
        lang = row.lang
        ics: bytes | None = None
        filename: str | None = None
        buttons: list[tuple[Button, ...]] = []
        target = (find_target(self._knowledge(), row.target_kind, row.target_id)
                  if row.target_kind and row.target_id else None)
        title = text_in(target.title, lang) if target is not None else (row.target_id or "")
        where = ""
        if target is not None and target.venue is not None:
            where = t("reminders.where", lang, venue=target.venue.name)
        start = row.occurrence_start
        if row.kind == st.KIND_DIGEST:
            text, buttons = self._digest_text(row)
        elif row.kind == st.KIND_CANCELLED:
            text = t("reminders.cancelled", lang, title=title,
                     when=self._when(row.previous_start or row.due_at, lang))
        else:
            assert start is not None
            when = self._when(start, lang)
            if row.kind == st.KIND_MOVED:
                text = t("reminders.moved", lang, title=title, when=when, where=where,
                         was=self._when(row.previous_start or start, lang))
            else:
                text = t("reminders.reminder", lang, title=title, when=when, where=where,
                         lead=self._lead(row.offset or "", lang))
            if target is not None:
                ics = self._calendar(target, start, lang)
                filename = f"{row.target_id}.ics"
                text += "\n" + t("reminders.calendar_hint", lang)
            if row.subscription_id is not None:
                buttons.append((Button(t("reminders.button_stop", lang),
                                       callback_data=f"rem:cancel:{row.subscription_id}"),))
        return OutgoingMessage(
            key=row.delivery_key, kind=row.kind, user_id=row.user_id, chat_id=row.chat_id,
            lang=lang, text=text, buttons=tuple(buttons), ics=ics, ics_filename=filename,
            due_at=row.due_at, reminder_id=row.id,
        )

    def _calendar(self, target: Event | Programme, start: dt.datetime, lang: str) -> bytes:
        # Many reminders share one occurrence (everyone at the 18:00 talk): build its .ics once.
        key = (id(target), target.id, start, lang)
        cached = self._ics_cache.get(key)
        if cached is None:
            cached = self._ics(self._as_event(target, start), start, self.zone, lang)
            if len(self._ics_cache) >= _ICS_CACHE_SIZE:
                self._ics_cache.pop(next(iter(self._ics_cache)))
            self._ics_cache[key] = cached
        return cached

    def _lead(self, offset: str, lang: str) -> str:
        if not offset:
            return ""
        return t(f"reminders.offsets.{offset}", lang) if offset in OFFSET_CHOICES else offset

    def _digest_text(self, row: Reminder) -> tuple[str, list[tuple[Button, ...]]]:
        lang = row.lang
        items = events_for_digest(self._knowledge().events,
                                  interests=self._digest_interests(row.user_id),
                                  start=row.due_at, end=row.not_after, zone=self.zone)
        buttons: list[tuple[Button, ...]] = []
        if not items:
            text = t("reminders.digest_empty", lang)
        else:
            lines = []
            for item in items:
                name = text_in(item.event.title, lang)
                lines.append(t("reminders.digest_line", lang,
                               when=self._when(item.start, lang), title=name))
                if len(buttons) < 6 and len(f"rem:ev:{item.event.id}") <= 64:
                    data = f"rem:ev:{item.event.id}"
                    buttons.append((Button(f"🔔 {name}"[:60], callback_data=data),))
            text = t("reminders.digest_header", lang) + "\n\n" + "\n".join(lines)
        label = t("reminders.button_interests", lang)
        buttons.append((Button(label, callback_data="rem:dig:menu"),))
        return text, buttons

    def _as_event(self, target: Event | Programme, start: dt.datetime) -> Event:
        if isinstance(target, Event):
            return target
        slot_minutes = 120
        schedule = target.schedule
        if schedule is not None:
            local = start.astimezone(self.zone)
            for slot in schedule.weekly:
                if slot.end and WEEKDAYS.index(slot.day) == local.weekday():
                    begin = dt.datetime.combine(local.date(), slot.start)
                    slot_minutes = int((dt.datetime.combine(local.date(), slot.end) - begin)
                                       .total_seconds() // 60)
        local_start = start.astimezone(self.zone).replace(tzinfo=None)
        return Event(
            id=target.id, title=target.title, description=target.description,
            learning_type=target.learning_type, topics=target.topics, audiences=target.audiences,
            provider=target.provider, venue=target.venue, online=target.online,
            start=local_start, end=local_start + dt.timedelta(minutes=slot_minutes),
            contact=target.contact, lang=target.lang, url=target.url,
        )
