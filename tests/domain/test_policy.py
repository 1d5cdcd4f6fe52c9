"""Approval rules: the most specific rule per account governs, k of n, groups, self-approval."""

from __future__ import annotations

from bot.domain.networks import Network
from bot.domain.policy import ApprovalRule, Target, evaluate, governing_rules
from bot.domain.workspace import PublishingHours, RuleSetting, WorkspaceSettings

DEFAULT = ApprovalRule(scope="*", users=frozenset({"U1", "U2"}), required=1)
LINKEDIN = ApprovalRule(scope="network:linkedin", groups=frozenset({"S1"}), required=2)
PAGE = ApprovalRule(scope="account:publora:li-page", users=frozenset({"U9"}), required=1)
RULES = (DEFAULT, LINKEDIN, PAGE)
GROUPS = {"S1": frozenset({"U3", "U4", "AUTHOR"})}


def resolve(rule: ApprovalRule) -> frozenset[str]:
    members = set(rule.users)
    for group in rule.groups:
        members |= GROUPS.get(group, frozenset())
    return frozenset(members)


def t(key: str, network: Network) -> Target:
    return Target(account_key=key, network=network, label=key)


def test_most_specific_rule_per_target() -> None:
    x, li, page = (
        t("publora:x1", Network.X),
        t("publora:li1", Network.LINKEDIN),
        t("publora:li-page", Network.LINKEDIN),
    )
    assert governing_rules(RULES, [x]) == (DEFAULT,)
    assert governing_rules(RULES, [x, li]) == (DEFAULT, LINKEDIN)
    assert governing_rules(RULES, [page]) == (PAGE,)
    assert governing_rules(RULES, [li, li]) == (LINKEDIN,)


def test_k_of_a_group_with_self_approval_off() -> None:
    rules = governing_rules(RULES, [t("publora:x1", Network.X), t("publora:li1", Network.LINKEDIN)])
    progress = evaluate(
        rules, approvals=["U3"], author_id="AUTHOR", allow_self_approval=False, resolve=resolve
    )
    assert not progress.complete
    assert progress.waiting_for == {"U1", "U2", "U4"}  # the author is not asked to approve their own post
    progress = evaluate(
        rules, approvals=["U3", "U1", "U4"], author_id="AUTHOR", allow_self_approval=False, resolve=resolve
    )
    assert progress.complete and progress.waiting_for == frozenset()
    # The author's own approval never counts without self-approval.
    progress = evaluate(
        rules,
        approvals=["U3", "U1", "AUTHOR"],
        author_id="AUTHOR",
        allow_self_approval=False,
        resolve=resolve,
    )
    assert not progress.complete
    progress = evaluate(
        rules, approvals=["U3", "U1", "AUTHOR"], author_id="AUTHOR", allow_self_approval=True, resolve=resolve
    )
    assert progress.complete


def test_a_rule_nobody_can_complete_says_so() -> None:
    rule = ApprovalRule(scope="*", users=frozenset({"U1"}), required=2)
    progress = evaluate([rule], approvals=[], author_id="A", allow_self_approval=False, resolve=resolve)
    assert not progress.rules[0].attainable


def test_settings_always_have_a_default_rule_and_hours() -> None:
    settings = WorkspaceSettings(rules=[RuleSetting(scope="network:twitter", users=["U1"])])
    assert [r.scope for r in settings.approval_rules()] == ["*", "network:twitter"]
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    hours = PublishingHours(
        start=datetime(2026, 1, 1, 9).time(), end=datetime(2026, 1, 1, 17).time(), days=[0, 1, 2, 3, 4]
    )
    berlin = ZoneInfo("Europe/Berlin")
    saturday_noon = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)  # 12:00 in Berlin, a Saturday
    assert not hours.is_open(saturday_noon, berlin)
    opening = hours.next_open(saturday_noon, berlin)
    assert opening.astimezone(berlin).strftime("%a %H:%M") == "Mon 09:00"
