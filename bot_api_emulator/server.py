"""The emulator: an aiohttp server speaking the Bot API, plus what tests read and inject."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import ClientSession, ClientTimeout, web

from bot_api_emulator import media
from bot_api_emulator.entities import detect_entities
from bot_api_emulator.protocol import (
    Params,
    add_caption,
    format_text,
    json_response,
    loggable,
    maybe_int,
    parse_markup,
    read_params,
)
from bot_api_emulator.state import (
    ApiCall,
    ApiError,
    BotMessage,
    Chat,
    EmulatorTimeout,
    StoredFile,
    bad_request,
)
from bot_api_emulator.users import EmulatedUser

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_TOKEN = "123456789:TEST-emulator-token"
MAX_TEXT = 4096
MAX_CAPTION = 1024
#: Update types Telegram sends when ``allowed_updates`` is empty or was never set.
_DEFAULT_EXCLUDED_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
#: Methods that put a message into a chat: the ones Telegram's rate limits are about.
_MESSAGE_METHODS = {
    "sendmessage",
    "senddocument",
    "sendphoto",
    "sendlocation",
    "sendvenue",
    "sendsticker",
    "sendcontact",
    "copymessage",
    "forwardmessage",
}
#: Methods a blocked user or a kicked bot cannot use on that chat.
_BLOCKABLE_PREFIXES = ("send", "edit", "copy", "forward", "delete", "pin")
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

_UPDATES = "updates"

Clock = Callable[[], datetime]
Handler = Callable[[Params], Awaitable[Any]]


class BotApiEmulator:
    """A Telegram Bot API server on 127.0.0.1 for one bot token, with user-side helpers."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "learncity_test_bot",
        bot_first_name: str = "Learning City Assistant",
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 0.2,
        default_timeout: float = 5.0,
    ) -> None:
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            raise ValueError(f"token {token!r} must look like '<bot id>:<secret>'")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.monotonic = monotonic
        self._host = host
        self._port = port
        self._webhook_retry_delay = webhook_retry_delay
        #: Seconds ``wait_for`` and friends wait when no ``timeout`` is given.
        self.default_timeout = default_timeout
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Handler] = self._build_handlers()

        self.chats: dict[int, Chat] = {}
        self.users: dict[int, EmulatedUser] = {}
        self.calls: list[ApiCall] = []
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        #: Answers to callback queries by query id (text, show_alert, url, cache_time).
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        #: (monotonic time, chat id, method) of every message the bot put into a chat.
        self.send_log: list[tuple[float, int, str]] = []

        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self.webhook: dict[str, Any] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_errors: tuple[int, str] | None = None

        self._blocked: set[int] = set()
        self._rate_limit: tuple[int | None, int | None, float, int] | None = None
        self._floods: list[dict[str, Any]] = []
        self._delays: list[tuple[float, frozenset[str] | None]] = []
        # Waiters by topic: None wakes on any change, "updates" on new updates, a chat id on
        # what the bot did in that chat (so 200 waiting users are not all woken per message).
        self._waiters: dict[object, set[asyncio.Future[None]]] = {}
        self._closing = False

    # ----------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on (after ``start``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """Return the value for PTB's ``base_url`` (the token is appended by PTB)."""
        return f"http://{self._host}:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for PTB's ``base_file_url``."""
        return f"http://{self._host}:{self._port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        """Return the bot's User object (the ``from`` of every message it sends)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    async def start(self) -> None:
        """Listen on the host and a free port (or the one given)."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1]
        _LOGGER.debug("Bot API emulator listening on %s", self.base_url)

    async def stop(self) -> None:
        """Stop the server, wake long polls and stop webhook delivery."""
        self._closing = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ acting as users

    def create_user(
        self,
        first_name: str = "Anna",
        *,
        user_id: int | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
        username: str | None = None,
    ) -> EmulatedUser:
        """Create a user and their private chat with the bot."""
        if user_id is None:
            user_id = 10_000 + len(self.users) + 1
            while user_id in self.users:
                user_id += 1
        if user_id in self.users:
            raise ValueError(f"user {user_id} already exists")
        user = EmulatedUser(
            emulator=self,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.users[user_id] = user
        self.chats[user_id] = Chat(
            id=user_id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
        )
        return user

    def create_group(
        self, title: str = "Learning group", *, supergroup: bool = False, chat_id: int | None = None
    ) -> Chat:
        """Create a group (or supergroup) chat the bot is a member of."""
        if chat_id is None:
            base = -1_000_000_000_000 if supergroup else -1
            chat_id = base - len(self.chats) - 1
        chat = Chat(id=chat_id, type="supergroup" if supergroup else "group", title=title)
        self.chats[chat_id] = chat
        return chat

    def create_channel(self, title: str = "City news", *, username: str | None = None) -> Chat:
        """Create a channel the bot is an administrator of."""
        chat_id = -1_001_000_000_000 - len(self.chats) - 1
        chat = Chat(id=chat_id, type="channel", title=title, username=username)
        self.chats[chat_id] = chat
        return chat

    async def post_to_channel(self, channel: Chat, text: str) -> dict[str, Any]:
        """Post ``text`` in a channel and deliver the ``channel_post`` update."""
        content: dict[str, Any] = {"text": text}
        if found := detect_entities(text):
            content["entities"] = found
        message = self.new_user_message(channel, None, content)
        return self.push_update("channel_post", message)

    def new_user_message(
        self, chat: Chat, sender: dict[str, Any] | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a message a user (or channel) wrote and return its Message object."""
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "date": self.now_timestamp(),
            "chat": chat.as_dict(),
        }
        if sender is not None:
            message["from"] = sender
        elif chat.type == "channel":
            message["sender_chat"] = chat.as_dict()
        message.update(content)
        chat.messages[message["message_id"]] = message
        chat.mark_user_action()
        return message

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update of the given type (``message``, ``callback_query``, ...) for the bot."""
        update = {"update_id": next(self._update_ids), kind: payload}
        self._pending.append(update)
        self._notify(_UPDATES)
        return update

    def new_callback_query(
        self, user: EmulatedUser, message: dict[str, Any], data: str | None
    ) -> dict[str, Any]:
        """Queue a ``callback_query`` for a button press and return the update."""
        query_id = str(next(self._ids) * 7919 + 1_000_000)
        query: dict[str, Any] = {
            "id": query_id,
            "from": user.as_user(),
            "message": message,
            "chat_instance": str(abs(message["chat"]["id"]) * 31 + 17),
        }
        if data is not None:
            query["data"] = data
        self.callback_queries[query_id] = query
        chat = self.chats[message["chat"]["id"]]
        chat.mark_user_action()
        return self.push_update("callback_query", query)

    def next_id(self) -> int:
        """Return a fresh number for ids (files, polls, callback queries)."""
        return next(self._ids)

    def store_file(
        self,
        content: bytes,
        *,
        folder: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        extension: str = "",
    ) -> StoredFile:
        """Keep ``content`` as a file the bot can fetch with ``getFile``."""
        number = next(self._ids)
        digest = hashlib.sha1(content).hexdigest()[:16]
        if not extension and file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=f"BQAC{number:06d}{digest}",
            file_unique_id=f"AgAD{digest[:12]}",
            file_path=f"{folder}/file_{number}{extension}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    # ------------------------------------------------------------------ reading

    def chat(self, chat_id: int) -> Chat:
        """Return a known chat."""
        try:
            return self.chats[chat_id]
        except KeyError:
            raise KeyError(f"no chat with id {chat_id}") from None

    def sent_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[BotMessage]:
        """Return the messages the bot sent to a chat, oldest first."""
        messages = self.chat(chat_id).bot_messages
        return [m for m in messages if include_deleted or not m.deleted]

    def last_message(self, chat_id: int) -> BotMessage:
        """Return the latest message the bot sent to a chat."""
        messages = self.sent_messages(chat_id)
        if not messages:
            raise LookupError(f"the bot sent nothing to chat {chat_id}")
        return messages[-1]

    def chat_actions(self, chat_id: int) -> list[str]:
        """Return the chat actions (``typing``, ...) the bot sent to a chat."""
        return list(self.chat(chat_id).actions)

    def mark(self, chat_id: int) -> int:
        """Return a cursor for ``wait_for(since=...)``: only messages sent after now count."""
        return len(self.chat(chat_id).bot_messages)

    async def wait_for(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float | None = None,
        predicate: Callable[[BotMessage], bool] | None = None,
        *,
        since: int | None = None,
    ) -> list[BotMessage]:
        """Wait until the bot has sent ``count`` matching messages to a chat and return them.

        Only messages sent after the latest user action in that chat count (or after ``since``,
        a value from ``mark``; ``since=0`` counts everything).
        """
        chat = self.chat(chat_id)
        start = chat.cursor if since is None else since
        timeout = self.default_timeout if timeout is None else timeout

        def matching() -> list[BotMessage]:
            found = [m for m in chat.bot_messages[start:] if predicate is None or predicate(m)]
            return found

        def ready() -> list[BotMessage] | None:
            found = matching()
            return found[:count] if len(found) >= count else None

        try:
            return await self.wait_until(ready, timeout=timeout, topic=chat_id)
        except EmulatorTimeout:
            got = [m.text for m in matching()]
            raise EmulatorTimeout(
                f"chat {chat_id}: expected {count} message(s) from the bot within {timeout}s, "
                f"got {len(got)}: {got!r}"
            ) from None

    async def wait_for_edits(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float | None = None,
        predicate: Callable[[BotMessage], bool] | None = None,
        *,
        since: int | None = None,
    ) -> list[BotMessage]:
        """Wait until the bot has edited ``count`` messages in a chat and return them.

        Counting starts at the latest user action in that chat (or at ``since``, a length of
        ``chat(chat_id).edit_log``); each item is the edited message as it stands now.
        """
        chat = self.chat(chat_id)
        start = chat.edit_cursor if since is None else since
        timeout = self.default_timeout if timeout is None else timeout

        def ready() -> list[BotMessage] | None:
            found = [m for m in chat.edit_log[start:] if predicate is None or predicate(m)]
            return found[:count] if len(found) >= count else None

        try:
            return await self.wait_until(ready, timeout=timeout, topic=chat_id)
        except EmulatorTimeout:
            raise EmulatorTimeout(
                f"chat {chat_id}: expected {count} edit(s) by the bot within {timeout}s, got "
                f"{len(chat.edit_log) - start}"
            ) from None

    async def wait_until(
        self,
        condition: Callable[[], _T | None],
        timeout: float | None = None,
        *,
        topic: object = None,
    ) -> _T:
        """Wait until ``condition()`` returns something truthy (re-checked on every change)."""
        if timeout is None:
            timeout = self.default_timeout
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
            waiters = self._waiters.setdefault(topic, set())
            waiters.add(future)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                pass
            finally:
                waiters.discard(future)

    async def wait_for_callback_answer(
        self, query_id: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """Wait until the bot answered a callback query and return the answer."""
        return await self.wait_until(lambda: self.callback_answers.get(query_id), timeout)

    @property
    def webhook_last_error(self) -> str | None:
        """Return the last webhook delivery error (as getWebhookInfo reports it)."""
        return self._webhook_errors[1] if self._webhook_errors else None

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Return the updates the bot has not confirmed yet."""
        return list(self._pending)

    def calls_to(self, method: str) -> list[ApiCall]:
        """Return the recorded calls of one method (case-insensitive name)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    # ------------------------------------------------------------- rate checks

    def send_times(self, chat_id: int | None = None) -> list[float]:
        """Return the monotonic times of messages put into a chat (or any chat)."""
        return [at for at, cid, _ in self.send_log if chat_id is None or cid == chat_id]

    def max_sends_in_window(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """Return the largest number of messages sent within any ``window`` seconds."""
        times = sorted(self.send_times(chat_id))
        best = 0
        left = 0
        for right, at in enumerate(times):
            while at - times[left] >= window:
                left += 1
            best = max(best, right - left + 1)
        return best

    def max_sends_per_chat_in_window(self, window: float = 1.0) -> int:
        """Return the worst per-chat count of messages within any ``window`` seconds."""
        chats = {cid for _, cid, _ in self.send_log}
        return max((self.max_sends_in_window(window, cid) for cid in chats), default=0)

    # ---------------------------------------------------------- error injection

    def block_chat(self, chat_id: int) -> None:
        """Make every send to this chat fail with 403 (the user blocked the bot)."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Let sends to this chat succeed again."""
        self._blocked.discard(chat_id)

    def flood(
        self,
        count: int = 1,
        retry_after: int = 1,
        *,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` matching calls with 429 "retry after ``retry_after``".

        By default every method except getUpdates, getMe and getWebhookInfo matches.
        """
        self._floods.append(
            {
                "count": count,
                "retry_after": retry_after,
                "methods": None if methods is None else {m.lower() for m in methods},
                "chat_id": chat_id,
            }
        )

    def fail(
        self,
        count: int = 1,
        error_code: int = 500,
        description: str = "Internal Server Error",
        *,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` matching calls with ``error_code`` (a 5xx by default).

        Matches like ``flood``; a large ``count`` makes the failure permanent.
        """
        self._floods.append(
            {
                "count": count,
                "retry_after": None,
                "error": (error_code, description),
                "methods": None if methods is None else {m.lower() for m in methods},
                "chat_id": chat_id,
            }
        )

    def limit_rate(
        self,
        *,
        per_chat: int | None = 1,
        overall: int | None = 30,
        window: float = 1.0,
        retry_after: int = 1,
    ) -> None:
        """Answer 429 to a message beyond ``per_chat`` per chat or ``overall`` per ``window``.

        Telegram enforces its limits loosely; this strict version lets tests prove the bot's
        rate limiter and ``RetryAfter`` handling work. ``per_chat=None, overall=None`` disables.
        """
        if per_chat is None and overall is None:
            self._rate_limit = None
        else:
            self._rate_limit = (per_chat, overall, window, retry_after)

    def set_delay(self, seconds: float, *, methods: Iterable[str] | None = None) -> None:
        """Delay answers to the given methods (all but getUpdates by default); 0 clears."""
        if seconds <= 0:
            self._delays.clear()
            return
        self._delays.append(
            (seconds, None if methods is None else frozenset(m.lower() for m in methods))
        )

    # ---------------------------------------------------------------- internals

    def now_timestamp(self) -> int:
        """Return the injected clock's time as a Unix timestamp (message dates)."""
        return int(self.clock().timestamp())

    def _notify(self, topic: object = None) -> None:
        """Wake waiters on ``topic`` and the ones waiting for any change (all if None)."""
        topics = list(self._waiters) if topic is None else [None, topic]
        for key in topics:
            waiters = self._waiters.get(key)
            if not waiters:
                continue
            for future in waiters:
                if not future.done():
                    future.set_result(None)
            waiters.clear()

    def _find_chat(self, params: Params, name: str = "chat_id") -> Chat:
        raw = params.values.get(name)
        if raw is None or raw == "":
            raise bad_request(f"{name} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for known in self.chats.values():
                if known.username and "@" + known.username.lower() == raw.lower():
                    return known
            raise bad_request("chat not found")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return json_response(ApiError(401, "Unauthorized").payload(), 401)
        handler = self._handlers.get(method.lower())
        if handler is None:
            # PTB reports a 404 as InvalidToken: leave a trace that names the real cause.
            _LOGGER.warning("Bot API emulator does not implement %s", method)
            self.calls.append(
                ApiCall(method, {}, self.monotonic(), False, 404, "Not Found (not emulated)")
            )
            return json_response(ApiError(404, "Not Found").payload(), 404)
        try:
            params = await read_params(request)
        except ApiError as error:
            return json_response(error.payload(), error.error_code)
        call = ApiCall(
            method=method,
            params=loggable(params),
            at=self.monotonic(),
            chat_id=maybe_int(params.values.get("chat_id")),
        )
        self.calls.append(call)
        try:
            await self._inject(method.lower(), params)
            result = await handler(params)
        except ApiError as error:
            call.ok = False
            call.error_code = error.error_code
            call.description = error.description
            self._notify("calls")
            return json_response(error.payload(), error.error_code)
        except Exception:
            # A bug in the emulator must not look like a network problem in the bot's tests.
            _LOGGER.exception("Bot API emulator failed on %s", method)
            call.ok = False
            call.error_code = 500
            call.description = "Internal Server Error"
            return json_response(ApiError(500, "Internal Server Error").payload(), 500)
        return json_response({"ok": True, "result": result}, 200)

    async def _inject(self, method: str, params: Params) -> None:
        for seconds, methods in self._delays:
            if (methods is None and method != "getupdates") or (methods and method in methods):
                await asyncio.sleep(seconds)
        chat_id = maybe_int(params.values.get("chat_id"))
        for flood in self._floods:
            if flood["methods"] is None:
                matches = method not in {"getupdates", "getme", "getwebhookinfo"}
            else:
                matches = method in flood["methods"]
            if flood["chat_id"] is not None:
                matches = matches and flood["chat_id"] == chat_id
            if matches and flood["count"] > 0:
                flood["count"] -= 1
                retry_after = flood["retry_after"]
                self._floods = [f for f in self._floods if f["count"] > 0]
                if flood.get("error") is not None:
                    raise ApiError(*flood["error"])
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
        if (
            chat_id is not None
            and chat_id in self._blocked
            and method.startswith(_BLOCKABLE_PREFIXES)
        ):
            chat = self.chats.get(chat_id)
            if chat is not None and chat.type == "channel":
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            if chat is not None and chat.type != "private":
                raise ApiError(403, "Forbidden: bot was kicked from the group chat")
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if self._rate_limit is not None and method in _MESSAGE_METHODS:
            self._check_rate(chat_id, *self._rate_limit)

    def _check_rate(
        self,
        chat_id: int | None,
        per_chat: int | None,
        overall: int | None,
        window: float,
        retry_after: int,
    ) -> None:
        now = self.monotonic()
        in_chat = in_all = 0
        for at, cid, _ in reversed(self.send_log):
            if now - at >= window:
                break
            in_all += 1
            in_chat += cid == chat_id
        if (per_chat is not None and in_chat >= per_chat) or (
            overall is not None and in_all >= overall
        ):
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return json_response(ApiError(401, "Unauthorized").payload(), 401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return json_response(ApiError(404, "Not Found").payload(), 404)
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    def _build_handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendlocation": self._send_location,
            "sendvenue": self._send_venue,
            "getfile": self._get_file,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "setmydescription": self._bot_text("description"),
            "setmyshortdescription": self._bot_text("short_description"),
            "setmyname": self._bot_text("name"),
            "getmydescription": self._get_bot_text("description"),
            "getmyshortdescription": self._get_bot_text("short_description"),
            "getmyname": self._get_bot_text("name"),
            "getchat": self._get_chat,
        }
        return handlers

    # ------------------------------------------------------------------ methods

    async def _true(self, params: Params) -> bool:
        return True

    async def _get_me(self, params: Params) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get_int("offset")
        limit = params.get_int("limit") or 100
        if not 1 <= limit <= 100:
            limit = 100
        timeout = max(0.0, params.get_float("timeout") or 0.0)
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if offset is not None:
            if offset < 0:
                self._pending = self._pending[offset:]
            else:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
        self._pending = [u for u in self._pending if self._is_allowed(u)]
        # A newer getUpdates ends an older one, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify(_UPDATES)
        if not self._pending and timeout > 0 and not self._closing:

            def arrived() -> bool:
                return bool(self._pending) or self._closing or generation != self._poll_generation

            with contextlib.suppress(EmulatorTimeout):
                await self.wait_until(arrived, timeout=timeout, topic=_UPDATES)
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            self._pending = [u for u in self._pending if self._is_allowed(u)]
        return self._pending[:limit]

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_EXCLUDED_UPDATES

    async def _set_webhook(self, params: Params) -> bool:
        url = params.get_str("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = params.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if params.get_bool("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.get_int("max_connections") or 40,
        }
        self._webhook_errors = None
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhooks())
        self._poll_generation += 1
        self._notify(_UPDATES)
        return True

    async def _delete_webhook(self, params: Params) -> bool:
        self.webhook = None
        if params.get_bool("drop_pending_updates"):
            self._pending.clear()
        self._notify(_UPDATES)
        return True

    async def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = self._allowed_updates
        if self._webhook_errors:
            info["last_error_date"], info["last_error_message"] = self._webhook_errors
        return info

    async def _deliver_webhooks(self) -> None:
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            while self.webhook is not None and not self._closing:
                self._pending = [u for u in self._pending if self._is_allowed(u)]
                if not self._pending:
                    with contextlib.suppress(EmulatorTimeout):
                        await self.wait_until(
                            lambda: bool(self._pending) or self.webhook is None or self._closing,
                            timeout=1.0,
                            topic=_UPDATES,
                        )
                    continue
                hook = self.webhook
                update = self._pending[0]
                headers = {}
                if hook["secret_token"]:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
                try:
                    async with session.post(hook["url"], json=update, headers=headers) as resp:
                        delivered = 200 <= resp.status < 300
                        error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
                except Exception as exc:  # any failure is reported like Telegram does
                    delivered = False
                    error = f"Connection failed: {type(exc).__name__}"
                if delivered:
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                    self._notify(_UPDATES)
                else:
                    self._webhook_errors = (self.now_timestamp(), error)
                    self._notify(_UPDATES)
                    await asyncio.sleep(self._webhook_retry_delay)

    # ------------------------------------------------------------ message methods

    def _reply_to(self, params: Params, chat: Chat) -> dict[str, Any] | None:
        reply = params.get_json("reply_parameters")
        message_id: int | None = None
        allow_missing = params.get_bool("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = maybe_int(reply.get("message_id"))
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        elif params.has("reply_to_message_id"):
            message_id = params.get_int("reply_to_message_id")
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _record_sent(
        self,
        chat: Chat,
        method: str,
        content: dict[str, Any],
        params: Params,
        *,
        source_key: str,
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": self.bot_user,
            "chat": chat.as_dict(),
            "date": self.now_timestamp(),
        }
        replied = self._reply_to(params, chat)
        if replied is not None:
            message["reply_to_message"] = replied
        message.update(content)
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        chat.messages[message["message_id"]] = message
        now = self.monotonic()
        chat.bot_messages.append(
            BotMessage(
                chat_id=chat.id,
                message_id=message["message_id"],
                method=method,
                data=message,
                source_text=params.get_str(source_key),
                parse_mode=params.get_str("parse_mode"),
                markup=markup,
                sent_at=now,
            )
        )
        self.send_log.append((now, chat.id, method))
        self._notify(chat.id)
        return message

    async def _send_message(self, params: Params) -> dict[str, Any]:
        chat = self._find_chat(params)
        text, entities = format_text(params, "text", "entities", MAX_TEXT, required=True)
        markup = parse_markup(params)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._record_sent(
            chat, "sendMessage", content, params, source_key="text", markup=markup
        )

    def _bot_message(self, params: Params, *, verb: str) -> tuple[Chat, BotMessage]:
        if params.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._find_chat(params)
        message_id = params.get_int("message_id", required=True)
        for sent in reversed(chat.bot_messages):
            if sent.message_id == message_id and not sent.deleted:
                return chat, sent
        if message_id in chat.messages:
            raise bad_request(f"message can't be {verb}ed")
        raise bad_request(f"message to {verb} not found")

    def _apply_edit(
        self,
        chat: Chat,
        sent: BotMessage,
        changes: dict[str, Any],
        markup: dict[str, Any] | None,
        params: Params,
        source_key: str | None,
    ) -> dict[str, Any]:
        old_inline = sent.data.get("reply_markup")
        new_inline = markup if markup is not None and "inline_keyboard" in markup else None
        if all(sent.data.get(k) == v for k, v in changes.items()) and old_inline == new_inline:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        sent.edits.append(dict(sent.data))
        data = dict(sent.data)
        for key, value in changes.items():
            if value in (None, []):
                data.pop(key, None)
            else:
                data[key] = value
        if new_inline is None:
            data.pop("reply_markup", None)
        else:
            data["reply_markup"] = new_inline
        data["edit_date"] = self.now_timestamp()
        sent.data = data
        sent.markup = new_inline
        chat.edit_log.append(sent)
        if source_key is not None:
            sent.source_text = params.get_str(source_key)
            sent.parse_mode = params.get_str("parse_mode")
        chat.messages[sent.message_id] = data
        self._notify(chat.id)
        return data

    async def _edit_message_text(self, params: Params) -> dict[str, Any]:
        chat, sent = self._bot_message(params, verb="edit")
        text, entities = format_text(params, "text", "entities", MAX_TEXT, required=True)
        markup = parse_markup(params)
        if "text" not in sent.data:
            raise bad_request("there is no text in the message to edit")
        changes = {"text": text, "entities": entities or None}
        if not entities and "entities" not in sent.data:
            changes.pop("entities")
        return self._apply_edit(chat, sent, changes, markup, params, "text")

    async def _edit_message_caption(self, params: Params) -> dict[str, Any]:
        chat, sent = self._bot_message(params, verb="edit")
        caption, entities = format_text(
            params, "caption", "caption_entities", MAX_CAPTION, required=False
        )
        markup = parse_markup(params)
        changes: dict[str, Any] = {"caption": caption, "caption_entities": entities or None}
        return self._apply_edit(chat, sent, changes, markup, params, "caption")

    async def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        chat, sent = self._bot_message(params, verb="edit")
        markup = parse_markup(params)
        return self._apply_edit(chat, sent, {}, markup, params, None)

    async def _delete_message(self, params: Params) -> bool:
        chat = self._find_chat(params)
        message_id = params.get_int("message_id", required=True)
        if message_id not in chat.messages:
            raise bad_request("message to delete not found")
        del chat.messages[message_id]
        for sent in chat.bot_messages:
            if sent.message_id == message_id:
                sent.deleted = True
        self._notify(chat.id)
        return True

    async def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.get_str("callback_query_id", required=True) or ""
        if query_id not in self.callback_queries or query_id in self.callback_answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": params.get_bool("show_alert"),
            "url": params.get_str("url"),
            "cache_time": params.get_int("cache_time"),
        }
        self._notify("callbacks")
        return True

    async def _send_chat_action(self, params: Params) -> bool:
        chat = self._find_chat(params)
        action = params.get_str("action", required=True)
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action or "")
        self._notify(chat.id)
        return True

    def _upload(self, params: Params, name: str) -> tuple[StoredFile | None, media.Upload | None]:
        """Return the stored file a parameter points to, or the new upload it carries."""
        upload = params.files.get(name)
        value = params.values.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"wrong file identifier/HTTP URL specified ({value})")
        if upload is not None:
            if not upload.content:
                raise bad_request("file must be non-empty")
            return None, upload
        if not value:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = self.files.get(str(value))
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored, None

    async def _send_document(self, params: Params) -> dict[str, Any]:
        chat = self._find_chat(params)
        stored, upload = self._upload(params, "document")
        if upload is not None:
            if len(upload.content) > 50 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            stored = self.store_file(
                upload.content,
                folder="documents",
                file_name=upload.filename,
                mime_type=upload.content_type or media.guess_mime(upload.filename),
            )
        assert stored is not None
        caption, entities = format_text(
            params, "caption", "caption_entities", MAX_CAPTION, required=False
        )
        markup = parse_markup(params)
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        content: dict[str, Any] = {"document": document}
        add_caption(content, caption, entities)
        return self._record_sent(
            chat, "sendDocument", content, params, source_key="caption", markup=markup
        )

    async def _send_photo(self, params: Params) -> dict[str, Any]:
        chat = self._find_chat(params)
        stored, upload = self._upload(params, "photo")
        if upload is not None:
            if len(upload.content) > 10 * 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            size = media.image_size(upload.content)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            stored = self.store_file(
                upload.content,
                folder="photos",
                file_name=upload.filename,
                mime_type=upload.content_type,
                extension=".jpg",
            )
        assert stored is not None
        width, height = media.image_size(stored.content) or (1, 1)
        caption, entities = format_text(
            params, "caption", "caption_entities", MAX_CAPTION, required=False
        )
        markup = parse_markup(params)
        photo = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content),
                "width": width,
                "height": height,
            }
        ]
        content: dict[str, Any] = {"photo": photo}
        add_caption(content, caption, entities)
        return self._record_sent(
            chat, "sendPhoto", content, params, source_key="caption", markup=markup
        )

    def _location(self, params: Params) -> dict[str, Any]:
        latitude = params.get_float("latitude", required=True)
        longitude = params.get_float("longitude", required=True)
        assert latitude is not None and longitude is not None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong location")
        return {"latitude": latitude, "longitude": longitude}

    async def _send_location(self, params: Params) -> dict[str, Any]:
        chat = self._find_chat(params)
        content = {"location": self._location(params)}
        markup = parse_markup(params)
        return self._record_sent(
            chat, "sendLocation", content, params, source_key="latitude", markup=markup
        )

    async def _send_venue(self, params: Params) -> dict[str, Any]:
        chat = self._find_chat(params)
        location = self._location(params)
        venue = {
            "location": location,
            "title": params.get_str("title", required=True),
            "address": params.get_str("address", required=True),
        }
        markup = parse_markup(params)
        return self._record_sent(
            chat,
            "sendVenue",
            {"venue": venue, "location": location},
            params,
            source_key="title",
            markup=markup,
        )

    async def _get_file(self, params: Params) -> dict[str, Any]:
        file_id = params.get_str("file_id", required=True) or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.content) > 20 * 1024 * 1024:
            raise bad_request("file is too big")
        return stored.as_file()

    # ---------------------------------------------------------- bot settings

    @staticmethod
    def _scope_key(params: Params) -> tuple[str, str]:
        scope = params.get_json("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        language = params.get_str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    async def _set_my_commands(self, params: Params) -> bool:
        commands = params.get_json("commands", error="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        clean = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not _COMMAND.fullmatch(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = self._scope_key(params)
        if clean:
            self.commands[key] = clean
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params) -> list[dict[str, Any]]:
        return list(self.commands.get(self._scope_key(params), []))

    async def _delete_my_commands(self, params: Params) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    def my_commands(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Return the commands the bot registered for a language and scope."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return list(self.commands.get(key, []))

    async def _set_chat_menu_button(self, params: Params) -> bool:
        chat_id = params.get_int("chat_id")
        if chat_id is not None and chat_id not in self.chats:
            raise bad_request("chat not found")
        button = params.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in {
            "default",
            "commands",
            "web_app",
        }:
            raise bad_request("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: Params) -> dict[str, Any]:
        chat_id = params.get_int("chat_id")
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "default"}))

    def _bot_text(self, field: str) -> Handler:
        async def handler(params: Params) -> bool:
            self.bot_texts[(field, params.get_str("language_code") or "")] = (
                params.get_str(field) or ""
            )
            return True

        return handler

    def _get_bot_text(self, field: str) -> Handler:
        async def handler(params: Params) -> dict[str, Any]:
            value = self.bot_texts.get((field, params.get_str("language_code") or ""), "")
            if field == "name" and not value:
                value = self.bot_first_name
            return {field: value}

        return handler

    async def _get_chat(self, params: Params) -> dict[str, Any]:
        chat = self._find_chat(params)
        return {
            **chat.as_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
