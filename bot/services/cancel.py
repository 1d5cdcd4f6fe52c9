"""Cancelling an approved post: withdraw it at every provider that has it, and say honestly what could not be.

The post is leased for the duration (the same fence the dispatcher uses), so a cancel and a submission
never run on one post at once. Providers re-read their state before deleting; one that has already
started publishing answers ProviderTooLate, and then the post keeps being followed and its outcome is
reported like any other, instead of pretending it was stopped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock
from bot.db import repo
from bot.db.engine import Database
from bot.db.repo import Claim
from bot.db.tables import PublishAttempt
from bot.domain.approval import Event, Role, check_allowed, next_status
from bot.domain.model import PostStatus
from bot.errors import InvalidTransition, NotAllowed, ProviderError, ProviderTooLate
from bot.providers.base import Provider
from bot.services.outbox import owe_state_change
from bot.services.posts import Waker
from bot.services.snapshot import load_snapshot
from bot.services.submission import attempt_request
from bot.services.workflow import Workflow
from bot.slack.views import approval as messages
from bot.slack.views.format import escape

log = logging.getLogger(__name__)

CANCEL_LEASE = timedelta(minutes=2)
_CANCELLABLE = (PostStatus.APPROVED, PostStatus.SUBMITTED)


@dataclass
class CancelResult:
    """What the person who clicked is told."""

    cancelled: bool
    notes: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        lines = "".join(f"\n• {escape(n)}" for n in self.notes)
        if self.cancelled:
            return "Cancelled. Nothing will be published." + lines
        return "The post could not be stopped everywhere:" + lines


class CancelService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        workflow: Workflow,
        providers: Mapping[str, Provider],
        waker: Waker,
    ) -> None:
        self._db = db
        self._clock = clock
        self._workflow = workflow
        self._providers = providers
        self._waker = waker

    def cancel(self, *, team_id: str, post_id: int, user_id: str) -> CancelResult:
        claim = self._lease(team_id=team_id, post_id=post_id, user_id=user_id)
        with self._db.read() as session:
            post = repo.get_post(session, post_id)
            version = repo.get_version(session, post_id=post_id, version=post.version)
            attempts = repo.attempts_for(
                session, post_id=post_id, version=post.version, round=post.attempt_round
            )
            targets = version.targets
            text = version.text
        withdrawn: list[PublishAttempt] = []
        too_late: list[str] = []
        notes: list[str] = []
        for attempt in attempts:
            provider = self._providers.get(attempt.provider)
            name = provider.display_name if provider else attempt.provider
            if attempt.status == "accepted" and attempt.external_id:
                if provider is None:
                    too_late.append(f"{name} is no longer configured, so Postgate cannot withdraw it there.")
                    continue
                try:
                    provider.cancel(
                        attempt.external_id,
                        attempt_request(attempt, text=text, targets=targets, now=self._clock.now()),
                    )
                except ProviderTooLate as error:
                    too_late.append(f"{name}: {error.message}")
                    continue
                except ProviderError as error:
                    too_late.append(f"{name} did not confirm the withdrawal: {error.message}")
                    continue
                notes.append(f"Withdrawn from {name}.")
                withdrawn.append(attempt)
            elif attempt.status == "in_flight":
                if attempt.maybe_received:
                    notes.append(
                        f"An earlier try may have reached {name}; check there that it is not scheduled."
                    )
                withdrawn.append(attempt)
        return self._finish(claim, user_id, withdrawn, too_late, notes)

    def _lease(self, *, team_id: str, post_id: int, user_id: str) -> Claim:
        now = self._clock.now()
        owner = f"cancel-{uuid.uuid4().hex[:12]}"
        # Group members are looked up (and cached) before the write lock, so no Slack call holds it.
        self._workflow.warm(team_id)
        with self._db.write() as session:
            post = repo.get_post(session, post_id, team_id=team_id)
            snapshot = load_snapshot(session, post)
            standing = self._workflow.standing(
                team_id,
                user_id=user_id,
                author_id=post.author_id,
                targets=snapshot.policy_targets,
                approvals=list(snapshot.approvals),
            )
            status = PostStatus(post.status)
            if status is not PostStatus.PUBLISHING:
                check_allowed(status, Event.CANCELLED, standing.roles)
            elif not standing.roles & {Role.AUTHOR, Role.APPROVER}:
                raise NotAllowed("Only the author or an approver can cancel this post.")
            if status is PostStatus.PUBLISHING:
                raise InvalidTransition(
                    "Publishing has already started, so the post can no longer be cancelled. "
                    "Postgate will report here what went out."
                )
            next_status(status, Event.CANCELLED)  # a final post: the user hears why not
            claim = repo.take_lease(
                session,
                post_id=post_id,
                team_id=team_id,
                statuses=_CANCELLABLE,
                owner=owner,
                now=now,
                lease=CANCEL_LEASE,
            )
        if claim is None:
            raise InvalidTransition(
                "Postgate is checking this post with the provider right now; try again in a few seconds."
            )
        return claim

    def _finish(
        self,
        claim: Claim,
        user_id: str,
        withdrawn: list[PublishAttempt],
        too_late: list[str],
        notes: list[str],
    ) -> CancelResult:
        now = self._clock.now()
        with self._db.write() as session:
            post = repo.fenced_post(session, claim)
            if post is None:
                # Our lease ran out while the providers answered; whatever holds it now reports.
                return CancelResult(False, [*too_late, "Postgate lost track of the post mid-cancel."])
            for attempt in withdrawn:
                row = session.get(PublishAttempt, attempt.id)
                assert row is not None
                row.status = "cancelled"
                row.finished_at = now
                session.add(row)
                for account_id in row.account_ids:
                    repo.upsert_result(
                        session,
                        attempt=row,
                        account_id=account_id,
                        status="cancelled",
                        url=None,
                        error="cancelled before publishing",
                        now=now,
                    )
            current = PostStatus(post.status)
            post.lease_owner = None
            post.lease_expires_at = None
            post.updated_at = now
            if not too_late:
                post.status = next_status(current, Event.CANCELLED)
                post.finished_at = now
                post.next_action_at = None
            else:
                # Keep following what could not be stopped; the outcome is reported when it is known.
                post.next_action_at = now
            session.add(post)
            repo.record_audit(
                session,
                post_id=claim.post_id,
                actor=user_id,
                action="cancelled" if not too_late else "cancel_too_late",
                from_status=current,
                to_status=post.status,
                detail="; ".join([*notes, *too_late]) or None,
                at=now,
            )
            session.flush()
            snapshot = load_snapshot(session, post)
            if too_late:
                reply = messages.build_cancel_too_late_reply(user_id=user_id, notes=[*notes, *too_late])
                owe_state_change(session, post_id=claim.post_id, now=now, thread_message=reply)
            else:
                owe_state_change(
                    session,
                    post_id=claim.post_id,
                    now=now,
                    thread_message=messages.build_cancelled_reply(user_id=user_id, notes=notes),
                    author_id=post.author_id if post.author_id != user_id else None,
                    author_message=messages.build_author_update(snapshot),
                )
        log.info("post %s cancel by %s: %s", claim.post_id, user_id, "done" if not too_late else "too late")
        self._waker.wake_outbox()
        if too_late:
            self._waker.wake_dispatcher()
        return CancelResult(not too_late, [*notes, *too_late])
