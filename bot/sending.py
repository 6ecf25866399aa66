"""The one choke point every Bot API request passes: rate limits, retries, and what finally failed.

`ResilientRateLimiter` is PTB's `AIORateLimiter` (overall and per-chat limits; a 429 waits the
`retry_after` Telegram asks for, pausing every request meanwhile, up to `max_retries` times) with
one more layer outside it: transient failures (a 5xx, a dropped connection, a time-out) are retried
with exponential back-off and jitter (tenacity), a bounded number of times. A message that still
cannot be sent is handed to `on_undelivered` (the bot records it, masked, for /stats) before the
error goes on to the error handler.

Errors that retrying cannot fix are never retried: `BadRequest` (a bug, or a message that no longer
exists), `Forbidden` (the resident blocked the bot), `InvalidToken`, `Conflict`.
A retried time-out may, rarely, deliver a message twice (Telegram may have sent the first one
before the answer was lost): a duplicate is better than a silent loss.

It is also the one place where right-to-left text is made readable (`prepare_for_reading`):
whatever a handler sends (welcome, help, menus, questionnaires, reminders, digests), a text or
caption with Arabic letters gets its Latin names, times, numbers and /commands isolated, so no
handler can forget it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from learncity.bidi import LRI, PDI, for_reading, is_right_to_left_text, isolate_ltr

log = logging.getLogger(__name__)

#: Methods whose failure loses something the resident should have read.
_MESSAGES = ("send",)
_NOT_MESSAGES = frozenset({"sendChatAction"})

Undelivered = Callable[[str, dict[str, Any], BaseException], Awaitable[None]]
JSON = bool | dict[str, Any] | list[dict[str, Any]]


def is_transient(error: BaseException) -> bool:
    """Return True for failures worth retrying: 5xx, network trouble, time-outs (not 400s)."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def is_message(endpoint: str) -> bool:
    """Return True for the methods that carry a message to a resident."""
    return endpoint.startswith(_MESSAGES) and endpoint not in _NOT_MESSAGES


#: Which field of a request the resident reads, and Telegram's limit for it.
_READABLE = {
    "sendMessage": ("text", 4096),
    "editMessageText": ("text", 4096),
    "sendPhoto": ("caption", 1024),
    "sendDocument": ("caption", 1024),
    "sendVideo": ("caption", 1024),
    "sendAudio": ("caption", 1024),
    "editMessageCaption": ("caption", 1024),
    "answerCallbackQuery": ("text", 200),
}
_ENTITIES = {"text": "entities", "caption": "caption_entities"}
# A command ("/skills"), or one whose word an earlier pass isolated without its slash ("/⁦skills⁩").
_WORD = r"[A-Za-z][A-Za-z0-9_]{0,31}(?:@\w+)?"
_COMMAND = re.compile(rf"(?<![\w/{LRI}{PDI}])/(?:{LRI}({_WORD}){PDI}|({_WORD}))")
_HTML_TAG = re.compile(r"(<[^>]*>)")


def _commands_whole(text: str, *, html: bool) -> str:
    """Isolate each /command with its slash, so Telegram still shows it as one clickable command.

    `isolate_ltr` starts a run at a letter, which would leave the slash outside ("/⁦skills⁩");
    runs already isolated are kept as they are, so isolating the commands first keeps them whole.
    """
    def whole(match: re.Match[str]) -> str:
        return f"{LRI}/{match.group(1) or match.group(2)}{PDI}"

    if not html:
        return _COMMAND.sub(whole, text)
    parts = _HTML_TAG.split(text)
    return "".join(part if index % 2 else _COMMAND.sub(whole, part)
                   for index, part in enumerate(parts))


def prepare_for_reading(endpoint: str, data: dict[str, Any]) -> None:
    """Isolate the Latin runs of a right-to-left text or caption in `data` (in place).

    HTML keeps its tags and entities (`for_reading`); plain text is isolated as it is. A request
    with explicit entities is left alone (their offsets would move), and so is a text the isolates
    would push over Telegram's limit (a readable order is not worth a refused message).
    """
    field_limit = _READABLE.get(endpoint)
    if field_limit is None:
        return
    name, limit = field_limit
    text = data.get(name)
    if not isinstance(text, str) or data.get(_ENTITIES[name]) or not is_right_to_left_text(text):
        return
    parse_mode = data.get("parse_mode")
    if endpoint == "answerCallbackQuery" or parse_mode is None:
        readable = isolate_ltr(_commands_whole(text, html=False))
    elif str(parse_mode).upper() == "HTML":
        readable = for_reading(_commands_whole(text, html=True))
    else:  # Markdown: its escapes are not ours to rewrite
        return
    if len(readable) <= limit:
        data[name] = readable


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    # The error's type only: its text could quote the request.
    log.warning(
        "Bot API request failed (%s), attempt %d: retrying in %.1f s",
        type(error).__name__,
        state.attempt_number,
        wait,
    )


class ResilientRateLimiter(AIORateLimiter):
    """`AIORateLimiter` that also retries transient failures and reports what was finally lost."""

    def __init__(
        self,
        *,
        overall_max_rate: float = 30,
        max_retries: int = 5,
        network_attempts: int = 4,
        first_wait: float = 0.5,
        max_wait: float = 8.0,
        on_undelivered: Undelivered | None = None,
        readable: bool = True,
    ) -> None:
        if network_attempts < 1:
            raise ValueError(f"network_attempts ({network_attempts}) must be at least 1")
        if max_retries < 0:
            raise ValueError(f"max_retries ({max_retries}) must not be negative")
        super().__init__(overall_max_rate=overall_max_rate, max_retries=max_retries)
        self._network_attempts = network_attempts
        self._first_wait = first_wait
        self._max_wait = max_wait
        self._on_undelivered = on_undelivered
        self._readable = readable  # isolate Latin runs in right-to-left texts (prepare_for_reading)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        """Make RTL text readable; send through the rate limiter; retry; report a lost message."""
        if self._readable:
            prepare_for_reading(endpoint, data)  # the same dict PTB then sends
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self._network_attempts),
            wait=wait_exponential_jitter(initial=self._first_wait, max=self._max_wait),
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            result: JSON = await retrying(
                super().process_request, callback, args, kwargs, endpoint, data, rate_limit_args
            )
            return result
        except (RetryAfter, NetworkError) as error:
            if (is_transient(error) or isinstance(error, RetryAfter)) and is_message(endpoint):
                log.error("%s not delivered after every retry (%s)", endpoint, type(error).__name__)
                if self._on_undelivered is not None:
                    try:
                        await self._on_undelivered(endpoint, data, error)
                    except Exception as record_error:  # recording must not hide the real error
                        # Its type only: a database error's text quotes the row (a chat id).
                        log.error(
                            "could not record an undelivered %s (%s)",
                            endpoint,
                            type(record_error).__name__,
                        )
            raise
