"""Shared fixtures: a clean environment, databases (SQLite always, PostgreSQL when configured), a clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db.engine import Database, make_engine
from bot.db.migrate import upgrade

POSTGRES_ENV = "POSTGATE_TEST_POSTGRES_URL"
# Every variable Postgate's settings read starts with one of these (or is exactly PORT / DATABASE_URL).
SETTINGS_PREFIXES = ("SLACK_", "POSTGATE_", "PUBLORA_", "PUBLER_", "POSTORIA_")
SETTINGS_NAMES = ("PORT", "DATABASE_URL")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic-settings reads the environment: no test may see the developer's own settings."""
    for name in list(os.environ):
        if (name.startswith(SETTINGS_PREFIXES) or name in SETTINGS_NAMES) and name != POSTGRES_ENV:
            monkeypatch.delenv(name, raising=False)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = postgres_admin_url()
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    return url


def fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database for one test; returns (url, name)."""
    name = f"postgate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty, migrated-on-demand database URL: one per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'postgate.db'}"
        return
    admin = request.getfixturevalue("postgres_url")
    url, name = fresh_postgres_database(admin)
    try:
        yield url
    finally:
        drop_postgres_database(admin, name)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(make_engine(database_url))
    upgrade(database.engine)
    yield database
    database.dispose()
