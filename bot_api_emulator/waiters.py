"""Waiting for the emulator's state to change: futures grouped by topic, woken on change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from bot_api_emulator.state import BotMessage, Chat, EmulatorTimeout

_T = TypeVar("_T")
MessageFilter = Callable[[BotMessage], bool] | None


class Waiters:
    """Coroutines waiting for a condition, woken by topic.

    A topic of None wakes on any change; the updates queue uses ``"updates"`` and what the bot
    does in a chat uses the chat id, so 200 waiting users are not all woken per message.
    """

    def __init__(self) -> None:
        self._by_topic: dict[object, set[asyncio.Future[None]]] = {}

    def notify(self, topic: object = None) -> None:
        """Wake waiters on ``topic`` and the ones waiting for any change (all if None)."""
        topics = list(self._by_topic) if topic is None else [None, topic]
        for key in topics:
            waiters = self._by_topic.get(key)
            if not waiters:
                continue
            for future in waiters:
                if not future.done():
                    future.set_result(None)
            waiters.clear()

    async def wait_until(
        self, condition: Callable[[], _T | None], timeout: float, *, topic: object = None
    ) -> _T:
        """Wait until ``condition()`` returns something truthy (re-checked on every change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeout(f"condition not met within {timeout}s")
            future: asyncio.Future[None] = loop.create_future()
            waiters = self._by_topic.setdefault(topic, set())
            waiters.add(future)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                pass
            finally:
                waiters.discard(future)

    async def bot_messages(
        self, chat: Chat, *, count: int, timeout: float, predicate: MessageFilter, start: int
    ) -> list[BotMessage]:
        """Wait for ``count`` matching messages the bot sent to ``chat`` after index ``start``."""

        def matching() -> list[BotMessage]:
            return [m for m in chat.bot_messages[start:] if predicate is None or predicate(m)]

        def ready() -> list[BotMessage] | None:
            found = matching()
            return found[:count] if len(found) >= count else None

        try:
            return await self.wait_until(ready, timeout, topic=chat.id)
        except EmulatorTimeout:
            got = [m.text for m in matching()]
            raise EmulatorTimeout(
                f"chat {chat.id}: expected {count} message(s) from the bot within {timeout}s, "
                f"got {len(got)}: {got!r}"
            ) from None

    async def bot_edits(
        self, chat: Chat, *, count: int, timeout: float, predicate: MessageFilter, start: int
    ) -> list[BotMessage]:
        """Wait for ``count`` matching edits the bot made in ``chat`` after index ``start``."""

        def ready() -> list[BotMessage] | None:
            found = [m for m in chat.edit_log[start:] if predicate is None or predicate(m)]
            return found[:count] if len(found) >= count else None

        try:
            return await self.wait_until(ready, timeout, topic=chat.id)
        except EmulatorTimeout:
            raise EmulatorTimeout(
                f"chat {chat.id}: expected {count} edit(s) by the bot within {timeout}s, got "
                f"{len(chat.edit_log) - start}"
            ) from None
