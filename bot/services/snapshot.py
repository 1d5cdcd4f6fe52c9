"""A read model of one post as Slack messages show it.

Content, approvals, decisions and per-account results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.db import repo
from bot.db.tables import Post
from bot.domain.model import MediaItem, PostStatus, Queue
from bot.domain.networks import Network


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


def media_to_json(item: MediaItem) -> dict[str, Any]:
    return {
        "name": item.name,
        "mime_type": item.mime_type,
        "size": item.size,
        "slack_file_id": item.slack_file_id,
        "url": item.url,
    }


def media_from_json(raw: list[dict[str, Any]] | None) -> tuple[MediaItem, ...]:
    items = []
    for entry in raw or []:
        size = entry.get("size")
        items.append(
            MediaItem(
                name=str(entry.get("name", "")),
                mime_type=str(entry.get("mime_type", "application/octet-stream")),
                size=size if isinstance(size, int) else None,
                slack_file_id=entry.get("slack_file_id") or None,
                url=entry.get("url") or None,
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


def load_snapshot(session: Session, post: Post) -> PostSnapshot:
    assert post.id is not None
    version = repo.get_version(session, post_id=post.id, version=post.version)
    targets = target_views(version.targets)
    by_key = {(t.provider, t.account_id): t for t in targets}
    decisions = [d for d in repo.decisions_for(session, post_id=post.id) if d.version == post.version]
    rejection = next((d for d in decisions if d.kind == "reject"), None)
    attempts = {a.id: a for a in repo.attempts_for(session, post_id=post.id, version=post.version)}
    results = []
    for row in repo.results_for(session, post_id=post.id):
        attempt = attempts.get(row.attempt_id)
        if attempt is None:
            continue
        target = by_key.get((attempt.provider, row.account_id)) or TargetView(
            key=f"{attempt.provider}:{row.account_id}",
            provider=attempt.provider,
            account_id=row.account_id,
            network=None,
            name=row.account_id,
        )
        results.append(ResultView(target=target, status=row.status, url=row.url, error=row.error))
    return PostSnapshot(
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
        approvals=tuple(d.user_id for d in decisions if d.kind == "approve"),
        rejected_by=rejection.user_id if rejection else None,
        rejection_reason=rejection.comment if rejection else None,
        results=tuple(results),
        last_error=post.last_error,
        approval_channel_id=post.approval_channel_id,
        message_ts=post.message_ts,
        permalink=post.permalink,
        media=media_from_json(version.media),
        queue=queue_from_json(version.queue),
    )
