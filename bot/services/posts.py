"""Post use cases: draft, approve, reject, list. Each runs in one transaction and owes its Slack messages
to the outbox in that same transaction, so a crash can lose neither the change nor its report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bot.clock import Clock
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import Post
from bot.domain.approval import ApprovalPolicy, Event, next_status, tally_after_approval
from bot.domain.model import Draft, PostStatus
from bot.domain.rules import DraftField, validate_draft
from bot.errors import DomainError, InvalidTransition
from bot.services.outbox import Kind, owe, owe_state_change
from bot.services.snapshot import PostSnapshot, load_snapshot, media_to_json, queue_to_json
from bot.slack.views import approval as messages
from bot.slack.views.forms import zone

log = logging.getLogger(__name__)


class Waker(Protocol):
    def wake_dispatcher(self, at: datetime | None = None) -> None: ...

    def wake_outbox(self) -> None: ...


@dataclass(frozen=True)
class PostLists:
    own_pending: list[PostSnapshot]
    awaiting_me: list[PostSnapshot]
    scheduled: list[PostSnapshot]
    is_approver: bool


class PostService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        policy: ApprovalPolicy,
        approval_channel: str,
        waker: Waker,
    ) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy
        self._approval_channel = approval_channel
        self._waker = waker

    @property
    def policy(self) -> ApprovalPolicy:
        return self._policy

    def validate(
        self,
        draft: Draft,
        *,
        wants_time: bool,
        tz_name: str,
        wants_queue: bool = False,
        url_problems: tuple[str, ...] = (),
    ) -> dict[DraftField, str]:
        return validate_draft(
            draft,
            now=self._clock.now(),
            tz=zone(tz_name),
            wants_time=wants_time,
            wants_queue=wants_queue,
            url_problems=url_problems,
        )

    def create(self, *, team_id: str, author_id: str, author_tz: str, draft: Draft) -> int:
        """Store a valid draft as pending approval and owe the approval request to the channel."""
        now = self._clock.now()
        targets = [
            {"provider": t.provider, "account_id": t.account_id, "network": t.network.value, "name": t.name}
            for t in draft.targets
        ]
        with self._db.write() as session:
            post = repo.add_post(
                session,
                team_id=team_id,
                author_id=author_id,
                author_tz=author_tz,
                approval_channel_id=self._approval_channel,
                text=draft.text,
                targets=targets,
                requested_time=draft.publish_at,
                required_approvals=self._policy.required_approvals,
                now=now,
                media=[media_to_json(m) for m in draft.media],
                queue=queue_to_json(draft.queue) if draft.queue else None,
            )
            assert post.id is not None
            owe(session, post_id=post.id, kind=Kind.APPROVAL_REQUEST, payload={}, now=now)
            owe(session, post_id=post.id, kind=Kind.AUTHOR_CONFIRMATION, payload={}, now=now)
            post_id = post.id
        log.info("post %s drafted by %s", post_id, author_id)
        self._waker.wake_outbox()
        return post_id

    def check_can_decide(self, *, team_id: str, post_id: int, user_id: str, action: str) -> None:
        with self._db.read() as session:
            post = repo.get_post(session, post_id, team_id=team_id)
        self._policy.check_can_decide(user_id=user_id, author_id=post.author_id, action=action)
        next_status(PostStatus(post.status), Event.REJECTED)

    def approve(self, *, team_id: str, post_id: int, user_id: str) -> None:
        """Record `user_id`'s approval; the approval that completes the rule approves the post.

        The post row is locked for the transaction (SQLite: BEGIN IMMEDIATE), so two approvers clicking at
        once are serialised and the second sees the first one's decision.
        """
        now = self._clock.now()
        wake_at: datetime | None = None
        with self._db.write() as session:
            post = repo.get_post(session, post_id, team_id=team_id, for_update=True)
            self._policy.check_can_decide(user_id=user_id, author_id=post.author_id)
            current = PostStatus(post.status)
            if current is not PostStatus.PENDING_APPROVAL:
                raise InvalidTransition(self._already_decided(session, post))
            tally = tally_after_approval(
                repo.approvals_for(session, post_id=post_id, version=post.version),
                user_id,
                post.required_approvals,
            )
            repo.add_decision(
                session,
                post_id=post_id,
                version=post.version,
                user_id=user_id,
                kind="approve",
                comment=None,
                now=now,
            )
            if not tally.complete:
                repo.record_audit(session, post_id=post_id, actor=user_id, action="approval_recorded", at=now)
                owe_state_change(
                    session,
                    post_id=post_id,
                    now=now,
                    thread_message=messages.build_approval_recorded(
                        approver=user_id, approvals=len(tally.approvals), required=tally.required
                    ),
                )
            else:
                post.status = next_status(current, Event.APPROVED)
                post.publish_at = (
                    post.requested_time if post.requested_time and post.requested_time > now else now
                )
                post.next_action_at = post.publish_at
                post.updated_at = now
                session.add(post)
                repo.record_audit(
                    session,
                    post_id=post_id,
                    actor=user_id,
                    action="approved",
                    from_status=current,
                    to_status=post.status,
                    at=now,
                )
                session.flush()
                snapshot = load_snapshot(session, post)
                owe_state_change(
                    session,
                    post_id=post_id,
                    now=now,
                    thread_message=messages.build_approved_reply(snapshot, approver=user_id),
                    author_id=post.author_id,
                    author_message=messages.build_author_update(snapshot),
                )
                wake_at = post.publish_at
        log.info("post %s approved by %s", post_id, user_id)
        self._waker.wake_outbox()
        if wake_at is not None:
            self._waker.wake_dispatcher(wake_at)

    def reject(self, *, team_id: str, post_id: int, user_id: str, reason: str) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            post = repo.get_post(session, post_id, team_id=team_id, for_update=True)
            self._policy.check_can_decide(user_id=user_id, author_id=post.author_id, action="reject")
            current = PostStatus(post.status)
            if current is not PostStatus.PENDING_APPROVAL:
                raise InvalidTransition(self._already_decided(session, post))
            repo.add_decision(
                session,
                post_id=post_id,
                version=post.version,
                user_id=user_id,
                kind="reject",
                comment=reason,
                now=now,
            )
            post.status = next_status(current, Event.REJECTED)
            post.finished_at = now
            post.updated_at = now
            session.add(post)
            repo.record_audit(
                session,
                post_id=post_id,
                actor=user_id,
                action="rejected",
                from_status=current,
                to_status=post.status,
                detail=reason,
                at=now,
            )
            session.flush()
            snapshot = load_snapshot(session, post)
            owe_state_change(
                session,
                post_id=post_id,
                now=now,
                thread_message=messages.build_rejected_reply(user_id=user_id, reason=reason),
                author_id=post.author_id,
                author_message=messages.build_author_update(snapshot),
            )
        log.info("post %s rejected by %s", post_id, user_id)
        self._waker.wake_outbox()

    def lists_for(self, *, team_id: str, user_id: str) -> PostLists:
        is_approver = user_id in self._policy.approvers
        with self._db.read() as session:
            own = repo.list_by_status(
                session, team_id=team_id, statuses=[PostStatus.PENDING_APPROVAL], author_id=user_id
            )
            awaiting: list[Post] = []
            if is_approver:
                pending = repo.list_by_status(
                    session,
                    team_id=team_id,
                    statuses=[PostStatus.PENDING_APPROVAL],
                    exclude_author_id=user_id,
                    limit=50,
                )
                done = repo.approved_by_user(session, user_id=user_id, posts=pending)
                awaiting = [p for p in pending if p.id not in done][:10]
            scheduled = repo.list_by_status(
                session,
                team_id=team_id,
                statuses=[PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.SUBMITTED],
                order_by_publish=True,
            )
            return PostLists(
                own_pending=[load_snapshot(session, p) for p in own],
                awaiting_me=[load_snapshot(session, p) for p in awaiting],
                scheduled=[load_snapshot(session, p) for p in scheduled],
                is_approver=is_approver,
            )

    def _already_decided(self, session: Session, post: Post) -> str:
        assert post.id is not None
        decisions = [d for d in repo.decisions_for(session, post_id=post.id) if d.version == post.version]
        status = PostStatus(post.status)
        if status is PostStatus.REJECTED and decisions:
            return f"<@{decisions[-1].user_id}> already rejected this post."
        approvers = [d.user_id for d in decisions if d.kind == "approve"]
        if approvers and status is not PostStatus.PENDING_APPROVAL:
            return "This post is already approved by " + ", ".join(f"<@{u}>" for u in approvers) + "."
        try:
            next_status(status, Event.APPROVED)
        except DomainError as error:
            return error.user_message
        return "This post was already decided."
