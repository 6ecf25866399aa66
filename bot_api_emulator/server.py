"""The emulator: one object tests start, act through as users, read, and inject errors into.

``BotApiEmulator`` composes the pieces and offers the public API; the pieces are the shared
``World`` (chats, messages, files, updates), the transport (``transport.http_server``,
``transport.long_polling``, ``transport.webhook_delivery``), the Bot API method groups
(``methods.*``) and the injected ``Faults``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from bot_api_emulator.entities import detect_entities
from bot_api_emulator.faults import Faults
from bot_api_emulator.methods import MethodGroup, merged_handlers
from bot_api_emulator.methods.attachments import AttachmentMethods
from bot_api_emulator.methods.bot_profile import BotProfileMethods
from bot_api_emulator.methods.callbacks import CallbackMethods
from bot_api_emulator.methods.chats import ChatMethods
from bot_api_emulator.methods.messages import MessageMethods
from bot_api_emulator.methods.webhook import WebhookMethods
from bot_api_emulator.state import ApiCall, BotMessage, Chat, StoredFile
from bot_api_emulator.transport.http_server import HttpServer
from bot_api_emulator.transport.long_polling import LongPolling
from bot_api_emulator.transport.webhook_delivery import WebhookDelivery
from bot_api_emulator.users import EmulatedUser
from bot_api_emulator.world import DEFAULT_TOKEN, Clock, World

__all__ = ["DEFAULT_TOKEN", "BotApiEmulator"]  # DEFAULT_TOKEN: imported from here by callers

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")


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
        webhook_targets: Sequence[str] = (),
        default_timeout: float = 5.0,
    ) -> None:
        self._world = World(
            token=token,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            clock=clock,
            monotonic=monotonic,
        )
        #: Seconds ``wait_for`` and friends wait when no ``timeout`` is given.
        self.default_timeout = default_timeout
        self.users: dict[int, EmulatedUser] = {}
        self._faults = Faults(self._world)
        self._webhooks = WebhookDelivery(
            self._world, retry_delay=webhook_retry_delay, targets=list(webhook_targets)
        )
        self._profile = BotProfileMethods(self._world)
        groups: list[MethodGroup] = [
            self._profile,
            LongPolling(self._world, self._webhooks),
            WebhookMethods(self._world, self._webhooks),
            MessageMethods(self._world),
            CallbackMethods(self._world),
            ChatMethods(self._world),
            AttachmentMethods(self._world),
        ]
        self._http = HttpServer(
            world=self._world,
            handlers=merged_handlers(groups),
            faults=self._faults,
            host=host,
            port=port,
        )

    # ----------------------------------------------------------------- identity

    @property
    def token(self) -> str:
        """Return the bot token the emulator accepts."""
        return self._world.token

    @property
    def bot_id(self) -> int:
        """Return the bot's user id (the token's number)."""
        return self._world.bot_id

    @property
    def bot_username(self) -> str:
        """Return the bot's username (without ``@``)."""
        return self._world.bot_username

    @property
    def bot_first_name(self) -> str:
        """Return the bot's display name."""
        return self._world.bot_first_name

    @property
    def bot_user(self) -> dict[str, Any]:
        """Return the bot's User object (the ``from`` of every message it sends)."""
        return self._world.bot_user

    @property
    def clock(self) -> Clock:
        """Return the clock that dates messages."""
        return self._world.clock

    @property
    def monotonic(self) -> Callable[[], float]:
        """Return the clock that times calls and sends."""
        return self._world.monotonic

    # ----------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on (after ``start``)."""
        return self._http.port

    @property
    def base_url(self) -> str:
        """Return the value for PTB's ``base_url`` (the token is appended by PTB)."""
        return f"http://{self._http.host}:{self._http.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for PTB's ``base_file_url``."""
        return f"http://{self._http.host}:{self._http.port}/file/bot"

    async def start(self) -> None:
        """Listen on the host and a free port (or the one given)."""
        await self._http.start()
        _LOGGER.debug("Bot API emulator listening on %s", self.base_url)

    async def stop(self) -> None:
        """Stop the server, wake long polls and stop webhook delivery."""
        self._world.closing = True
        self._world.notify()
        await self._webhooks.stop()
        await self._http.stop()

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
        return self._world.new_user_message(chat, sender, content)

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update of the given type (``message``, ``callback_query``, ...) for the bot."""
        return self._world.updates.push(kind, payload)

    def new_callback_query(
        self, user: EmulatedUser, message: dict[str, Any], data: str | None
    ) -> dict[str, Any]:
        """Queue a ``callback_query`` for a button press and return the update."""
        return self._world.new_callback_query(user.as_user(), message, data)

    def next_id(self) -> int:
        """Return a fresh number for ids (files, polls, callback queries)."""
        return self._world.next_id()

    def now_timestamp(self) -> int:
        """Return the injected clock's time as a Unix timestamp (message dates)."""
        return self._world.now_timestamp()

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
        return self._world.store_file(
            content, folder=folder, file_name=file_name, mime_type=mime_type, extension=extension
        )

    # ------------------------------------------------------------------ reading

    @property
    def chats(self) -> dict[int, Chat]:
        """Return every known chat by id."""
        return self._world.chats

    @property
    def calls(self) -> list[ApiCall]:
        """Return every request the bot made, with its outcome, oldest first."""
        return self._world.calls

    @property
    def files(self) -> dict[str, StoredFile]:
        """Return every stored file by ``file_id``."""
        return self._world.files

    @property
    def callback_queries(self) -> dict[str, dict[str, Any]]:
        """Return the callback queries users' button presses created, by query id."""
        return self._world.callback_queries

    @property
    def callback_answers(self) -> dict[str, dict[str, Any]]:
        """Return the bot's answers to callback queries by query id."""
        return self._world.callback_answers

    @property
    def commands(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Return the registered commands by (scope as JSON, language code)."""
        return self._profile.commands

    @property
    def menu_buttons(self) -> dict[int | None, dict[str, Any]]:
        """Return the menu buttons by chat id (None: the default)."""
        return self._profile.menu_buttons

    @property
    def bot_texts(self) -> dict[tuple[str, str], str]:
        """Return the bot's name and descriptions by (field, language code)."""
        return self._profile.bot_texts

    @property
    def send_log(self) -> list[tuple[float, int, str]]:
        """Return (monotonic time, chat id, method) of every message the bot put into a chat."""
        return self._world.send_log.entries

    @property
    def webhook(self) -> dict[str, Any] | None:
        """Return the webhook the bot set (url, secret_token, max_connections), if any."""
        webhook = self._webhooks.webhook
        return None if webhook is None else webhook.as_dict()

    @property
    def webhook_targets(self) -> list[str]:
        """Return the URLs webhook updates are spread over, round-robin (empty: the bot's URL).

        Set it to play a load balancer in front of several replicas: each update goes to the next
        target; one that fails is skipped for that update (failover).
        """
        return list(self._webhooks.targets)

    @webhook_targets.setter
    def webhook_targets(self, targets: Sequence[str]) -> None:
        self._webhooks.targets = list(targets)

    @property
    def webhook_deliveries(self) -> dict[str, int]:
        """Return how many updates each webhook target accepted, by URL."""
        return dict(self._webhooks.delivered_to)

    @property
    def webhook_last_error(self) -> str | None:
        """Return the last webhook delivery error (as getWebhookInfo reports it)."""
        error = self._webhooks.last_error
        return error[1] if error else None

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Return the updates the bot has not confirmed yet."""
        return list(self._world.updates.pending)

    def chat(self, chat_id: int) -> Chat:
        """Return a known chat."""
        return self._world.chat(chat_id)

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

    def calls_to(self, method: str) -> list[ApiCall]:
        """Return the recorded calls of one method (case-insensitive name)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def my_commands(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Return the commands the bot registered for a language and scope."""
        return self._profile.my_commands(language_code, scope)

    # ------------------------------------------------------------------ waiting

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
        return await self._world.waiters.bot_messages(
            chat,
            count=count,
            timeout=self.default_timeout if timeout is None else timeout,
            predicate=predicate,
            start=chat.cursor if since is None else since,
        )

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
        return await self._world.waiters.bot_edits(
            chat,
            count=count,
            timeout=self.default_timeout if timeout is None else timeout,
            predicate=predicate,
            start=chat.edit_cursor if since is None else since,
        )

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
        return await self._world.waiters.wait_until(condition, timeout, topic=topic)

    async def wait_for_callback_answer(
        self, query_id: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """Wait until the bot answered a callback query and return the answer."""
        return await self.wait_until(lambda: self.callback_answers.get(query_id), timeout)

    # ------------------------------------------------------------- rate checks

    def send_times(self, chat_id: int | None = None) -> list[float]:
        """Return the monotonic times of messages put into a chat (or any chat)."""
        return self._world.send_log.times(chat_id)

    def max_sends_in_window(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """Return the largest number of messages sent within any ``window`` seconds."""
        return self._world.send_log.max_in_window(window, chat_id)

    def max_sends_per_chat_in_window(self, window: float = 1.0) -> int:
        """Return the worst per-chat count of messages within any ``window`` seconds."""
        return self._world.send_log.max_per_chat_in_window(window)

    # ---------------------------------------------------------- error injection

    def block_chat(self, chat_id: int) -> None:
        """Make every send to this chat fail with 403 (the user blocked the bot)."""
        self._faults.block_chat(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Let sends to this chat succeed again."""
        self._faults.unblock_chat(chat_id)

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
        self._faults.flood(count, retry_after, methods=methods, chat_id=chat_id)

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
        self._faults.fail(count, error_code, description, methods=methods, chat_id=chat_id)

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
        self._faults.limit_rate(
            per_chat=per_chat, overall=overall, window=window, retry_after=retry_after
        )

    def set_delay(self, seconds: float, *, methods: Iterable[str] | None = None) -> None:
        """Delay answers to the given methods (all but getUpdates by default); 0 clears."""
        self._faults.set_delay(seconds, methods=methods)

