"""Validators looked up once per class (bot.slack.views.serialize) render exactly what slack_sdk renders
and refuse exactly what it refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, HeaderBlock, SectionBlock
from slack_sdk.models.views import View

from bot.domain.model import PostStatus
from bot.services.home import HomeData
from bot.services.posts import PostLists
from bot.slack.views import approval
from bot.slack.views.home import build_home
from bot.slack.views.lists import build_list_message
from bot.slack.views.serialize import SLACK_SDK_VALIDATE_JSON, look_up_validators_once
from tests.slack.test_home_views import NOW
from tests.slack.test_untrusted_views import APPROVER, hostile_post


@pytest.fixture
def slack_sdk_as_shipped(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """slack_sdk's own validate_json while the test runs; calling the result installs Postgate's."""
    monkeypatch.setattr(JsonObject, "validate_json", SLACK_SDK_VALIDATE_JSON)
    yield look_up_validators_once


def rendered(build: Callable[[], Any]) -> Any:
    built = build()
    return built.to_dict() if isinstance(built, JsonObject) else built


BUILDERS: dict[str, Callable[[], Any]] = {
    "app home": lambda: build_home(
        HomeData(
            user_id=APPROVER,
            tz=ZoneInfo("Europe/Berlin"),
            now=NOW,
            awaiting_me=[hostile_post(PostStatus.PENDING_APPROVAL)],
            mine=[hostile_post(PostStatus.CHANGES_REQUESTED)],
            schedule=[hostile_post(PostStatus.APPROVED)],
            recent=[hostile_post(PostStatus.PUBLISHED)],
            attention=[hostile_post(PostStatus.FAILED)],
            is_admin=True,
            notes=["a note"],
        )
    ),
    "approval message": lambda: approval.build_root_message(hostile_post(PostStatus.PENDING_APPROVAL)),
    "published message": lambda: approval.build_root_message(hostile_post(PostStatus.PARTIALLY_PUBLISHED)),
    "list": lambda: build_list_message(
        PostLists(
            own_pending=[hostile_post(PostStatus.PENDING_APPROVAL)],
            awaiting_me=[hostile_post(PostStatus.PENDING_APPROVAL)],
            scheduled=[hostile_post(PostStatus.APPROVED)],
            is_approver=True,
        )
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_view_renders_the_same_as_with_slack_sdks_own_lookup(
    name: str, slack_sdk_as_shipped: Callable[[], None]
) -> None:
    as_shipped = rendered(BUILDERS[name])
    slack_sdk_as_shipped()
    assert rendered(BUILDERS[name]) == as_shipped


INVALID: dict[str, Callable[[], JsonObject]] = {
    "section text over 3,000": lambda: SectionBlock(text="x" * 3001),
    "header over 150": lambda: HeaderBlock(text="x" * 151),
    "button text over 75": lambda: ButtonElement(text="x" * 76, action_id="a"),
    "more than 25 actions": lambda: ActionsBlock(
        elements=[ButtonElement(text="b", action_id=f"a{n}") for n in range(26)]
    ),
    "modal title over 24": lambda: View(type="modal", title="x" * 25, blocks=[]),
    "more than 100 blocks": lambda: View(type="home", blocks=[SectionBlock(text="x")] * 101),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_what_slack_sdk_refuses_is_still_refused_with_its_message(
    name: str, slack_sdk_as_shipped: Callable[[], None]
) -> None:
    with pytest.raises(SlackObjectFormationError) as as_shipped:
        INVALID[name]().to_dict()
    slack_sdk_as_shipped()
    with pytest.raises(SlackObjectFormationError) as ours:
        INVALID[name]().to_dict()
    assert str(ours.value) == str(as_shipped.value)


def test_building_postgate_installs_the_lookup(
    slack_sdk_as_shipped: Callable[[], None], tmp_path: Path
) -> None:
    from bot.main import build
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-test",
        slack_signing_secret="s",
        slack_api_url="http://127.0.0.1:9/",
        database_url=f"sqlite:///{tmp_path / 'p.db'}",
        approval_channel="C1",
        dry_run=True,
    )
    assert JsonObject.validate_json is SLACK_SDK_VALIDATE_JSON
    build(settings)
    assert JsonObject.validate_json is not SLACK_SDK_VALIDATE_JSON
