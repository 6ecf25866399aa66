"""The update processor: one chat's updates one after the other, different chats in parallel."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from telegram import Chat, Message, Update, User

from bot.chat_locks import lock_halves
from bot.chat_serial import ChatSerialProcessor, chat_of, serial_processor
from learncity.db import make_engine


def text_update(update_id: int, chat_id: int, text: str = "hi") -> Update:
    user = User(id=abs(chat_id), first_name="R", is_bot=False)
    chat = Chat(id=chat_id, type="private" if chat_id > 0 else "group")
    message = Message(message_id=update_id, date=dt.datetime.now(dt.UTC), chat=chat,
                      from_user=user, text=text)
    return Update(update_id=update_id, message=message)


class Log:
    """When each update's handling started and ended (monotonic seconds)."""

    def __init__(self) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.order: list[str] = []

    async def handle(self, name: str, seconds: float) -> None:
        started = time.monotonic()
        self.order.append(name)
        await asyncio.sleep(seconds)
        self.spans[name] = (started, time.monotonic())

    def overlap(self, first: str, second: str) -> bool:
        a, b = self.spans[first], self.spans[second]
        return a[0] < b[1] and b[0] < a[1]


async def test_updates_of_one_chat_run_one_after_the_other_in_arrival_order() -> None:
    processor = ChatSerialProcessor(8)
    log = Log()
    await asyncio.gather(*(
        processor.process_update(text_update(n, 42), log.handle(f"u{n}", 0.05)) for n in range(4)
    ))
    assert log.order == ["u0", "u1", "u2", "u3"]
    for n in range(3):
        assert not log.overlap(f"u{n}", f"u{n + 1}")


async def test_updates_of_different_chats_run_in_parallel() -> None:
    processor = ChatSerialProcessor(8)
    log = Log()
    started = time.monotonic()
    await asyncio.gather(*(
        processor.process_update(text_update(n, 100 + n), log.handle(f"c{n}", 0.2))
        for n in range(5)
    ))
    assert time.monotonic() - started < 0.6  # five 0.2 s updates, not one after the other
    assert log.overlap("c0", "c4")


async def test_a_chat_that_floods_does_not_take_every_slot() -> None:
    processor = ChatSerialProcessor(2)  # two updates at a time in all
    log = Log()
    flood = [processor.process_update(text_update(n, 7), log.handle(f"flood{n}", 0.05))
             for n in range(10)]
    other = processor.process_update(text_update(99, 8), log.handle("other", 0.0))
    await asyncio.gather(*flood, other)
    # The other chat's update waits for a slot, not for the flooding chat's ten updates.
    assert log.order.index("other") <= 2
    assert processor._chats == {}  # no lock kept for idle chats


async def test_updates_without_a_chat_are_handled_at_once() -> None:
    processor = ChatSerialProcessor(4)
    log = Log()
    await processor.process_update(object(), log.handle("odd", 0.0))
    assert log.order == ["odd"] and chat_of(object()) is None


async def test_an_error_in_one_update_does_not_block_the_chat() -> None:
    processor = ChatSerialProcessor(4)
    log = Log()

    async def broken() -> None:
        raise RuntimeError("handler bug")

    results = await asyncio.gather(
        processor.process_update(text_update(1, 5), broken()),
        processor.process_update(text_update(2, 5), log.handle("next", 0.0)),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError) and log.order == ["next"]


def test_sqlite_gets_no_cross_process_locks(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/bot.sqlite3")
    try:
        assert not serial_processor(engine=engine).shared
    finally:
        engine.dispose()


def test_lock_keys_are_the_chat_id_split_exactly() -> None:
    ids = [0, 1, -1, 2**31, -(2**31), 2**32 + 5, -1001234567890, 8_123_456_789, 2**63 - 1, -(2**63)]
    keys = [lock_halves(chat_id) for chat_id in ids]
    assert len(set(keys)) == len(ids)
    for high, low in keys:
        assert -(2**31) <= high < 2**31 and -(2**31) <= low < 2**31
    for chat_id, (high, low) in zip(ids, keys, strict=True):
        assert ((high << 32) | (low & 0xFFFFFFFF)) == chat_id
