"""python-telegram-bot persistence on the SQL database (SQLAlchemy), instead of a pickle file.

Data is stored as JSON, so only plain values may go into user_data / chat_data / bot_data.
Data is converted to JSON in the event loop (so nothing mutates it meanwhile); database calls run
in the database threads (`BlockingCalls`, with a deadline) so a slow disk or a locked database never
blocks the event loop nor the threads that compute answers. A write that fails raises
`DatabaseUnavailable` (PTB hands it to the error handler) and is kept: each persistence run (every
second) tries the kept writes again, until the database takes them or a newer write replaces them.

Replicas (PostgreSQL): memory is not the truth, another replica may have handled the chat's last
update. `refresh_user_data` / `refresh_chat_data` (PTB calls them once per update, before the
first handler) read the user's and the chat's rows into the very dicts the handlers get, and
`flush_update` (called by `bot.chat_serial` before the chat's lock is let go) writes them back at
once. PTB's periodic write then skips data unchanged since it was read or flushed, so a replica
never overwrites a newer state with the copy it kept in memory. On SQLite (one process) memory
stays the truth and both are no-ops.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any

from sqlalchemy import delete, select
from telegram.ext import BasePersistence, PersistenceInput

from bot.storage import BotDataRow, BotStorage, ChatDataRow, ConversationRow, UserDataRow
from learncity.db import BlockingCalls, DatabaseUnavailable, upsert

log = logging.getLogger(__name__)

Data = dict[str, Any]
# The shapes PTB uses for conversations (its own aliases live in a private module).
ConversationKey = tuple[int | str, ...]
ConversationDict = MutableMapping[ConversationKey, object]


def _key_text(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _key_tuple(text: str) -> ConversationKey:
    return tuple(json.loads(text))


def _text(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def _json_safe(value: Any) -> Any:
    # Tuples come back as lists: PTB compares conversation states by value, and ours are strings.
    return json.loads(json.dumps(value, default=str))


class SQLPersistence(BasePersistence[Data, Data, Data]):
    """Keep user, chat and bot data and conversation states in the bot's SQL tables."""

    def __init__(
        self,
        *,
        storage: BotStorage,
        update_interval: float = 1.0,
        run: BlockingCalls | None = None,
        refresh: bool | None = None,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=True, chat_data=True, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._storage = storage
        self._run = run or BlockingCalls()
        self._last_bot_data: str | None = None
        # Writes not done yet or refused, by what they write: the newest one per key wins.
        self._pending: dict[Hashable, Callable[[], None]] = {}
        # One write per key at a time (striped locks), so an older retry never lands last.
        self._stripes = [asyncio.Lock() for _ in range(64)]
        # Read per update and written back at its end (replicas); None: PostgreSQL only.
        self._refresh = (
            storage.engine.dialect.name == "postgresql" if refresh is None else refresh
        )
        # The dicts the current updates' handlers use, by ("user"|"chat", id), until flushed.
        self._live: dict[tuple[str, int], Data] = {}
        # The JSON text of each key as last read from or written to the database.
        self._known: dict[tuple[str, int], str] = {}

    def _lock(self, key: Hashable) -> asyncio.Lock:
        return self._stripes[hash(key) % len(self._stripes)]

    async def _write(self, key: Hashable, function: Callable[..., None], *args: Any) -> None:
        """Run one write; keep it for the next persistence run if the database refuses it."""
        write = functools.partial(function, *args)
        self._pending[key] = write
        async with self._lock(key):
            if self._pending.get(key) is not write:
                return  # a newer write for the same key came meanwhile: it writes the latest data
            await self._run(write)
            del self._pending[key]

    async def _retry_pending(self) -> None:
        """Try the kept writes again, oldest first; stop at the first refusal (still locked)."""
        for key, write in list(self._pending.items()):
            lock = self._lock(key)
            if lock.locked():
                continue  # being written right now
            async with lock:
                if self._pending.get(key) is not write:
                    continue
                try:
                    await self._run(write)
                except DatabaseUnavailable:
                    return
                del self._pending[key]

    # Loading

    def _load_user_data(self) -> dict[int, Data]:
        with self._storage.session() as session:
            rows = session.scalars(select(UserDataRow)).all()
            return {row.user_id: dict(row.data) for row in rows}

    def _load_chat_data(self) -> dict[int, Data]:
        with self._storage.session() as session:
            rows = session.scalars(select(ChatDataRow)).all()
            return {row.chat_id: dict(row.data) for row in rows}

    async def get_user_data(self) -> dict[int, Data]:
        """Return every user's data."""
        return await self._run(self._load_user_data)

    async def get_chat_data(self) -> dict[int, Data]:
        """Return every chat's data."""
        return await self._run(self._load_chat_data)

    def _load_bot_data(self) -> Data:
        with self._storage.session() as session:
            row = session.get(BotDataRow, 1)
            return dict(row.data) if row else {}

    async def get_bot_data(self) -> Data:
        """Return the bot-wide data."""
        data = await self._run(self._load_bot_data)
        self._last_bot_data = json.dumps(data, sort_keys=True, default=str)
        return data

    async def get_callback_data(self) -> None:
        """Return nothing: the bot does not use arbitrary callback data."""
        return None

    def _load_conversations(self, name: str) -> ConversationDict:
        with self._storage.session() as session:
            rows = session.scalars(select(ConversationRow).where(ConversationRow.name == name))
            return {_key_tuple(row.key): row.state for row in rows}

    async def get_conversations(self, name: str) -> ConversationDict:
        """Return the states of the conversation handler called `name`."""
        return await self._run(self._load_conversations, name)

    # Writing

    def _write_conversation(self, name: str, key: ConversationKey, state: object | None) -> None:
        key_text = _key_text(key)
        with self._storage.engine.begin() as connection:
            if state is None:
                connection.execute(
                    delete(ConversationRow).where(
                        ConversationRow.name == name, ConversationRow.key == key_text
                    )
                )
            else:
                upsert(connection, ConversationRow, {"name": name, "key": key_text},
                       {"state": state})

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Store (or, for None, delete) one conversation's state."""
        await self._write(
            ("conversation", name, key),
            self._write_conversation,
            name,
            key,
            None if new_state is None else _json_safe(new_state),
        )

    def _upsert(self, table: Any, key: dict[str, Any], values: dict[str, Any]) -> None:
        # Core statements, not the ORM: this runs for every active chat every second.
        with self._storage.engine.begin() as connection:
            upsert(connection, table, key, values)

    def _write_user_data(self, user_id: int, data: Data) -> None:
        self._upsert(UserDataRow.__table__, {"user_id": user_id}, {"data": data})

    def _write_chat_data(self, chat_id: int, data: Data) -> None:
        self._upsert(ChatDataRow.__table__, {"chat_id": chat_id}, {"data": data})

    async def update_user_data(self, user_id: int, data: Data) -> None:
        """Store one user's data (replicas: only when it changed since read or written)."""
        await self._update("user", user_id, data, self._write_user_data)

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        """Store one chat's data (replicas: only when it changed since read or written)."""
        await self._update("chat", chat_id, data, self._write_chat_data)

    async def _update(
        self, kind: str, key: int, data: Data, write: Callable[[int, Data], None]
    ) -> None:
        safe = _json_safe(data)
        name = (kind, key)
        if self._refresh:
            text = _text(safe)
            if self._known.get(name) == text and name not in self._pending:
                return  # what the database holds, or older than what another replica wrote
            self._known[name] = text
        await self._write(name, write, key, safe)

    def _write_bot_data(self, data: Data) -> None:
        with self._storage.session() as session, session.begin():
            row = session.get(BotDataRow, 1)
            if row is None:
                session.add(BotDataRow(id=1, data=data))
            else:
                row.data = data

    async def update_bot_data(self, data: Data) -> None:
        """Store the bot-wide data when it changed (PTB hands it over on every run).

        Every run also retries the writes the database refused before.
        """
        await self._retry_pending()
        text = json.dumps(data, sort_keys=True, default=str)
        if text == self._last_bot_data:
            return
        await self._run(self._write_bot_data, _json_safe(data))
        self._last_bot_data = text

    async def update_callback_data(self, data: object) -> None:
        """Do nothing: the bot does not use arbitrary callback data."""

    def _drop_user_data(self, user_id: int) -> None:
        with self._storage.session() as session, session.begin():
            session.execute(delete(UserDataRow).where(UserDataRow.user_id == user_id))

    def _drop_chat_data(self, chat_id: int) -> None:
        with self._storage.session() as session, session.begin():
            session.execute(delete(ChatDataRow).where(ChatDataRow.chat_id == chat_id))

    async def drop_user_data(self, user_id: int) -> None:
        """Delete one user's data."""
        self._known.pop(("user", user_id), None)
        await self._write(("user", user_id), self._drop_user_data, user_id)

    async def drop_chat_data(self, chat_id: int) -> None:
        """Delete one chat's data."""
        self._known.pop(("chat", chat_id), None)
        await self._write(("chat", chat_id), self._drop_chat_data, chat_id)

    def _read_row(self, table: Any, column: Any, key: int) -> Data | None:
        with self._storage.session() as session:
            row = session.scalar(select(table).where(column == key))
            return dict(row.data) if row is not None else None

    async def _refresh_one(self, kind: str, key: int, data: Data, table: Any, column: Any) -> None:
        if not self._refresh:
            return  # one process: memory is never stale
        name = (kind, key)
        if name in self._pending:
            return  # memory holds a write the database has not taken yet: it is newer
        try:
            stored = await self._run(self._read_row, table, column, key)
        except DatabaseUnavailable as error:
            log.warning("%s data not refreshed (memory used): %s", kind, error)
            return
        data.clear()
        data.update(stored or {})
        self._remember(name, data)
        self._live[name] = data

    def _remember(self, name: tuple[str, int], data: Data) -> None:
        if len(self._known) > 50_000:
            self._known.clear()  # cheap reset: at worst one write more
        self._known[name] = _text(data)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Read the user's data from the database into `user_data` (replicas only)."""
        await self._refresh_one("user", user_id, user_data, UserDataRow, UserDataRow.user_id)

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Read the chat's data from the database into `chat_data` (replicas only)."""
        await self._refresh_one("chat", chat_id, chat_data, ChatDataRow, ChatDataRow.chat_id)

    async def flush_update(self, *, user_id: int | None, chat_id: int | None) -> None:
        """Write back, now, the user's and chat's data an update changed (replicas only)."""
        for kind, key in (("user", user_id), ("chat", chat_id)):
            if key is None:
                continue
            data = self._live.pop((kind, key), None)
            if data is None:
                continue
            try:
                if kind == "user":
                    await self.update_user_data(key, data)
                else:
                    await self.update_chat_data(key, data)
            except DatabaseUnavailable as error:
                # Kept: the next persistence run retries it.
                log.warning("%s data not written back yet: %s", kind, error)

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Do nothing: this process is the only writer, so memory is never stale."""

    async def flush(self) -> None:
        """Try once more the writes the database refused (at shutdown)."""
        await self._retry_pending()
