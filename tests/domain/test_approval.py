"""The approval state machine, exhaustively: every status × every event is either an allowed transition
with its target, or refused with a sentence the user can read; and only the right people may act."""

from __future__ import annotations

import itertools

import pytest

from bot.domain.approval import (
    ROLES,
    TRANSITIONS,
    Event,
    Role,
    check_allowed,
    next_status,
    refusal,
    sources_of,
)
from bot.domain.model import PostStatus
from bot.errors import InvalidTransition, NotAllowed

S, E = PostStatus, Event

# The whole table, written out independently of the module: a change there must be a change here.
EXPECTED = {
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
    (S.APPROVED, E.EDITED): S.PENDING_APPROVAL,
    (S.APPROVED, E.RESCHEDULED): S.APPROVED,
    (S.APPROVED, E.PUBLISH_NOW): S.APPROVED,
    (S.PUBLISHING, E.CLAIMED): S.PUBLISHING,
    (S.PUBLISHING, E.SUBMITTED): S.SUBMITTED,
    (S.PUBLISHING, E.RETRY_LATER): S.APPROVED,
    (S.PUBLISHING, E.FAILED): S.FAILED,
    (S.PUBLISHING, E.OUTCOME_UNKNOWN): S.NEEDS_ATTENTION,
    (S.SUBMITTED, E.PUBLISHED): S.PUBLISHED,
    (S.SUBMITTED, E.PARTIALLY_PUBLISHED): S.PARTIALLY_PUBLISHED,
    (S.SUBMITTED, E.FAILED): S.FAILED,
    (S.SUBMITTED, E.OUTCOME_UNKNOWN): S.NEEDS_ATTENTION,
    (S.SUBMITTED, E.CANCELLED): S.CANCELLED,
    (S.FAILED, E.RETRIED): S.APPROVED,
    (S.FAILED, E.EDITED): S.PENDING_APPROVAL,
    (S.NEEDS_ATTENTION, E.RETRIED): S.APPROVED,
    (S.NEEDS_ATTENTION, E.EDITED): S.PENDING_APPROVAL,
}

EVERY_PAIR = list(itertools.product(PostStatus, Event))


def test_the_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(
    ("current", "event"), EVERY_PAIR, ids=[f"{s.value}-{e.value}" for s, e in EVERY_PAIR]
)
def test_every_status_and_event_is_allowed_or_refused_in_words(current: PostStatus, event: Event) -> None:
    if (current, event) in EXPECTED:
        assert next_status(current, event) is EXPECTED[(current, event)]
        return
    with pytest.raises(InvalidTransition) as refused:
        next_status(current, event)
    message = refused.value.user_message
    # A sentence a person can act on: it names what cannot be done and why, not an enum value.
    assert message.endswith(".") and len(message) > 25
    assert "_" not in message  # no raw status or event names
    assert message == refusal(current, event)


@pytest.mark.parametrize("final", [S.REJECTED, S.PUBLISHED, S.PARTIALLY_PUBLISHED, S.CANCELLED, S.WITHDRAWN])
def test_nothing_leaves_a_truly_final_status(final: PostStatus) -> None:
    assert not [e for e in Event if (final, e) in TRANSITIONS]
    assert final.is_final


def test_people_cause_only_their_events_and_the_system_the_rest() -> None:
    people = {E.APPROVAL_RECORDED, E.APPROVED, E.REJECTED, E.CHANGES_REQUESTED, E.EDITED, E.WITHDRAWN}
    people |= {E.RESCHEDULED, E.PUBLISH_NOW, E.CANCELLED, E.RETRIED}
    assert set(ROLES) == people
    for event in set(Event) - people:
        with pytest.raises(NotAllowed, match="Only Postgate itself"):
            check_allowed(S.PENDING_APPROVAL, event, {Role.AUTHOR, Role.APPROVER})


@pytest.mark.parametrize(
    ("event", "who", "allowed"),
    [
        (E.APPROVAL_RECORDED, {Role.APPROVER}, True),
        (E.APPROVAL_RECORDED, {Role.AUTHOR}, False),
        (E.CHANGES_REQUESTED, {Role.APPROVER}, True),
        (E.CHANGES_REQUESTED, {Role.AUTHOR}, False),
        (E.REJECTED, set(), False),
        (E.EDITED, {Role.AUTHOR}, True),
        (E.EDITED, {Role.APPROVER}, False),
        (E.WITHDRAWN, {Role.AUTHOR}, True),
        (E.WITHDRAWN, {Role.APPROVER}, False),
    ],
)
def test_roles_on_a_pending_post(event: Event, who: set[Role], allowed: bool) -> None:
    if allowed:
        check_allowed(S.PENDING_APPROVAL, event, who)
    else:
        with pytest.raises(NotAllowed, match="Only"):
            check_allowed(S.PENDING_APPROVAL, event, who)


@pytest.mark.parametrize("event", [E.RESCHEDULED, E.PUBLISH_NOW, E.CANCELLED])
def test_author_or_approver_may_reschedule_publish_now_or_cancel_an_approved_post(event: Event) -> None:
    assert check_allowed(S.APPROVED, event, {Role.AUTHOR}) is EXPECTED[(S.APPROVED, event)]
    assert check_allowed(S.APPROVED, event, {Role.APPROVER}) is EXPECTED[(S.APPROVED, event)]
    with pytest.raises(NotAllowed, match="Only the author or an approver"):
        check_allowed(S.APPROVED, event, set())


def test_a_stranger_learns_who_may_act_before_the_state() -> None:
    with pytest.raises(NotAllowed, match="Ask <@U1>"):
        check_allowed(S.PUBLISHED, E.APPROVED, set(), approver_hint="<@U1>")


def test_the_author_is_told_self_approval_is_off() -> None:
    with pytest.raises(NotAllowed, match="You wrote this post, so you cannot approve it yourself"):
        check_allowed(S.PENDING_APPROVAL, E.APPROVAL_RECORDED, {Role.AUTHOR}, self_approval_blocked=True)


def test_refusals_with_a_next_step() -> None:
    assert "Cancel it first" in refusal(S.SUBMITTED, E.EDITED)
    assert "already approved" in refusal(S.APPROVED, E.APPROVED)


def test_sources_give_the_compare_and_set_where_clause() -> None:
    assert sources_of(E.EDITED) == {
        S.PENDING_APPROVAL,
        S.CHANGES_REQUESTED,
        S.MISSED,
        S.APPROVED,
        S.FAILED,
        S.NEEDS_ATTENTION,
    }
    assert sources_of(E.CLAIMED) == {S.APPROVED, S.PUBLISHING}
