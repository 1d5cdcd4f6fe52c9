"""A read model of one post as Slack messages show it.

Content, approvals, decisions and per-account results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.db import repo
from bot.db.tables import AccountResult, Decision, Post, PostVersion, PublishAttempt
from bot.domain.model import Account, Draft, MediaItem, PostStatus, Queue
from bot.domain.networks import Network
from bot.domain.policy import Progress, Target


@dataclass(frozen=True)
class TargetView:
    key: str
    provider: str
    account_id: str
    network: Network | None
    name: str

    @property
    def label(self) -> str:
        network = self.network.display_name if self.network else self.provider
        return f"{network} · {self.name}"


@dataclass(frozen=True)
class ResultView:
    target: TargetView
    status: str
    url: str | None
    error: str | None


@dataclass(frozen=True)
class PostSnapshot:
    id: int
    status: PostStatus
    version: int
    author_id: str
    author_tz: str
    text: str
    targets: tuple[TargetView, ...]
    requested_time: datetime | None
    publish_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    required_approvals: int
    approvals: tuple[str, ...]
    rejected_by: str | None
    rejection_reason: str | None
    results: tuple[ResultView, ...]
    last_error: str | None
    approval_channel_id: str
    message_ts: str | None
    permalink: str | None
    media: tuple[MediaItem, ...] = ()
    queue: Queue | None = None
    overrides: tuple[tuple[Network, str], ...] = ()
    first_comment: str | None = None
    team_id: str = ""
    changes_requested_by: str | None = None
    changes_comment: str | None = None
    approved_version: int | None = None
    #: Approval progress under the workspace's rules, when the caller could work it out.
    progress: Progress | None = None

    @property
    def policy_targets(self) -> tuple[Target, ...]:
        return _policy_targets(self.targets)

    def as_draft(self) -> Draft:
        """The post as the composer takes it back for an edit."""
        accounts = tuple(
            Account(provider=t.provider, account_id=t.account_id, network=t.network or Network.X, name=t.name)
            for t in self.targets
        )
        return Draft(
            text=self.text,
            targets=accounts,
            publish_at=self.requested_time,
            media=self.media,
            queue=self.queue,
            overrides=self.overrides,
            first_comment=self.first_comment,
        )


@dataclass(frozen=True)
class ApprovalState:
    """What deciding whose approval a pending post still needs takes, and nothing else of its snapshot:
    App Home and `/post list` check up to a few hundred pending posts and show a few of them."""

    id: int
    team_id: str
    author_id: str
    targets: tuple[TargetView, ...]
    #: Who approved the current version, in order.
    approvals: tuple[str, ...]

    @property
    def policy_targets(self) -> tuple[Target, ...]:
        return _policy_targets(self.targets)


def _policy_targets(targets: tuple[TargetView, ...]) -> tuple[Target, ...]:
    return tuple(Target(account_key=t.key, network=t.network, label=t.label) for t in targets)


def overrides_to_json(overrides: tuple[tuple[Network, str], ...]) -> dict[str, str] | None:
    return {network.value: text for network, text in overrides} or None


def overrides_from_json(raw: dict[str, str] | None) -> tuple[tuple[Network, str], ...]:
    pairs = []
    for name, text in (raw or {}).items():
        network = Network.parse(name)
        if network is not None and isinstance(text, str):
            pairs.append((network, text))
    return tuple(pairs)


def content_hash(
    *,
    text: str,
    targets: list[dict[str, Any]],
    media: list[dict[str, Any]] | None,
    queue: dict[str, Any] | None,
    overrides: dict[str, str] | None,
    first_comment: str | None,
) -> str:
    """A fingerprint of everything that gets published; the dispatcher re-checks it before sending.

    The time is not part of it: an approved post may be rescheduled without new approvals.
    """
    canonical = json.dumps(
        {
            "text": text,
            "targets": targets,
            "media": media or [],
            "queue": queue,
            "overrides": overrides or {},
            "first_comment": first_comment,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_content(draft: Draft) -> repo.VersionContent:
    """A draft as a version stores it, with the fingerprint the approvals will be bound to."""
    targets: list[dict[str, Any]] = [
        {"provider": t.provider, "account_id": t.account_id, "network": t.network.value, "name": t.name}
        for t in draft.targets
    ]
    media = [media_to_json(m) for m in draft.media]
    queue = queue_to_json(draft.queue) if draft.queue else None
    overrides = overrides_to_json(draft.overrides)
    return repo.VersionContent(
        text=draft.text,
        targets=targets,
        media=media,
        queue=queue,
        overrides=overrides,
        first_comment=draft.first_comment,
        content_hash=content_hash(
            text=draft.text,
            targets=targets,
            media=media,
            queue=queue,
            overrides=overrides,
            first_comment=draft.first_comment,
        ),
    )


def version_hash(version: Any) -> str:
    return content_hash(
        text=version.text,
        targets=version.targets,
        media=version.media,
        queue=version.queue,
        overrides=version.overrides,
        first_comment=version.first_comment,
    )


def media_to_json(item: MediaItem) -> dict[str, Any]:
    entry = {
        "name": item.name,
        "mime_type": item.mime_type,
        "size": item.size,
        "slack_file_id": item.slack_file_id,
        "url": item.url,
    }
    if item.duration_ms is not None:
        # Only when known, so versions stored before lengths were read keep their content hash.
        entry["duration_ms"] = item.duration_ms
    return entry


def media_from_json(raw: list[dict[str, Any]] | None) -> tuple[MediaItem, ...]:
    items = []
    for entry in raw or []:
        size, duration = entry.get("size"), entry.get("duration_ms")
        items.append(
            MediaItem(
                name=str(entry.get("name", "")),
                mime_type=str(entry.get("mime_type", "application/octet-stream")),
                size=size if isinstance(size, int) else None,
                slack_file_id=entry.get("slack_file_id") or None,
                url=entry.get("url") or None,
                duration_ms=duration if isinstance(duration, int) else None,
            )
        )
    return tuple(items)


def queue_to_json(queue: Queue) -> dict[str, Any]:
    return {"provider": queue.provider, "queue_id": queue.queue_id, "name": queue.name}


def queue_from_json(raw: dict[str, Any] | None) -> Queue | None:
    if not raw or not raw.get("provider") or not raw.get("queue_id"):
        return None
    return Queue(provider=str(raw["provider"]), queue_id=str(raw["queue_id"]), name=str(raw.get("name", "")))


def target_views(raw: list[dict[str, object]]) -> tuple[TargetView, ...]:
    views = []
    for item in raw:
        provider = str(item.get("provider", ""))
        account_id = str(item.get("account_id", ""))
        views.append(
            TargetView(
                key=f"{provider}:{account_id}",
                provider=provider,
                account_id=account_id,
                network=Network.parse(str(item.get("network", ""))),
                name=str(item.get("name", account_id)),
            )
        )
    return tuple(views)


ProgressOf = Callable[[PostSnapshot], Progress]


@dataclass(frozen=True)
class PostRecords:
    """What a post's snapshot is made of besides the post row: its current version, every decision, the
    attempts of its current round and every result, as read in one transaction. A decision taken in that
    transaction is added with `with_decision`, so its messages are rendered without reading it all again."""

    version: PostVersion
    decisions: tuple[Decision, ...]
    attempts: tuple[PublishAttempt, ...]
    results: tuple[AccountResult, ...]

    def with_decision(self, decision: Decision) -> PostRecords:
        return replace(self, decisions=(*self.decisions, decision))


def load_records(session: Session, post: Post) -> PostRecords:
    assert post.id is not None
    return PostRecords(
        version=repo.get_version(session, post_id=post.id, version=post.version),
        decisions=tuple(repo.decisions_for(session, post_id=post.id)),
        attempts=tuple(
            repo.attempts_for(session, post_id=post.id, version=post.version, round=post.attempt_round)
        ),
        results=tuple(repo.results_for(session, post_id=post.id)),
    )


def snapshot_of(post: Post, records: PostRecords, progress: ProgressOf | None = None) -> PostSnapshot:
    """The snapshot of `post` as it is now in memory (status, times) with `records` of the same version."""
    return _assemble(
        post,
        records.version,
        decisions=records.decisions,
        attempts=records.attempts,
        results=records.results,
        progress=progress,
    )


def load_snapshot(session: Session, post: Post, progress: ProgressOf | None = None) -> PostSnapshot:
    return snapshot_of(post, load_records(session, post), progress)


def load_snapshots(
    session: Session, posts: Sequence[Post], progress: ProgressOf | None = None
) -> list[PostSnapshot]:
    """`load_snapshot` of each post, in the same order, with four queries for all of them (App Home and
    `/post list` show up to a few hundred posts; one query per post and record kind would not scale)."""
    records = repo.records_of(session, posts)
    snapshots = []
    for post in posts:
        assert post.id is not None
        version = records.versions.get(post.id)
        if version is None:
            raise LookupError(f"post {post.id} has no version {post.version}")
        snapshots.append(
            _assemble(
                post,
                version,
                decisions=records.decisions.get(post.id, []),
                attempts=[
                    a
                    for a in records.attempts.get(post.id, [])
                    if a.version == post.version and a.round == post.attempt_round
                ],
                results=records.results.get(post.id, []),
                progress=progress,
            )
        )
    return snapshots


def load_approval_states(session: Session, posts: Sequence[repo.PostRef]) -> list[ApprovalState]:
    """The `ApprovalState` of each post, in the same order, with two queries for all of them."""
    targets, approvals = repo.approval_inputs(session, posts)
    states = []
    for post in posts:
        states.append(
            ApprovalState(
                id=post.id,
                team_id=post.team_id,
                author_id=post.author_id,
                targets=target_views(targets.get(post.id, [])),
                approvals=tuple(approvals.get(post.id, ())),
            )
        )
    return states


def _assemble(
    post: Post,
    version: PostVersion,
    *,
    decisions: Iterable[Decision],
    attempts: Iterable[PublishAttempt],
    results: Iterable[AccountResult],
    progress: ProgressOf | None,
) -> PostSnapshot:
    """The snapshot of `post` from its current version and its records (the attempts of its current round,
    every decision and result, each in the order they were made)."""
    assert post.id is not None
    targets = target_views(version.targets)
    by_key = {(t.provider, t.account_id): t for t in targets}
    current = [d for d in decisions if d.version == post.version]
    rejection = next((d for d in current if d.kind == "reject"), None)
    changes = next((d for d in reversed(current) if d.kind == "request_changes"), None)
    by_id = {a.id: a for a in attempts}
    shown = []
    for row in results:
        attempt = by_id.get(row.attempt_id)
        if attempt is None:
            continue
        target = by_key.get((attempt.provider, row.account_id)) or TargetView(
            key=f"{attempt.provider}:{row.account_id}",
            provider=attempt.provider,
            account_id=row.account_id,
            network=None,
            name=row.account_id,
        )
        shown.append(ResultView(target=target, status=row.status, url=row.url, error=row.error))
    snapshot = PostSnapshot(
        id=post.id,
        status=PostStatus(post.status),
        version=post.version,
        author_id=post.author_id,
        author_tz=post.author_tz,
        text=version.text,
        targets=targets,
        requested_time=post.requested_time,
        publish_at=post.publish_at,
        created_at=post.created_at,
        finished_at=post.finished_at,
        required_approvals=post.required_approvals,
        approvals=tuple(d.user_id for d in current if d.kind == "approve"),
        rejected_by=rejection.user_id if rejection else None,
        rejection_reason=rejection.comment if rejection else None,
        results=tuple(shown),
        last_error=post.last_error,
        approval_channel_id=post.approval_channel_id,
        message_ts=post.message_ts,
        permalink=post.permalink,
        media=media_from_json(version.media),
        queue=queue_from_json(version.queue),
        overrides=overrides_from_json(version.overrides),
        first_comment=version.first_comment,
        team_id=post.team_id,
        changes_requested_by=changes.user_id if changes else None,
        changes_comment=changes.comment if changes else None,
        approved_version=post.approved_version,
    )
    if progress is not None and snapshot.status in (PostStatus.PENDING_APPROVAL, PostStatus.APPROVED):
        snapshot = replace(snapshot, progress=progress(snapshot))
    return snapshot
