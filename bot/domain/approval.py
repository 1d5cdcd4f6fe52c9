"""The approval state machine: which status may follow which, and who may decide. Pure functions only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.model import PostStatus
from bot.errors import InvalidTransition, NotAllowed


class Event(StrEnum):
    APPROVAL_RECORDED = "approval_recorded"
    APPROVED = "approved"
    REJECTED = "rejected"
    CLAIMED = "claimed"
    SUBMITTED = "submitted"
    RETRY_LATER = "retry_later"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    CANCELLED = "cancelled"


S = PostStatus
TRANSITIONS: dict[tuple[PostStatus, Event], PostStatus] = {
    (S.PENDING_APPROVAL, Event.APPROVAL_RECORDED): S.PENDING_APPROVAL,
    (S.PENDING_APPROVAL, Event.APPROVED): S.APPROVED,
    (S.PENDING_APPROVAL, Event.REJECTED): S.REJECTED,
    (S.PENDING_APPROVAL, Event.CANCELLED): S.CANCELLED,
    (S.APPROVED, Event.CLAIMED): S.PUBLISHING,
    (S.APPROVED, Event.CANCELLED): S.CANCELLED,
    # A lease that expired mid-submission is claimed again (idempotent providers only).
    (S.PUBLISHING, Event.CLAIMED): S.PUBLISHING,
    (S.PUBLISHING, Event.SUBMITTED): S.SUBMITTED,
    (S.PUBLISHING, Event.RETRY_LATER): S.APPROVED,
    (S.PUBLISHING, Event.FAILED): S.FAILED,
    (S.PUBLISHING, Event.OUTCOME_UNKNOWN): S.NEEDS_ATTENTION,
    (S.SUBMITTED, Event.PUBLISHED): S.PUBLISHED,
    (S.SUBMITTED, Event.PARTIALLY_PUBLISHED): S.PARTIALLY_PUBLISHED,
    (S.SUBMITTED, Event.FAILED): S.FAILED,
    (S.SUBMITTED, Event.OUTCOME_UNKNOWN): S.NEEDS_ATTENTION,
    # Withdrawn from the provider before it went out.
    (S.SUBMITTED, Event.CANCELLED): S.CANCELLED,
}

_REFUSALS = {
    S.APPROVED: "This post is already approved.",
    S.REJECTED: "This post was rejected.",
    S.PUBLISHING: "This post is being published right now.",
    S.SUBMITTED: "This post was already handed to the provider.",
    S.PUBLISHED: "This post is already published.",
    S.PARTIALLY_PUBLISHED: "This post was already published.",
    S.FAILED: "This post already failed to publish.",
    S.NEEDS_ATTENTION: "This post is waiting for a human to check it.",
    S.CANCELLED: "This post was cancelled.",
}


def next_status(current: PostStatus, event: Event) -> PostStatus:
    """The status after `event`, or InvalidTransition with a sentence the user can read."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(_REFUSALS.get(current, f"This post is {current.value}.")) from None


def sources_of(event: Event) -> frozenset[PostStatus]:
    """Every status from which `event` is allowed: the WHERE clause of a compare-and-set."""
    return frozenset(source for (source, ev) in TRANSITIONS if ev is event)


@dataclass(frozen=True)
class ApprovalPolicy:
    approvers: frozenset[str]
    required_approvals: int = 1
    allow_self_approval: bool = False

    def check_can_decide(self, *, user_id: str, author_id: str, action: str = "approve") -> None:
        """Raise NotAllowed unless `user_id` may approve or reject a post written by `author_id`."""
        if user_id not in self.approvers:
            raise NotAllowed(f"Only approvers can {action} posts. Ask one of {self.approver_mentions()}.")
        if user_id == author_id and not self.allow_self_approval:
            raise NotAllowed(f"You wrote this post, so you cannot {action} it yourself.")

    def approver_mentions(self) -> str:
        return ", ".join(f"<@{user}>" for user in sorted(self.approvers)) or "the approvers"


@dataclass(frozen=True)
class ApprovalTally:
    approvals: tuple[str, ...]
    required: int

    @property
    def complete(self) -> bool:
        return len(self.approvals) >= self.required


def tally_after_approval(existing: Collection[str], user_id: str, required: int) -> ApprovalTally:
    """Approvers after `user_id` approves; approving twice counts once (ordered, first approval first)."""
    ordered = list(dict.fromkeys(existing))
    if user_id in ordered:
        raise InvalidTransition("You already approved this post.")
    ordered.append(user_id)
    return ApprovalTally(approvals=tuple(ordered), required=required)
