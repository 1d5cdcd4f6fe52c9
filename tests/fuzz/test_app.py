"""Property-based, against Postgate running as its own process: random and malformed slash commands,
button payloads, modal submissions and events, signed as Slack would, from people who may not act. No
request gets a 5xx, the process logs no unhandled error, and nothing changes."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.harness import message_text as _text
from tests.e2e.test_workflow import AUTHOR, EVE, World, world_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

ACTIONS = [
    "postgate_approve",
    "postgate_reject",
    "postgate_request_changes",
    "postgate_cancel",
    "postgate_edit",
    "postgate_withdraw",
    "postgate_reschedule",
    "postgate_publish_now",
    "postgate_retry",
    "postgate_history",
    "postgate_open_settings",
    "postgate_add_rule",
    "postgate_remove_rule",
    "postgate_home_refresh",
    "nonsense",
]
CALLBACKS = [
    "postgate_compose",
    "postgate_reject_reason",
    "postgate_request_changes",
    "postgate_reschedule",
    "postgate_settings",
    "postgate_settings_rule",
    "unknown",
]
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
values = st.one_of(st.text(max_size=20), st.sampled_from(["1:1", "1", "1:999", "-5:1", "2:1", "0", "1:x"]))
users = st.sampled_from([EVE, "U0STRANGER", "", "W123"])


def _action(user: str, action: str, value: str, extra: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": "T0POSTGATE"},
        "team": {"id": "T0POSTGATE"},
        "trigger_id": "1.2.forged",
        "channel": {"id": "C0APPROVALS"},
        "actions": [{"action_id": action, "block_id": "x", "type": "button", "value": value}],
        "junk": extra,
    }


def _view(user: str, callback: str, state: Any, metadata: str) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T0POSTGATE"},
        "team": {"id": "T0POSTGATE"},
        "view": {
            "id": "V1",
            "callback_id": callback,
            "private_metadata": metadata,
            "state": {"values": state},
        },
    }


payloads = st.one_of(
    st.builds(_action, users, st.sampled_from(ACTIONS), values, junk),
    st.builds(
        _view,
        users,
        st.sampled_from(CALLBACKS),
        st.dictionaries(
            st.text(max_size=15), st.dictionaries(st.text(max_size=15), junk, max_size=2), max_size=4
        ),
        st.one_of(st.text(max_size=40), st.just('{"post_id": 1, "version": 1}'), st.just('{"revision": 0}')),
    ),
)


def test_random_requests_change_nothing_and_never_fail(world_factory: Callable[..., World]) -> None:  # noqa: F811
    world = world_factory()
    root = world.draft("Fuzz target", [world.x])
    # The draft's own messages first (its DM to the author may follow the approval request): whatever is
    # posted after this point was caused by the random requests.
    world.slack.wait_for(lambda: any("waiting for approval" in _text(m) for m in world.slack.dms(AUTHOR)))
    before = _text(world.current(root))
    posted_before = len(world.slack.calls("chat.postMessage"))
    statuses: list[int] = []

    # Derandomized: CI must be reproducible; a new failure found locally is kept as an explicit case.
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(payloads, st.text(max_size=60))
    def hammer(payload: dict[str, Any], command_text: str) -> None:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        statuses.append(world.client.send_raw(body).status_code)
        command = urllib.parse.urlencode(
            {
                "command": "/post",
                "text": command_text,
                "user_id": EVE,
                "team_id": "T0POSTGATE",
                "channel_id": "C0GENERAL",
                "trigger_id": "1.2.forged",
            }
        ).encode()
        statuses.append(world.client.send_raw(command).status_code)
        raw = json.dumps(payload).encode()
        statuses.append(world.client.send_raw(raw, content_type="application/json").status_code)

    hammer()
    assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
    assert _text(world.current(root)) == before
    assert world.replies(root) == [] and world.publora.requests("create-post") == []
    # No message was posted for anyone (ephemeral refusals are not messages).
    posted = [c for c in world.slack.calls("chat.postMessage")[posted_before:] if c["ok"]]
    assert all(c["params"].get("channel") in (EVE, "U0STRANGER") for c in posted), posted
    assert "Traceback" not in world.app.logs()


_KINDS_OF_DAMAGE = ("delete", None, 0, [], {}, "")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON-like value (dict keys and list indices), outermost first."""
    found: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


def _damage(payload: Any, path: tuple[Any, ...], damage: Any) -> None:
    parent = payload
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation removed this branch
    last = path[-1]
    try:
        if damage == "delete":
            del parent[last]
        else:
            parent[last] = json.loads(json.dumps(damage))
    except (KeyError, IndexError, TypeError):
        return


def test_real_payloads_with_keys_missing_or_mistyped_at_any_level_never_fail(
    world_factory: Callable[..., World],  # noqa: F811
) -> None:
    world = world_factory()
    slack, client = world.slack, world.client
    root = world.draft("Fuzz target", [world.x])
    world.slack.wait_for(lambda: any("waiting for approval" in _text(m) for m in world.slack.dms(AUTHOR)))
    composer = world.open_composer(EVE)
    bases: list[tuple[str, dict[str, Any]]] = [
        (
            "form",
            client.click_payload(EVE, channel_id="C0APPROVALS", message=root, action_id="postgate_approve"),
        ),
        (
            "form",
            client.submission_payload(
                EVE, composer["id"], {"text": "Fuzzed", "targets": [world.option(composer, world.x)]}
            ),
        ),
        (
            "event",
            {
                "type": "event_callback",
                "team_id": slack.team_id,
                "event_id": "Ev0FUZZ",
                "event": {"type": "app_home_opened", "user": EVE, "channel": "D0EVE", "tab": "home"},
            },
        ),
        (
            "command",
            {
                "command": "/post",
                "text": "hi",
                "user_id": EVE,
                "team_id": slack.team_id,
                "channel_id": "C0GENERAL",
                "trigger_id": "1.2.forged",
            },
        ),
    ]
    calls_before = len(slack.calls())
    statuses: list[int] = []
    failures: list[dict[str, Any]] = []

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(st.data())
    def damage(data: st.DataObject) -> None:
        kind, base = data.draw(st.sampled_from(bases))
        payload = json.loads(json.dumps(base))
        paths = _paths(payload)
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            _damage(payload, data.draw(st.sampled_from(paths)), data.draw(st.sampled_from(_KINDS_OF_DAMAGE)))
        if kind == "form":
            response = client.send_raw(client.interaction_body(payload))
        elif kind == "event":
            response = client.send_raw(json.dumps(payload).encode(), content_type="application/json")
        else:
            fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
            response = client.send_raw(urllib.parse.urlencode(fields).encode())
        statuses.append(response.status_code)
        if response.status_code >= 500:
            failures.append(payload)

    damage()
    assert not failures, failures[:3]
    assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
    assert "Traceback" not in world.app.logs()
    for call in slack.calls()[calls_before:]:
        for name in ("user", "channel", "user_id"):
            assert call["params"].get(name, "x") != "", call  # never a call with an empty id
