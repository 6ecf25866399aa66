"""The flows' tables: questionnaires in progress and the results history (SQLAlchemy, on `Base`).

The database is the source of truth for progress: it is saved after every answer, so Pause,
a restart or a crash lose nothing. Results keep only the means (no single answers).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import BigInteger, DateTime, Engine, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from flows.engine import Progress
from learncity.db import Base


class ProgressRow(Base):
    """One questionnaire in progress (one per user and flow)."""

    __tablename__ = "flow_progress"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(Text)  # Progress as JSON
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ResultRow(Base):
    """One finished questionnaire: the means per competence and area."""

    __tablename__ = "flow_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    flow_id: Mapped[str] = mapped_column(String(32))
    history_key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    means: Mapped[str] = mapped_column(Text)  # {"collaboration": 3.67, "social": 3.4, ...}


@dataclass(frozen=True)
class SavedResult:
    """A result from the history."""

    id: int
    flow_id: str
    history_key: str
    version: int
    finished_at: dt.datetime
    means: dict[str, float]


class FlowStore:
    """Progress and results on the assistant's database."""

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine

    def create_schema(self) -> None:
        """Create the flows' tables if they are missing."""
        tables = [ProgressRow.__table__, ResultRow.__table__]
        Base.metadata.create_all(self._engine, tables=tables)  # type: ignore[arg-type]

    def save_progress(self, user_id: int, progress: Progress) -> None:
        """Insert or replace the user's progress in that flow."""
        with Session(self._engine) as session, session.begin():
            row = session.get(ProgressRow, (user_id, progress.flow_id))
            if row is None:
                row = ProgressRow(user_id=user_id, flow_id=progress.flow_id)
                session.add(row)
            row.state = progress.model_dump_json()
            row.updated_at = progress.updated_at.astimezone(dt.UTC)

    def load_progress(self, user_id: int, flow_id: str) -> Progress | None:
        """Return the user's progress in that flow, if any."""
        with Session(self._engine) as session:
            row = session.get(ProgressRow, (user_id, flow_id))
            return Progress.model_validate_json(row.state) if row else None

    def progress_of(self, user_id: int) -> list[Progress]:
        """Return every questionnaire the user has in progress, latest first."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(ProgressRow)
                .where(ProgressRow.user_id == user_id)
                .order_by(ProgressRow.updated_at.desc())
            )
            return [Progress.model_validate_json(row.state) for row in rows]

    def delete_progress(self, user_id: int, flow_id: str) -> bool:
        """Delete the user's progress in that flow; return whether there was one."""
        with Session(self._engine) as session, session.begin():
            gone = session.execute(
                delete(ProgressRow).where(
                    ProgressRow.user_id == user_id, ProgressRow.flow_id == flow_id
                )
            )
            return bool(gone.rowcount)  # type: ignore[attr-defined]

    def finish(
        self,
        user_id: int,
        *,
        flow_id: str,
        history_key: str,
        version: int,
        finished_at: dt.datetime,
        means: dict[str, float],
    ) -> SavedResult:
        """Save a result and drop the progress, in one transaction."""
        with Session(self._engine) as session, session.begin():
            row = ResultRow(
                user_id=user_id,
                flow_id=flow_id,
                history_key=history_key,
                version=version,
                finished_at=finished_at.astimezone(dt.UTC),
                means=json.dumps({key: round(value, 3) for key, value in means.items()}),
            )
            session.add(row)
            session.execute(
                delete(ProgressRow).where(
                    ProgressRow.user_id == user_id, ProgressRow.flow_id == flow_id
                )
            )
            session.flush()
            return _saved(row)

    def results(self, user_id: int, *, history_key: str | None = None,
                limit: int = 20) -> list[SavedResult]:
        """Return the user's results, latest first."""
        query = select(ResultRow).where(ResultRow.user_id == user_id)
        if history_key is not None:
            query = query.where(ResultRow.history_key == history_key)
        query = query.order_by(ResultRow.finished_at.desc(), ResultRow.id.desc()).limit(limit)
        with Session(self._engine) as session:
            return [_saved(row) for row in session.scalars(query)]

    def describe_user(self, user_id: int) -> dict[str, object]:
        """Return what the flows keep about the user, in plain values."""
        with Session(self._engine) as session:
            progress = session.scalars(select(ProgressRow).where(ProgressRow.user_id == user_id))
            in_progress = [
                {"flow": row.flow_id, "answers": len(json.loads(row.state).get("answers", {}))}
                for row in progress
            ]
        results = [
            {"flow": r.flow_id, "finished_at": r.finished_at.isoformat(), "means": r.means}
            for r in self.results(user_id, limit=1000)
        ]
        return {"assessments_in_progress": in_progress, "assessment_results": results}

    def forget_user(self, user_id: int) -> int:
        """Delete the user's progress and results; return how many rows went."""
        with Session(self._engine) as session, session.begin():
            gone = session.execute(delete(ProgressRow).where(ProgressRow.user_id == user_id))
            count = int(gone.rowcount)  # type: ignore[attr-defined]
            gone = session.execute(delete(ResultRow).where(ResultRow.user_id == user_id))
            return count + int(gone.rowcount)  # type: ignore[attr-defined]


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes: everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _saved(row: ResultRow) -> SavedResult:
    return SavedResult(
        id=row.id,
        flow_id=row.flow_id,
        history_key=row.history_key,
        version=row.version,
        finished_at=_aware(row.finished_at),
        means={key: float(value) for key, value in json.loads(row.means).items()},
    )
