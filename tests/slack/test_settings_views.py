"""The settings modal and the rule modal as an admin sees them, and what their submissions parse back to.

Views are checked as the fake Slack checks `views.open` / `views.push`; submissions are built the way Slack
builds them from the view (initial values, then what the admin changed).
"""

from __future__ import annotations

import json
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.views import View

from bot.domain.model import Account
from bot.domain.networks import Network
from bot.domain.workspace import PublishingHours, RuleSetting, WorkspaceSettings
from bot.services.directory import ProviderAccounts
from bot.slack.ids import Action, Block, ViewId
from bot.slack.views.settings import (
    GROUPS_UNAVAILABLE_NOTE,
    TIME_ZONES,
    build_rule_modal,
    build_settings_denied_message,
    build_settings_modal,
    parse_rule,
    parse_settings,
)
from tests.fakes.slack_client import SlackClient
from tests.fakes.slack_limits import input_blocks
from tests.slack.test_home_views import accepted, buttons, texts

X = Account(provider="publora", account_id="1111", network=Network.X, name="Acme on X")
LINKEDIN = Account(provider="publora", account_id="li-1", network=Network.LINKEDIN, name="Acme Inc")
THREADS = Account(provider="postoria", account_id="th-1", network=Network.THREADS, name="acme.threads")
PROVIDERS = (
    ProviderAccounts(provider="publora", display_name="Publora", accounts=(X, LINKEDIN)),
    ProviderAccounts(provider="postoria", display_name="Postoria", accounts=(THREADS,)),
)
GROUPS = (("S0SOCIAL", "@social · Social team"), ("S0LEGAL", "@legal · Legal"))
SETTINGS = WorkspaceSettings(
    approval_channel="C0APPROVE",
    rules=[
        RuleSetting(scope="*", users=["U0ANA", "U0BO"], groups=["S0SOCIAL"], required=2),
        RuleSetting(scope="network:linkedin", users=["U0ANA", "U0BO"], required=2),
        RuleSetting(scope="account:postoria:th-1", users=["U0CY"], groups=["S0LEGAL"], required=1),
    ],
    allow_self_approval=True,
    reminder_after_minutes=120,
    reminder_before_due_minutes=30,
    default_tz="Europe/Berlin",
    publishing_hours=PublishingHours(start=time(8, 0), end=time(18, 30), days=[0, 1, 2, 3, 4]),
    providers=["publora"],
    accounts=["publora:li-1"],
    digest_time=time(9, 15),
    admins=["U0DEE"],
)


def settings_modal(settings: WorkspaceSettings = SETTINGS, **changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "settings": settings,
        "revision": 7,
        "providers": PROVIDERS,
        "groups": GROUPS,
        "groups_unavailable": None,
    }
    return accepted(build_settings_modal(**(arguments | changes)))


