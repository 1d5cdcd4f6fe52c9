"""The rows of the request budgets that replicas share: each slot is taken in one short transaction that
holds the provider's row lock (`SELECT … FOR UPDATE`), so two replicas never hand out the same slot.

Times come from the database's clock on PostgreSQL, so replicas on hosts whose clocks differ still agree
on when a slot is; SQLite (one process) uses this host's clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from bot.db.engine import Database
from bot.db.tables import RateBudget


@dataclass
class BudgetRow:
    """One provider's budget as read under its lock; what the caller leaves in it is written back."""

    now: float
    slots: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class RateBudgetStore:
    """`bot.providers.ratelimit.BudgetStore` in the database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def locked(self, provider: str) -> Iterator[BudgetRow]:
        with self._db.write() as session:
            query = select(RateBudget).where(RateBudget.provider == provider).with_for_update()
            row = session.exec(query).first()
            if row is None:
                insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
                session.execute(
                    insert(RateBudget)
                    .values(provider=provider, slots="[]", blocked_until=0.0)
                    .on_conflict_do_nothing()
                )
                row = session.exec(query).one()
            slots = [float(slot) for slot in json.loads(row.slots)]
            state = BudgetRow(now=self._now(session), slots=slots, blocked_until=row.blocked_until)
            yield state
            row.slots = json.dumps([round(s, 4) for s in state.slots])
            row.blocked_until = state.blocked_until
            session.add(row)

    def _now(self, session: Session) -> float:
        if self._db.dialect != "postgresql":
            return time.time()
        return float(session.connection().execute(_DATABASE_NOW).scalar_one())


_DATABASE_NOW = text("SELECT extract(epoch FROM clock_timestamp())")
