"""Applies Alembic migrations programmatically (`postgate migrate`, and `postgate run` at start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from bot.db.engine import for_writing

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser would read "%" in a password as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Any constant both replicas agree on: "postgate" in ASCII.
_MIGRATION_LOCK = 0x706F737467617465


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run on every start, and from several replicas
    starting at once: on PostgreSQL they take turns on an advisory lock, and the later ones find nothing to
    do. (SQLite serialises writers itself, and only one process should use a SQLite file.)"""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with for_writing(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