def submitted(view: dict[str, Any], typed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The view_submission `view` Slack sends when the admin changes nothing but `typed`
    (block id → the element's state, e.g. {"selected_users": [...]})."""
    values = {}
    for block in input_blocks(view):
        element = block["element"]
        state = SlackClient._initial_state(element)
        state.update((typed or {}).get(block["block_id"], {}))
        values[block["block_id"]] = {element["action_id"]: state}
    return view | {"state": {"values": values}}


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += group["options"]
    return found


def picked(element: dict[str, Any], *values: str) -> list[dict[str, Any]]:
    return [o for o in options(element) if o["value"] in values]


def test_the_settings_modal_shows_the_current_settings() -> None:
    view = settings_modal()

    assert view["callback_id"] == ViewId.SETTINGS
    assert view["submit"]["text"] == "Save"
    assert json.loads(view["private_metadata"]) == {"revision": 7}
    channel = block(view, Block.SETTINGS_CHANNEL)["element"]
    assert channel["type"] == "conversations_select"
    assert channel["initial_conversation"] == "C0APPROVE"
    assert channel["default_to_current_conversation"] is False
    assert sorted(channel["filter"]["include"]) == ["private", "public"]
    assert block(view, Block.SETTINGS_APPROVERS)["element"]["initial_users"] == ["U0ANA", "U0BO"]
    groups = block(view, Block.SETTINGS_GROUPS)["element"]
    assert [o["value"] for o in groups["initial_options"]] == ["S0SOCIAL"]
    assert block(view, Block.SETTINGS_REQUIRED)["element"]["initial_option"]["value"] == "2"
    assert block(view, Block.SETTINGS_SELF_APPROVAL)["element"]["initial_options"]
    assert block(view, Block.SETTINGS_REMIND_AFTER)["element"]["initial_option"]["text"]["text"] == "2 hours"
    assert block(view, Block.SETTINGS_REMIND_BEFORE)["element"]["initial_option"]["value"] == "30"
    assert block(view, Block.SETTINGS_TZ)["element"]["initial_option"]["value"] == "Europe/Berlin"
    assert block(view, Block.SETTINGS_HOURS_START)["element"]["initial_time"] == "08:00"
    assert block(view, Block.SETTINGS_HOURS_END)["element"]["initial_time"] == "18:30"
    days = block(view, Block.SETTINGS_DAYS)["element"]["initial_options"]
    assert [o["text"]["text"] for o in days] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    providers = block(view, Block.SETTINGS_PROVIDERS)["element"]
    assert [o["value"] for o in providers["initial_options"]] == ["publora"]
    accounts = block(view, Block.SETTINGS_ACCOUNTS)["element"]
    assert [g["label"]["text"] for g in accounts["option_groups"]] == ["Publora", "Postoria"]
    assert [o["value"] for o in accounts["initial_options"]] == ["publora:li-1"]
    assert block(view, Block.SETTINGS_DIGEST)["element"]["initial_time"] == "09:15"
    assert block(view, Block.SETTINGS_ADMINS)["element"]["initial_users"] == ["U0DEE"]


def test_rules_for_networks_and_accounts_are_listed_with_remove_buttons_and_an_add_button() -> None:
    view = settings_modal()

    shown = texts(view)
    assert "Rules for particular networks or accounts" in shown
    assert "*LinkedIn* · 2 of <@U0ANA>, <@U0BO>" in shown
    assert "*Threads · acme.threads* · 1 of <@U0CY>, <!subteam^S0LEGAL>" in shown
    removes = [b for b in buttons(view) if b["action_id"] == Action.REMOVE_RULE]
    assert [b["value"] for b in removes] == ["network:linkedin", "account:postoria:th-1"]
    assert all("confirm" in b for b in removes)
    assert [b["action_id"] for b in buttons(view)].count(Action.ADD_RULE) == 1


def test_without_user_groups_on_the_plan_the_modal_says_so_instead_of_offering_them() -> None:
    view = settings_modal(groups=(), groups_unavailable="plan_upgrade_required")

    assert Block.SETTINGS_GROUPS not in {b.get("block_id") for b in view["blocks"]}
    assert "Slack user groups are not available on this workspace's plan" in texts(view)
    assert GROUPS_UNAVAILABLE_NOTE in texts(view)


def test_submitting_unchanged_gives_back_the_same_settings() -> None:
    view = settings_modal()

    parsed, errors = parse_settings(submitted(view), current=SETTINGS)

    assert errors == {}
    assert parsed == SETTINGS


def test_submitting_unchanged_keeps_groups_that_the_plan_no_longer_offers() -> None:
    view = settings_modal(groups=(), groups_unavailable="plan_upgrade_required")

    parsed, errors = parse_settings(submitted(view), current=SETTINGS)

    assert errors == {}
    assert parsed is not None and parsed.default_rule().groups == ["S0SOCIAL"]


def test_a_submission_replaces_the_default_rule_and_keeps_the_others() -> None:
    view = settings_modal()
    required = block(view, Block.SETTINGS_REQUIRED)["element"]
    tz = block(view, Block.SETTINGS_TZ)["element"]
    days = block(view, Block.SETTINGS_DAYS)["element"]
    providers = block(view, Block.SETTINGS_PROVIDERS)["element"]

    parsed, errors = parse_settings(
        submitted(
            view,
            {
                Block.SETTINGS_CHANNEL: {"selected_conversation": "C0OTHER"},
                Block.SETTINGS_APPROVERS: {"selected_users": ["U0EVE"]},
                Block.SETTINGS_GROUPS: {"selected_options": []},
                Block.SETTINGS_REQUIRED: {"selected_option": picked(required, "1")[0]},
                Block.SETTINGS_SELF_APPROVAL: {"selected_options": []},
                Block.SETTINGS_TZ: {"selected_option": picked(tz, "America/New_York")[0]},
                Block.SETTINGS_HOURS_START: {"selected_time": None},
                Block.SETTINGS_HOURS_END: {"selected_time": None},
                Block.SETTINGS_DAYS: {"selected_options": picked(days, *map(str, range(7)))},
                Block.SETTINGS_PROVIDERS: {"selected_options": picked(providers, "publora", "postoria")},
                Block.SETTINGS_ACCOUNTS: {"selected_options": []},
                Block.SETTINGS_DIGEST: {"selected_time": None},
                Block.SETTINGS_ADMINS: {"selected_users": []},
            },
        ),
        current=SETTINGS,
    )

    assert errors == {}
    assert parsed is not None
    assert parsed.approval_channel == "C0OTHER"
    assert parsed.rules[0] == RuleSetting(scope="*", users=["U0EVE"], groups=[], required=1)
    assert parsed.rules[1:] == SETTINGS.rules[1:]
    assert parsed.allow_self_approval is False
    assert parsed.default_tz == "America/New_York"
    assert parsed.publishing_hours is None  # any time, every day
    assert parsed.providers is None  # every provider, including ones configured later
    assert parsed.accounts is None
    assert parsed.digest_time is None
    assert parsed.admins == []


@pytest.mark.parametrize(
    ("typed", "block_id", "message"),
    [
        (
            {
                Block.SETTINGS_APPROVERS: {"selected_users": []},
                Block.SETTINGS_GROUPS: {"selected_options": []},
            },
            Block.SETTINGS_APPROVERS,
            "at least one approver",
        ),
        (
            {
                Block.SETTINGS_APPROVERS: {"selected_users": ["U0ANA"]},
                Block.SETTINGS_GROUPS: {"selected_options": []},
            },
            Block.SETTINGS_REQUIRED,
            "Only 1 approver is listed",
        ),
        (
            {
                Block.SETTINGS_HOURS_START: {"selected_time": "18:00"},
                Block.SETTINGS_HOURS_END: {"selected_time": "09:00"},
            },
            Block.SETTINGS_HOURS_END,
            "later than 18:00",
        ),
        ({Block.SETTINGS_DAYS: {"selected_options": []}}, Block.SETTINGS_DAYS, "at least one day"),
        (
            {Block.SETTINGS_PROVIDERS: {"selected_options": []}},
            Block.SETTINGS_PROVIDERS,
            "at least one provider",
        ),
    ],
)
def test_invalid_settings_are_refused_with_the_problem_at_its_input(
    typed: dict[str, Any], block_id: str, message: str
) -> None:
    view = settings_modal()

    parsed, errors = parse_settings(submitted(view, typed), current=SETTINGS)

    assert parsed is None
    assert list(errors) == [block_id]
    assert message in errors[block_id]


def test_groups_make_more_approvals_than_listed_people_possible() -> None:
    view = settings_modal()
    required = block(view, Block.SETTINGS_REQUIRED)["element"]

    parsed, errors = parse_settings(
        submitted(
            view,
            {
                Block.SETTINGS_APPROVERS: {"selected_users": []},
                Block.SETTINGS_REQUIRED: {"selected_option": picked(required, "3")[0]},
            },
        ),
        current=SETTINGS,
    )

    assert errors == {}
    assert parsed is not None and parsed.default_rule() == RuleSetting(
        scope="*", groups=["S0SOCIAL"], required=3
    )


def test_values_in_use_that_the_lists_lack_are_offered_and_kept() -> None:
    settings = SETTINGS.model_copy(
        update={
            "default_tz": "Asia/Kathmandu",
            "reminder_after_minutes": 90,
            "accounts": ["publora:li-1", "publer:gone-1"],
            "rules": [RuleSetting(scope="*", users=["U0ANA"], groups=["S0DELETED"], required=7)],
        }
    )
    view = settings_modal(settings)

    assert block(view, Block.SETTINGS_TZ)["element"]["initial_option"]["value"] == "Asia/Kathmandu"
    assert (
        block(view, Block.SETTINGS_REMIND_AFTER)["element"]["initial_option"]["text"]["text"] == "90 minutes"
    )
    assert block(view, Block.SETTINGS_REQUIRED)["element"]["initial_option"]["value"] == "7"
    parsed, errors = parse_settings(submitted(view), current=settings)
    assert errors == {}
    assert parsed == settings


def test_many_rules_many_accounts_and_groups_stay_within_slack_limits() -> None:
    accounts = tuple(
        Account(provider="publora", account_id=f"acc-{i}", network=Network.LINKEDIN, name="N" * 300)
        for i in range(150)
    )
    providers = (ProviderAccounts(provider="publora", display_name="Publora" * 20, accounts=accounts),)
    groups = tuple((f"S{i:05d}", "G" * 200) for i in range(150))
    rules = [RuleSetting(scope="*", users=[f"U{i:05d}" for i in range(50)], required=5)]
    rules += [
        RuleSetting(scope=f"account:publora:acc-{i}", users=["U0ANA"] * 40, required=1) for i in range(120)
    ]
    settings = SETTINGS.model_copy(update={"rules": rules, "accounts": None})

    view = settings_modal(settings, providers=providers, groups=groups)

    assert len(view["blocks"]) <= 100
    assert "more rules not shown" in texts(view)


def test_every_offered_time_zone_exists() -> None:
    zones = [zone for _, region in TIME_ZONES for zone in region]

    assert 35 <= len(zones) <= 100
    for zone in zones:
        ZoneInfo(zone)


def test_the_rule_modal_offers_networks_and_each_providers_accounts() -> None:
    view = accepted(build_rule_modal(providers=PROVIDERS, groups=GROUPS, groups_unavailable=None))

    assert view["callback_id"] == ViewId.SETTINGS_RULE
    scope = block(view, Block.RULE_SCOPE)["element"]
    groups = {g["label"]["text"]: [o["value"] for o in g["options"]] for g in scope["option_groups"]}
    assert groups == {
        "Networks": ["network:twitter", "network:linkedin", "network:threads"],
        "Publora": ["account:publora:1111", "account:publora:li-1"],
        "Postoria": ["account:postoria:th-1"],
    }
    assert block(view, Block.RULE_APPROVERS)["element"]["type"] == "multi_users_select"
    assert block(view, Block.RULE_GROUPS)["element"]["type"] == "multi_static_select"


def test_a_rule_submission_parses_to_a_rule_or_says_what_is_missing() -> None:
    view = accepted(build_rule_modal(providers=PROVIDERS, groups=GROUPS, groups_unavailable=None))
    scope = block(view, Block.RULE_SCOPE)["element"]
    required = block(view, Block.RULE_REQUIRED)["element"]

    rule, errors = parse_rule(
        submitted(
            view,
            {
                Block.RULE_SCOPE: {"selected_option": picked(scope, "network:linkedin")[0]},
                Block.RULE_APPROVERS: {"selected_users": ["U0ANA", "U0BO"]},
                Block.RULE_REQUIRED: {"selected_option": picked(required, "2")[0]},
            },
        )
    )
    assert errors == {}
    assert rule == RuleSetting(scope="network:linkedin", users=["U0ANA", "U0BO"], groups=[], required=2)

    rule, errors = parse_rule(
        submitted(
            view,
            {
                Block.RULE_SCOPE: {"selected_option": picked(scope, "network:linkedin")[0]},
                Block.RULE_APPROVERS: {"selected_users": ["U0ANA"]},
                Block.RULE_REQUIRED: {"selected_option": picked(required, "2")[0]},
            },
        )
    )
    assert rule is None and list(errors) == [Block.RULE_REQUIRED]

    rule, errors = parse_rule(submitted(view))
    assert rule is None and set(errors) == {Block.RULE_SCOPE, Block.RULE_APPROVERS}


def test_the_rule_modal_without_groups_or_accounts_explains_itself() -> None:
    no_groups = accepted(build_rule_modal(providers=PROVIDERS, groups=(), groups_unavailable="paid_only"))
    nothing = accepted(build_rule_modal(providers=(), groups=GROUPS, groups_unavailable=None))

    assert GROUPS_UNAVAILABLE_NOTE in texts(no_groups)
    assert not input_blocks(nothing) and "submit" not in nothing
    assert "nothing to make a rule for" in texts(nothing)


def test_non_admins_are_told_who_may_change_the_settings() -> None:
    text = build_settings_denied_message()

    assert "admins" in text and "settings" in text


def test_the_modal_fits_slack_even_when_nothing_is_known_yet() -> None:
    view: View = build_settings_modal(
        settings=WorkspaceSettings(), revision=0, providers=(), groups=(), groups_unavailable=None
    )
    payload = accepted(view)

    assert block(payload, Block.SETTINGS_CHANNEL)["element"].get("initial_conversation") is None
    parsed, errors = parse_settings(
        submitted(
            payload,
            {
                Block.SETTINGS_CHANNEL: {"selected_conversation": "C0NEW"},
                Block.SETTINGS_APPROVERS: {"selected_users": ["U0ANA"]},
            },
        ),
        current=WorkspaceSettings(),
    )
    assert errors == {}
    assert (
        parsed is not None and parsed.approval_channel == "C0NEW" and parsed.default_rule().users == ["U0ANA"]
    )
