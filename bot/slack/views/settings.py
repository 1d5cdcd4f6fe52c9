"""The settings modal admins edit a workspace's Postgate settings in, the rule modal pushed on top of it for
one network or account, and reading both back from their submissions.

Reading checks what Slack cannot: that someone can approve, that the hours make sense. Problems come back as
block id → message, ready for a `response_action: errors` acknowledgement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    TimePickerElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.model import Account, Workspace
from bot.domain.networks import Network
from bot.domain.policy import DEFAULT_SCOPE, account_scope, network_scope
from bot.domain.workspace import WEEKDAYS, PublishingHours, RuleSetting, WorkspaceSettings
from bot.providers.registry import (
    KEYED_PROVIDERS,
    LISTS_WORKSPACES,
    NEEDS_WORKSPACE,
    Credentials,
    Origin,
)
from bot.services.directory import ProviderAccounts
from bot.slack.ids import Action, ViewId
from bot.slack.ids import Block as BlockId
from bot.slack.views.format import escape, group_mention, mention, slack_date, truncate
from bot.slack.views.forms import view_metadata

if TYPE_CHECKING:
    from bot.services.credentials import KeyStatus, WorkspaceListing

GROUPS_UNAVAILABLE_NOTE = (
    "Slack user groups are not available on this workspace's plan; approvers are the people listed."
)
NO_GROUPS_NOTE = "This workspace has no Slack user groups yet; approvers are the people listed."
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTIONS_MAX = 100
CHECKBOXES_MAX = 10
MAX_BLOCKS = 100
REQUIRED_CHOICES = (1, 2, 3, 4, 5)
REMIND_AFTER_CHOICES: tuple[tuple[int, str], ...] = (
    (0, "Off"),
    (60, "1 hour"),
    (120, "2 hours"),
    (240, "4 hours"),
    (480, "8 hours"),
    (1440, "24 hours"),
)
REMIND_BEFORE_CHOICES: tuple[tuple[int, str], ...] = (
    (0, "Off"),
    (15, "15 minutes"),
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
)
#: Zones offered for the workspace's default, by region. A zone in use that is not listed is added.
TIME_ZONES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("UTC", ("UTC",)),
    (
        "Americas",
        (
            "Pacific/Honolulu",
            "America/Anchorage",
            "America/Los_Angeles",
            "America/Denver",
            "America/Phoenix",
            "America/Chicago",
            "America/Mexico_City",
            "America/New_York",
            "America/Toronto",
            "America/Halifax",
            "America/Bogota",
            "America/Lima",
            "America/Santiago",
            "America/Sao_Paulo",
            "America/Argentina/Buenos_Aires",
        ),
    ),
    (
        "Europe",
        (
            "Europe/London",
            "Europe/Dublin",
            "Europe/Lisbon",
            "Europe/Madrid",
            "Europe/Paris",
            "Europe/Amsterdam",
            "Europe/Berlin",
            "Europe/Rome",
            "Europe/Stockholm",
            "Europe/Warsaw",
            "Europe/Athens",
            "Europe/Helsinki",
            "Europe/Kyiv",
            "Europe/Istanbul",
            "Europe/Moscow",
        ),
    ),
    (
        "Africa and Middle East",
        (
            "Africa/Lagos",
            "Africa/Cairo",
            "Africa/Johannesburg",
            "Africa/Nairobi",
            "Asia/Jerusalem",
            "Asia/Dubai",
        ),
    ),
    (
        "Asia and Pacific",
        (
            "Asia/Karachi",
            "Asia/Kolkata",
            "Asia/Dhaka",
            "Asia/Bangkok",
            "Asia/Jakarta",
            "Asia/Singapore",
            "Asia/Shanghai",
            "Asia/Hong_Kong",
            "Asia/Manila",
            "Asia/Seoul",
            "Asia/Tokyo",
            "Australia/Perth",
            "Australia/Brisbane",
            "Australia/Sydney",
            "Pacific/Auckland",
        ),
    ),
)


def _option(label: str, value: str) -> Option:
    return Option(text=truncate(label, OPTION_TEXT_MAX), value=value)


def _minutes_value(minutes: float) -> str:
    return str(int(minutes)) if float(minutes).is_integer() else str(minutes)


def _minutes_label(minutes: float) -> str:
    if minutes and float(minutes).is_integer() and int(minutes) % 60 == 0:
        hours = int(minutes) // 60
        return f"{hours} hour" if hours == 1 else f"{hours} hours"
    return f"{_minutes_value(minutes)} minutes"


def _minutes_options(choices: Sequence[tuple[int, str]], current: float) -> tuple[list[Option], Option]:
    options = [_option(label, str(minutes)) for minutes, label in choices]
    value = _minutes_value(current)
    if value not in {o.value for o in options}:
        options.append(_option(_minutes_label(current), value))
        options.sort(key=lambda o: float(o.value))
    initial = next(o for o in options if o.value == value)
    return options, initial


def _required_options(current: int) -> tuple[list[Option], Option]:
    choices = sorted({*REQUIRED_CHOICES, current})
    options = [_option(str(n), str(n)) for n in choices]
    return options, next(o for o in options if o.value == str(current))


def _zone_groups(current: str) -> tuple[list[OptionGroup], Option]:
    groups: list[OptionGroup] = []
    chosen: Option | None = None
    for region, zones in TIME_ZONES:
        options = [_option(zone.replace("_", " "), zone) for zone in zones]
        chosen = chosen or next((o for o in options if o.value == current), None)
        groups.append(OptionGroup(label=region, options=options))
    if chosen is None:
        chosen = _option(current.replace("_", " "), current)
        groups.append(OptionGroup(label="In use", options=[chosen]))
    return groups, chosen


def _group_options(
    groups: Sequence[tuple[str, str]], chosen: Sequence[str]
) -> tuple[list[Option], list[Option]]:
    """The workspace's user groups as options; a chosen group Slack no longer lists stays, to be kept."""
    options = [_option(name or group_id, group_id) for group_id, name in groups[:OPTIONS_MAX]]
    known = {o.value for o in options}
    missing = [g for g in chosen if g not in known]
    options = [_option(f"{g} (not listed now)", g) for g in missing] + options
    options = options[:OPTIONS_MAX]
    initial = [o for o in options if o.value in set(chosen)]
    return options, initial


