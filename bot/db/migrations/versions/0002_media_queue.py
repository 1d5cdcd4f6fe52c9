"""media and queue on versions; provider-defined external ids; webhook lookup index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("queue", sa.JSON(), nullable=True))
    with op.batch_alter_table("publish_attempt", schema=None) as batch_op:
        # Publer's ids name one post per account, so an external id can be much longer than one id.
        batch_op.alter_column(
            "external_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=128),
            type_=sa.Text(),
            existing_nullable=True,
        )
        batch_op.create_index("ix_publish_attempt_provider_external_id", ["provider", "external_id"])
        batch_op.add_column(sa.Column("last_try_at", bot.db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("publish_attempt", schema=None) as batch_op:
        batch_op.drop_column("last_try_at")
        batch_op.drop_index("ix_publish_attempt_provider_external_id")
        batch_op.alter_column(
            "external_id",
            existing_type=sa.Text(),
            type_=sqlmodel.sql.sqltypes.AutoString(length=128),
            existing_nullable=True,
        )
    with op.batch_alter_table("post_version", schema=None) as batch_op:
        batch_op.drop_column("queue")
        batch_op.drop_column("media")
