"""The approval state machine: which status may follow which event, and who may cause it. Pure functions.

Every (status, event) pair is either in `TRANSITIONS` or refused with a sentence the user can read; every
event names the roles that may cause it. The database applies a transition as a compare-and-set on the
old status, so two replicas or a double click cannot both apply it.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from bot.domain.model import PostStatus
from bot.errors import InvalidTransition, NotAllowed


class Event(StrEnum):
    # People's decisions and actions.
    APPROVAL_RECORDED = "approval_recorded"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    EDITED = "edited"
    WITHDRAWN = "withdrawn"
    RESCHEDULED = "rescheduled"
    PUBLISH_NOW = "publish_now"
    CANCELLED = "cancelled"
    RETRIED = "retried"
    # The dispatcher's and the housekeeper's.
    MISSED = "missed"
    CLAIMED = "claimed"
    SUBMITTED = "submitted"
    RETRY_LATER = "retry_later"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"


class Role(StrEnum):
    AUTHOR = "author"
    #: An approver under the rules that apply to the post (never the author unless self-approval is on).
    APPROVER = "approver"
    SYSTEM = "system"


S = PostStatus
E = Event
TRANSITIONS: dict[tuple[PostStatus, Event], PostStatus] = {
    (S.PENDING_APPROVAL, E.APPROVAL_RECORDED): S.PENDING_APPROVAL,
    (S.PENDING_APPROVAL, E.APPROVED): S.APPROVED,
    (S.PENDING_APPROVAL, E.REJECTED): S.REJECTED,
    (S.PENDING_APPROVAL, E.CHANGES_REQUESTED): S.CHANGES_REQUESTED,
    (S.PENDING_APPROVAL, E.EDITED): S.PENDING_APPROVAL,
    (S.PENDING_APPROVAL, E.WITHDRAWN): S.WITHDRAWN,
    (S.PENDING_APPROVAL, E.MISSED): S.MISSED,
    (S.CHANGES_REQUESTED, E.EDITED): S.PENDING_APPROVAL,
    (S.CHANGES_REQUESTED, E.WITHDRAWN): S.WITHDRAWN,
    (S.CHANGES_REQUESTED, E.MISSED): S.MISSED,
    (S.MISSED, E.RESCHEDULED): S.PENDING_APPROVAL,
    (S.MISSED, E.EDITED): S.PENDING_APPROVAL,
    (S.MISSED, E.WITHDRAWN): S.WITHDRAWN,
    (S.APPROVED, E.CLAIMED): S.PUBLISHING,
    (S.APPROVED, E.CANCELLED): S.CANCELLED,
    # An edit voids every approval: the new version goes back to the approvers.
    (S.APPROVED, E.EDITED): S.PENDING_APPROVAL,
    (S.APPROVED, E.RESCHEDULED): S.APPROVED,
    (S.APPROVED, E.PUBLISH_NOW): S.APPROVED,
    # A lease that expired mid-submission is claimed again (reconciliation decides what is resent).
    (S.PUBLISHING, E.CLAIMED): S.PUBLISHING,
    (S.PUBLISHING, E.SUBMITTED): S.SUBMITTED,
    (S.PUBLISHING, E.RETRY_LATER): S.APPROVED,
    (S.PUBLISHING, E.FAILED): S.FAILED,
    (S.PUBLISHING, E.OUTCOME_UNKNOWN): S.NEEDS_ATTENTION,
    (S.SUBMITTED, E.PUBLISHED): S.PUBLISHED,
    (S.SUBMITTED, E.PARTIALLY_PUBLISHED): S.PARTIALLY_PUBLISHED,
    (S.SUBMITTED, E.FAILED): S.FAILED,
    (S.SUBMITTED, E.OUTCOME_UNKNOWN): S.NEEDS_ATTENTION,
    # Withdrawn from the provider before it went out.
    (S.SUBMITTED, E.CANCELLED): S.CANCELLED,
    # A human looked at a failure: publish the same approved version again, or change it.
    (S.FAILED, E.RETRIED): S.APPROVED,
    (S.FAILED, E.EDITED): S.PENDING_APPROVAL,
    (S.NEEDS_ATTENTION, E.RETRIED): S.APPROVED,
    (S.NEEDS_ATTENTION, E.EDITED): S.PENDING_APPROVAL,
}

PEOPLE = frozenset({Role.AUTHOR, Role.APPROVER})
ROLES: dict[Event, frozenset[Role]] = {
    E.APPROVAL_RECORDED: frozenset({Role.APPROVER}),
    E.APPROVED: frozenset({Role.APPROVER}),
    E.REJECTED: frozenset({Role.APPROVER}),
    E.CHANGES_REQUESTED: frozenset({Role.APPROVER}),
    E.EDITED: frozenset({Role.AUTHOR}),
    E.WITHDRAWN: frozenset({Role.AUTHOR}),
    E.RESCHEDULED: PEOPLE,
    E.PUBLISH_NOW: PEOPLE,
    E.CANCELLED: PEOPLE,
    E.RETRIED: PEOPLE,
}

_WHAT = {
    E.APPROVAL_RECORDED: "approve",
    E.APPROVED: "approve",
    E.REJECTED: "reject",
    E.CHANGES_REQUESTED: "request changes to",
    E.EDITED: "edit",
    E.WITHDRAWN: "withdraw",
    E.RESCHEDULED: "reschedule",
    E.PUBLISH_NOW: "publish",
    E.CANCELLED: "cancel",
    E.RETRIED: "retry",
}

_STATE = {
    S.PENDING_APPROVAL: "It is waiting for approval.",
    S.CHANGES_REQUESTED: "Changes were requested; it waits for the author's edit.",
    S.MISSED: "Its time passed before it was approved.",
    S.APPROVED: "It is already approved.",
    S.REJECTED: "It was rejected.",
    S.WITHDRAWN: "The author withdrew it.",
    S.PUBLISHING: "It is being published right now.",
    S.SUBMITTED: "It was already handed to the provider.",
    S.PUBLISHED: "It is already published.",
    S.PARTIALLY_PUBLISHED: "It was already published on some accounts.",
    S.FAILED: "It failed to publish.",
    S.NEEDS_ATTENTION: "It is waiting for a human to check it.",
    S.CANCELLED: "It was cancelled.",
}

# Where a refusal has a better next step than "you can't", say it.
_HINTS = {
    (S.SUBMITTED, E.EDITED): "Cancel it first, then draft a new post.",
    (S.PUBLISHING, E.EDITED): "Wait for the result in the thread.",
    (S.PENDING_APPROVAL, E.RESCHEDULED): "Edit the post to change its time; the approvers see the new one.",
    (S.CHANGES_REQUESTED, E.RESCHEDULED): "Edit the post to change its time.",
    (S.PENDING_APPROVAL, E.PUBLISH_NOW): "It needs its approvals first.",
    (S.PENDING_APPROVAL, E.CANCELLED): "The author can withdraw it.",
    (S.PENDING_APPROVAL, E.RETRIED): "It has not been tried yet.",
    (S.PARTIALLY_PUBLISHED, E.RETRIED): "Draft a new post for the accounts that failed.",
    (S.REJECTED, E.EDITED): "Draft a new post with `/post`.",
}


def next_status(current: PostStatus, event: Event) -> PostStatus:
    """The status after `event`, or InvalidTransition with a sentence the user can read."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(refusal(current, event)) from None


