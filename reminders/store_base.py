"""The reminder store's foundation: engine, worker identity and lease, sessions, schema upgrade.

The query mixins (`subscription_queries`, `digest_queries`, `outbox_queries`) build on this
class; `reminders.store.ReminderStore` joins them into the one public store object.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, inspect, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, sessionmaker

from learncity.db import create_schema
from reminders.tables import PENDING, WITHDRAWN, Reminder, Subscription

log = logging.getLogger("reminders.store")

#: How long a PostgreSQL claim holds before another worker may take the row over.
DEFAULT_LEASE = dt.timedelta(minutes=5)

Wanted = Callable[[Subscription], dict[str, dt.datetime]]  # offset -> due time, for a subscription


def default_worker_id() -> str:
    """Return this host's name: stable across restarts, distinct between replicas (containers)."""
    return socket.gethostname()[:64] or "worker"


class StoreBase:
    """The reminder tables on one engine: sessions, schema, and withdrawing pending rows.

    `worker_id` names this worker's claims (set a distinct one per replica on one host); `lease` is
    how long a PostgreSQL claim holds (far longer than a send and any clock skew between replicas).
    """

    def __init__(
        self, *, engine: Engine, worker_id: str | None = None, lease: dt.timedelta = DEFAULT_LEASE
    ) -> None:
        if lease <= dt.timedelta(0):
            raise ValueError(f"lease ({lease}) must be positive")
        worker = worker_id if worker_id is not None else default_worker_id()
        if not worker or len(worker) > 64:
            raise ValueError(f"worker_id {worker!r} must be 1 to 64 characters")
        self.engine = engine
        self.worker_id = worker
        self.lease = lease
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def multi_worker(self) -> bool:
        """Return True when claims are leased rows that several workers share (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    def create_schema(self) -> None:
        """Create the tables that do not exist yet (and the lease columns of older databases)."""
        create_schema(self.engine)
        self._add_lease_columns()

    def _add_lease_columns(self) -> None:
        columns = {column["name"] for column in inspect(self.engine).get_columns("reminders")}
        missing = [c for c in ("claimed_by", "claimed_until") if c not in columns]
        if not missing:
            return
        table = Reminder.__table__
        with self.engine.begin() as connection:
            for name in missing:
                kind = table.c[name].type.compile(dialect=self.engine.dialect)
                connection.execute(sql_text(f"ALTER TABLE reminders ADD COLUMN {name} {kind}"))
        log.info("reminders table upgraded: lease columns %s added", ", ".join(missing))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session that commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    @staticmethod
    def _withdraw(s: Session, *where: Any) -> int:
        result = s.execute(
            update(Reminder).where(Reminder.status == PENDING, *where).values(status=WITHDRAWN)
        )
        return int(getattr(result, "rowcount", 0) or 0)
