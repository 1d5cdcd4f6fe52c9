"""SQLite allows one dispatcher per database file: an exclusive lock on a file beside the database.

Two processes dispatching from one SQLite file would race on the same posts with nothing but file locks
between them; PostgreSQL replicas are safe by `FOR UPDATE SKIP LOCKED`, SQLite processes are not. The
lock is an `flock` on `<database>.dispatcher.lock`, held for the life of the process, so a process that
is killed releases it with no clean-up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import Engine


class DispatcherLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> DispatcherLock | None:
        """The lock a SQLite file database needs; None for PostgreSQL and in-memory databases."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        return cls(Path(database).resolve().with_name(Path(database).name + ".dispatcher.lock"))

    def acquire(self) -> bool:
        """True if this process is now the database's only dispatcher."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