def _hhmm(value: time | None) -> str | None:
    return f"{value:%H:%M}" if value is not None else None


def scope_label(scope: str, providers: Sequence[ProviderAccounts]) -> str:
    """How a rule's scope reads: "LinkedIn", "LinkedIn · Acme", or the raw key of an unknown account."""
    if scope == DEFAULT_SCOPE:
        return "All accounts"
    kind, _, rest = scope.partition(":")
    if kind == "network":
        network = Network.parse(rest)
        return network.display_name if network else rest
    if kind == "account":
        for provider in providers:
            for account in provider.accounts:
                if account.key == rest:
                    return account.label
        return f"Account {rest}"
    return scope


def rule_summary(rule: RuleSetting, providers: Sequence[ProviderAccounts]) -> str:
    """ "LinkedIn · 2 of @ana, @bo" (mrkdwn)."""
    who = [mention(u) for u in rule.users] + [group_mention(g) for g in rule.groups]
    approvers = ", ".join(who) or "nobody yet"
    return f"*{escape(scope_label(rule.scope, providers))}* · {rule.required} of {approvers}"


# --- the settings modal -----------------------------------------------------------------------------------


def build_settings_modal(
    *,
    settings: WorkspaceSettings,
    revision: int,
    providers: Sequence[ProviderAccounts],
    groups: Sequence[tuple[str, str]],
    groups_unavailable: str | None,
    keys: KeysSection | None = None,
) -> View:
    rule = settings.default_rule()
    key_blocks = _keys_blocks(keys) if keys is not None else []
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.SETTINGS_CHANNEL,
            label="Approval channel",
            element=ConversationSelectElement(
                action_id=Action.SETTINGS_CHANNEL,
                initial_conversation=settings.approval_channel,
                default_to_current_conversation=False,
                filter=ConversationFilter(include=["public", "private"]),
                placeholder="Choose a channel",
            ),
            hint="Drafts are posted here for approval. Invite Postgate to a private channel first.",
        ),
        HeaderBlock(text="Who approves"),
        InputBlock(
            block_id=BlockId.SETTINGS_APPROVERS,
            label="Approvers",
            optional=True,
            element=UserMultiSelectElement(
                action_id=Action.SETTINGS_APPROVERS,
                initial_users=rule.users or None,
                placeholder="Choose people",
            ),
        ),
        *_groups_input(
            BlockId.SETTINGS_GROUPS, Action.SETTINGS_GROUPS, groups, groups_unavailable, rule.groups
        ),
        _required_input(BlockId.SETTINGS_REQUIRED, Action.SETTINGS_REQUIRED, rule.required),
        _self_approval_input(settings.allow_self_approval),
        *_rules_blocks(settings, providers, room=MAX_BLOCKS - 35 - len(key_blocks)),
        HeaderBlock(text="Reminders and digest"),
        _minutes_input(
            BlockId.SETTINGS_REMIND_AFTER,
            Action.SETTINGS_REMIND_AFTER,
            "Remind approvers after a post has waited",
            REMIND_AFTER_CHOICES,
            settings.reminder_after_minutes,
        ),
        _minutes_input(
            BlockId.SETTINGS_REMIND_BEFORE,
            Action.SETTINGS_REMIND_BEFORE,
            "Remind again before a pending post's time",
            REMIND_BEFORE_CHOICES,
            settings.reminder_before_due_minutes,
        ),
        InputBlock(
            block_id=BlockId.SETTINGS_DIGEST,
            label="Daily digest in the approval channel at",
            optional=True,
            element=TimePickerElement(
                action_id=Action.SETTINGS_DIGEST,
                initial_time=_hhmm(settings.digest_time),
                placeholder="No digest",
            ),
            hint="In the workspace time zone. Leave empty for no digest.",
        ),
        HeaderBlock(text="Time and publishing hours"),
        _zone_input(settings.default_tz),
        *_hours_inputs(settings.publishing_hours),
        HeaderBlock(text="What the composer offers"),
        *_offer_inputs(settings, providers),
        *key_blocks,
        HeaderBlock(text="Admins"),
        InputBlock(
            block_id=BlockId.SETTINGS_ADMINS,
            label="Postgate admins besides Slack's admins and owners",
            optional=True,
            element=UserMultiSelectElement(
                action_id=Action.SETTINGS_ADMINS,
                initial_users=settings.admins or None,
                placeholder="Choose people",
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=ViewId.SETTINGS,
        title="Postgate settings",
        submit="Save",
        close="Cancel",
        blocks=blocks,
        private_metadata=json.dumps({"revision": revision}),
    )


def _groups_input(
    block_id: str,
    action_id: str,
    groups: Sequence[tuple[str, str]],
    groups_unavailable: str | None,
    chosen: Sequence[str],
) -> list[Block]:
    if groups_unavailable:
        return [ContextBlock(elements=[MarkdownTextObject(text=GROUPS_UNAVAILABLE_NOTE)])]
    options, initial = _group_options(groups, chosen)
    if not options:
        return [ContextBlock(elements=[MarkdownTextObject(text=NO_GROUPS_NOTE)])]
    return [
        InputBlock(
            block_id=block_id,
            label="Approver groups",
            optional=True,
            element=StaticMultiSelectElement(
                action_id=action_id,
                options=options,
                initial_options=initial or None,
                placeholder="Choose groups",
            ),
            hint="Everyone in these Slack user groups can approve.",
        )
    ]


def _required_input(block_id: str, action_id: str, current: int) -> InputBlock:
    options, initial = _required_options(current)
    return InputBlock(
        block_id=block_id,
        label="Approvals needed",
        element=StaticSelectElement(action_id=action_id, options=options, initial_option=initial),
    )


def _self_approval_input(allowed: bool) -> InputBlock:
    option = _option("Authors may approve their own posts", "yes")
    return InputBlock(
        block_id=BlockId.SETTINGS_SELF_APPROVAL,
        label="Self-approval",
        optional=True,
        element=CheckboxesElement(
            action_id=Action.SETTINGS_SELF_APPROVAL,
            options=[option],
            initial_options=[option] if allowed else None,
        ),
    )


def _minutes_input(
    block_id: str, action_id: str, label: str, choices: Sequence[tuple[int, str]], current: float
) -> InputBlock:
    options, initial = _minutes_options(choices, current)
    return InputBlock(
        block_id=block_id,
        label=label,
        element=StaticSelectElement(action_id=action_id, options=options, initial_option=initial),
    )


def _zone_input(current: str) -> InputBlock:
    groups, initial = _zone_groups(current)
    return InputBlock(
        block_id=BlockId.SETTINGS_TZ,
        label="Workspace time zone",
        element=StaticSelectElement(
            action_id=Action.SETTINGS_TZ, option_groups=groups, initial_option=initial
        ),
        hint="For publishing hours and the digest. Everyone sees post times in their own Slack time zone.",
    )


def _day_option(day: int) -> Option:
    return _option(WEEKDAYS[day], str(day))


def _hours_inputs(hours: PublishingHours | None) -> list[Block]:
    days = [_day_option(d) for d in range(7)]
    chosen = set(hours.days) if hours is not None else set(range(7))
    return [
        InputBlock(
            block_id=BlockId.SETTINGS_HOURS_START,
            label="Publish from",
            optional=True,
            element=TimePickerElement(
                action_id=Action.SETTINGS_HOURS_START,
                initial_time=_hhmm(hours.start) if hours else None,
                placeholder="Any time",
            ),
            hint="Posts due outside the publishing hours wait for the next opening. Empty: any time.",
        ),
        InputBlock(
            block_id=BlockId.SETTINGS_HOURS_END,
            label="Publish until",
            optional=True,
            element=TimePickerElement(
                action_id=Action.SETTINGS_HOURS_END,
                initial_time=_hhmm(hours.end) if hours else None,
                placeholder="Any time",
            ),
        ),
        InputBlock(
            block_id=BlockId.SETTINGS_DAYS,
            label="Publish on",
            optional=True,
            element=CheckboxesElement(
                action_id=Action.SETTINGS_DAYS,
                options=days,
                initial_options=[o for o in days if int(o.value) in chosen] or None,
            ),
        ),
    ]


def _account_groups(
    providers: Sequence[ProviderAccounts], chosen: Sequence[str]
) -> tuple[list[OptionGroup], list[Option]]:
    """Accounts grouped by provider. A chosen account no provider lists now stays, so a save keeps it."""
    groups: list[OptionGroup] = []
    listed: set[str] = set()
    for provider in providers[:OPTIONS_MAX]:
        options = [
            _option(account.label, account.key)
            for account in provider.accounts
            if len(account.key) <= OPTION_VALUE_MAX
        ]
        listed |= {o.value for o in options}
        unlisted = [k for k in chosen if k.startswith(f"{provider.provider}:") and k not in listed]
        options = (options + [_option(f"{k} (not listed now)", k) for k in unlisted])[:OPTIONS_MAX]
        listed |= set(unlisted)
        if options:
            groups.append(
                OptionGroup(label=truncate(provider.display_name, OPTION_TEXT_MAX), options=options)
            )
    others = [k for k in chosen if k not in listed and len(k) <= OPTION_VALUE_MAX]
    if others and len(groups) < OPTIONS_MAX:
        groups.append(
            OptionGroup(label="Not listed now", options=[_option(k, k) for k in others[:OPTIONS_MAX]])
        )
    selected = set(chosen)
    initial = [o for g in groups for o in g.options or () if o.value in selected]
    return groups, initial


def _offer_inputs(settings: WorkspaceSettings, providers: Sequence[ProviderAccounts]) -> list[Block]:
    blocks: list[Block] = []
    offered = list(providers)[:CHECKBOXES_MAX]
    if offered:
        options = [_option(p.display_name, p.provider) for p in offered]
        initial = [o for o in options if settings.offers_provider(o.value)]
        blocks.append(
            InputBlock(
                block_id=BlockId.SETTINGS_PROVIDERS,
                label="Providers",
                optional=True,
                element=CheckboxesElement(
                    action_id=Action.SETTINGS_PROVIDERS, options=options, initial_options=initial or None
                ),
            )
        )
    groups, initial = _account_groups(providers, settings.accounts or [])
    if groups:
        blocks.append(
            InputBlock(
                block_id=BlockId.SETTINGS_ACCOUNTS,
                label="Accounts",
                optional=True,
                element=StaticMultiSelectElement(
                    action_id=Action.SETTINGS_ACCOUNTS,
                    option_groups=groups,
                    initial_options=initial or None,
                    placeholder="All accounts",
                ),
                hint="Leave empty to offer every account of the providers above.",
            )
        )
    failures = [f"{escape(p.display_name)}: {escape(p.failure)}" for p in providers if p.failure]
    if failures:
        text = truncate("⚠️ Could not list the accounts of " + "; ".join(failures), 3000)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=text)]))
    return blocks


