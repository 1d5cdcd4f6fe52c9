"""A post's full record (created, versions, decisions, reminders, submissions, results) for App Home's
history modal, and the workspace's record as a CSV file uploaded to whoever asked (`/post export`).

Both read the append-only audit trail; nothing here writes to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from sqlmodel import col, select

from bot.clock import as_utc
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import AuditEvent, Post, PostVersion
from bot.services.export import ExportRow, render_csv
from bot.services.posts import PostService
from bot.services.snapshot import PostSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    detail: str | None
    version: int | None


@dataclass(frozen=True)
class Export:
    rows: int
    posts: int
    scope: str


class HistoryService:
    def __init__(self, *, db: Database, client: WebClient, posts: PostService) -> None:
        self._db = db
        self._client = client
        self._posts = posts

    def history(self, *, team_id: str, post_id: int) -> tuple[PostSnapshot, list[HistoryEntry]]:
        snapshot = self._posts.snapshot(team_id=team_id, post_id=post_id)
        with self._db.read() as session:
            events = repo.list_audit(session, post_id=post_id)
        entries = [
            HistoryEntry(at=e.created_at, actor=e.actor, action=e.action, detail=e.detail, version=None)
            for e in events
        ]
        return snapshot, entries

    def export_rows(self, *, team_id: str, author_id: str | None) -> list[ExportRow]:
        """Every audit event of the workspace's posts (or of one author's), oldest first."""
        with self._db.read() as session:
            statement = (
                select(AuditEvent, Post, PostVersion)
                .join(Post, col(Post.id) == col(AuditEvent.post_id))
                .join(
                    PostVersion,
                    (col(PostVersion.post_id) == col(Post.id))
                    & (col(PostVersion.version) == col(Post.version)),
                )
                .where(Post.team_id == team_id)
                .order_by(col(AuditEvent.id))
            )
            if author_id is not None:
                statement = statement.where(Post.author_id == author_id)
            rows = []
            for event, post, version in session.exec(statement):
                first_line = (version.text.strip().splitlines() or [""])[0]
                accounts = ", ".join(
                    f"{t.get('network', '')}:{t.get('name', t.get('account_id', ''))}"
                    for t in version.targets
                )
                rows.append(
                    ExportRow(
                        post_id=post.id or 0,
                        at=_iso(event.created_at),
                        actor=event.actor,
                        action=event.action,
                        from_status=event.from_status or "",
                        to_status=event.to_status or "",
                        version=post.version,
                        detail=event.detail or "",
                        post_text_first_line=first_line,
                        accounts=accounts,
                    )
                )
        return rows

    def export_to(self, *, team_id: str, user_id: str, everything: bool, today: str) -> Export:
        """Upload the CSV into the user's DM with Postgate; `everything` is for admins and approvers."""
        rows = self.export_rows(team_id=team_id, author_id=None if everything else user_id)
        scope = "all posts" if everything else "your posts"
        channel = self._client.conversations_open(users=user_id)["channel"]["id"]
        self._client.files_upload_v2(
            channel=channel,
            content=render_csv(rows),
            filename=f"postgate-history-{today}.csv",
            title=f"Postgate history ({scope}, {today})",
            initial_comment=f"Here is the full record of {scope}: {len(rows):,} events.",
        )
        log.info("history export (%s, %s rows) uploaded for %s", scope, len(rows), user_id)
        return Export(rows=len(rows), posts=len({r.post_id for r in rows}), scope=scope)


def _iso(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
