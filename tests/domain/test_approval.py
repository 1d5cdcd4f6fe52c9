from __future__ import annotations

import pytest

from bot.domain.approval import (
    TRANSITIONS,
    ApprovalPolicy,
    Event,
    next_status,
    sources_of,
    tally_after_approval,
)
from bot.domain.model import FINAL_STATUSES, PostStatus
from bot.errors import InvalidTransition, NotAllowed

S = PostStatus


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        (S.PENDING_APPROVAL, Event.APPROVED, S.APPROVED),
        (S.PENDING_APPROVAL, Event.REJECTED, S.REJECTED),
        (S.APPROVED, Event.CLAIMED, S.PUBLISHING),
        (S.PUBLISHING, Event.CLAIMED, S.PUBLISHING),  # an expired lease is claimed again
        (S.PUBLISHING, Event.SUBMITTED, S.SUBMITTED),
        (S.PUBLISHING, Event.RETRY_LATER, S.APPROVED),
        (S.PUBLISHING, Event.OUTCOME_UNKNOWN, S.NEEDS_ATTENTION),
        (S.SUBMITTED, Event.PUBLISHED, S.PUBLISHED),
        (S.SUBMITTED, Event.PARTIALLY_PUBLISHED, S.PARTIALLY_PUBLISHED),
        (S.SUBMITTED, Event.FAILED, S.FAILED),
    ],
)
def test_allowed_transitions(current: PostStatus, event: Event, expected: PostStatus) -> None:
    assert next_status(current, event) is expected


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
@pytest.mark.parametrize("event", list(Event))
def test_no_event_leaves_a_final_status(final: PostStatus, event: Event) -> None:
    with pytest.raises(InvalidTransition):
        next_status(final, event)


def test_approving_an_approved_post_says_so_in_words() -> None:
    with pytest.raises(InvalidTransition, match="already approved"):
        next_status(S.APPROVED, Event.APPROVED)


def test_sources_give_the_compare_and_set_where_clause() -> None:
    assert sources_of(Event.CLAIMED) == {S.APPROVED, S.PUBLISHING}
    assert all((s, e) in TRANSITIONS for e in Event for s in sources_of(e))


def test_only_listed_approvers_may_decide() -> None:
    policy = ApprovalPolicy(approvers=frozenset({"U1", "U2"}))
    policy.check_can_decide(user_id="U1", author_id="U9")
    with pytest.raises(NotAllowed, match="Only approvers"):
        policy.check_can_decide(user_id="U3", author_id="U9")


def test_author_may_not_approve_own_post_even_as_approver() -> None:
    policy = ApprovalPolicy(approvers=frozenset({"U1"}))
    with pytest.raises(NotAllowed, match="You wrote this post"):
        policy.check_can_decide(user_id="U1", author_id="U1")


def test_tally_counts_each_approver_once_and_completes_at_the_rule() -> None:
    first = tally_after_approval([], "U1", 2)
    assert not first.complete
    second = tally_after_approval(first.approvals, "U2", 2)
    assert second.complete and second.approvals == ("U1", "U2")
    with pytest.raises(InvalidTransition, match="already approved"):
        tally_after_approval(second.approvals, "U1", 2)
