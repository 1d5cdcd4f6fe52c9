"""Who may act is decided on the server from the signed payload's user and workspace, never from what the
client could set: forged button values, forged modals, altered private_metadata and another workspace's
team id change nothing."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable

import pytest

from bot.slack.views.compose import build_reject_modal
from tests.e2e.harness import button_ids as _buttons
from tests.e2e.harness import message_text as _text
from tests.e2e.test_workflow import ANA, AUTHOR, EVE, World, world_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def test_forged_payloads_change_nothing(world_factory: Callable[..., World]) -> None:  # noqa: F811
    world = world_factory()
    slack, client = world.slack, world.client
    mine = world.draft("Eve's own draft", [world.x], user=EVE)
    target = world.draft("The author's draft", [world.x])
    target_id = int(_text(target).split("Post #", 1)[1].split("*", 1)[0].split()[0])
    before = _text(world.current(target))

    # A button on Eve's own post, with its value pointing at someone else's post.
    client.click(
        EVE, channel_id="C0APPROVALS", message=mine, action_id="postgate_approve", value=f"{target_id}:1"
    )
    assert "Only approvers" in world.ephemeral(EVE, "Only approvers")
    client.click(
        EVE, channel_id="C0APPROVALS", message=mine, action_id="postgate_withdraw", value=f"{target_id}:1"
    )
    assert "Only the author" in world.ephemeral(EVE, "Only the author")

    # A reject modal Eve was never given, with the private_metadata naming the post.
    world.open_composer(EVE)  # any modal Eve has open; the forged one is pushed on top of it
    forged = build_reject_modal(post_id=target_id, version=1).to_dict()
    view_id = slack.push_view(EVE, forged)
    response = client.submit_view(EVE, view_id, {"reject_reason": "I say so"})
    assert "Only approvers" in json.dumps(response.json())

    # A real approver's click carrying another workspace's team id finds no such post.
    client.team_id = "T0ELSEWHERE"
    try:
        client.click(ANA, channel_id="C0APPROVALS", message=target, action_id="postgate_approve")
        assert "no longer exists" in world.ephemeral(ANA, "no longer exists")
    finally:
        client.team_id = slack.team_id

    # Nothing changed: same message, same buttons, no decision in the thread, nothing published.
    current = world.current(target)
    assert _text(current) == before and "postgate_approve" in _buttons(current)
    assert world.replies(target) == [] and world.publora.requests("create-post") == []
    assert AUTHOR in before


def test_an_expired_trigger_tells_the_user_instead_of_failing(world_factory: Callable[..., World]) -> None:  # noqa: F811
    world = world_factory()
    world.slack.trigger_ttl = 0.0  # the trigger is dead before Postgate can use it (a slow network)
    response = world.client.slash_command(EVE, "/post", "", channel_id="C0GENERAL")
    assert response.status_code == 200
    assert "did not let Postgate open the composer" in world.ephemeral(EVE, "composer")


def test_payloads_slack_would_never_send_get_a_4xx_or_are_ignored_and_call_nobody(
    world_factory: Callable[..., World],  # noqa: F811
) -> None:
    world = world_factory()
    slack, client = world.slack, world.client
    root = world.draft("A real draft", [world.x])
    time.sleep(1.0)  # let the draft's own messages settle
    click = client.click_payload(ANA, channel_id="C0APPROVALS", message=root, action_id="postgate_approve")
    composer = world.open_composer(ANA)
    submission = client.submission_payload(
        ANA, composer["id"], {"text": "Hi", "targets": [world.option(composer, world.x)]}
    )
    calls_before = len(slack.calls())

    no_action_id = copy.deepcopy(click)
    del no_action_id["actions"][0]["action_id"]
    no_user = copy.deepcopy(click) | {"user": {"id": "", "team_id": slack.team_id}}
    no_callback = copy.deepcopy(submission)
    del no_callback["view"]["callback_id"]
    for payload in (no_action_id, no_user, no_callback):
        response = client.send_raw(client.interaction_body(payload))
        assert response.status_code == 400, response.text
    # Slack expects a 2xx for every event; one without the user it is about is acknowledged and dropped.
    event = client.event({"type": "app_home_opened", "channel": "D0ANA", "tab": "home"})
    assert event.status_code == 200

    time.sleep(1.5)  # anything Postgate would do after the ack has had its time
    assert slack.calls()[calls_before:] == []  # nobody was called: no ephemeral, no views.publish
    assert "postgate_approve" in _buttons(world.current(root))  # and nothing was decided
    logs = world.app.logs()
    assert "Traceback" not in logs
    assert logs.count("a Slack payload Slack would never send was refused") == 4
