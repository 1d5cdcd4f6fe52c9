"""The tables. Posts carry their status and dispatch lease; content lives in versions; decisions, publish
attempts, per-account results and the audit trail are append-mostly records; the outbox holds every Slack
message a state change owes, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.db.types import UTCDateTime


def _utc_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Post(SQLModel, table=True):
    __tablename__ = "post"
    __table_args__ = (
        Index("ix_post_status_next_action_at", "status", "next_action_at"),
        # App Home and /post list: a person's posts, and posts by status, newest first or by time.
        Index("ix_post_team_status_publish_at", "team_id", "status", "publish_at"),
        Index("ix_post_team_author_status", "team_id", "author_id", "status"),
        # App Home's recent publications and failures: the newest few of one status, read in index order.
        Index("ix_post_team_status_finished_at", "team_id", "status", "finished_at", "id"),
        Index("ix_post_status_next_reminder_at", "status", "next_reminder_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    author_id: str = Field(max_length=32, index=True)
    author_tz: str = Field(default="UTC", max_length=64)
    approval_channel_id: str = Field(max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=32)
    version: int = Field(default=1)
    required_approvals: int = Field(default=1)
    #: None = "as soon as approved".
    requested_time: datetime | None = _utc_field()
    #: When the post should go out; set once approved.
    publish_at: datetime | None = _utc_field()
    #: When the dispatcher should next act on it (publish, retry or poll the provider).
    next_action_at: datetime | None = _utc_field()
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = _utc_field()
    #: How many times a dispatcher claimed it for submission; fences every finishing update.
    claims: int = Field(default=0)
    polls: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = _utc_field()
    #: The version the approvers approved and its content hash: the dispatcher publishes nothing else.
    approved_version: int | None = Field(default=None)
    approved_hash: str | None = Field(default=None, max_length=64)
    #: Publishing rounds: a human's "Retry" after a failure starts a new round with fresh attempts.
    attempt_round: int = Field(default=1)
    #: When the approvers should next be reminded of this pending post; None = no reminder due.
    next_reminder_at: datetime | None = _utc_field()
    reminders_sent: int = Field(default=0)


class PostVersion(SQLModel, table=True):
    __tablename__ = "post_version"
    __table_args__ = (UniqueConstraint("post_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    version: int
    text: str = Field(sa_type=Text)
    #: [{"provider", "account_id", "network", "name"}]
    targets: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    #: [{"name", "mime_type", "size", "slack_file_id" | "url"}]; None on versions older than media.
    media: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: {"provider", "queue_id", "name"}: a provider queue (Postoria) picks the publish time instead.
    queue: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: {"<network>": "text"}: a different text for one network.
    overrides: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    first_comment: str | None = Field(default=None, sa_type=Text)
    #: Hash of everything that would be published; approvals are bound to it.
    content_hash: str | None = Field(default=None, max_length=64)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Decision(SQLModel, table=True):
    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("post_id", "version", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    version: int
    user_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    comment: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class PublishAttempt(SQLModel, table=True):
    """One submission of one post version to one provider. Its idempotency key never changes."""

    __tablename__ = "publish_attempt"
    __table_args__ = (
        UniqueConstraint(
            "post_id", "version", "round", "provider", "variant", name="uq_publish_attempt_submission"
        ),
        Index("ix_publish_attempt_provider_external_id", "provider", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    version: int
    round: int = Field(default=1)
    provider: str = Field(max_length=32)
    #: Which text this submission carries: "" for the main text, else the network it was written for.
    variant: str = Field(default="", max_length=32)
    #: Exactly what is sent; None on attempts made before per-network texts (the version's text then).
    text: str | None = Field(default=None, sa_type=Text)
    first_comment: str | None = Field(default=None, sa_type=Text)
    account_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(max_length=96, unique=True)
    #: The publish time sent to the provider; fixed with the key, since a changed body breaks idempotency.
    publish_time: datetime = Field(sa_type=UTCDateTime, nullable=False)
    #: in_flight → accepted → finished | failed | unknown
    status: str = Field(max_length=16)
    tries: int = Field(default=0)
    #: True once a try may have reached the provider without an answer.
    maybe_received: bool = Field(default=False)
    #: The provider's handle on the submission; its format belongs to the provider module.
    external_id: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    submitted_at: datetime | None = _utc_field()
    finished_at: datetime | None = _utc_field()
    #: When the latest try was sent: a provider without idempotency is asked what it received since.
    last_try_at: datetime | None = _utc_field()


class AccountResult(SQLModel, table=True):
    __tablename__ = "account_result"
    __table_args__ = (UniqueConstraint("attempt_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="publish_attempt.id", index=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    account_id: str = Field(max_length=128)
    status: str = Field(max_length=16)
    url: str | None = Field(default=None, max_length=1000)
    error: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class AuditEvent(SQLModel, table=True):
    """Every state change with its actor and time. Rows are only ever inserted."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    actor: str = Field(max_length=32)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    detail: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class OutboxMessage(SQLModel, table=True):
    """A Slack message owed to someone, delivered (with retries) after the transaction that owes it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int | None = Field(default=None, foreign_key="post.id", index=True)
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: pending → sent | dead
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = _utc_field()
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = _utc_field()


class WorkspaceSettingsRow(SQLModel, table=True):
    """A workspace's settings as admins saved them (`bot.domain.workspace.WorkspaceSettings` as JSON)."""

    __tablename__ = "workspace_settings"

    team_id: str = Field(primary_key=True, max_length=32)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    #: Bumped on every save; a save based on an older revision is refused (two admins at once).
    revision: int = Field(default=1)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class DigestRun(SQLModel, table=True):
    """One row per workspace and local day whose digest was owed: the primary key lets one replica win."""

    __tablename__ = "digest_run"

    team_id: str = Field(primary_key=True, max_length=32)
    day: str = Field(primary_key=True, max_length=10)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class SlackEventSeen(SQLModel, table=True):
    """Events API deliveries already handled, by `event_id`: Slack's retries (X-Slack-Retry-Num) of one
    of them are acknowledged and skipped, on every replica. Rows older than a day are deleted."""

    __tablename__ = "slack_event_seen"

    event_id: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class ProviderCredential(SQLModel, table=True):
    """A provider's credentials as an admin entered them in Slack; they take over from the environment's.

    Only the Fernet token of their JSON is stored, nothing of the key in plain text. Removing them keeps
    the row (token None) with a new revision, so other replicas notice and fall back to the environment.
    """

    __tablename__ = "provider_credential"

    provider: str = Field(primary_key=True, max_length=32)
    #: Fernet token of {"api_key", "workspace_id", "webhook_secret"}; None once removed.
    token: str | None = Field(default=None, sa_type=Text)
    #: Bumped on every change; replicas compare it to decide whether to rebuild their providers.
    revision: int = Field(default=1)
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ProviderCredentialChange(SQLModel, table=True):
    """Who entered or removed which provider's key, and when; never the key. Rows are only ever inserted."""

    __tablename__ = "provider_credential_change"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32, index=True)
    #: "entered" or "removed".
    action: str = Field(max_length=16)
    actor: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class RateBudget(SQLModel, table=True):
    """One provider's request budget, shared by every replica (PostgreSQL deployments).

    `slots` holds the wall-clock times (database clock, UNIX seconds) of the requests handed out in the
    current window, past and reserved, oldest first, as a JSON list; `blocked_until` is when the provider
    said to stop until. A replica takes a slot under this row's lock (`SELECT … FOR UPDATE`).
    """

    __tablename__ = "rate_budget"

    provider: str = Field(primary_key=True, max_length=32)
    slots: str = Field(default="[]", sa_type=Text)
    blocked_until: float = Field(default=0.0)
