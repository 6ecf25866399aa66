"""One contract for every SQL store, run against SQLite (the default) and a real PostgreSQL.

The stores (bot storage and PTB persistence, flows, reminders) sit on SQLAlchemy; what a resident
relies on must hold on both: data written is read back, aware datetimes stay aware and mean the
same instant, unique records stay unique, and /forget deletes exactly that user's rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from bot.persistence import SQLPersistence
from bot.storage import BotStorage, FeedbackRow, UserRow
from flows.engine import Progress
from flows.store import FlowStore, ProgressRow
from learncity.content.loader import load_knowledge
from learncity.db import Base, create_schema, make_engine
from reminders.clock import ManualClock
from reminders.service import ReminderService
from reminders.store import (
    Delivery,
    DigestPreference,
    Reminder,
    ReminderStore,
    Subscription,
    UserReminderOffsets,
)

ROME = ZoneInfo("Europe/Rome")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14: a zone far from UTC shows zone mix-ups
# Telegram ids above 2**31 (users) and below -2**31 (supergroups): 32-bit columns would overflow.
ALICE, BOB = 7_123_456_789, 6_987_654_321
GROUP = -1_001_234_567_890


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Return an engine on an empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    if request.param == "postgresql":
        Base.metadata.drop_all(engine)  # one database per session: start each test empty
    yield engine
    engine.dispose()


def _count(engine: Engine, model: type[Base], **where: object) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


# Schema


def test_create_schema_creates_every_table_and_can_run_again(engine: Engine) -> None:
    create_schema(engine)
    create_schema(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_each_store_creates_its_own_tables_on_an_empty_database(engine: Engine) -> None:
    BotStorage(engine=engine).create_tables()
    FlowStore(engine=engine).create_schema()
    ReminderStore(engine=engine).create_schema()
    create_schema(engine)
    names = set(inspect(engine).get_table_names())
    assert {"bot_users", "bot_conversations", "flow_progress", "flow_results", "reminders",
            "reminder_deliveries"} <= names


# Bot storage


@pytest.fixture
def storage(engine: Engine) -> BotStorage:
    """Return the bot's store with its tables."""
    store = BotStorage(engine=engine)
    store.create_tables()
    return store


def test_bot_storage_reads_back_users_after_a_restart(storage: BotStorage) -> None:
    storage.set_language(ALICE, "it")
    for topic in [f"topic-{n}" for n in range(12)] + ["topic-3", "città"]:
        storage.add_interest(ALICE, topic, language="it")
    restarted = BotStorage(engine=storage.engine)
    assert restarted.language_of(ALICE) == "it"
    assert restarted.language_of(BOB) is None
    described = restarted.describe_user(ALICE)
    assert described["language"] == "it"
    interests = described["interests"]
    assert isinstance(interests, list) and len(interests) == 10
    assert interests[-2:] == ["topic-3", "città"]
    assert described["since"] == dt.datetime.now(dt.UTC).date().isoformat()


def test_feedback_is_one_row_per_answer_and_the_constraint_holds(storage: BotStorage) -> None:
    storage.record_feedback(user_id=ALICE, answer_id="a1", helpful=True)
    storage.record_feedback(user_id=ALICE, answer_id="a1", helpful=False)
    assert storage.record_reason(user_id=ALICE, answer_id="a1", reason="not my district")
    assert not storage.record_reason(user_id=ALICE, answer_id="gone", reason="x")
    assert _count(storage.engine, FeedbackRow, user_id=ALICE) == 1
    stats = storage.stats()
    assert (stats.helpful, stats.not_helpful, stats.reasons) == (0, 1, 1)
    with pytest.raises(IntegrityError), storage.session() as session, session.begin():
        session.add(FeedbackRow(user_id=ALICE, answer_id="a1", helpful=True, abstained=False))


def test_stats_count_questions_and_keep_unanswered_ones_anonymised(storage: BotStorage) -> None:
    storage.set_language(ALICE, "en")
    storage.log_question(lang="it", abstained=False, latency_ms=12.5)
    storage.log_question(lang="en", abstained=True, latency_ms=30.0, text="call me 3331234567")
    storage.log_question(lang="en", abstained=True, latency_ms=8.0, text="mail a@b.it please")
    stats = storage.stats(days=7)
    assert (stats.users, stats.questions, stats.abstained) == (1, 3, 2)
    assert stats.questions_per_day == [(dt.datetime.now(dt.UTC).date(), 3)]
    assert storage.unanswered() == ["mail <email> please", "call me <number>"]


