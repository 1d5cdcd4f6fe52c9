"""Events API deliveries already handled (dedupe of Slack's retries)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_event_seen",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seen_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("slack_event_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_event_seen_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_event_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_event_seen_seen_at"))
    op.drop_table("slack_event_seen")
