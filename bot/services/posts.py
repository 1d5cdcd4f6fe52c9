"""Post use cases: draft, decide (approve, request changes, reject), edit, withdraw, reschedule, publish now,
retry, and the lists people see. Each runs in one transaction with the post row locked, checks who may do it
from the workspace's rules (never from anything the client sent), and owes its Slack messages to the outbox
in that same transaction, so a crash can lose neither the change nor its report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from bot.clock import Clock, as_utc, zone
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import Decision, Post
from bot.domain.approval import Event, check_allowed
from bot.domain.model import Draft, PostStatus
from bot.domain.policy import Progress, Target
from bot.domain.rules import DraftField, validate_draft
from bot.domain.workspace import WorkspaceSettings
from bot.errors import InvalidTransition
from bot.services.outbox import Kind, owe, owe_state_change
from bot.services.snapshot import (
    PostRecords,
    PostSnapshot,
    load_approval_states,
    load_records,
    load_snapshot,
    load_snapshots,
    snapshot_of,
    stored_content,
    version_hash,
)
from bot.services.workflow import Standing, Workflow
from bot.slack.views import approval as messages

log = logging.getLogger(__name__)

# A new time must leave approvers (and the dispatcher) a moment.
MIN_LEAD = timedelta(minutes=1)


class _PendingPost(Protocol):
    """A pending post as far as `PostService.awaiting` needs it (a snapshot, or only its approval state)."""

    @property
    def team_id(self) -> str: ...

    @property
    def author_id(self) -> str: ...

    @property
    def approvals(self) -> tuple[str, ...]: ...

    @property
    def policy_targets(self) -> tuple[Target, ...]: ...


_Pending = TypeVar("_Pending", bound=_PendingPost)


class Waker(Protocol):
    def wake_dispatcher(self, at: datetime | None = None) -> None: ...

    def wake_outbox(self) -> None: ...

    def wake_housekeeper(self, at: datetime | None = None) -> None: ...


@dataclass(frozen=True)
class PostLists:
    own_pending: list[PostSnapshot]
    awaiting_me: list[PostSnapshot]
    scheduled: list[PostSnapshot]
    is_approver: bool


@dataclass
class _Acting:
    session: Session
    post: Post
    #: What `snapshot` was made of: a decision's messages are rendered from these, not read again.
    records: PostRecords
    snapshot: PostSnapshot
    current: PostStatus
    next: PostStatus
    standing: Standing
    now: datetime


def next_reminder(
    *, since: datetime, due: datetime | None, settings: WorkspaceSettings, now: datetime
) -> datetime | None:
    """When approvers should first be reminded of a post waiting since `since` and due at `due`."""
    candidates = []
    if settings.reminder_after_minutes:
        candidates.append(since + timedelta(minutes=settings.reminder_after_minutes))
    if due is not None and settings.reminder_before_due_minutes:
        candidates.append(due - timedelta(minutes=settings.reminder_before_due_minutes))
    future = [c for c in candidates if c > now]
    return min(future) if future else None


class PostService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        workflow: Workflow,
        default_channel: str | None,
        waker: Waker,
    ) -> None:
        self._db = db
        self._clock = clock
        self._workflow = workflow
        self._default_channel = default_channel
        self._waker = waker

    @property
    def workflow(self) -> Workflow:
        return self._workflow

    # --- drafting ------------------------------------------------------------------------------------

    def validate(
        self,
        draft: Draft,
        *,
        wants_time: bool,
        tz_name: str,
        wants_queue: bool = False,
        url_problems: tuple[str, ...] = (),
        team_id: str = "",
        cannot_post: Mapping[str, str] | None = None,
    ) -> dict[DraftField, str]:
        """Every problem with `draft` by field; `cannot_post` maps account keys to why they cannot be
        posted to now (as the provider last listed them)."""
        errors = validate_draft(
            draft,
            now=self._clock.now(),
            tz=zone(tz_name),
            wants_time=wants_time,
            wants_queue=wants_queue,
            url_problems=url_problems,
        )
        refused = cannot_post or {}
        blocked = [f"{t.label}: {refused[t.key]}" for t in draft.targets if t.key in refused]
        if blocked and DraftField.TARGETS not in errors:
            errors[DraftField.TARGETS] = " ".join(blocked)
        settings = self._workflow.settings(team_id)
        hours = settings.publishing_hours
        if (
            wants_time
            and draft.publish_at is not None
            and hours is not None
            and DraftField.PUBLISH_AT not in errors
            and not hours.is_open(draft.publish_at, settings.tz)
        ):
            opening = hours.next_open(draft.publish_at, settings.tz).astimezone(zone(tz_name))
            errors[DraftField.PUBLISH_AT] = (
                f"That is outside the team's publishing hours ({hours.describe()}, "
                f"{settings.default_tz}). The next opening is {opening:%a %d %b %H:%M} in your time zone."
            )
        return errors

    def create(self, *, team_id: str, author_id: str, author_tz: str, draft: Draft) -> int:
        """Store a valid draft as pending approval and owe the approval request to the channel."""
        now = self._clock.now()
        settings = self._workflow.settings(team_id)
        channel = settings.approval_channel or self._default_channel
        if not channel:
            raise InvalidTransition(
                "No approval channel is set. Ask a Postgate admin to pick one in Settings."
            )
        rules = self._workflow.rules_for(team_id, _policy_targets(draft))
        with self._db.write() as session:
            post = repo.add_post(
                session,
                team_id=team_id,
                author_id=author_id,
                author_tz=author_tz,
                approval_channel_id=channel,
                content=stored_content(draft),
                requested_time=draft.publish_at,
                required_approvals=max((r.required for r in rules), default=1),
                now=now,
                next_reminder_at=next_reminder(since=now, due=draft.publish_at, settings=settings, now=now),
            )
            assert post.id is not None
            owe(session, post_id=post.id, kind=Kind.APPROVAL_REQUEST, payload={}, now=now)
            owe(session, post_id=post.id, kind=Kind.AUTHOR_CONFIRMATION, payload={}, now=now)
            post_id = post.id
        log.info("post %s drafted by %s", post_id, author_id)
        self._waker.wake_outbox()
        self._wake_housekeeper(settings, draft.publish_at, now)
        return post_id

    # --- the shared path of every action --------------------------------------------------------------

    def snapshot(self, *, team_id: str, post_id: int) -> PostSnapshot:
        with self._db.read() as session:
            post = repo.get_post(session, post_id, team_id=team_id)
            return load_snapshot(session, post, self._progress_of)

    def check(self, *, team_id: str, post_id: int, user_id: str, event: Event, version: int | None) -> None:
        """Refuse early (before a modal opens) what `act` would refuse later."""
        snapshot = self.snapshot(team_id=team_id, post_id=post_id)
        standing = self._standing(snapshot, user_id)
        check_allowed(
            snapshot.status,
            event,
            standing.roles,
            approver_hint=standing.approver_hint,
            self_approval_blocked=standing.self_approval_blocked,
        )
        _check_version(snapshot.version, version, event)

    def for_edit(self, *, team_id: str, post_id: int, user_id: str) -> PostSnapshot:
        """The post as the author will edit it; refuses anyone else and posts that can no longer change."""
        snapshot = self.snapshot(team_id=team_id, post_id=post_id)
        standing = self._standing(snapshot, user_id)
        check_allowed(snapshot.status, Event.EDITED, standing.roles)
        return snapshot

    def _standing(self, snapshot: PostSnapshot, user_id: str) -> Standing:
        return self._workflow.standing(
            snapshot.team_id,
            user_id=user_id,
            author_id=snapshot.author_id,
            targets=snapshot.policy_targets,
            approvals=list(snapshot.approvals),
        )

    def _progress_of(self, snapshot: PostSnapshot) -> Progress:
        return self._workflow.progress(
            snapshot.team_id,
            targets=snapshot.policy_targets,
            approvals=list(snapshot.approvals),
            author_id=snapshot.author_id,
        )

    @contextmanager
    def _act(
        self, *, team_id: str, post_id: int, user_id: str, event: Event, version: int | None
    ) -> Iterator[_Acting]:
        # Group members are looked up before the row lock, so no Slack call holds it.
        self._workflow.warm(team_id)
        now = self._clock.now()
        with self._db.write() as session:
            post = repo.get_post(session, post_id, team_id=team_id, for_update=True)
            records = load_records(session, post)
            snapshot = snapshot_of(post, records)
            standing = self._standing(snapshot, user_id)
            current = PostStatus(post.status)
            if event in (Event.APPROVAL_RECORDED, Event.REJECTED, Event.CHANGES_REQUESTED):
                _refuse_decided(post, current, user_id, records.decisions)
            target = check_allowed(
                current,
                event,
                standing.roles,
                approver_hint=standing.approver_hint,
                self_approval_blocked=standing.self_approval_blocked,
            )
            _check_version(post.version, version, event)
            if event in (Event.EDITED, Event.RESCHEDULED, Event.PUBLISH_NOW, Event.RETRIED) and _leased(
                post, now
            ):
                raise InvalidTransition(
                    "Someone is cancelling or publishing this post right now. Try again in a minute."
                )
            yield _Acting(session, post, records, snapshot, current, target, standing, now)

    def _save(self, acting: _Acting, *, action: str, user_id: str, detail: str | None = None) -> None:
        post = acting.post
        assert post.id is not None
        post.status = acting.next
        post.updated_at = acting.now
        acting.session.add(post)
        repo.record_audit(
            acting.session,
            post_id=post.id,
            actor=user_id,
            action=action,
            from_status=acting.current,
            to_status=acting.next,
            detail=detail,
            at=acting.now,
        )
        acting.session.flush()

    # --- decisions -----------------------------------------------------------------------------------

    def approve(self, *, team_id: str, post_id: int, user_id: str, version: int | None = None) -> None:
        """Record `user_id`'s approval; the approval that completes every governing rule approves the post.

        The row is locked for the transaction (SQLite: BEGIN IMMEDIATE), so two approvers clicking at once
        are serialised and the second sees the first one's decision.
        """
        wake_at: datetime | None = None
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=Event.APPROVAL_RECORDED, version=version
        ) as acting:
            post, session, now = acting.post, acting.session, acting.now
            decision = repo.add_decision(
                session,
                post_id=post_id,
                version=post.version,
                user_id=user_id,
                kind="approve",
                comment=None,
                now=now,
            )
            approvals = [*acting.snapshot.approvals, user_id]
            progress = self._workflow.progress(
                team_id, targets=acting.snapshot.policy_targets, approvals=approvals, author_id=post.author_id
            )
            if not progress.complete:
                self._save(acting, action="approval_recorded", user_id=user_id)
                counted = sum(len(r.counted) for r in progress.rules)
                needed = sum(r.rule.required for r in progress.rules)
                owe_state_change(
                    session,
                    post_id=post_id,
                    now=now,
                    thread_message=messages.build_approval_recorded(
                        approver=user_id, approvals=counted, required=needed
                    ),
                )
            else:
                acting.next = check_allowed(acting.current, Event.APPROVED, acting.standing.roles)
                settings = self._workflow.settings(team_id)
                publish_at = post.requested_time if post.requested_time and post.requested_time > now else now
                if post.requested_time is None and settings.publishing_hours is not None:
                    publish_at = settings.publishing_hours.next_open(publish_at, settings.tz)
                version_row = acting.records.version
                post.publish_at = publish_at
                post.next_action_at = publish_at
                post.approved_version = post.version
                post.approved_hash = version_row.content_hash or version_hash(version_row)
                post.next_reminder_at = None
                self._save(acting, action="approved", user_id=user_id)
                snapshot = snapshot_of(post, acting.records.with_decision(decision))
                owe_state_change(
                    session,
                    post_id=post_id,
                    now=now,
                    thread_message=messages.build_approved_reply(snapshot, approver=user_id),
                    author_id=post.author_id,
                    author_message=messages.build_author_update(snapshot),
                )
                wake_at = publish_at
        log.info("post %s approved by %s", post_id, user_id)
        self._waker.wake_outbox()
        if wake_at is not None:
            self._waker.wake_dispatcher(wake_at)

    def reject(
        self, *, team_id: str, post_id: int, user_id: str, reason: str, version: int | None = None
    ) -> None:
        self._decide_with_comment(
            team_id=team_id,
            post_id=post_id,
            user_id=user_id,
            version=version,
            event=Event.REJECTED,
            comment=reason,
            thread_message=messages.build_rejected_reply(user_id=user_id, reason=reason),
            author_message=messages.build_author_update,
        )

    def request_changes(
        self, *, team_id: str, post_id: int, user_id: str, comment: str, version: int | None = None
    ) -> None:
        self._decide_with_comment(
            team_id=team_id,
            post_id=post_id,
            user_id=user_id,
            version=version,
            event=Event.CHANGES_REQUESTED,
            comment=comment,
            thread_message=messages.build_changes_requested_reply(user_id=user_id, comment=comment),
            author_message=lambda snapshot: messages.build_author_changes_dm(
                snapshot, user_id=user_id, comment=comment
            ),
        )

    def _decide_with_comment(
        self,
        *,
        team_id: str,
        post_id: int,
        user_id: str,
        version: int | None,
        event: Event,
        comment: str,
        thread_message: dict[str, Any],
        author_message: Callable[[PostSnapshot], dict[str, Any]],
    ) -> None:
        """Reject or request changes: the decision with its comment, the thread and the author told."""
        kind, action = _DECISIONS[event]
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=event, version=version
        ) as acting:
            post, session, now = acting.post, acting.session, acting.now
            decision = repo.add_decision(
                session,
                post_id=post_id,
                version=post.version,
                user_id=user_id,
                kind=kind,
                comment=comment,
                now=now,
            )
            if acting.next.is_final:
                post.finished_at = now
            post.next_reminder_at = None
            self._save(acting, action=action, user_id=user_id, detail=comment)
            owe_state_change(
                session,
                post_id=post_id,
                now=now,
                thread_message=thread_message,
                author_id=post.author_id,
                author_message=author_message(snapshot_of(post, acting.records.with_decision(decision))),
            )
        log.info("post %s: %s by %s", post_id, action, user_id)
        self._waker.wake_outbox()

    # --- the author's and everyone's actions ----------------------------------------------------------

    def edit(self, *, team_id: str, post_id: int, user_id: str, version: int | None, draft: Draft) -> None:
        """A new version from the author: every earlier approval is void and the post waits for approval."""
        settings = self._workflow.settings(team_id)
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=Event.EDITED, version=version
        ) as acting:
            post, session, now = acting.post, acting.session, acting.now
            new = repo.add_version(
                session, post=post, content=stored_content(draft), created_by=user_id, now=now
            )
            rules = self._workflow.rules_for(team_id, _policy_targets(draft))
            post.requested_time = draft.publish_at
            post.required_approvals = max((r.required for r in rules), default=1)
            post.publish_at = None
            post.next_action_at = None
            post.approved_version = None
            post.approved_hash = None
            post.finished_at = None
            post.last_error = None
            post.next_reminder_at = next_reminder(since=now, due=draft.publish_at, settings=settings, now=now)
            self._save(acting, action="edited", user_id=user_id, detail=f"version {new.version}")
            snapshot = load_snapshot(session, post)
            owe_state_change(
                session,
                post_id=post_id,
                now=now,
                thread_message=messages.build_edited_reply(
                    user_id=user_id, old=acting.snapshot, new=snapshot
                ),
            )
        log.info("post %s edited by %s (version %s)", post_id, user_id, new.version)
        self._waker.wake_outbox()
        self._wake_housekeeper(settings, draft.publish_at, self._clock.now())

    def withdraw(self, *, team_id: str, post_id: int, user_id: str, version: int | None = None) -> None:
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=Event.WITHDRAWN, version=None
        ) as acting:
            acting.post.finished_at = acting.now
            acting.post.next_reminder_at = None
            self._save(acting, action="withdrawn", user_id=user_id)
            owe_state_change(
                acting.session,
                post_id=post_id,
                now=acting.now,
                thread_message=messages.build_withdrawn_reply(user_id=user_id),
            )
        del version
        self._waker.wake_outbox()

    def reschedule(
        self, *, team_id: str, post_id: int, user_id: str, when: datetime, version: int | None = None
    ) -> None:
        """A new time for an approved post (stays approved) or a missed one (goes back to approval)."""
        settings = self._workflow.settings(team_id)
        now = self._clock.now()
        if when < now + MIN_LEAD:
            raise InvalidTransition(
                "That time is in the past or too soon. Pick a time at least a minute ahead."
            )
        hours = settings.publishing_hours
        if hours is not None and not hours.is_open(when, settings.tz):
            raise InvalidTransition(
                f"That is outside the team's publishing hours ({hours.describe()}, {settings.default_tz})."
            )
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=Event.RESCHEDULED, version=version
        ) as acting:
            post = acting.post
            if acting.snapshot.queue is not None:
                raise InvalidTransition("This post goes into a provider queue, which picks its time.")
            post.requested_time = when
            if acting.next is PostStatus.APPROVED:
                post.publish_at = when
                post.next_action_at = when
            else:
                post.next_reminder_at = next_reminder(
                    since=acting.now, due=when, settings=settings, now=acting.now
                )
            self._save(acting, action="rescheduled", user_id=user_id, detail=when.isoformat())
            owe_state_change(
                acting.session,
                post_id=post_id,
                now=acting.now,
                thread_message=messages.build_rescheduled_reply(user_id=user_id, when=when),
                author_id=post.author_id if user_id != post.author_id else None,
                author_message=messages.build_author_update(snapshot_of(post, acting.records))
                if user_id != post.author_id
                else None,
            )
            approved = acting.next is PostStatus.APPROVED
        self._waker.wake_outbox()
        if approved:
            self._waker.wake_dispatcher(when)
        else:
            self._wake_housekeeper(settings, when, now)

    def publish_now(self, *, team_id: str, post_id: int, user_id: str, version: int | None = None) -> None:
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=Event.PUBLISH_NOW, version=version
        ) as acting:
            acting.post.publish_at = acting.now
            acting.post.next_action_at = acting.now
            self._save(acting, action="publish_now", user_id=user_id)
            owe_state_change(
                acting.session,
                post_id=post_id,
                now=acting.now,
                thread_message=messages.build_publish_now_reply(user_id=user_id),
            )
        self._waker.wake_outbox()
        self._waker.wake_dispatcher()

    def retry(self, *, team_id: str, post_id: int, user_id: str, version: int | None = None) -> None:
        """Publish the same approved version again, in a new round with fresh idempotency keys."""
        with self._act(
            team_id=team_id, post_id=post_id, user_id=user_id, event=Event.RETRIED, version=version
        ) as acting:
            post = acting.post
            if post.approved_version != post.version:
                raise InvalidTransition("This version was never approved; edit it to send it for approval.")
            post.attempt_round += 1
            post.publish_at = acting.now
            post.next_action_at = acting.now
            post.finished_at = None
            post.last_error = None
            self._save(acting, action="retried", user_id=user_id, detail=f"round {post.attempt_round}")
            owe_state_change(
                acting.session,
                post_id=post_id,
                now=acting.now,
                thread_message=messages.build_retry_reply(user_id=user_id),
            )
        self._waker.wake_outbox()
        self._waker.wake_dispatcher()

    # --- lists -----------------------------------------------------------------------------------------

    def lists_for(self, *, team_id: str, user_id: str) -> PostLists:
        with self._db.read() as session:
            own = repo.list_by_status(
                session,
                team_id=team_id,
                statuses=[PostStatus.PENDING_APPROVAL, PostStatus.CHANGES_REQUESTED, PostStatus.MISSED],
                author_id=user_id,
            )
            pending = repo.refs_by_status(
                session,
                team_id=team_id,
                statuses=[PostStatus.PENDING_APPROVAL],
                exclude_author_id=user_id,
                limit=100,
            )
            scheduled = repo.list_by_status(
                session,
                team_id=team_id,
                statuses=[PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.SUBMITTED],
                order_by_publish=True,
            )
            # Whose approval counts needs only targets and approvals; full snapshots for what is shown.
            awaiting = self.awaiting(user_id, load_approval_states(session, pending))[:10]
            shown = repo.posts_by_id(session, [state.id for state in awaiting])
            snapshots = iter(load_snapshots(session, [*own, *shown, *scheduled]))
            own_s = [next(snapshots) for _ in own]
            awaiting_s = [next(snapshots) for _ in shown]
            scheduled_s = [next(snapshots) for _ in scheduled]
        return PostLists(
            own_pending=own_s,
            awaiting_me=awaiting_s,
            scheduled=scheduled_s,
            is_approver=bool(awaiting_s) or self.is_approver_anywhere(team_id, user_id),
        )

    def awaiting(self, user_id: str, pending: Sequence[_Pending]) -> list[_Pending]:
        """The pending posts where `user_id`'s approval would still count, in their order."""
        candidates = [post for post in pending if user_id not in post.approvals]
        counts = [False] * len(candidates)
        by_team: dict[str, list[int]] = {}
        for index, post in enumerate(candidates):
            by_team.setdefault(post.team_id, []).append(index)
        for team_id, indexes in by_team.items():
            progresses = self._workflow.progress_of_many(
                team_id,
                [
                    (candidates[i].policy_targets, list(candidates[i].approvals), candidates[i].author_id)
                    for i in indexes
                ],
            )
            for i, progress in zip(indexes, progresses, strict=True):
                counts[i] = progress.counts_for(user_id)
        return [post for post, counted in zip(candidates, counts, strict=True) if counted]

    def is_approver_anywhere(self, team_id: str, user_id: str) -> bool:
        return any(
            user_id in self._workflow.resolve(rule)
            for rule in self._workflow.settings(team_id).approval_rules()
        )

    def _wake_housekeeper(self, settings: WorkspaceSettings, due: datetime | None, now: datetime) -> None:
        at = next_reminder(since=now, due=due, settings=settings, now=now)
        for moment in (at, due):
            if moment is not None:
                self._waker.wake_housekeeper(moment)