def test_stats_window_means_the_same_instant_whatever_the_zone_of_now(
    storage: BotStorage,
) -> None:
    storage.log_question(lang="it", abstained=False, latency_ms=1.0)
    asked = dt.datetime.now(dt.UTC)
    # A one-day window that starts 30 minutes before the question, given in UTC+14.
    now = (asked + dt.timedelta(days=1) - dt.timedelta(minutes=30)).astimezone(KIRITIMATI)
    assert sum(count for _day, count in storage.stats(days=1, now=now).questions_per_day) == 1


def test_bot_storage_forgets_exactly_one_user(storage: BotStorage) -> None:
    for user in (ALICE, BOB):
        storage.set_language(user, "en")
        storage.record_feedback(user_id=user, answer_id="a1", helpful=True)
    storage.log_question(lang="en", abstained=True, latency_ms=1.0, text="no user id here")
    removed = storage.forget_user(ALICE)
    assert removed == 2
    assert storage.describe_user(ALICE) == {}
    assert storage.language_of(ALICE) is None
    assert storage.describe_user(BOB)["feedback"] == 1
    assert storage.language_of(BOB) == "en"
    assert storage.unanswered() == ["no user id here"]
    assert storage.forget_user(ALICE) == 0


# PTB persistence


async def test_persistence_survives_a_restart(storage: BotStorage) -> None:
    persistence = SQLPersistence(storage=storage)
    await persistence.update_user_data(ALICE, {"lang": "it", "page": 2, "seen": ("a", "b")})
    await persistence.update_user_data(ALICE, {"lang": "it", "page": 3})
    await persistence.update_chat_data(GROUP, {"menu": "events"})
    await persistence.update_bot_data({"announced": ["v1"]})
    await persistence.update_conversation("assessment", (ALICE, ALICE), "ASKING")
    await persistence.update_conversation("assessment", (BOB, BOB), "ASKING")
    await persistence.update_conversation("assessment", (BOB, BOB), None)

    restarted = SQLPersistence(storage=BotStorage(engine=storage.engine))
    assert await restarted.get_user_data() == {ALICE: {"lang": "it", "page": 3}}
    assert await restarted.get_chat_data() == {GROUP: {"menu": "events"}}
    assert await restarted.get_bot_data() == {"announced": ["v1"]}
    assert await restarted.get_conversations("assessment") == {(ALICE, ALICE): "ASKING"}
    assert await restarted.get_conversations("other") == {}
    await restarted.drop_user_data(ALICE)
    await restarted.drop_chat_data(GROUP)
    assert await restarted.get_user_data() == {}
    assert await restarted.get_chat_data() == {}


async def test_forget_user_removes_their_persisted_state_only(storage: BotStorage) -> None:
    persistence = SQLPersistence(storage=storage)
    for user in (ALICE, BOB):
        await persistence.update_user_data(user, {"step": 1})
        await persistence.update_chat_data(user, {"menu": "home"})  # private chat id == user id
        await persistence.update_conversation("assessment", (user, user), "ASKING")
    await persistence.update_conversation("assessment", (GROUP, BOB), "ASKING")
    assert storage.describe_user(ALICE) == {"conversation_state": True}
    assert storage.forget_user(ALICE) == 3
    assert await persistence.get_user_data() == {BOB: {"step": 1}}
    assert await persistence.get_chat_data() == {BOB: {"menu": "home"}}
    assert set(await persistence.get_conversations("assessment")) == {(BOB, BOB), (GROUP, BOB)}


