"""Persistence: tables, the engine and session factory, repository functions, Alembic migrations."""
