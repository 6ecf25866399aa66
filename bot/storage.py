"""The bot's tables (users, feedback, masked question logs, PTB persistence) and their store.

No Telegram here: plain values in, plain values out. The question, unanswered and undelivered logs
carry no user id: only a salted hash of it (`asker`, never shown), so /forget can delete them while
/stats and /gaps see masked text and counts only (learncity/privacy.py does the masking).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from learncity.db import Base, upsert
from learncity.privacy import mask_for_staff

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UserRow(Base):
    """A resident's preferences: language and interests."""

    __tablename__ = "bot_users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(String(8))
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class FeedbackRow(Base):
    """A 👍/👎 on one answer, with the optional reason given after a 👎."""

    __tablename__ = "bot_feedback"
    __table_args__ = (UniqueConstraint("user_id", "answer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    answer_id: Mapped[str] = mapped_column(String(32))
    helpful: Mapped[bool] = mapped_column(Boolean)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class QuestionRow(Base):
    """One question answered (no text; `asker` is a salted hash, for /forget only)."""

    __tablename__ = "bot_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    lang: Mapped[str] = mapped_column(String(8))
    abstained: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    asker: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class UnansweredRow(Base):
    """A question the folder could not answer, masked (`asker`: salted hash, for /forget only)."""

    __tablename__ = "bot_unanswered"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    lang: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    asker: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class UndeliveredRow(Base):
    """A message Telegram never accepted after every retry (masked; for staff in /stats)."""

    __tablename__ = "bot_undelivered"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    method: Mapped[str] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class SecretRow(Base):
    """Values the bot generates once and keeps (the salt of the `asker` hashes)."""

    __tablename__ = "bot_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class UserDataRow(Base):
    """python-telegram-bot `user_data` of one user, as JSON."""

    __tablename__ = "bot_user_data"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ChatDataRow(Base):
    """python-telegram-bot `chat_data` of one chat, as JSON."""

    __tablename__ = "bot_chat_data"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class BotDataRow(Base):
    """python-telegram-bot `bot_data`, as JSON (one row)."""

    __tablename__ = "bot_bot_data"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConversationRow(Base):
    """The state of one python-telegram-bot conversation (key as a JSON list of ids)."""

    __tablename__ = "bot_conversations"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[Any] = mapped_column(JSON)


def anonymise(text: str, *, limit: int = 300) -> str:
    """Mask personal data (names, addresses, codes, numbers, links); cut to `limit` chars."""
    return mask_for_staff(text, limit=limit)


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A message that could not be sent, as staff see it (masked)."""

    at: dt.datetime
    method: str
    error: str
    text: str


@dataclass(frozen=True, slots=True)
class Stats:
    """What /stats shows."""

    users: int
    questions_per_day: list[tuple[dt.date, int]]
    questions: int
    abstained: int
    helpful: int
    not_helpful: int
    reasons: int
    undelivered: int = 0
    recent_undelivered: tuple[Undelivered, ...] = ()

    @property
    def abstention_rate(self) -> float:
        """Return the share of questions the folder could not answer (0 when none were asked)."""
        return self.abstained / self.questions if self.questions else 0.0


class BotStorage:
    """Users, feedback and the anonymous logs, on the shared SQLAlchemy engine (`ForgetsUsers`)."""

    def __init__(
        self, *, engine: Engine, language_cache_size: int = 50_000, shared: bool | None = None
    ) -> None:
        self._engine = engine
        # Replicas on one PostgreSQL: another may have changed a choice, so memory only serves
        # the update that read it (one primary-key read per update); SQLite: memory is the truth.
        self._shared = engine.dialect.name == "postgresql" if shared is None else shared
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._languages: dict[int, str] = {}
        self._cache_size = language_cache_size
        self._lock = threading.Lock()
        self._salt: bytes | None = None

    @property
    def engine(self) -> Engine:
        """Return the engine the store writes to."""
        return self._engine

    def create_tables(self) -> None:
        """Create the bot's tables when they do not exist."""
        Base.metadata.create_all(
            self._engine,
            tables=[
                model.__table__  # type: ignore[misc]
                for model in (
                    UserRow,
                    FeedbackRow,
                    QuestionRow,
                    UnansweredRow,
                    UserDataRow,
                    ChatDataRow,
                    BotDataRow,
                    ConversationRow,
                    UndeliveredRow,
                    SecretRow,
                )
            ],
        )
        self._add_asker_columns()
        self._load_salt()

    def _load_salt(self) -> bytes:
        """Return the salt of the `asker` hashes, made once per database (kept in bot_secrets)."""
        if self._salt is None:
            with self._engine.begin() as connection:
                upsert(connection, SecretRow, {"name": "asker_salt"},
                       {"value": secrets.token_hex(32)}, update=[])
                salt = connection.scalar(
                    select(SecretRow.value).where(SecretRow.name == "asker_salt")
                )
            self._salt = bytes.fromhex(str(salt))
        return self._salt

    def _add_asker_columns(self) -> None:
        """Add `asker` to logs made before it existed; re-mask their texts with today's rules."""
        columns = {column["name"] for column in inspect(self._engine).get_columns("bot_unanswered")}
        if "asker" in columns:
            return
        with self._engine.begin() as connection:
            for table in ("bot_questions", "bot_unanswered"):
                connection.execute(sql_text(f"ALTER TABLE {table} ADD COLUMN asker VARCHAR(64)"))
            rows = connection.execute(select(UnansweredRow.id, UnansweredRow.text)).all()
            for row_id, old in rows:
                connection.execute(
                    UnansweredRow.__table__.update()  # type: ignore[attr-defined]
                    .where(UnansweredRow.id == row_id)
                    .values(text=anonymise(old))
                )
        log.info("question logs upgraded: %d unanswered questions re-masked", len(rows))

    def asker(self, user_id: int) -> str:
        """Return the salted hash that links a log row to its user (for /forget; never shown)."""
        salt = self._load_salt()
        return hashlib.blake2b(str(user_id).encode(), key=salt, digest_size=16).hexdigest()

    def session(self) -> Session:
        """Open a session (the caller commits)."""
        return self._sessions()

    # Users

    def cached_language(self, user_id: int) -> str | None:
        """Return the language the user chose if it is in memory; never touch the database."""
        with self._lock:
            return self._languages.get(user_id) or None

    def language_known(self, user_id: int) -> bool:
        """Return True when memory knows the user's choice (or that they made none).

        Replicas: always False, so each update reads the choice from the database.
        """
        if self._shared:
            return False
        with self._lock:
            return user_id in self._languages

    def language_of(self, user_id: int) -> str | None:
        """Return the language the user chose, or None for a new user."""
        with self._lock:
            cached = None if self._shared else self._languages.get(user_id)
        if cached is not None:
            return cached or None  # "" remembers "no choice yet", so new users cost no query
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            language = row.language if row else None
        self._remember(user_id, language or "")
        return language

    def _remember(self, user_id: int, language: str) -> None:
        with self._lock:
            if len(self._languages) >= self._cache_size:
                self._languages.clear()  # cheap reset; the database stays the source of truth
            self._languages[user_id] = language

    def set_language(self, user_id: int, language: str) -> None:
        """Store the user's language (creating the user when new)."""
        with self._engine.begin() as connection:
            upsert(connection, UserRow, {"id": user_id},
                   {"language": language, "interests": [], "created": _now()},
                   update=["language"])
        self._remember(user_id, language)

    def add_interest(self, user_id: int, interest: str, *, language: str) -> None:
        """Remember a topic or audience the user browsed (at most ten, newest last)."""
        with self._sessions.begin() as session:
            # Create the row if new (a write first: SQLite then serialises the two taps), and
            # lock it (PostgreSQL) so a concurrent tap cannot lose this interest.
            upsert(session, UserRow, {"id": user_id},
                   {"language": language, "interests": [], "created": _now()}, update=[])
            row = session.get(UserRow, user_id, with_for_update=True)
            assert row is not None
            interests = [item for item in (row.interests or []) if item != interest]
            row.interests = [*interests, interest][-10:]

    # Feedback and logs

    def record_feedback(
        self, *, user_id: int, answer_id: str, helpful: bool, abstained: bool = False
    ) -> None:
        """Store a 👍/👎 (pressing again changes the vote)."""
        with self._engine.begin() as connection:
            upsert(connection, FeedbackRow,
                   {"user_id": user_id, "answer_id": answer_id},
                   {"helpful": helpful, "abstained": abstained, "created": _now()},
                   update=["helpful"])

    def record_reason(self, *, user_id: int, answer_id: str, reason: str) -> bool:
        """Attach the reason to a 👎; return False when that feedback no longer exists."""
        with self._sessions.begin() as session:
            row = session.scalar(
                select(FeedbackRow).where(
                    FeedbackRow.user_id == user_id, FeedbackRow.answer_id == answer_id
                )
            )
            if row is None:
                return False
            row.reason = anonymise(reason, limit=1000)
            return True

    def log_question(
        self,
        *,
        lang: str,
        abstained: bool,
        latency_ms: float,
        text: str | None = None,
        user_id: int | None = None,
    ) -> None:
        """Log one question; keep its text, masked, only when unanswered (linked by hash only)."""
        now = _now()
        asker = self.asker(user_id) if user_id is not None else None
        # Core inserts, not the ORM: this runs for every question.
        with self._engine.begin() as connection:
            connection.execute(
                insert(QuestionRow.__table__).values(  # type: ignore[arg-type]
                    asked_at=now, lang=lang, abstained=abstained, latency_ms=latency_ms,
                    asker=asker,
                )
            )
            if abstained and text:
                connection.execute(
                    insert(UnansweredRow.__table__).values(  # type: ignore[arg-type]
                        asked_at=now, lang=lang, text=anonymise(text), asker=asker
                    )
                )

    def record_undelivered(
        self, *, method: str, error: str, text: str, chat_id: int | None
    ) -> None:
        """Record a message that could not be sent: masked text, the chat only as a hash."""
        recipient = self.asker(chat_id) if chat_id is not None else None
        with self._engine.begin() as connection:
            connection.execute(
                insert(UndeliveredRow.__table__).values(  # type: ignore[arg-type]
                    at=_now(), method=method[:32], error=error[:64],
                    text=anonymise(text, limit=200), recipient=recipient,
                )
            )

    def stats(self, *, days: int = 7, now: dt.datetime | None = None) -> Stats:
        """Return users, questions per day (last `days`), abstention rate and feedback."""
        now = now or _now()
        # In UTC: SQLite compares the stored UTC text with the wall time of `now`'s zone.
        since = (now - dt.timedelta(days=days)).astimezone(dt.UTC)
        with self._sessions() as session:
            users = session.scalar(select(func.count()).select_from(UserRow)) or 0
            questions = session.scalar(select(func.count()).select_from(QuestionRow)) or 0
            abstained = (
                session.scalar(
                    select(func.count()).select_from(QuestionRow).where(QuestionRow.abstained)
                )
                or 0
            )
            recent = session.scalars(
                select(QuestionRow.asked_at).where(QuestionRow.asked_at >= since)
            ).all()
            helpful = (
                session.scalar(
                    select(func.count()).select_from(FeedbackRow).where(FeedbackRow.helpful)
                )
                or 0
            )
            feedback = session.scalar(select(func.count()).select_from(FeedbackRow)) or 0
            reasons = (
                session.scalar(
                    select(func.count())
                    .select_from(FeedbackRow)
                    .where(FeedbackRow.reason.is_not(None))
                )
                or 0
            )
            undelivered = session.scalar(select(func.count()).select_from(UndeliveredRow)) or 0
            last = session.execute(
                select(
                    UndeliveredRow.at, UndeliveredRow.method, UndeliveredRow.error,
                    UndeliveredRow.text,
                )
                .order_by(UndeliveredRow.id.desc())
                .limit(5)
            ).all()
        per_day = Counter(_as_utc(moment).date() for moment in recent)
        return Stats(
            users=users,
            questions_per_day=sorted(per_day.items()),
            questions=questions,
            abstained=abstained,
            helpful=helpful,
            not_helpful=feedback - helpful,
            reasons=reasons,
            undelivered=undelivered,
            recent_undelivered=tuple(
                Undelivered(at=_as_utc(at), method=method, error=error, text=text)
                for at, method, error, text in last
            ),
        )

    def unanswered(self, *, limit: int = 500) -> list[str]:
        """Return the most recent unanswered questions (already anonymised), newest first."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(UnansweredRow.text).order_by(UnansweredRow.id.desc()).limit(limit)
                )
            )

    # ForgetsUsers

    def describe_user(self, user_id: int) -> dict[str, object]:
        """Return what the bot keeps about the user, in plain values."""
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            feedback = (
                session.scalar(
                    select(func.count())
                    .select_from(FeedbackRow)
                    .where(FeedbackRow.user_id == user_id)
                )
                or 0
            )
            chat = session.get(ChatDataRow, user_id)  # a private chat's id is the user's id
            recent = len((chat.data or {}).get("views", {})) if chat is not None else 0
            data = session.get(UserDataRow, user_id)
            waiting = "reason_for" in ((data.data or {}) if data is not None else {}) or any(
                user_id in _key_ids(key) for key in session.scalars(select(ConversationRow.key))
            )
            asker = self.asker(user_id)
            unanswered = (
                session.scalar(
                    select(func.count())
                    .select_from(UnansweredRow)
                    .where(UnansweredRow.asker == asker)
                )
                or 0
            )
        described: dict[str, object] = {}
        if row is not None:
            described["language"] = row.language
            described["interests"] = list(row.interests or [])
            described["since"] = _as_utc(row.created).date().isoformat()
        if feedback:
            described["feedback"] = feedback
        if recent:
            described["recent_answers"] = recent
        if unanswered:
            described["unanswered_questions"] = unanswered
        if waiting:
            described["conversation_state"] = True
        return described

    def forget_user(self, user_id: int) -> int:
        """Delete every row about the user (preferences, feedback, chat state); return the count."""
        removed = 0
        asker = self.asker(user_id)
        with self._sessions.begin() as session:
            for statement in (
                delete(QuestionRow).where(QuestionRow.asker == asker),
                delete(UnansweredRow).where(UnansweredRow.asker == asker),
                delete(UndeliveredRow).where(UndeliveredRow.recipient == asker),
                delete(UserRow).where(UserRow.id == user_id),
                delete(FeedbackRow).where(FeedbackRow.user_id == user_id),
                delete(UserDataRow).where(UserDataRow.user_id == user_id),
                # A private chat's id is the user's id.
                delete(ChatDataRow).where(ChatDataRow.chat_id == user_id),
            ):
                removed += session.execute(statement).rowcount or 0  # type: ignore[attr-defined]
            for conversation in session.scalars(select(ConversationRow)).all():
                if user_id in _key_ids(conversation.key):
                    session.delete(conversation)
                    removed += 1
        with self._lock:
            self._languages.pop(user_id, None)
        return removed


def _key_ids(key: str) -> Iterable[int]:
    try:
        return [int(part) for part in json.loads(key)]
    except (ValueError, TypeError):
        return []


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; they were stored in UTC.
    # PostgreSQL hands them back in the server's time zone: convert, or `.date()` is off by one.
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