def _rules_blocks(
    settings: WorkspaceSettings, providers: Sequence[ProviderAccounts], *, room: int
) -> list[Block]:
    """`room`: how many rules fit beside the rest of the modal; the others are counted in one line."""
    rules = [r for r in settings.rules if r.scope != DEFAULT_SCOPE]
    blocks: list[Block] = [
        HeaderBlock(text="Rules for particular networks or accounts"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="A post to an account follows the most specific rule: the account's, else its "
                    "network's, else the approvers above."
                )
            ]
        ),
    ]
    for rule in rules[:room]:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=truncate(rule_summary(rule, providers), 3000)),
                accessory=ButtonElement(
                    text="Remove",
                    action_id=Action.REMOVE_RULE,
                    value=rule.scope,
                    style="danger",
                    confirm=ConfirmObject(
                        title="Remove this rule?",
                        text=truncate(
                            f"Posts to {scope_label(rule.scope, providers)} will follow a broader rule.", 300
                        ),
                        confirm="Remove",
                        deny="Keep it",
                    ),
                ),
            )
        )
    if len(rules) > room:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"and {len(rules) - room} more rules not shown")])
        )
    if not rules:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text="_No rules yet: the approvers above approve everything._")
            )
        )
    blocks.append(
        ActionsBlock(elements=[ButtonElement(text="Add a rule", action_id=Action.ADD_RULE, value="add")])
    )
    blocks.append(DividerBlock())
    return blocks


