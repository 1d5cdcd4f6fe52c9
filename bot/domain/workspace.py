"""A workspace's Postgate settings as admins edit them in Slack: the approval channel, the approval rules,
reminders, time zone, publishing hours, what is offered, and the daily digest. Pure data and rules.

Stored per workspace in the database; the environment only gives the first defaults.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.policy import DEFAULT_SCOPE, ApprovalRule, rules_from_settings

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class RuleSetting(BaseModel):
    scope: str = DEFAULT_SCOPE
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    required: int = Field(default=1, ge=1, le=10)


class PublishingHours(BaseModel):
    """When posts may go out, in the workspace's time zone. `end` is exclusive; days are 0 = Monday."""

    start: time = time(0, 0)
    end: time = time(23, 59)
    days: list[int] = Field(default_factory=lambda: list(range(7)))

    def describe(self) -> str:
        days = ", ".join(WEEKDAYS[d] for d in sorted(self.days)) if len(self.days) < 7 else "every day"
        return f"{self.start:%H:%M}–{self.end:%H:%M}, {days}"

    def is_open(self, moment: datetime, tz: ZoneInfo) -> bool:
        local = moment.astimezone(tz)
        return local.weekday() in self.days and self.start <= local.time().replace(tzinfo=None) < self.end

    def next_open(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """`moment` if the hours are open then, else the next opening (within two weeks)."""
        if self.is_open(moment, tz):
            return moment
        local = moment.astimezone(tz)
        for offset in range(15):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() not in self.days:
                continue
            opening = datetime.combine(day, self.start, tzinfo=tz)
            if opening > local:
                return opening.astimezone(moment.tzinfo)
        return moment


class WorkspaceSettings(BaseModel):
    # Frozen: `Workflow` hands the same parsed instance to every caller until the stored revision changes.
    model_config = ConfigDict(frozen=True)

    approval_channel: str | None = None
    rules: list[RuleSetting] = Field(default_factory=lambda: [RuleSetting()])
    allow_self_approval: bool = False
    #: First reminder to approvers this long after a post starts waiting; 0 = never.
    reminder_after_minutes: float = Field(default=240, ge=0, le=10080)
    #: One more reminder this long before a scheduled post's time; 0 = never.
    reminder_before_due_minutes: float = Field(default=60, ge=0, le=10080)
    default_tz: str = "UTC"
    publishing_hours: PublishingHours | None = None
    #: Providers offered in the composer; None = every configured one.
    providers: list[str] | None = None
    #: Account keys (`provider:account_id`) offered; None = every account.
    accounts: list[str] | None = None
    #: Local time (in `default_tz`) of the daily digest in the approval channel; None = no digest.
    digest_time: time | None = time(9, 0)
    #: Users who may change these settings, besides Slack's admins and owners.
    admins: list[str] = Field(default_factory=list)

    @field_validator("default_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.default_tz)

    def approval_rules(self) -> tuple[ApprovalRule, ...]:
        rules = rules_from_settings(r.model_dump() for r in self.rules)
        if not any(r.scope == DEFAULT_SCOPE for r in rules):
            rules = (ApprovalRule(scope=DEFAULT_SCOPE), *rules)
        return rules

    def default_rule(self) -> RuleSetting:
        return next((r for r in self.rules if r.scope == DEFAULT_SCOPE), RuleSetting())

    def offers_provider(self, provider: str) -> bool:
        return self.providers is None or provider in self.providers

    def offers_account(self, account_key: str) -> bool:
        return self.accounts is None or account_key in self.accounts
