"""The read model behind App Home: what one person should see and act on, in their time zone.

Every list is a bounded, indexed query (a capped page plus a count), so the tab stays fast with thousands
of posts.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.db import repo
from bot.db.engine import Database
from bot.domain.model import PostStatus
from bot.services.directory import UserDirectory
from bot.services.posts import PostService
from bot.services.snapshot import load_snapshot
from bot.services.workflow import Workflow
from bot.slack.views.forms import zone
from bot.slack.views.home import HomeData

SECTION = 10
_MINE = (PostStatus.PENDING_APPROVAL, PostStatus.CHANGES_REQUESTED, PostStatus.MISSED)
_SCHEDULED = (PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.SUBMITTED)
_DONE = (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED)
_ATTENTION = (PostStatus.FAILED, PostStatus.NEEDS_ATTENTION)


class HomeService:
    def __init__(
        self, *, db: Database, clock: Clock, posts: PostService, workflow: Workflow, users: UserDirectory
    ) -> None:
        self._db = db
        self._clock = clock
        self._posts = posts
        self._workflow = workflow
        self._users = users

    def home_for(self, *, team_id: str, user_id: str) -> HomeData:
        now = self._clock.now()
        tz = zone(self._users.timezone(user_id))
        approver = self._posts.is_approver_anywhere(team_id, user_id)
        with self._db.read() as session:
            pending = repo.list_by_status(
                session,
                team_id=team_id,
                statuses=[PostStatus.PENDING_APPROVAL],
                exclude_author_id=None,
                limit=200,
            )
            pending_snapshots = [load_snapshot(session, p) for p in pending] if approver else []
            mine = repo.list_by_status(
                session, team_id=team_id, statuses=_MINE, author_id=user_id, limit=SECTION
            )
            schedule = repo.upcoming(
                session, team_id=team_id, statuses=_SCHEDULED, until=now + timedelta(days=7), limit=SECTION
            )
            recent = repo.recently_finished(session, team_id=team_id, statuses=_DONE, limit=5)
            attention = repo.recently_finished(
                session,
                team_id=team_id,
                statuses=_ATTENTION,
                limit=SECTION,
                author_id=None if approver else user_id,
            )
            counts = {
                "mine": repo.count_by_status(session, team_id=team_id, statuses=_MINE, author_id=user_id),
                "schedule": repo.count_by_status(
                    session, team_id=team_id, statuses=_SCHEDULED, publish_before=now + timedelta(days=7)
                ),
                "recent": repo.count_by_status(session, team_id=team_id, statuses=_DONE),
                "attention": repo.count_by_status(
                    session, team_id=team_id, statuses=_ATTENTION, author_id=None if approver else user_id
                ),
            }
            data_mine = [load_snapshot(session, p) for p in mine]
            data_schedule = [load_snapshot(session, p) for p in schedule]
            data_recent = [load_snapshot(session, p) for p in recent]
            data_attention = [load_snapshot(session, p) for p in attention]
        awaiting = self._posts.awaiting(user_id, pending_snapshots)
        counts["awaiting_me"] = len(awaiting)
        notes = []
        if self._workflow.groups_unavailable:
            notes.append(
                "Slack user groups are not available on this workspace's plan, so approvers are the people "
                "listed in the settings."
            )
        return HomeData(
            user_id=user_id,
            tz=tz,
            now=now,
            awaiting_me=awaiting[:SECTION],
            mine=data_mine,
            schedule=data_schedule,
            recent=data_recent,
            attention=data_attention,
            is_admin=self._workflow.is_admin(team_id, user_id),
            notes=notes,
            counts=counts,
        )