# --- reading the settings modal ----------------------------------------------------------------------------


def _state(values: Mapping[str, Any], block: str, action: str) -> Mapping[str, Any] | None:
    """The state of one input, or None when the view had no such input."""
    entry = values.get(block)
    if not isinstance(entry, Mapping):
        return None
    state = entry.get(action)
    return state if isinstance(state, Mapping) else None


def _selected_values(state: Mapping[str, Any] | None) -> list[str]:
    options = (state or {}).get("selected_options") or []
    return [str(o["value"]) for o in options if isinstance(o, Mapping) and o.get("value")]


def _selected_value(state: Mapping[str, Any] | None) -> str | None:
    option = (state or {}).get("selected_option")
    return str(option["value"]) if isinstance(option, Mapping) and option.get("value") else None


def _selected_users(state: Mapping[str, Any] | None) -> list[str]:
    return [str(u) for u in (state or {}).get("selected_users") or [] if u]


def _selected_time(state: Mapping[str, Any] | None) -> time | None:
    raw = (state or {}).get("selected_time")
    if not isinstance(raw, str):
        return None
    try:
        return time.fromisoformat(raw)
    except ValueError:
        return None


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _minutes(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        return default


def _approver_errors(
    *,
    users: Sequence[str],
    groups: Sequence[str] | None,
    required: int,
    approvers_block: str,
    required_block: str,
) -> dict[str, str]:
    """`groups` is None when the view offered no groups input (unavailable, or none exist)."""
    if not users and not groups:
        message = (
            "Choose at least one approver or group."
            if groups is not None
            else "Choose at least one approver."
        )
        return {approvers_block: message}
    if not groups and required > len(users):
        listed = "1 approver is" if len(users) == 1 else f"{len(users)} approvers are"
        return {
            required_block: f"Only {listed} listed: need at most {len(users)} approvals, or add approvers."
        }
    return {}


def parse_settings(
    view: Mapping[str, Any], *, current: WorkspaceSettings
) -> tuple[WorkspaceSettings | None, dict[str, str]]:
    """The settings a submission asks for, keeping `current`'s rules for networks and accounts; or the
    problems by block id."""
    values = view.get("state", {}).get("values", {})
    errors: dict[str, str] = {}

    channel = (_state(values, BlockId.SETTINGS_CHANNEL, Action.SETTINGS_CHANNEL) or {}).get(
        "selected_conversation"
    )
    users = _selected_users(_state(values, BlockId.SETTINGS_APPROVERS, Action.SETTINGS_APPROVERS))
    groups_state = _state(values, BlockId.SETTINGS_GROUPS, Action.SETTINGS_GROUPS)
    groups = _selected_values(groups_state) if groups_state is not None else None
    required = _int(_selected_value(_state(values, BlockId.SETTINGS_REQUIRED, Action.SETTINGS_REQUIRED)), 1)
    errors |= _approver_errors(
        users=users,
        groups=groups,
        required=required,
        approvers_block=BlockId.SETTINGS_APPROVERS,
        required_block=BlockId.SETTINGS_REQUIRED,
    )
    # Without the groups input (no groups on this plan) the stored groups are kept for when they return.
    kept_groups = groups if groups is not None else current.default_rule().groups
    default_rule = {"scope": DEFAULT_SCOPE, "users": users, "groups": kept_groups, "required": required}

    hours, hours_errors = _parse_hours(values)
    errors |= hours_errors

    providers_state = _state(values, BlockId.SETTINGS_PROVIDERS, Action.SETTINGS_PROVIDERS)
    providers: list[str] | None = current.providers
    if providers_state is not None:
        chosen = _selected_values(providers_state)
        shown = [str(o.get("value")) for o in _shown_options(view, BlockId.SETTINGS_PROVIDERS)]
        if not chosen:
            errors[BlockId.SETTINGS_PROVIDERS] = "Offer at least one provider."
        # Every provider ticked means "all of them", so a provider configured later is offered too.
        providers = None if shown and set(shown) <= set(chosen) else chosen
    accounts_state = _state(values, BlockId.SETTINGS_ACCOUNTS, Action.SETTINGS_ACCOUNTS)
    accounts = current.accounts
    if accounts_state is not None:
        accounts = _selected_values(accounts_state) or None

    self_approval = _state(values, BlockId.SETTINGS_SELF_APPROVAL, Action.SETTINGS_SELF_APPROVAL)
    if errors:
        return None, errors
    data = current.model_dump()
    data |= {
        "approval_channel": channel or current.approval_channel,
        "rules": [
            default_rule,
            *(r.model_dump() for r in current.rules if r.scope != DEFAULT_SCOPE),
        ],
        "allow_self_approval": bool(_selected_values(self_approval)),
        "reminder_after_minutes": _minutes(
            _selected_value(_state(values, BlockId.SETTINGS_REMIND_AFTER, Action.SETTINGS_REMIND_AFTER)),
            current.reminder_after_minutes,
        ),
        "reminder_before_due_minutes": _minutes(
            _selected_value(_state(values, BlockId.SETTINGS_REMIND_BEFORE, Action.SETTINGS_REMIND_BEFORE)),
            current.reminder_before_due_minutes,
        ),
        "default_tz": _selected_value(_state(values, BlockId.SETTINGS_TZ, Action.SETTINGS_TZ))
        or current.default_tz,
        "publishing_hours": hours.model_dump() if hours is not None else None,
        "providers": providers,
        "accounts": accounts,
        "digest_time": _selected_time(_state(values, BlockId.SETTINGS_DIGEST, Action.SETTINGS_DIGEST)),
        "admins": _selected_users(_state(values, BlockId.SETTINGS_ADMINS, Action.SETTINGS_ADMINS)),
    }
    try:
        return WorkspaceSettings.model_validate(data), {}
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0]) if error.errors() else ""
        block = {
            "default_tz": BlockId.SETTINGS_TZ,
            "reminder_after_minutes": BlockId.SETTINGS_REMIND_AFTER,
            "reminder_before_due_minutes": BlockId.SETTINGS_REMIND_BEFORE,
            "rules": BlockId.SETTINGS_REQUIRED,
        }.get(field, BlockId.SETTINGS_CHANNEL)
        return None, {block: "This value is not accepted; choose another."}


