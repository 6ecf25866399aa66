"""Errors tests inject: blocked chats, 429 floods, 5xx failures, slow answers, strict limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot_api_emulator.protocol import Params, maybe_int
from bot_api_emulator.send_log import MESSAGE_METHODS
from bot_api_emulator.state import ApiError
from bot_api_emulator.world import World

#: Methods a blocked user or a kicked bot cannot use on that chat.
_BLOCKABLE_PREFIXES = ("send", "edit", "copy", "forward", "delete", "pin")
#: Methods a failure given without ``methods`` leaves alone.
_NEVER_FAILED_BY_DEFAULT = {"getupdates", "getme", "getwebhookinfo"}


@dataclass
class _Failure:
    """The next ``count`` matching calls are answered with this error."""

    count: int
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    methods: frozenset[str] | None
    chat_id: int | None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.methods is None:
            matched = method not in _NEVER_FAILED_BY_DEFAULT
        else:
            matched = method in self.methods
        if self.chat_id is not None:
            matched = matched and self.chat_id == chat_id
        return matched and self.count > 0


@dataclass(frozen=True)
class _RateLimit:
    per_chat: int | None
    overall: int | None
    window: float
    retry_after: int


def _lowered(methods: Iterable[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)


def _too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class Faults:
    """The errors and delays tests asked for, applied to each API call before its method runs."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._blocked: set[int] = set()
        self._rate_limit: _RateLimit | None = None
        self._failures: list[_Failure] = []
        self._delays: list[tuple[float, frozenset[str] | None]] = []

    def block_chat(self, chat_id: int) -> None:
        """Make every send to this chat fail with 403 (the user blocked the bot)."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Let sends to this chat succeed again."""
        self._blocked.discard(chat_id)

    def flood(
        self, count: int, retry_after: int, *, methods: Iterable[str] | None, chat_id: int | None
    ) -> None:
        """Answer the next ``count`` matching calls with 429 "retry after ``retry_after``"."""
        error = _too_many_requests(retry_after)
        self._failures.append(
            _Failure(
                count, 429, error.description, error.parameters, _lowered(methods), chat_id
            )
        )

    def fail(
        self,
        count: int,
        error_code: int,
        description: str,
        *,
        methods: Iterable[str] | None,
        chat_id: int | None,
    ) -> None:
        """Answer the next ``count`` matching calls with ``error_code`` and ``description``."""
        self._failures.append(
            _Failure(count, error_code, description, None, _lowered(methods), chat_id)
        )

    def limit_rate(
        self, *, per_chat: int | None, overall: int | None, window: float, retry_after: int
    ) -> None:
        """Answer 429 to a message beyond ``per_chat`` per chat or ``overall`` per ``window``."""
        if per_chat is None and overall is None:
            self._rate_limit = None
        else:
            self._rate_limit = _RateLimit(per_chat, overall, window, retry_after)

    def set_delay(self, seconds: float, *, methods: Iterable[str] | None) -> None:
        """Delay answers to the given methods (all but getUpdates by default); 0 clears."""
        if seconds <= 0:
            self._delays.clear()
            return
        self._delays.append((seconds, _lowered(methods)))

    async def apply(self, method: str, params: Params) -> None:
        """Wait the injected delays, then raise the injected error for this call, if any."""
        for seconds, methods in self._delays:
            if (methods is None and method != "getupdates") or (methods and method in methods):
                await asyncio.sleep(seconds)
        chat_id = maybe_int(params.values.get("chat_id"))
        self._raise_injected_failure(method, chat_id)
        if chat_id is not None and method.startswith(_BLOCKABLE_PREFIXES):
            self._raise_if_blocked(chat_id)
        if self._rate_limit is not None and method in MESSAGE_METHODS:
            self._check_rate(chat_id, self._rate_limit)

    def _raise_injected_failure(self, method: str, chat_id: int | None) -> None:
        for failure in self._failures:
            if failure.matches(method, chat_id):
                failure.count -= 1
                self._failures = [f for f in self._failures if f.count > 0]
                raise ApiError(failure.error_code, failure.description, failure.parameters)

    def _raise_if_blocked(self, chat_id: int) -> None:
        if chat_id not in self._blocked:
            return
        chat = self._world.chats.get(chat_id)
        if chat is not None and chat.type == "channel":
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        if chat is not None and chat.type != "private":
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _check_rate(self, chat_id: int | None, limit: _RateLimit) -> None:
        in_chat, in_all = self._world.send_log.recent(
            self._world.monotonic(), limit.window, chat_id
        )
        if (limit.per_chat is not None and in_chat >= limit.per_chat) or (
            limit.overall is not None and in_all >= limit.overall
        ):
            raise _too_many_requests(limit.retry_after)
