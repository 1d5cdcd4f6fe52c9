"""Repository functions: every query and write Postgate makes, keyword-only after the session.

Status changes are compare-and-set on the expected old status; dispatch claims take a lease and every
finishing write is fenced on that lease, so double clicks and several replicas are harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, and_, any_, delete, func, literal, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from bot.clock import as_utc
from bot.db.tables import (
    AccountResult,
    AuditEvent,
    Decision,
    DigestRun,
    OutboxMessage,
    Post,
    PostVersion,
    ProviderCredential,
    ProviderCredentialChange,
    PublishAttempt,
    SlackEventSeen,
    WorkspaceSettingsRow,
)
from bot.domain.model import PostStatus
from bot.errors import PostNotFound

SYSTEM_ACTOR = "postgate"


def get_post(session: Session, post_id: int, *, team_id: str | None = None, for_update: bool = False) -> Post:
    statement = select(Post).where(Post.id == post_id)
    if team_id is not None:
        statement = statement.where(Post.team_id == team_id)
    if for_update:
        statement = statement.with_for_update()
    post = session.exec(statement).first()
    if post is None:
        raise PostNotFound("That post no longer exists.")
    return post


def get_version(session: Session, *, post_id: int, version: int) -> PostVersion:
    row = session.exec(
        select(PostVersion).where(PostVersion.post_id == post_id, PostVersion.version == version)
    ).one()
    return row


@dataclass(frozen=True)
class VersionContent:
    """Everything one version of a post publishes, as it is stored."""

    text: str
    targets: list[dict[str, Any]]
    media: list[dict[str, Any]]
    queue: dict[str, Any] | None
    overrides: dict[str, str] | None
    first_comment: str | None
    content_hash: str


def add_post(
    session: Session,
    *,
    team_id: str,
    author_id: str,
    author_tz: str,
    approval_channel_id: str,
    content: VersionContent,
    requested_time: datetime | None,
    required_approvals: int,
    now: datetime,
    next_reminder_at: datetime | None = None,
) -> Post:
    post = Post(
        team_id=team_id,
        author_id=author_id,
        author_tz=author_tz,
        approval_channel_id=approval_channel_id,
        status=PostStatus.PENDING_APPROVAL,
        version=1,
        required_approvals=required_approvals,
        requested_time=requested_time,
        next_reminder_at=next_reminder_at,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    session.flush()
    assert post.id is not None
    _insert_version(session, post_id=post.id, number=1, content=content, created_by=author_id, now=now)
    record_audit(session, post_id=post.id, actor=author_id, action="created", to_status=post.status, at=now)
    return post


def add_version(
    session: Session, *, post: Post, content: VersionContent, created_by: str, now: datetime
) -> PostVersion:
    """A new version of `post` (earlier versions are never changed); the post now points at it."""
    assert post.id is not None
    version = _insert_version(
        session, post_id=post.id, number=post.version + 1, content=content, created_by=created_by, now=now
    )
    post.version = version.version
    return version


def _insert_version(
    session: Session, *, post_id: int, number: int, content: VersionContent, created_by: str, now: datetime
) -> PostVersion:
    version = PostVersion(
        post_id=post_id,
        version=number,
        text=content.text,
        targets=content.targets,
        media=content.media,
        queue=content.queue,
        overrides=content.overrides,
        first_comment=content.first_comment,
        content_hash=content.content_hash,
        created_by=created_by,
        created_at=now,
    )
    session.add(version)
    return version


def record_audit(
    session: Session,
    *,
    post_id: int,
    actor: str,
    action: str,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            post_id=post_id,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            detail=detail,
            created_at=at,
        )
    )


def list_audit(session: Session, *, post_id: int) -> list[AuditEvent]:
    return list(
        session.exec(select(AuditEvent).where(AuditEvent.post_id == post_id).order_by(col(AuditEvent.id)))
    )


def approvals_for(session: Session, *, post_id: int, version: int) -> list[str]:
    rows = session.exec(
        select(Decision.user_id)
        .where(Decision.post_id == post_id, Decision.version == version, Decision.kind == "approve")
        .order_by(col(Decision.id))
    )
    return list(rows)


def decisions_for(session: Session, *, post_id: int) -> list[Decision]:
    return list(session.exec(select(Decision).where(Decision.post_id == post_id).order_by(col(Decision.id))))


def add_decision(
    session: Session,
    *,
    post_id: int,
    version: int,
    user_id: str,
    kind: str,
    comment: str | None,
    now: datetime,
) -> Decision:
    decision = Decision(
        post_id=post_id, version=version, user_id=user_id, kind=kind, comment=comment, created_at=now
    )
    session.add(decision)
    return decision


def enqueue_message(
    session: Session, *, post_id: int | None, kind: str, payload: dict[str, Any], now: datetime
) -> None:
    session.add(
        OutboxMessage(post_id=post_id, kind=kind, payload=payload, next_attempt_at=now, created_at=now)
    )


def dead_messages(
    session: Session, *, team_id: str | None, limit: int
) -> list[tuple[OutboxMessage, Post | None]]:
    """The outbox messages given up on, the latest first, each with its post (None for the digest).
    With `team_id`, those of that workspace's posts and those of no post."""
    statement = (
        select(OutboxMessage, Post)
        .join(Post, col(OutboxMessage.post_id) == col(Post.id), isouter=True)
        .where(OutboxMessage.status == "dead")
    )
    if team_id is not None:
        statement = statement.where(or_(col(Post.team_id) == team_id, col(OutboxMessage.post_id).is_(None)))
    statement = statement.order_by(col(OutboxMessage.next_attempt_at).desc(), col(OutboxMessage.id).desc())
    return [(message, post) for message, post in session.exec(statement.limit(limit))]