def _shown_options(view: Mapping[str, Any], block_id: str) -> list[Mapping[str, Any]]:
    for block in view.get("blocks") or []:
        if isinstance(block, Mapping) and block.get("block_id") == block_id:
            element = block.get("element") or {}
            options = list(element.get("options") or [])
            for group in element.get("option_groups") or []:
                options += group.get("options") or []
            return [o for o in options if isinstance(o, Mapping)]
    return []


def _parse_hours(values: Mapping[str, Any]) -> tuple[PublishingHours | None, dict[str, str]]:
    start = _selected_time(_state(values, BlockId.SETTINGS_HOURS_START, Action.SETTINGS_HOURS_START))
    end = _selected_time(_state(values, BlockId.SETTINGS_HOURS_END, Action.SETTINGS_HOURS_END))
    days_state = _state(values, BlockId.SETTINGS_DAYS, Action.SETTINGS_DAYS)
    days = sorted({int(v) for v in _selected_values(days_state) if v.isdigit() and int(v) < 7})
    if days_state is not None and not days:
        return None, {BlockId.SETTINGS_DAYS: "Choose at least one day."}
    if start is None and end is None and (days_state is None or len(days) == 7):
        return None, {}
    hours = PublishingHours(
        start=start or time(0, 0),
        end=end or time(23, 59),
        days=days if days_state is not None else list(range(7)),
    )
    if hours.end <= hours.start:
        return None, {BlockId.SETTINGS_HOURS_END: f"Must be later than {hours.start:%H:%M}."}
    return hours, {}