def _at_once(*calls: Callable[[int], object], rounds: int = 20) -> list[str]:
    """Run the calls (given the round number) in threads released together; return the errors."""
    errors: list[str] = []

    def run(call: Callable[[int], object], round_: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            call(round_)
        except Exception as error:  # collected for the assertion
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

    for round_ in range(rounds):
        barrier = threading.Barrier(len(calls))
        threads = [threading.Thread(target=run, args=(call, round_, barrier)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return errors


def test_a_double_tap_writes_one_row_and_raises_nothing(storage: BotStorage) -> None:
    # Handlers run these in worker threads (asyncio.to_thread) and PTB handles updates
    # concurrently: two taps of the same button are two writes of the same new key at once.
    first_visit = [lambda r: storage.set_language(ALICE + r, "it")] * 2
    vote = [lambda r: storage.record_feedback(user_id=BOB, answer_id=f"a{r}", helpful=True)] * 2
    assert _at_once(*first_visit) == []
    assert _at_once(*vote) == []
    assert _count(storage.engine, UserRow) == 20
    assert _count(storage.engine, FeedbackRow, user_id=BOB) == 20


async def test_concurrent_persistence_writes_of_a_new_key_raise_nothing(
    storage: BotStorage,
) -> None:
    persistence = SQLPersistence(storage=storage)
    loop = asyncio.get_running_loop()

    def user_data(r: int) -> None:
        asyncio.run_coroutine_threadsafe(
            persistence.update_user_data(ALICE + r, {"step": r}), loop
        ).result()

    def conversation(r: int) -> None:
        asyncio.run_coroutine_threadsafe(
            persistence.update_conversation("assessment", (ALICE + r, ALICE + r), "ASKING"), loop
        ).result()

    errors = await asyncio.to_thread(_at_once, user_data, user_data)
    errors += await asyncio.to_thread(_at_once, conversation, conversation)
    assert errors == []
    assert len(await persistence.get_user_data()) == 20
    assert len(await persistence.get_conversations("assessment")) == 20


# Flows


@pytest.fixture
def flows(engine: Engine) -> FlowStore:
    """Return the flows' store with its tables."""
    store = FlowStore(engine=engine)
    store.create_schema()
    return store


def _progress(flow_id: str, updated: dt.datetime, answers: dict[str, int]) -> Progress:
    return Progress(flow_id=flow_id, version=1, position=len(answers), answers=answers,
                    started_at=updated - dt.timedelta(minutes=5), updated_at=updated)


def test_flow_progress_round_trips_aware_and_is_replaced_not_duplicated(
    flows: FlowStore, engine: Engine
) -> None:
    first = _progress("lifecomp", dt.datetime(2026, 11, 2, 18, 0, tzinfo=ROME), {"q1": 3})
    later = _progress("lifecomp", dt.datetime(2026, 11, 2, 18, 5, tzinfo=ROME), {"q1": 3, "q2": 5})
    other = _progress("digital", dt.datetime(2026, 11, 1, 9, 0, tzinfo=KIRITIMATI), {})
    flows.save_progress(ALICE, first)
    flows.save_progress(ALICE, other)
    flows.save_progress(ALICE, later)
    loaded = flows.load_progress(ALICE, "lifecomp")
    assert loaded == later
    assert loaded is not None and loaded.updated_at.utcoffset() is not None
    assert [p.flow_id for p in flows.progress_of(ALICE)] == ["lifecomp", "digital"]
    assert flows.load_progress(BOB, "lifecomp") is None
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        session.add(ProgressRow(user_id=ALICE, flow_id="lifecomp", state="{}",
                                updated_at=dt.datetime.now(dt.UTC)))
    assert flows.delete_progress(ALICE, "digital")
    assert not flows.delete_progress(ALICE, "digital")


def test_flow_results_keep_the_instant_and_come_back_aware_latest_first(flows: FlowStore) -> None:
    flows.save_progress(ALICE, _progress("lifecomp", dt.datetime(2026, 11, 2, 18, tzinfo=ROME),
                                         {"q1": 4}))
    finished = dt.datetime(2026, 11, 2, 23, 30, tzinfo=ROME)  # 22:30 UTC
    saved = flows.finish(ALICE, flow_id="lifecomp", history_key="lifecomp-v1", version=1,
                         finished_at=finished, means={"social": 3.66666, "learning": 4.0})
    flows.finish(ALICE, flow_id="lifecomp", history_key="lifecomp-v1", version=1,
                 finished_at=finished + dt.timedelta(days=1), means={"social": 4.0})
    flows.finish(ALICE, flow_id="digital", history_key="digital-v1", version=1,
                 finished_at=finished - dt.timedelta(days=1), means={})
    assert saved.finished_at == finished and saved.finished_at.tzinfo is not None
    assert saved.means == {"social": 3.667, "learning": 4.0}
    assert flows.load_progress(ALICE, "lifecomp") is None
    results = flows.results(ALICE, history_key="lifecomp-v1")
    assert [r.finished_at for r in results] == [finished + dt.timedelta(days=1), finished]
    assert all(r.finished_at.tzinfo is not None for r in flows.results(ALICE))
    assert [r.flow_id for r in flows.results(ALICE, limit=3)] == ["lifecomp", "lifecomp",
                                                                   "digital"]
    assert flows.results(BOB) == []


def test_flow_store_forgets_exactly_one_user(flows: FlowStore) -> None:
    for user in (ALICE, BOB):
        flows.save_progress(user, _progress("lifecomp", dt.datetime.now(dt.UTC), {"q1": 2}))
        flows.finish(user, flow_id="digital", history_key="digital-v1", version=1,
                     finished_at=dt.datetime.now(dt.UTC), means={"a": 1.0})
    described = flows.describe_user(ALICE)
    assert described["assessments_in_progress"] == [{"flow": "lifecomp", "answers": 1}]
    assert len(described["assessment_results"]) == 1  # type: ignore[arg-type]
    assert flows.forget_user(ALICE) == 2
    assert flows.describe_user(ALICE) == {"assessments_in_progress": [], "assessment_results": []}
    assert flows.load_progress(BOB, "lifecomp") is not None
    assert len(flows.results(BOB)) == 1


# Reminders

EVENTS = """\
events:
  - id: laboratorio-ceramica
    title: {it: "Laboratorio di ceramica", en: "Pottery workshop"}
    description: Una prova.
    topics: [making]
    audiences: [everyone]
    venue: {name: Biblioteca Ursino Recupero}
    start: "2026-12-05T10:00:00"
"""
CONTACTS = """\
contacts:
  - id: urp
    name: Ufficio Relazioni con il Pubblico
    kind: general
    phone: 095 000 0000
"""


@pytest.fixture
def reminder_service(engine: Engine, tmp_path: Path) -> ReminderService:
    """Return the reminder service on the engine, with one event on 5 December 10:00 (Rome)."""
    root = tmp_path / "knowledge"
    (root / "events").mkdir(parents=True)
    (root / "contacts.yaml").write_text(CONTACTS, encoding="utf-8")
    (root / "events" / "ceramica.yaml").write_text(EVENTS, encoding="utf-8")
    kb = load_knowledge(root)
    assert not kb.errors, [str(error) for error in kb.errors]
    store = ReminderStore(engine=engine)
    store.create_schema()
    clock = ManualClock(dt.datetime(2026, 11, 2, 12, 0, tzinfo=ROME))
    return ReminderService(store=store, knowledge=lambda: kb, clock=clock, zone=ROME)


def _restarted(service: ReminderService) -> ReminderService:
    return ReminderService(store=ReminderStore(engine=service.store.engine),
                           knowledge=service._knowledge,  # noqa: SLF001 - same folder
                           clock=service.clock, zone=ROME)


def test_subscriptions_round_trip_as_aware_instants(reminder_service: ReminderService) -> None:
    confirmation = reminder_service.subscribe(
        user_id=ALICE, chat_id=ALICE, event_id="laboratorio-ceramica", lang="en"
    )
    start = dt.datetime(2026, 12, 5, 10, 0, tzinfo=ROME)
    assert confirmation.starts_at == start
    again = reminder_service.subscribe(
        user_id=ALICE, chat_id=ALICE, event_id="laboratorio-ceramica", lang="en"
    )
    assert again.already and again.subscription_id == confirmation.subscription_id
    [upcoming] = _restarted(reminder_service).upcoming(ALICE)
    assert upcoming.starts_at == start and upcoming.starts_at.tzinfo is not None
    with reminder_service.store.session() as session:
        sub = session.scalars(select(Subscription)).one()
        assert sub.occurrence_start == start and sub.occurrence_start.utcoffset() is not None
        dues = sorted(session.scalars(select(Reminder.due_at)).all())
    assert dues == [start - dt.timedelta(days=1), start - dt.timedelta(hours=1)]
    assert all(due.tzinfo is not None for due in dues)


def test_reminders_store_rejects_naive_datetimes(reminder_service: ReminderService) -> None:
    with pytest.raises(StatementError, match="naive datetime"), \
            reminder_service.store.session() as session:
        session.add(Subscription(user_id=ALICE, chat_id=ALICE, lang="en", target_kind="event",
                                 target_id="x", occurrence_start=dt.datetime(2026, 12, 5, 10),
                                 offsets="1d", created_at=dt.datetime.now(dt.UTC)))
        session.flush()


def test_a_reminder_is_delivered_once_across_restarts(reminder_service: ReminderService) -> None:
    reminder_service.subscribe(user_id=ALICE, chat_id=ALICE, event_id="laboratorio-ceramica",
                               lang="en")
    due = dt.datetime(2026, 12, 4, 10, 0, tzinfo=ROME)
    assert reminder_service.due(due - dt.timedelta(minutes=1)) == []
    [message] = reminder_service.due(due)
    assert message.chat_id == ALICE and message.due_at == due
    assert reminder_service.due(due) == []  # claimed: not handed out twice

    crashed = _restarted(reminder_service)
    assert crashed.recover(now=due) == 1  # claimed but never acknowledged
    [retry] = crashed.due(due + dt.timedelta(minutes=1))
    assert retry.key == message.key
    crashed.mark_delivered(retry.key, message_id=42, now=due + dt.timedelta(minutes=1))

    after = _restarted(crashed)
    assert after.recover(now=due) == 0
    assert after.due(due + dt.timedelta(minutes=5)) == []
    with after.store.session() as session:
        [record] = session.scalars(select(Delivery)).all()
        assert (record.key, record.attempts, record.outcome) == (message.key, 2, "sent")
        assert record.sent_at == due + dt.timedelta(minutes=1)
        assert record.sent_at is not None and record.sent_at.tzinfo is not None


def test_the_delivery_record_is_unique_per_key(reminder_service: ReminderService) -> None:
    now = dt.datetime.now(dt.UTC)
    with reminder_service.store.session() as session:
        session.add(Delivery(key="reminder:1:1d:0", user_id=ALICE, chat_id=ALICE, claimed_at=now))
    with pytest.raises(IntegrityError), reminder_service.store.session() as session:
        session.add(Delivery(key="reminder:1:1d:0", user_id=ALICE, chat_id=ALICE, claimed_at=now))
    assert _count(reminder_service.store.engine, Delivery) == 1


def test_reminder_store_forgets_exactly_one_user(reminder_service: ReminderService) -> None:
    for user in (ALICE, BOB):
        reminder_service.subscribe(user_id=user, chat_id=user, event_id="laboratorio-ceramica",
                                   lang="it")
        reminder_service.set_offsets(user_id=user, offsets=["1d"])
        reminder_service.set_digest(user_id=user, chat_id=user, lang="it", opted_in=True,
                                    interests=["making"])
    now = dt.datetime(2026, 12, 4, 10, 0, tzinfo=ROME)
    messages = reminder_service.due(now)  # each user's 1-day reminder and weekly digest
    for message in messages:
        reminder_service.mark_delivered(message.key, message_id=1, now=now)
    store = reminder_service.store
    described = store.describe_user(ALICE)
    assert described["messages_delivered"] == sum(m.user_id == ALICE for m in messages) == 2
    assert described["reminder_offsets"] == "1d"
    assert described["digest"] == {"opted_in": True, "interests": "making"}
    bob_before = store.describe_user(BOB)
    tables = (Delivery, Reminder, Subscription, DigestPreference, UserReminderOffsets)
    alice_rows = sum(_count(store.engine, table, user_id=ALICE) for table in tables)
    bob_rows = sum(_count(store.engine, table, user_id=BOB) for table in tables)

    assert store.forget_user(ALICE) == alice_rows
    assert sum(_count(store.engine, table, user_id=ALICE) for table in tables) == 0
    assert store.describe_user(ALICE) == {"reminders": [], "reminder_offsets": None,
                                          "digest": None, "messages_delivered": 0}
    assert store.describe_user(BOB) == bob_before
    assert sum(_count(store.engine, table, user_id=BOB) for table in tables) == bob_rows
    assert store.forget_user(ALICE) == 0


def test_user_rows_accept_64_bit_telegram_ids(storage: BotStorage) -> None:
    storage.set_language(GROUP, "it")
    with storage.session() as session:
        assert session.get(UserRow, GROUP) is not None


def test_the_longest_ids_the_content_allows_fit_the_columns(
    flows: FlowStore, reminder_service: ReminderService
) -> None:
    # PostgreSQL enforces String(n) where SQLite does not: the validators' limits must fit.
    flow_id, history_key = "f" * 32, "h" * 40  # flows.definitions FlowId / Code max_length
    flows.save_progress(ALICE, _progress(flow_id, dt.datetime.now(dt.UTC), {"q" * 40: 1}))
    flows.finish(ALICE, flow_id=flow_id, history_key=history_key, version=1,
                 finished_at=dt.datetime.now(dt.UTC), means={"c" * 40: 1.0})
    assert flows.results(ALICE)[0].history_key == history_key
    target = "e" * 80  # learncity.content.models RecordId max_length
    now = dt.datetime.now(dt.UTC)
    with reminder_service.store.session() as session:
        session.add(Subscription(user_id=ALICE, chat_id=GROUP, lang="it", target_kind="programme",
                                 target_id=target, occurrence_start=now, offsets="1w,2d,1d,3h,1h",
                                 created_at=now))
    reminders = reminder_service.store.describe_user(ALICE)["reminders"]
    assert isinstance(reminders, list) and [r["id"] for r in reminders] == [target]