_DECISIONS = {
    Event.REJECTED: ("reject", "rejected"),
    Event.CHANGES_REQUESTED: ("request_changes", "changes_requested"),
}


def _policy_targets(draft: Draft) -> tuple[Target, ...]:
    return tuple(Target(account_key=t.key, network=t.network, label=t.label) for t in draft.targets)


def _check_version(current: int, seen: int | None, event: Event) -> None:
    if seen is not None and seen != current and event not in (Event.WITHDRAWN,):
        raise InvalidTransition(
            f"This post was edited after you opened it (you saw version {seen}; it is now version "
            f"{current}). Read the new version in the thread, then decide again."
        )


def _leased(post: Post, now: datetime) -> bool:
    return (
        post.lease_owner is not None
        and post.lease_expires_at is not None
        and as_utc(post.lease_expires_at) > now
    )


def _refuse_decided(post: Post, current: PostStatus, user_id: str, decisions: Iterable[Decision]) -> None:
    """A decision on a post someone else already decided names who decided."""
    decisions = [d for d in decisions if d.version == post.version]
    if current is PostStatus.REJECTED and decisions:
        raise InvalidTransition(f"<@{decisions[-1].user_id}> already rejected this post.")
    if current is PostStatus.CHANGES_REQUESTED and decisions:
        asked = next((d for d in reversed(decisions) if d.kind == "request_changes"), None)
        if asked is not None:
            raise InvalidTransition(
                f"<@{asked.user_id}> already asked for changes; the author is editing it."
            )
    approvers = [d.user_id for d in decisions if d.kind == "approve"]
    if current is PostStatus.PENDING_APPROVAL and user_id in approvers:
        raise InvalidTransition("You already approved this version of the post.")
    if current is not PostStatus.PENDING_APPROVAL and approvers and post.approved_version == post.version:
        raise InvalidTransition(
            "This post is already approved by " + ", ".join(f"<@{u}>" for u in approvers) + "."
        )
