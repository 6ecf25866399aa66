"""The chat locks across replicas on a real PostgreSQL: order, re-deliveries, a dead holder.

Two `ChatSerialProcessor`s with their own `ChatLocks` (own connections, so own sessions) stand for
two replicas; the handlers are plain coroutines that record when they ran.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import Engine, text
from telegram import Chat, Message, Update, User

from bot.chat_locks import ChatLocks, conninfo
from bot.chat_serial import ChatSerialProcessor


def text_update(update_id: int, chat_id: int) -> Update:
    user = User(id=chat_id, first_name="R", is_bot=False)
    chat = Chat(id=chat_id, type="private")
    message = Message(message_id=update_id, date=dt.datetime.now(dt.UTC), chat=chat,
                      from_user=user, text="hi")
    return Update(update_id=update_id, message=message)


class Spans:
    def __init__(self) -> None:
        self.runs: list[tuple[str, int, float, float]] = []  # who, update, from, to

    async def handle(self, who: str, update_id: int, seconds: float) -> None:
        started = time.monotonic()
        await asyncio.sleep(seconds)
        self.runs.append((who, update_id, started, time.monotonic()))


@pytest_asyncio.fixture
async def two_replicas(
    postgres_url: str, pg_engines: Callable[[], Engine]
) -> AsyncIterator[tuple[ChatSerialProcessor, ChatSerialProcessor]]:
    pg_engines()  # an empty database
    first = ChatSerialProcessor(16, locks=ChatLocks(database_url=postgres_url, order_wait=2.0))
    second = ChatSerialProcessor(16, locks=ChatLocks(database_url=postgres_url, order_wait=2.0))
    yield first, second
    await first.shutdown()
    await second.shutdown()


async def test_one_chat_across_two_replicas_runs_in_update_order(
    two_replicas: tuple[ChatSerialProcessor, ChatSerialProcessor],
) -> None:
    a, b = two_replicas
    spans = Spans()
    # The chat is busy on replica A (update 1) when update 3 reaches replica B, then update 2
    # reaches A: B gets the chat's lock first but lets the older update 2 go before it.
    busy = asyncio.create_task(a.process_update(text_update(1, 500), spans.handle("A", 1, 0.4)))
    await asyncio.sleep(0.1)
    third = asyncio.create_task(b.process_update(text_update(3, 500), spans.handle("B", 3, 0.1)))
    await asyncio.sleep(0.1)
    await a.process_update(text_update(2, 500), spans.handle("A", 2, 0.1))
    await asyncio.gather(busy, third)
    runs = sorted(spans.runs, key=lambda run: run[2])
    assert [run[1] for run in runs] == [1, 2, 3]
    for before, after in zip(runs, runs[1:], strict=False):
        assert before[3] <= after[2] + 0.01  # never at the same time


async def test_an_update_is_in_the_inbox_before_its_arrival_is_acknowledged(
    two_replicas: tuple[ChatSerialProcessor, ChatSerialProcessor],
) -> None:
    # PTB's webhook replies to Telegram once `put` returns; Telegram then posts the chat's next
    # update, perhaps to another replica, which must find this one waiting in the inbox.
    a, b = two_replicas
    spans = Spans()
    await a.arrivals.put(text_update(61, 650))  # accepted by A, not yet handled
    younger = asyncio.create_task(
        b.process_update(text_update(62, 650), spans.handle("B", 62, 0.0)))
    await asyncio.sleep(0.5)
    assert spans.runs == []  # B waits for A's older update of the chat
    older = await a.arrivals.get()
    await a.process_update(older, spans.handle("A", 61, 0.0))
    await younger
    assert [run[1] for run in spans.runs] == [61, 62]


async def test_different_chats_on_two_replicas_run_in_parallel(
    two_replicas: tuple[ChatSerialProcessor, ChatSerialProcessor],
) -> None:
    a, b = two_replicas
    spans = Spans()
    await asyncio.gather(
        a.process_update(text_update(11, 601), spans.handle("A", 11, 0.5)),
        b.process_update(text_update(12, 602), spans.handle("B", 12, 0.5)),
    )
    # The two handlers ran at the same time (whatever the connections took to open before).
    (_, _, first_from, first_to), (_, _, second_from, second_to) = sorted(
        spans.runs, key=lambda run: run[2]
    )
    assert second_from < first_to - 0.25


async def test_an_update_delivered_twice_is_handled_once(
    two_replicas: tuple[ChatSerialProcessor, ChatSerialProcessor],
) -> None:
    a, b = two_replicas
    spans = Spans()
    await a.process_update(text_update(21, 700), spans.handle("A", 21, 0.0))
    await b.process_update(text_update(21, 700), spans.handle("B", 21, 0.0))  # re-delivered
    assert [run[0] for run in spans.runs] == ["A"] and b.duplicates == 1


async def test_a_replica_killed_mid_update_does_not_block_the_chat(
    two_replicas: tuple[ChatSerialProcessor, ChatSerialProcessor], postgres_url: str
) -> None:
    a, b = two_replicas
    spans = Spans()
    stuck = asyncio.Event()

    async def hangs() -> None:
        stuck.set()
        await asyncio.sleep(3600)  # the replica's process dies before this ends

    dying = asyncio.create_task(a.process_update(text_update(31, 800), hangs()))
    await stuck.wait()
    # Replica A dies: PostgreSQL sees its sessions end (as when the process is killed).
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'learncity-chat-locks' AND pid <> pg_backend_pid()"
                      " AND state = 'idle in transaction'")
    started = time.monotonic()
    await b.process_update(text_update(32, 800), spans.handle("B", 32, 0.0))
    waited = time.monotonic() - started
    assert [run[1] for run in spans.runs] == [32]
    # B waited at most for the dead update's turn (order_wait), never for ever.
    assert waited < 3.0
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)


async def test_an_unreachable_lock_database_still_handles_the_update() -> None:
    locks = ChatLocks(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    processor = ChatSerialProcessor(4, locks=locks)
    spans = Spans()
    await processor.process_update(text_update(41, 900), spans.handle("X", 41, 0.0))
    assert [run[1] for run in spans.runs] == [41]


def test_the_inbox_is_created_in_the_database(postgres_url: str, pg_engines: Callable[[], Engine]
                                             ) -> None:
    engine = pg_engines()
    locks = ChatLocks(database_url=postgres_url)

    async def once() -> None:
        await locks.receive(chat_id=1, update_id=1)
        await locks.close()

    asyncio.run(once())
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM bot_chat_inbox")) == 1


class FakeApplication:
    """Stands for PTB's Application: the processor finds its update queue via the coroutine."""

    def __init__(self) -> None:
        self.update_queue: asyncio.Queue[Update] = asyncio.Queue()
        self.bot = None
        self.handled: list[int] = []

    async def process_update(self, update: Update) -> None:
        self.handled.append(update.update_id)


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
async def test_updates_a_dead_replica_had_accepted_are_taken_over(
    two_replicas: tuple[ChatSerialProcessor, ChatSerialProcessor], postgres_url: str
) -> None:
    a, b = two_replicas
    b.sweep_every = 0.5
    stuck = asyncio.Event()

    async def hangs() -> None:
        stuck.set()
        await asyncio.sleep(3600)

    # Replica A accepted update 51 (handling it when it dies) and 52 (queued behind it).
    dying = asyncio.create_task(a.process_update(text_update(51, 850), hangs()))
    await stuck.wait()
    queued = asyncio.create_task(a.process_update(text_update(52, 850), hangs()))
    await asyncio.sleep(0.2)
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'learncity-chat-locks'"
                      " AND pid <> pg_backend_pid()")
    dying.cancel()
    queued.cancel()
    await asyncio.gather(dying, queued, return_exceptions=True)
    a._sweeper = None  # replica A is gone: its sweeper with it
    # Replica B, alive, handles another chat's update: its sweeper starts and finds A's two.
    app = FakeApplication()
    await b.process_update(text_update(53, 851), app.process_update(text_update(53, 851)))
    taken = [await asyncio.wait_for(app.update_queue.get(), timeout=10) for _ in range(2)]
    assert [update.update_id for update in taken] == [51, 52]
    for update in taken:
        await b.process_update(update, app.process_update(update))
    assert app.handled == [53, 51, 52] and b.taken_over == 2