# --- the rule modal -----------------------------------------------------------------------------------------


def _scope_groups(providers: Sequence[ProviderAccounts]) -> list[OptionGroup]:
    accounts: list[Account] = [a for p in providers for a in p.accounts]
    networks = list(dict.fromkeys(a.network for a in accounts))
    groups: list[OptionGroup] = []
    if networks:
        groups.append(
            OptionGroup(
                label="Networks",
                options=[_option(n.display_name, network_scope(n)) for n in networks][:OPTIONS_MAX],
            )
        )
    for provider in providers:
        options = [
            _option(a.label, account_scope(a.key))
            for a in provider.accounts
            if len(account_scope(a.key)) <= OPTION_VALUE_MAX
        ][:OPTIONS_MAX]
        if options and len(groups) < OPTIONS_MAX:
            groups.append(
                OptionGroup(label=truncate(provider.display_name, OPTION_TEXT_MAX), options=options)
            )
    return groups


def build_rule_modal(
    *,
    providers: Sequence[ProviderAccounts],
    groups: Sequence[tuple[str, str]],
    groups_unavailable: str | None,
) -> View:
    """The modal pushed on top of the settings to add a rule for one network or account."""
    scopes = _scope_groups(providers)
    if not scopes:
        return View(
            type="modal",
            callback_id=ViewId.SETTINGS_RULE,
            title="Add a rule",
            close="Back",
            blocks=[
                SectionBlock(
                    text=MarkdownTextObject(
                        text="No provider lists any accounts right now: there is nothing to make a rule for."
                    )
                )
            ],
        )
    options, initial = _required_options(1)
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.RULE_SCOPE,
            label="For posts to",
            element=StaticSelectElement(
                action_id=Action.RULE_SCOPE, option_groups=scopes, placeholder="A network or an account"
            ),
            hint="An account's rule wins over its network's rule, which wins over the default approvers.",
        ),
        InputBlock(
            block_id=BlockId.RULE_APPROVERS,
            label="Approvers",
            optional=True,
            element=UserMultiSelectElement(action_id=Action.RULE_APPROVERS, placeholder="Choose people"),
        ),
        *_groups_input(BlockId.RULE_GROUPS, Action.RULE_GROUPS, groups, groups_unavailable, ()),
        InputBlock(
            block_id=BlockId.RULE_REQUIRED,
            label="Approvals needed",
            element=StaticSelectElement(
                action_id=Action.RULE_REQUIRED, options=options, initial_option=initial
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=ViewId.SETTINGS_RULE,
        title="Add a rule",
        submit="Add",
        close="Back",
        blocks=blocks,
    )


def parse_rule(view: Mapping[str, Any]) -> tuple[RuleSetting | None, dict[str, str]]:
    values = view.get("state", {}).get("values", {})
    scope = _selected_value(_state(values, BlockId.RULE_SCOPE, Action.RULE_SCOPE))
    users = _selected_users(_state(values, BlockId.RULE_APPROVERS, Action.RULE_APPROVERS))
    groups_state = _state(values, BlockId.RULE_GROUPS, Action.RULE_GROUPS)
    groups = _selected_values(groups_state) if groups_state is not None else None
    required = _int(_selected_value(_state(values, BlockId.RULE_REQUIRED, Action.RULE_REQUIRED)), 1)
    errors: dict[str, str] = {}
    if not scope or not scope.startswith(("network:", "account:")):
        errors[BlockId.RULE_SCOPE] = "Choose a network or an account."
    errors |= _approver_errors(
        users=users,
        groups=groups,
        required=required,
        approvers_block=BlockId.RULE_APPROVERS,
        required_block=BlockId.RULE_REQUIRED,
    )
    if errors or scope is None:
        return None, errors
    try:
        return RuleSetting(scope=scope, users=users, groups=groups or [], required=required), {}
    except ValidationError:
        return None, {BlockId.RULE_REQUIRED: "Choose between 1 and 10 approvals."}


def build_settings_denied_message() -> str:
    return (
        "Only Postgate admins can change its settings: the workspace's admins and owners, and the people "
        "they named as Postgate admins. Ask one of them."
    )


def settings_revision(view: Mapping[str, Any]) -> int | None:
    """The settings revision the admin was shown (`build_settings_modal` put it in the metadata)."""
    revision = view_metadata(view).get("revision")
    return revision if isinstance(revision, int) else None


# --- provider keys ------------------------------------------------------------------------------------------

KEYS_INTRO = (
    "A key entered here is checked with the provider, stored encrypted, and takes over from the "
    "environment's for that provider. It is never shown again, here or anywhere."
)
KEYS_NEED_SECRET = (
    "Keys come from the environment. They can be entered here once the operator sets "
    "`POSTGATE_SECRET_KEY` (made with `postgate keygen`), which encrypts them."
)
KEY_MAX_LENGTH = 500
WORKSPACE_MAX_LENGTH = 100
#: Where each provider shows its key, and its workspace id.
KEY_HINTS = {
    "publora": "Publora dashboard → API key (sk_…).",
    "publer": "Publer → Settings → Access & Login → API Keys (Business or Enterprise plan).",
    "postoria": "Postoria → Settings → Public API (pst_live_…).",
}
WORKSPACE_HINTS = {
    "publer": "The workspace to post from: its id from the workspace URL in Publer.",
    "postoria": "The workspace to post from: its id (a number).",
}
NOT_A_KEY = "Paste the key alone: no spaces, line breaks or other characters keys do not have."


@dataclass(frozen=True)
class KeysSection:
    """The "Provider keys" part of the settings modal: each provider's status, and whether keys can be
    entered in Slack at all (only with POSTGATE_SECRET_KEY)."""

    statuses: Sequence[KeyStatus]
    can_store: bool


def key_status_text(status: KeyStatus) -> str:
    """ "*Publer* · key entered in Slack by @ana on Nov 21" (mrkdwn); never anything of the key."""
    name = f"*{escape(status.display_name)}*"
    if status.origin == Origin.SLACK:
        text = "key entered in Slack"
        if status.entered_by:
            text += f" by {mention(status.entered_by)}"
        if status.entered_at is not None:
            text += f" on {slack_date(status.entered_at, style='{date_short_pretty}')}"
        if status.in_environment:
            text += "; it takes over from the environment's key"
        return f"{name} · {text}"
    if status.origin == Origin.ENVIRONMENT:
        return f"{name} · key from the environment"
    return f"{name} · no key"


def _keys_blocks(section: KeysSection) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text="Provider keys"),
        ContextBlock(
            elements=[MarkdownTextObject(text=KEYS_INTRO if section.can_store else KEYS_NEED_SECRET)]
        ),
    ]
    for status in section.statuses:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(key_status_text(status), 3000))))
        if not section.can_store:
            continue
        buttons = [
            ButtonElement(
                text="Replace the key" if status.origin == Origin.SLACK else "Enter a key",
                action_id=Action.ENTER_KEY,
                value=status.provider,
            )
        ]
        if status.origin == Origin.SLACK:
            after = (
                "Postgate goes back to the key from the environment."
                if status.in_environment
                else f"Postgate stops publishing through {status.display_name}: the environment has no key "
                "for it."
            )
            buttons.append(
                ButtonElement(
                    text="Remove",
                    action_id=Action.REMOVE_KEY,
                    value=status.provider,
                    style="danger",
                    confirm=ConfirmObject(
                        title="Remove this key?",
                        text=truncate(
                            f"The {status.display_name} key entered in Slack is deleted. {after}", 300
                        ),
                        confirm="Remove",
                        deny="Keep it",
                    ),
                )
            )
        blocks.append(ActionsBlock(block_id=f"keys_{status.provider}", elements=buttons))
    return blocks


