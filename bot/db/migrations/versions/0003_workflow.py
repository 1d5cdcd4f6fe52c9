"""approval workflow: approved version, rounds, reminders, per-network texts, settings, digests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the attempt's unique constraint unnamed; this names it so SQLite's batch copy can drop it.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("approved_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("attempt_round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("next_reminder_at", bot.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_post_team_status_publish_at", ["team_id", "status", "publish_at"])
        batch_op.create_index("ix_post_team_author_status", ["team_id", "author_id", "status"])
        batch_op.create_index("ix_post_status_next_reminder_at", ["status", "next_reminder_at"])
    # Posts approved before this revision were approved as they are.
    op.execute(
        "UPDATE post SET approved_version = version WHERE status NOT IN "
        "('pending_approval', 'rejected', 'cancelled')"
    )
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.alter_column("attempt_round", server_default=None)
        batch_op.alter_column("reminders_sent", server_default=None)

    with op.batch_alter_table("post_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overrides", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("first_comment", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )

    bind = op.get_bind()
    old_unique = (
        "publish_attempt_post_id_version_provider_key"
        if bind.dialect.name == "postgresql"
        else "uq_publish_attempt_post_id"
    )
    with op.batch_alter_table("publish_attempt", schema=None, naming_convention=_NAMING) as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column(
                "variant", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False, server_default=""
            )
        )
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("first_comment", sa.Text(), nullable=True))
        batch_op.drop_constraint(old_unique, type_="unique")
        batch_op.create_unique_constraint(
            "uq_publish_attempt_submission", ["post_id", "version", "round", "provider", "variant"]
        )
    with op.batch_alter_table("publish_attempt", schema=None) as batch_op:
        batch_op.alter_column("round", server_default=None)
        batch_op.alter_column("variant", server_default=None)

    op.create_table(
        "workspace_settings",
        sa.Column("team_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("updated_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id"),
    )
    op.create_table(
        "digest_run",
        sa.Column("team_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("created_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("digest_run")
    op.drop_table("workspace_settings")
    with op.batch_alter_table("publish_attempt", schema=None) as batch_op:
        batch_op.drop_constraint("uq_publish_attempt_submission", type_="unique")
        batch_op.create_unique_constraint(None, ["post_id", "version", "provider"])
        batch_op.drop_column("first_comment")
        batch_op.drop_column("text")
        batch_op.drop_column("variant")
        batch_op.drop_column("round")
    with op.batch_alter_table("post_version", schema=None) as batch_op:
        batch_op.drop_column("content_hash")
        batch_op.drop_column("first_comment")
        batch_op.drop_column("overrides")
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.drop_index("ix_post_status_next_reminder_at")
        batch_op.drop_index("ix_post_team_author_status")
        batch_op.drop_index("ix_post_team_status_publish_at")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("next_reminder_at")
        batch_op.drop_column("attempt_round")
        batch_op.drop_column("approved_hash")
        batch_op.drop_column("approved_version")