def count_dead_messages(session: Session, *, team_id: str | None) -> int:
    statement = (
        select(func.count())
        .select_from(OutboxMessage)
        .join(Post, col(OutboxMessage.post_id) == col(Post.id), isouter=True)
        .where(OutboxMessage.status == "dead")
    )
    if team_id is not None:
        statement = statement.where(or_(col(Post.team_id) == team_id, col(OutboxMessage.post_id).is_(None)))
    return int(session.exec(statement).one())


def get_message(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id)


def resend_message(session: Session, *, message_id: int, payload: dict[str, Any], now: datetime) -> bool:
    """Put a dead message back as due now with fresh tries; False when it is not dead (any more)."""
    result = session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == "dead")
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            payload=payload,
            lease_owner=None,
            lease_expires_at=None,
        ),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- dispatch -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    post_id: int
    claims: int
    owner: str


def claim_due_posts(
    session: Session, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[Claim]:
    """Claim approved posts that are due, and posts whose submission lease expired (a crashed dispatcher).

    One UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING: on PostgreSQL replicas skip
    each other's rows; on SQLite the statement runs under BEGIN IMMEDIATE and is atomic all the same.
    """
    due = (
        select(Post.id)
        .where(
            or_(
                and_(
                    col(Post.status) == PostStatus.APPROVED,
                    col(Post.next_action_at) <= now,
                    # A cancel in progress holds the lease of an approved post.
                    or_(col(Post.lease_owner).is_(None), col(Post.lease_expires_at) < now),
                ),
                and_(col(Post.status) == PostStatus.PUBLISHING, col(Post.lease_expires_at) < now),
            )
        )
        .order_by(col(Post.next_action_at), col(Post.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Post)
        .where(col(Post.id).in_(due.scalar_subquery()))
        .where(col(Post.status).in_([PostStatus.APPROVED, PostStatus.PUBLISHING]))
        .values(
            status=PostStatus.PUBLISHING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            claims=Post.claims + 1,
            updated_at=now,
        )
        .returning(col(Post.id), col(Post.claims))
    )
    rows = session.execute(statement, execution_options={"synchronize_session": False}).all()
    return [Claim(post_id=row[0], claims=row[1], owner=owner) for row in rows]


def claim_follow_ups(
    session: Session, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[Claim]:
    """Claim submitted posts whose next status check is due."""
    due = (
        select(Post.id)
        .where(
            col(Post.status) == PostStatus.SUBMITTED,
            col(Post.next_action_at) <= now,
            or_(col(Post.lease_owner).is_(None), col(Post.lease_expires_at) < now),
        )
        .order_by(col(Post.next_action_at), col(Post.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Post)
        .where(col(Post.id).in_(due.scalar_subquery()))
        .where(col(Post.status) == PostStatus.SUBMITTED)
        .values(lease_owner=owner, lease_expires_at=now + lease, updated_at=now)
        .returning(col(Post.id), col(Post.claims))
    )
    rows = session.execute(statement, execution_options={"synchronize_session": False}).all()
    return [Claim(post_id=row[0], claims=row[1], owner=owner) for row in rows]


def attempt_by_external_id(session: Session, *, provider: str, external_id: str) -> PublishAttempt | None:
    return session.exec(
        select(PublishAttempt)
        .where(PublishAttempt.provider == provider, PublishAttempt.external_id == external_id)
        .order_by(col(PublishAttempt.id).desc())
    ).first()


def take_lease(
    session: Session,
    *,
    post_id: int,
    team_id: str,
    statuses: Sequence[PostStatus],
    owner: str,
    now: datetime,
    lease: timedelta,
) -> Claim | None:
    """Lease one post outside the dispatcher (to cancel it), if it is in `statuses` and nobody holds it."""
    statement = (
        update(Post)
        .where(
            col(Post.id) == post_id,
            col(Post.team_id) == team_id,
            col(Post.status).in_(list(statuses)),
            or_(col(Post.lease_owner).is_(None), col(Post.lease_expires_at) < now),
        )
        .values(lease_owner=owner, lease_expires_at=now + lease, claims=Post.claims + 1, updated_at=now)
        .returning(col(Post.id), col(Post.claims))
    )
    row = session.execute(statement, execution_options={"synchronize_session": False}).first()
    return Claim(post_id=row[0], claims=row[1], owner=owner) if row else None


def release_leases(session: Session, *, owner: str, now: datetime) -> int:
    """Hand back every post `owner` holds (at shutdown), so another dispatcher may claim it at once."""
    result = session.execute(
        update(Post)
        .where(col(Post.lease_owner) == owner, col(Post.lease_expires_at) > now)
        .values(lease_expires_at=now, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def fenced_post(session: Session, claim: Claim) -> Post | None:
    """The claimed post, locked, if this dispatcher still holds the lease; None when it was lost."""
    post = session.exec(
        select(Post)
        .where(Post.id == claim.post_id, Post.lease_owner == claim.owner, Post.claims == claim.claims)
        .with_for_update()
    ).first()
    return post


def next_due_time(session: Session) -> datetime | None:
    """The earliest time the dispatcher has work: a due publication or status check."""
    value = session.exec(
        select(func.min(Post.next_action_at)).where(
            col(Post.status).in_([PostStatus.APPROVED, PostStatus.SUBMITTED])
        )
    ).first()
    lease = session.exec(
        select(func.min(Post.lease_expires_at)).where(col(Post.status) == PostStatus.PUBLISHING)
    ).first()
    candidates = [v for v in (value, lease) if v is not None]
    if not candidates:
        return None
    return min(as_utc(v) for v in candidates)


def attempts_for(
    session: Session, *, post_id: int, version: int, round: int | None = None
) -> list[PublishAttempt]:
    """The post version's attempts; of one publishing round when `round` is given."""
    statement = select(PublishAttempt).where(
        PublishAttempt.post_id == post_id, PublishAttempt.version == version
    )
    if round is not None:
        statement = statement.where(PublishAttempt.round == round)
    return list(session.exec(statement.order_by(col(PublishAttempt.id))))


def results_for(session: Session, *, post_id: int) -> list[AccountResult]:
    return list(
        session.exec(
            select(AccountResult).where(AccountResult.post_id == post_id).order_by(col(AccountResult.id))
        )
    )


def upsert_result(
    session: Session,
    *,
    attempt: PublishAttempt,
    account_id: str,
    status: str,
    url: str | None,
    error: str | None,
    now: datetime,
) -> None:
    assert attempt.id is not None
    row = session.exec(
        select(AccountResult).where(
            AccountResult.attempt_id == attempt.id, AccountResult.account_id == account_id
        )
    ).first()
    if row is None:
        row = AccountResult(
            attempt_id=attempt.id,
            post_id=attempt.post_id,
            account_id=account_id,
            status=status,
            updated_at=now,
        )
    row.status = status
    row.url = url
    row.error = error
    row.updated_at = now
    session.add(row)


# --- lists for people ---------------------------------------------------------------------------------


def list_by_status(
    session: Session,
    *,
    team_id: str,
    statuses: Iterable[PostStatus],
    author_id: str | None = None,
    exclude_author_id: str | None = None,
    order_by_publish: bool = False,
    limit: int = 10,
) -> list[Post]:
    statement = select(Post).where(Post.team_id == team_id, col(Post.status).in_(list(statuses)))
    if author_id is not None:
        statement = statement.where(Post.author_id == author_id)
    if exclude_author_id is not None:
        statement = statement.where(Post.author_id != exclude_author_id)
    if order_by_publish:
        statement = statement.order_by(col(Post.publish_at), col(Post.id))
    else:
        statement = statement.order_by(col(Post.id).desc())
    return list(session.exec(statement.limit(limit)))


@dataclass(frozen=True)
class PostRef:
    """Who wrote a post and which version is current, without the rest of its row: enough to decide whose
    approval it still needs, for lists that check many posts and show a few."""

    id: int
    team_id: str
    author_id: str
    version: int


def refs_by_status(
    session: Session,
    *,
    team_id: str,
    statuses: Iterable[PostStatus],
    exclude_author_id: str | None = None,
    limit: int,
) -> list[PostRef]:
    """`list_by_status`'s posts, newest first, as `PostRef`s."""
    statement = select(Post.id, Post.team_id, Post.author_id, Post.version).where(
        Post.team_id == team_id, col(Post.status).in_(list(statuses))
    )
    if exclude_author_id is not None:
        statement = statement.where(Post.author_id != exclude_author_id)
    rows = session.exec(statement.order_by(col(Post.id).desc()).limit(limit))
    return [PostRef(id=i, team_id=t, author_id=a, version=v) for i, t, a, v in rows if i is not None]


def posts_by_id(session: Session, ids: Sequence[int]) -> list[Post]:
    """The posts with these ids, in this order (missing ones left out)."""
    found = {p.id: p for p in session.exec(select(Post).where(col(Post.id).in_(list(ids))))} if ids else {}
    return [found[i] for i in ids if i in found]


def versions_of(session: Session, posts: Sequence[Post]) -> dict[int, PostVersion]:
    """The current version of each post, in one query."""
    if not posts:
        return {}
    wanted = {(p.id, p.version) for p in posts}
    rows = session.exec(select(PostVersion).where(col(PostVersion.post_id).in_([p.id for p in posts])))
    return {row.post_id: row for row in rows if (row.post_id, row.version) in wanted}


@dataclass(frozen=True)
class PostRecords:
    """What many posts' snapshots are made of, by post id: the current version, and every decision,
    publish attempt and account result, each list in the order the rows were written."""

    versions: dict[int, PostVersion]
    decisions: dict[int, list[Decision]]
    attempts: dict[int, list[PublishAttempt]]
    results: dict[int, list[AccountResult]]


# Post ids bound per IN list on SQLite: far under its limit on parameters.
_IN_CHUNK = 500


def records_of(session: Session, posts: Sequence[Post]) -> PostRecords:
    """`PostRecords` of `posts` with one query per kind of record, whatever their number."""
    current = {p.id: p.version for p in posts if p.id is not None}
    ids = sorted(current)
    records = PostRecords(versions={}, decisions={}, attempts={}, results={})
    postgres = session.get_bind().dialect.name == "postgresql"
    step = max(len(ids), 1) if postgres else _IN_CHUNK
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        for version in session.exec(
            select(PostVersion).where(_among(PostVersion.post_id, chunk, postgres=postgres))
        ):
            if current[version.post_id] == version.version:
                records.versions[version.post_id] = version
        for decision in session.exec(
            select(Decision)
            .where(_among(Decision.post_id, chunk, postgres=postgres))
            .order_by(col(Decision.id))
        ):
            records.decisions.setdefault(decision.post_id, []).append(decision)
        for attempt in session.exec(
            select(PublishAttempt)
            .where(_among(PublishAttempt.post_id, chunk, postgres=postgres))
            .order_by(col(PublishAttempt.id))
        ):
            records.attempts.setdefault(attempt.post_id, []).append(attempt)
        for result in session.exec(
            select(AccountResult)
            .where(_among(AccountResult.post_id, chunk, postgres=postgres))
            .order_by(col(AccountResult.id))
        ):
            records.results.setdefault(result.post_id, []).append(result)
    return records


def approval_inputs(
    session: Session, posts: Sequence[PostRef]
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[str]]]:
    """The targets of each post's current version, and who approved that version (in order), by post id:
    two queries for any number of posts, reading only those columns."""
    current = {p.id: p.version for p in posts}
    ids = sorted(current)
    targets: dict[int, list[dict[str, Any]]] = {}
    approvals: dict[int, list[str]] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    step = max(len(ids), 1) if postgres else _IN_CHUNK
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        for post_id, version, chosen in session.exec(
            select(PostVersion.post_id, PostVersion.version, PostVersion.targets).where(
                _among(PostVersion.post_id, chunk, postgres=postgres)
            )
        ):
            if current[post_id] == version:
                targets[post_id] = list(chosen)
        for post_id, version, user_id in session.exec(
            select(Decision.post_id, Decision.version, Decision.user_id)
            .where(_among(Decision.post_id, chunk, postgres=postgres), col(Decision.kind) == "approve")
            .order_by(col(Decision.id))
        ):
            if current[post_id] == version:
                approvals.setdefault(post_id, []).append(user_id)
    return targets, approvals


def _among(column: Any, ids: list[int], *, postgres: bool) -> ColumnElement[bool]:
    """`column IN ids`. PostgreSQL gets the ids as one array parameter: the statement's text, and so its
    parsing and its prepared plan, stay the same whatever the number of ids."""
    if postgres:
        return col(column) == any_(literal(ids, ARRAY(Integer)))
    return col(column).in_(ids)


def approved_by_user(session: Session, *, user_id: str, posts: Sequence[Post]) -> set[int]:
    if not posts:
        return set()
    rows = session.exec(
        select(Decision.post_id, Decision.version).where(
            Decision.user_id == user_id, col(Decision.post_id).in_([p.id for p in posts])
        )
    )
    current = {p.id: p.version for p in posts}
    return {post_id for post_id, version in rows if current.get(post_id) == version}


def count_by_status(
    session: Session,
    *,
    team_id: str,
    statuses: Iterable[PostStatus],
    author_id: str | None = None,
    publish_before: datetime | None = None,
) -> int:
    statement = (
        select(func.count())
        .select_from(Post)
        .where(Post.team_id == team_id, col(Post.status).in_(list(statuses)))
    )
    if author_id is not None:
        statement = statement.where(Post.author_id == author_id)
    if publish_before is not None:
        statement = statement.where(col(Post.publish_at) < publish_before)
    return int(session.exec(statement).one())


def upcoming(
    session: Session, *, team_id: str, statuses: Iterable[PostStatus], until: datetime, limit: int
) -> list[Post]:
    """Posts due before `until`, soonest first (App Home's schedule, the digest)."""
    return list(
        session.exec(
            select(Post)
            .where(
                Post.team_id == team_id,
                col(Post.status).in_(list(statuses)),
                col(Post.publish_at) < until,
            )
            .order_by(col(Post.publish_at), col(Post.id))
            .limit(limit)
        )
    )


def recently_finished(
    session: Session,
    *,
    team_id: str,
    statuses: Iterable[PostStatus],
    limit: int,
    since: datetime | None = None,
    author_id: str | None = None,
) -> list[Post]:
    """The `limit` posts in `statuses` that finished last, newest first.

    One query per status, each read in order from `ix_post_team_status_finished_at` and stopped after
    `limit` rows, then merged: a single `status IN (…)` query has to sort every finished post of the
    workspace (tens of thousands of publications) to find the newest few.
    """
    found: list[Post] = []
    for status in dict.fromkeys(statuses):
        statement = select(Post).where(Post.team_id == team_id, Post.status == status)
        if since is not None:
            statement = statement.where(col(Post.finished_at) >= since)
        if author_id is not None:
            statement = statement.where(Post.author_id == author_id)
        found += session.exec(
            statement.order_by(col(Post.finished_at).desc(), col(Post.id).desc()).limit(limit)
        )
    found.sort(key=lambda p: (as_utc(p.finished_at) if p.finished_at else _NEVER, p.id or 0), reverse=True)
    return found[:limit]


_NEVER = datetime.min.replace(tzinfo=UTC)


def count_finished_since(
    session: Session, *, team_id: str, statuses: Iterable[PostStatus], since: datetime
) -> int:
    statement = (
        select(func.count())
        .select_from(Post)
        .where(Post.team_id == team_id, col(Post.status).in_(list(statuses)), col(Post.finished_at) >= since)
    )
    return int(session.exec(statement).one())


# --- housekeeping ---------------------------------------------------------------------------------------

WAITING_STATUSES = (PostStatus.PENDING_APPROVAL, PostStatus.CHANGES_REQUESTED)


def due_missed(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Posts still waiting for a decision whose publish time has come."""
    ids = session.exec(
        select(col(Post.id))
        .where(col(Post.status).in_(list(WAITING_STATUSES)), col(Post.requested_time) <= now)
        .order_by(col(Post.requested_time))
        .limit(limit)
    )
    return [post_id for post_id in ids if post_id is not None]


def due_reminders(session: Session, *, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    rows = session.exec(
        select(Post.id, Post.next_reminder_at)
        .where(col(Post.status) == PostStatus.PENDING_APPROVAL, col(Post.next_reminder_at) <= now)
        .order_by(col(Post.next_reminder_at))
        .limit(limit)
    )
    return [(int(post_id), at) for post_id, at in rows if post_id is not None and at is not None]


def take_reminder(session: Session, *, post_id: int, expected: datetime, following: datetime | None) -> bool:
    """Compare-and-set the post's reminder time: only one replica sends each reminder."""
    result = session.execute(
        update(Post)
        .where(
            col(Post.id) == post_id,
            col(Post.status) == PostStatus.PENDING_APPROVAL,
            col(Post.next_reminder_at) == expected,
        )
        .values(next_reminder_at=following, reminders_sent=Post.reminders_sent + 1),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def next_housekeeping_time(session: Session) -> datetime | None:
    reminder = session.exec(
        select(func.min(Post.next_reminder_at)).where(col(Post.status) == PostStatus.PENDING_APPROVAL)
    ).first()
    missed = session.exec(
        select(func.min(Post.requested_time)).where(col(Post.status).in_(list(WAITING_STATUSES)))
    ).first()
    candidates = [v for v in (reminder, missed) if v is not None]
    if not candidates:
        return None
    return min(as_utc(v) for v in candidates)


def digest_claimed(session: Session, *, team_id: str, day: str) -> bool:
    """Whether `day`'s digest was already claimed by some replica."""
    return session.get(DigestRun, (team_id, day)) is not None


def claim_digest(session: Session, *, team_id: str, day: str, now: datetime) -> bool:
    """True for the one caller that owes `day`'s digest (the primary key refuses every other)."""
    return _insert_once(session, DigestRun(team_id=team_id, day=day, created_at=now))


def active_teams(session: Session) -> list[str]:
    teams = set(session.exec(select(Post.team_id).distinct()))
    teams |= set(session.exec(select(WorkspaceSettingsRow.team_id)))
    return sorted(t for t in teams if t)


def first_sight_of_event(session: Session, *, event_id: str, now: datetime) -> bool:
    """True the first time `event_id` is seen (on any replica); False for Slack's retries of it."""
    return _insert_once(session, SlackEventSeen(event_id=event_id, seen_at=now))


def _insert_once(session: Session, row: SQLModel) -> bool:
    """Insert `row` unless its primary key exists: the database decides which replica goes first."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def forget_events_before(session: Session, *, before: datetime) -> None:
    session.execute(delete(SlackEventSeen).where(col(SlackEventSeen.seen_at) < before))


# --- provider keys entered in Slack ----------------------------------------------------------------------


def provider_credentials(session: Session) -> list[ProviderCredential]:
    """Every stored provider's row, removed ones (token None) included."""
    return list(session.exec(select(ProviderCredential).order_by(col(ProviderCredential.provider))))


def provider_credential_revisions(session: Session) -> tuple[tuple[str, int], ...]:
    """(provider, revision) of every row: a cheap fingerprint that changes with any save or removal."""
    rows = session.exec(
        select(ProviderCredential.provider, ProviderCredential.revision).order_by(
            col(ProviderCredential.provider)
        )
    )
    return tuple((str(provider), int(revision)) for provider, revision in rows)


def set_provider_credential(
    session: Session, *, provider: str, token: str | None, actor: str, now: datetime
) -> int:
    """Store `provider`'s encrypted credentials (None removes them), record who did it, and return the new
    revision. Two admins saving at once both succeed; the later save is the one in force."""
    row = session.get(ProviderCredential, provider, with_for_update=True)
    if row is None:
        fresh = ProviderCredential(
            provider=provider, token=token, revision=1, updated_by=actor, updated_at=now
        )
        if not _insert_once(session, fresh):
            # Another replica inserted it a moment ago; its row is there to update now.
            row = session.get(ProviderCredential, provider, with_for_update=True, populate_existing=True)
    if row is not None:
        row.token = token
        row.revision += 1
        row.updated_by = actor
        row.updated_at = now
        session.add(row)
    revision = row.revision if row is not None else 1
    session.add(
        ProviderCredentialChange(
            provider=provider, action="entered" if token else "removed", actor=actor, created_at=now
        )
    )
    return revision


def replace_provider_credential_token(session: Session, *, provider: str, revision: int, token: str) -> bool:
    """The same credentials under another encryption key, unless they changed since `revision` was read."""
    result = session.execute(
        update(ProviderCredential)
        .where(col(ProviderCredential.provider) == provider, col(ProviderCredential.revision) == revision)
        .values(token=token),
        execution_options={"synchronize_session": False},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