def build_key_modal(status: KeyStatus, listing: WorkspaceListing | None = None) -> View:
    """The modal pushed on top of the settings to enter (or replace) one provider's key.

    For a provider whose key lists its workspaces (Publer) it comes in two steps: the key alone, then,
    once the key is checked, the same modal with the workspaces it reaches to pick from (`listing`), or
    the typed id when they could not be listed. The key input keeps its ids in both, so Slack keeps what
    was pasted and the key never travels back to Slack.
    """
    display = status.display_name
    picks = status.provider in LISTS_WORKSPACES
    first_step = picks and listing is None
    if first_step:
        intro = (
            f"Postgate checks the key with {escape(display)}, then lists the workspaces it reaches for you "
            "to pick one. It stores the key encrypted; it is never shown again."
        )
    else:
        intro = (
            f"Postgate checks the key with {escape(display)} when you save, then stores it "
            "encrypted. It is never shown again."
        )
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=intro)]),
        InputBlock(
            block_id=BlockId.KEY_API,
            label=f"{display} API key",
            element=PlainTextInputElement(
                action_id=Action.KEY_API, max_length=KEY_MAX_LENGTH, placeholder="Paste the key"
            ),
            hint=KEY_HINTS.get(status.provider),
        ),
    ]
    if status.needs_workspace and not first_step:
        if listing is not None and listing.workspaces:
            blocks.append(_workspace_picker(listing.workspaces, configured=status.workspace_id))
        else:
            if listing is not None and listing.problem:
                note = f"{escape(listing.problem)}, so type the workspace ID below."
                blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(note, 3000))]))
            blocks.append(
                InputBlock(
                    block_id=BlockId.KEY_WORKSPACE,
                    label="Workspace ID",
                    element=PlainTextInputElement(
                        action_id=Action.KEY_WORKSPACE,
                        max_length=WORKSPACE_MAX_LENGTH,
                        initial_value=status.workspace_id or None,
                    ),
                    hint=WORKSPACE_HINTS.get(status.provider),
                )
            )
    if status.provider == "publora":
        blocks.append(
            InputBlock(
                block_id=BlockId.KEY_WEBHOOK,
                label="Webhook secret",
                optional=True,
                element=PlainTextInputElement(action_id=Action.KEY_WEBHOOK, max_length=KEY_MAX_LENGTH),
                hint="Only in HTTP mode with a Publora webhook. Empty: the environment's "
                "PUBLORA_WEBHOOK_SECRET applies, if set.",
            )
        )
    return View(
        type="modal",
        callback_id=ViewId.SETTINGS_KEY,
        title=truncate(f"{display} key", 24),
        submit="Check the key" if first_step else "Check and save",
        close="Back",
        blocks=blocks,
        private_metadata=json.dumps(
            {"provider": status.provider, "step": _KEY_STEP if first_step else _WORKSPACE_STEP}
        ),
    )


