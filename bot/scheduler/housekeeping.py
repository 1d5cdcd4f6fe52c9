"""What keeps approvals from stalling: reminders to approvers, missed posts, and the daily digest.

Each piece is claimed in the database before its messages are owed (a compare-and-set on the post's
reminder time, the missed transition on the post's status, a digest row keyed by workspace and day), so
several replicas running this at once send each reminder, missed notice and digest once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock, as_utc
from bot.db import repo
from bot.db.engine import Database
from bot.db.repo import SYSTEM_ACTOR
from bot.domain.approval import Event, next_status
from bot.domain.model import PostStatus
from bot.services.events import SlackEvents
from bot.services.outbox import Kind, owe, owe_state_change
from bot.services.snapshot import PostSnapshot, load_snapshot
from bot.services.workflow import Workflow
from bot.slack.views import approval as messages
from bot.slack.views.digest import build_digest

log = logging.getLogger(__name__)

BATCH = 50
_SCHEDULED = (PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.SUBMITTED)
_FAILED = (PostStatus.FAILED, PostStatus.NEEDS_ATTENTION)


class Housekeeper:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        workflow: Workflow,
        default_channel: str | None,
        on_outbox: Callable[[], None] | None = None,
        events: SlackEvents | None = None,
    ) -> None:
        self._events = events
        self._db = db
        self._clock = clock
        self._workflow = workflow
        self._default_channel = default_channel
        self._on_outbox = on_outbox or (lambda: None)

    def run_once(self) -> bool:
        owed = self._missed() + self._reminders() + self._digests()
        if self._events is not None:
            self._events.forget_old()
        if owed:
            self._on_outbox()
        return False

    def next_due_time(self) -> datetime | None:
        with self._db.read() as session:
            due = repo.next_housekeeping_time(session)
        # The digest is checked on every sweep as well; nothing finer is needed for a daily message.
        return due

    # --- missed --------------------------------------------------------------------------------------

    def _missed(self) -> int:
        now = self._clock.now()
        with self._db.read() as session:
            candidates = repo.due_missed(session, now=now, limit=BATCH)
        done = 0
        for post_id in candidates:
            with self._db.write() as session:
                post = repo.get_post(session, post_id, for_update=True)
                current = PostStatus(post.status)
                if current not in repo.WAITING_STATUSES or post.requested_time is None:
                    continue
                if as_utc(post.requested_time) > now:
                    continue
                post.status = next_status(current, Event.MISSED)
                post.next_reminder_at = None
                post.updated_at = now
                session.add(post)
                repo.record_audit(
                    session,
                    post_id=post_id,
                    actor=SYSTEM_ACTOR,
                    action="missed",
                    from_status=current,
                    to_status=post.status,
                    detail=f"due {as_utc(post.requested_time).isoformat()}",
                    at=now,
                )
                session.flush()
                snapshot = load_snapshot(session, post)
                owe_state_change(
                    session,
                    post_id=post_id,
                    now=now,
                    thread_message=messages.build_missed_reply(snapshot),
                    author_id=post.author_id,
                    author_message=messages.build_author_missed_dm(snapshot),
                )
                done += 1
            log.info("post %s missed its time while waiting for approval", post_id)
        return done

    # --- reminders -------------------------------------------------------------------------------------

    def _reminders(self) -> int:
        now = self._clock.now()
        with self._db.read() as session:
            due = repo.due_reminders(session, now=now, limit=BATCH)
        sent = 0
        for post_id, at in due:
            with self._db.read() as session:
                post = repo.get_post(session, post_id)
                snapshot = load_snapshot(session, post)
            settings = self._workflow.settings(post.team_id)
            final_at = _final_reminder_time(snapshot, settings.reminder_before_due_minutes)
            is_final = final_at is not None and now >= final_at - timedelta(seconds=1)
            following = final_at if final_at is not None and not is_final and final_at > now else None
            progress = self._workflow.progress(
                post.team_id,
                targets=snapshot.policy_targets,
                approvals=list(snapshot.approvals),
                author_id=snapshot.author_id,
            )
            waiting = sorted(progress.waiting_for)
            snapshot = replace(snapshot, progress=progress)
            with self._db.write() as session:
                if not repo.take_reminder(session, post_id=post_id, expected=at, following=following):
                    continue  # another replica sent it, or the post moved on
                for user in waiting:
                    owe(
                        session,
                        post_id=post_id,
                        kind=Kind.DM,
                        payload={
                            "user": user,
                            "message": messages.build_reminder_dm(snapshot, final=is_final),
                        },
                        now=now,
                    )
                repo.record_audit(
                    session,
                    post_id=post_id,
                    actor=SYSTEM_ACTOR,
                    action="reminded",
                    detail=", ".join(waiting) or "nobody left to remind",
                    at=now,
                )
            sent += 1
            log.info("post %s: reminded %s approver(s)", post_id, len(waiting))
        return sent

    # --- digest ----------------------------------------------------------------------------------------

    def _digests(self) -> int:
        now = self._clock.now()
        with self._db.read() as session:
            teams = repo.active_teams(session)
        owed = 0
        for team_id in teams:
            settings = self._workflow.settings(team_id)
            channel = settings.approval_channel or self._default_channel
            if settings.digest_time is None or not channel:
                continue
            local = now.astimezone(settings.tz)
            if local.time().replace(tzinfo=None) < settings.digest_time:
                continue
            day = local.date().isoformat()
            with self._db.read() as session:
                if repo.digest_claimed(session, team_id=team_id, day=day):
                    continue  # today's is out; don't rebuild it on every sweep
            message = self._digest_message(team_id, now, f"{local:%A %d %B}")
            with self._db.write() as session:
                if not repo.claim_digest(session, team_id=team_id, day=day, now=now):
                    continue
                owe(
                    session,
                    post_id=None,
                    kind=Kind.CHANNEL,
                    payload={"channel": channel, "message": message},
                    now=now,
                )
            owed += 1
            log.info("daily digest for %s (%s) owed to %s", team_id, day, channel)
        return owed

    def _digest_message(self, team_id: str, now: datetime, day_label: str) -> dict[str, object]:
        with self._db.read() as session:
            pending_rows = repo.list_by_status(
                session, team_id=team_id, statuses=[PostStatus.PENDING_APPROVAL], limit=10
            )
            upcoming_rows = repo.upcoming(
                session, team_id=team_id, statuses=_SCHEDULED, until=now + timedelta(hours=24), limit=10
            )
            since = now - timedelta(hours=24)
            failed_rows = repo.recently_finished(
                session, team_id=team_id, statuses=_FAILED, limit=10, since=since
            )
            counts = {
                "pending": repo.count_by_status(
                    session, team_id=team_id, statuses=[PostStatus.PENDING_APPROVAL]
                ),
                "upcoming": repo.count_by_status(
                    session, team_id=team_id, statuses=_SCHEDULED, publish_before=now + timedelta(hours=24)
                ),
                "failed": repo.count_finished_since(session, team_id=team_id, statuses=_FAILED, since=since),
            }
            pending = [load_snapshot(session, p) for p in pending_rows]
            upcoming = [load_snapshot(session, p) for p in upcoming_rows]
            failed = [load_snapshot(session, p) for p in failed_rows]
        return build_digest(
            day_label=day_label, pending=pending, upcoming=upcoming, failed=failed, counts=counts
        )


def _final_reminder_time(snapshot: PostSnapshot, before_minutes: float) -> datetime | None:
    if snapshot.requested_time is None or not before_minutes:
        return None
    return as_utc(snapshot.requested_time) - timedelta(minutes=before_minutes)