def refusal(current: PostStatus, event: Event) -> str:
    what = _WHAT.get(event)
    head = (
        f"This post can no longer be {_past(what)}." if what else "Postgate cannot do that to this post now."
    )
    if current is S.APPROVED and event in (E.APPROVED, E.APPROVAL_RECORDED):
        head = "This post is already approved."
    hint = _HINTS.get((current, event))
    return " ".join(part for part in (head, _STATE[current], hint) if part)


def _past(verb: str | None) -> str:
    return {
        "approve": "approved",
        "reject": "rejected",
        "request changes to": "sent back for changes",
        "edit": "edited",
        "withdraw": "withdrawn",
        "reschedule": "rescheduled",
        "publish": "published now",
        "cancel": "cancelled",
        "retry": "retried",
    }.get(verb or "", "changed")


def sources_of(event: Event) -> frozenset[PostStatus]:
    """Every status from which `event` is allowed: the WHERE clause of a compare-and-set."""
    return frozenset(source for (source, ev) in TRANSITIONS if ev is event)


def check_allowed(
    current: PostStatus,
    event: Event,
    roles: Collection[Role],
    *,
    approver_hint: str = "the approvers",
    self_approval_blocked: bool = False,
) -> PostStatus:
    """The next status if someone with `roles` may cause `event` now; NotAllowed or InvalidTransition else.

    Who comes first: a stranger learns they may not act, not the post's state. `self_approval_blocked`:
    the user is an approver but wrote the post, and self-approval is off.
    """
    allowed = ROLES.get(event, frozenset({Role.SYSTEM}))
    if not allowed & set(roles):
        if self_approval_blocked and Role.APPROVER in allowed:
            raise NotAllowed(f"You wrote this post, so you cannot {_WHAT[event]} it yourself.")
        raise NotAllowed(who_may(event, approver_hint=approver_hint))
    return next_status(current, event)


def who_may(event: Event, *, approver_hint: str = "the approvers") -> str:
    allowed = ROLES.get(event, frozenset({Role.SYSTEM}))
    verb = _WHAT.get(event, "change")
    if allowed == frozenset({Role.APPROVER}):
        return f"Only approvers can {verb} this post. Ask {approver_hint}."
    if allowed == frozenset({Role.AUTHOR}):
        return f"Only the author can {verb} this post."
    if allowed == PEOPLE:
        return f"Only the author or an approver can {verb} this post."
    return "Only Postgate itself does this."
