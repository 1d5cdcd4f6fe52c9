"""Approval rules: who must approve a post, and whether the approvals it has are enough. Pure.

A rule applies to all accounts (`*`), to one network (`network:linkedin`) or to one account
(`account:publora:linkedin-123`). Each target account of a post is governed by its most specific rule, and
a post is approved when every rule that governs one of its targets has its `required` approvals from its
own approvers. One person's approval counts for every rule they are an approver of. Slack user groups are
resolved to users outside this module (they need Slack) and passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.domain.networks import Network

DEFAULT_SCOPE = "*"


def network_scope(network: Network) -> str:
    return f"network:{network.value}"


def account_scope(account_key: str) -> str:
    return f"account:{account_key}"


@dataclass(frozen=True)
class ApprovalRule:
    scope: str
    users: frozenset[str] = frozenset()
    #: Slack user group ids (S…), resolved to their members when the rule is evaluated.
    groups: frozenset[str] = frozenset()
    required: int = 1

    @property
    def specificity(self) -> int:
        if self.scope.startswith("account:"):
            return 2
        if self.scope.startswith("network:"):
            return 1
        return 0

    def who(self) -> str:
        """The approvers as Slack renders them: user and group mentions."""
        names = [f"<@{u}>" for u in sorted(self.users)] + [f"<!subteam^{g}>" for g in sorted(self.groups)]
        return ", ".join(names) or "nobody yet"


@dataclass(frozen=True)
class Target:
    account_key: str
    network: Network | None
    label: str


def governing_rules(rules: Sequence[ApprovalRule], targets: Iterable[Target]) -> tuple[ApprovalRule, ...]:
    """The rules that govern `targets`, most specific per target, each once, in the order of `rules`."""
    by_scope = {r.scope: r for r in rules}
    chosen: list[ApprovalRule] = []
    for target in targets:
        rule = by_scope.get(account_scope(target.account_key))
        if rule is None and target.network is not None:
            rule = by_scope.get(network_scope(target.network))
        if rule is None:
            rule = by_scope.get(DEFAULT_SCOPE)
        if rule is not None and rule not in chosen:
            chosen.append(rule)
    return tuple(sorted(chosen, key=lambda r: rules.index(r)))


@dataclass(frozen=True)
class RuleProgress:
    rule: ApprovalRule
    #: Everyone who may approve under this rule (groups resolved), the author excluded without self-approval.
    eligible: frozenset[str]
    #: Approvals that count for this rule, first first.
    counted: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return len(self.counted) >= self.rule.required

    @property
    def attainable(self) -> bool:
        return len(self.eligible) >= self.rule.required

    @property
    def waiting_for(self) -> frozenset[str]:
        return frozenset() if self.complete else self.eligible - set(self.counted)


@dataclass(frozen=True)
class Progress:
    rules: tuple[RuleProgress, ...]

    @property
    def complete(self) -> bool:
        return bool(self.rules) and all(r.complete for r in self.rules)

    @property
    def eligible(self) -> frozenset[str]:
        return frozenset().union(*(r.eligible for r in self.rules)) if self.rules else frozenset()

    @property
    def waiting_for(self) -> frozenset[str]:
        """Approvers whose approval would still count (the people reminders go to)."""
        return frozenset().union(*(r.waiting_for for r in self.rules)) if self.rules else frozenset()

    def counts_for(self, user_id: str) -> bool:
        return any(user_id in r.eligible and not r.complete for r in self.rules)


Resolver = Callable[[ApprovalRule], frozenset[str]]


def evaluate(
    rules: Sequence[ApprovalRule],
    *,
    approvals: Sequence[str],
    author_id: str,
    allow_self_approval: bool,
    resolve: Resolver,
) -> Progress:
    """How far `approvals` (user ids, in order) go towards the governing `rules`."""
    progress = []
    for rule in rules:
        eligible = resolve(rule)
        if not allow_self_approval:
            eligible = eligible - {author_id}
        counted = tuple(u for u in dict.fromkeys(approvals) if u in eligible)
        progress.append(RuleProgress(rule=rule, eligible=eligible, counted=counted))
    return Progress(rules=tuple(progress))


def rules_from_settings(raw: Iterable[Mapping[str, object]]) -> tuple[ApprovalRule, ...]:
    """Rules as the settings store them (`{"scope", "users", "groups", "required"}`)."""
    rules = []
    for item in raw:
        users = item.get("users") or []
        groups = item.get("groups") or []
        required = item.get("required", 1)
        rules.append(
            ApprovalRule(
                scope=str(item.get("scope") or DEFAULT_SCOPE),
                users=frozenset(str(u) for u in users if u)
                if isinstance(users, list | tuple)
                else frozenset(),
                groups=frozenset(str(g) for g in groups if g)
                if isinstance(groups, list | tuple)
                else frozenset(),
                required=max(1, int(required)) if isinstance(required, int | str) else 1,
            )
        )
    return tuple(rules)
