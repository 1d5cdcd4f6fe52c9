"""The read model behind App Home: what one person should see and act on, in their time zone.

Every list is a bounded, indexed query (a capped page plus a count), so the tab stays fast with thousands
of posts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.clock import Clock, zone
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import Post
from bot.domain.model import PostStatus
from bot.services.directory import UserDirectory
from bot.services.posts import PostService
from bot.services.snapshot import PostSnapshot, load_approval_states, load_snapshots
from bot.services.undelivered import Undelivered, load_undelivered
from bot.services.workflow import Workflow

SECTION = 10
#: Pending posts read to find those awaiting the viewer; the tab shows a few and counts them.
PENDING_LIMIT = 200
#: "Recently published (N)" counts the publications of this past stretch, as the schedule shows the next week.
RECENT_WINDOW = timedelta(days=7)
#: Admins see the latest few Slack messages Postgate gave up on, and how many there are.
UNDELIVERED_SHOWN = 5
_MINE = (PostStatus.PENDING_APPROVAL, PostStatus.CHANGES_REQUESTED, PostStatus.MISSED)
_SCHEDULED = (PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.SUBMITTED)
_DONE = (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED)
_ATTENTION = (PostStatus.FAILED, PostStatus.NEEDS_ATTENTION)


class HomeSection(StrEnum):
    """Keys of `HomeData.counts`: each section's total, of which the lists hold the first few."""

    AWAITING_ME = "awaiting_me"
    MINE = "mine"
    SCHEDULE = "schedule"
    RECENT = "recent"
    ATTENTION = "attention"


@dataclass(frozen=True)
class HomeData:
    user_id: str
    #: The viewer's zone: the schedule is grouped into days as they live them.
    tz: ZoneInfo
    now: datetime
    #: Pending posts this user may approve.
    awaiting_me: list[PostSnapshot]
    #: The user's own drafts that are not decided: pending, changes requested, missed.
    mine: list[PostSnapshot]
    #: Approved or submitted posts due in the next 7 days, soonest first.
    schedule: list[PostSnapshot]
    #: Published or partly published posts, newest first.
    recent: list[PostSnapshot]
    #: Failed posts and posts needing a human: the user's own, or all of them for approvers.
    attention: list[PostSnapshot]
    is_admin: bool
    notes: list[str] = field(default_factory=list)
    #: Totals per `HomeSection`, when a list holds only the first posts of a longer one.
    counts: dict[str, int] = field(default_factory=dict)
    #: The Slack messages Postgate gave up on (admins only; None for everyone else).
    undelivered: Undelivered | None = None


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
        with self._db.read() as session:
            # Inside the session: the settings are read once for all the checks below.
            approver = self._posts.is_approver_anywhere(team_id, user_id)
            is_admin = self._workflow.is_admin(team_id, user_id)
            pending = (
                repo.refs_by_status(
                    session, team_id=team_id, statuses=[PostStatus.PENDING_APPROVAL], limit=PENDING_LIMIT
                )
                if approver
                else []
            )
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
                # The past week's, not every publication ever: a count over the whole history would
                # grow with it, on every opening of the tab.
                "recent": repo.count_finished_since(
                    session, team_id=team_id, statuses=_DONE, since=now - RECENT_WINDOW
                ),
                "attention": repo.count_by_status(
                    session, team_id=team_id, statuses=_ATTENTION, author_id=None if approver else user_id
                ),
            }
            # Whose approval counts needs only each pending post's targets and approvals (two queries);
            # full snapshots only for the posts shown, every section's in four queries.
            undelivered = (
                load_undelivered(session, team_id=team_id, limit=UNDELIVERED_SHOWN) if is_admin else None
            )
            awaiting = self._posts.awaiting(user_id, load_approval_states(session, pending))
            shown_pending = repo.posts_by_id(session, [state.id for state in awaiting[:SECTION]])
            snapshots = {
                s.id: s
                for s in load_snapshots(session, [*shown_pending, *mine, *schedule, *recent, *attention])
            }

        def shown(posts: list[Post]) -> list[PostSnapshot]:
            return [snapshots[p.id] for p in posts if p.id is not None]

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
            awaiting_me=shown(shown_pending),
            mine=shown(mine),
            schedule=shown(schedule),
            recent=shown(recent),
            attention=shown(attention),
            is_admin=is_admin,
            notes=notes,
            counts=counts,
            undelivered=undelivered,
        )