_KEY_STEP, _WORKSPACE_STEP = "key", "workspace"
#: Slack's cap on a static select's options.
_SELECT_OPTIONS_MAX = 100


def _workspace_picker(workspaces: Sequence[Workspace], *, configured: str | None) -> InputBlock:
    options = [
        Option(
            text=truncate(f"{w.name} ({w.workspace_id})" if w.name != w.workspace_id else w.name, 75),
            value=w.workspace_id[:150],
        )
        for w in workspaces[:_SELECT_OPTIONS_MAX]
    ]
    initial = next((o for o in options if o.value == configured), options[0] if len(options) == 1 else None)
    return InputBlock(
        block_id=BlockId.KEY_WORKSPACE,
        label="Workspace",
        element=StaticSelectElement(
            action_id=Action.KEY_WORKSPACE_PICK,
            placeholder="Pick the workspace to post from",
            options=options,
            initial_option=initial,
        ),
        hint=f"The workspaces this key reaches ({len(workspaces)}).",
    )


def _typed(values: Mapping[str, Any], block: str, action: str) -> str:
    return str((_state(values, block, action) or {}).get("value") or "").strip()


def _looks_like_a_key(text: str) -> bool:
    return text.isascii() and text.isprintable() and not any(c.isspace() for c in text)


def parse_key(view: Mapping[str, Any]) -> tuple[str | None, Credentials | None, dict[str, str]]:
    """(provider, credentials, problems by block id) from the key modal's submission. The problems never
    repeat what was typed."""
    provider = view_metadata(view).get("provider")
    if not isinstance(provider, str) or provider not in KEYED_PROVIDERS:
        return (
            None,
            None,
            {BlockId.KEY_API: "This form is out of date; close it and open the settings again."},
        )
    values = view.get("state", {}).get("values", {})
    key = _typed(values, BlockId.KEY_API, Action.KEY_API)
    picked = (_state(values, BlockId.KEY_WORKSPACE, Action.KEY_WORKSPACE_PICK) or {}).get("selected_option")
    workspace = (
        str(picked.get("value") or "").strip()
        if isinstance(picked, Mapping)
        else _typed(values, BlockId.KEY_WORKSPACE, Action.KEY_WORKSPACE)
    )
    # The first step of a provider that lists its workspaces asks for the key alone.
    key_only = view_metadata(view).get("step") == _KEY_STEP and provider in LISTS_WORKSPACES
    webhook = _typed(values, BlockId.KEY_WEBHOOK, Action.KEY_WEBHOOK)
    errors: dict[str, str] = {}
    if not key:
        errors[BlockId.KEY_API] = "Paste the key."
    elif not _looks_like_a_key(key):
        errors[BlockId.KEY_API] = NOT_A_KEY
    if provider in NEEDS_WORKSPACE and not key_only:
        if not workspace:
            errors[BlockId.KEY_WORKSPACE] = (
                f"{KEYED_PROVIDERS[provider]} needs the workspace ID with the key."
            )
        elif not _looks_like_a_key(workspace):
            errors[BlockId.KEY_WORKSPACE] = "A workspace ID has no spaces or line breaks."
    if webhook and not _looks_like_a_key(webhook):
        errors[BlockId.KEY_WEBHOOK] = "Paste the secret alone: no spaces or line breaks."
    if errors:
        return provider, None, errors
    credentials = Credentials(
        api_key=key,
        workspace_id=workspace if provider in NEEDS_WORKSPACE and not key_only else None,
        webhook_secret=webhook if provider == "publora" and webhook else None,
    )
    return provider, credentials, {}
