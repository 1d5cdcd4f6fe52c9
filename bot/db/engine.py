"""Engine and sessions. SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` for writing transactions;
PostgreSQL gets a pre-pinged pool. `Database` is the session factory every service receives.

Two rules keep a thread to one connection and SQLite's writers in line (both found by bench.ack_latency):
* a `read()` opened while the same thread already has a session open reads through that session, so a
  decision's transaction that asks for the settings or the rules does not take a second connection from
  the pool (20 threads each holding one and waiting for a second stalled every ack);
* on SQLite, writing transactions of this process queue on a lock before `BEGIN IMMEDIATE`
  (`WriterQueue`): SQLite's own busy handler sleeps in growing steps of up to 100 ms and lets a late
  writer barge in, which made some acks wait 3 s under load. Writers whose ack Slack is waiting for go
  ahead of the outbox's and the dispatcher's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

_WRITE = "postgate_write"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False},
            # Room for every thread that may hold one connection at once: Slack listeners (16), the
            # dispatcher's database threads, the outbox and housekeeping. SQLite connections are cheap.
            pool_size=10,
            max_overflow=30,
        )
        _configure_sqlite(engine)
        return engine
    # At most 30 connections per replica (see above); PostgreSQL's default max_connections is 100.
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=1800)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours (SQLAlchemy docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The timeout first: switching to WAL needs a lock another process starting at once may hold.
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-then-write transaction must hold the write lock from its start, or WAL mode answers
        # SQLITE_BUSY at once instead of waiting (platform.md D4).
        if connection.get_execution_options().get(_WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def for_writing(engine: Engine) -> Engine:
    """`engine` whose transactions take SQLite's write lock at BEGIN (see `_on_begin`); as is elsewhere."""
    return engine.execution_options(**{_WRITE: True})


class WriterQueue:
    """SQLite's write lock as this process hands it out: in arrival order, except that a writer whose
    Slack ack is waiting goes ahead of other waiting writers, unless one of them has already waited
    `max_defer` seconds (so background work is delayed, never starved). Re-entrant for the holder."""

    def __init__(self, max_defer: float = 0.05, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._max_defer = max_defer
        self._monotonic = monotonic
        self._guard = threading.Lock()
        self._urgent: deque[tuple[int, threading.Event]] = deque()
        self._others: deque[tuple[int, threading.Event, float]] = deque()
        self._owner: int | None = None
        self._depth = 0

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._others)

    def acquire(self, *, urgent: bool = False) -> None:
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self.waiting:
                self._owner, self._depth = me, 1
                return
            turn = threading.Event()
            if urgent:
                self._urgent.append((me, turn))
            else:
                self._others.append((me, turn, self._monotonic()))
        turn.wait()
        # release() handed the lock over to this thread before setting `turn`.

    def release(self) -> None:
        with self._guard:
            if self._owner != threading.get_ident():
                raise RuntimeError("WriterQueue released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            overdue = bool(self._others) and self._monotonic() - self._others[0][2] >= self._max_defer
            if self._urgent and not overdue:
                self._owner, turn = self._urgent.popleft()
            elif self._others:
                self._owner, turn, _ = self._others.popleft()
            else:
                self._owner = None
                return
            # Handed over under the guard, so nobody can take the lock in between.
            self._depth = 1
            turn.set()


class Priority(Protocol):
    """What the database asks of `bot.ack_first` (kept as a protocol: the database layer knows no Slack)."""

    def give_way(self) -> None:
        """Called before a thread opens its outermost session; may wait for work someone is waiting for."""

    def urgent(self) -> bool:
        """True on a thread whose result someone is waiting for right now (a Slack ack)."""


class _NoPriority:
    def give_way(self) -> None:
        pass

    def urgent(self) -> bool:
        return False


class Database:
    """Short-lived sessions: `read()` for queries, `write()` for one committed transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Work that no Slack ack waits for gives way to acks at the start of its outermost session, and
        #: writers on an ack path go first on SQLite (`bot.ack_first`; set by the composition root).
        self.priority: Priority = _NoPriority()
        self._write_engine = for_writing(engine)
        self._open = threading.local()
        self._writers = WriterQueue() if engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; inside another session of this thread, that session (see the module)."""
        outer: Session | None = getattr(self._open, "session", None)
        if outer is not None:
            yield outer
            return
        self.priority.give_way()
        with Session(self.engine, expire_on_commit=False) as session, self._opened(session):
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction committed on normal exit and rolled back on any exception."""
        if getattr(self._open, "session", None) is None:
            self.priority.give_way()
        with (
            self._write_turn(),
            Session(self._write_engine, expire_on_commit=False) as session,
            self._opened(session),
        ):
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def _write_turn(self) -> Iterator[None]:
        if self._writers is None:
            yield
            return
        self._writers.acquire(urgent=self.priority.urgent())
        try:
            yield
        finally:
            self._writers.release()

    @contextmanager
    def _opened(self, session: Session) -> Iterator[None]:
        outer = getattr(self._open, "session", None)
        self._open.session = session
        try:
            yield
        finally:
            self._open.session = outer

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
