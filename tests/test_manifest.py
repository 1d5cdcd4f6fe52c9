"""`manifest.yml` is valid, matches the IDs in `bot.slack.ids`, and asks for the scopes the code needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.slack.ids import Command, Shortcut

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_PATH = REPO_ROOT / "manifest.yml"
# Vendored copy of slackapi/manifest-schema `schemas/manifest.schema.1.0.0.json` (draft-07), shared by
# the projects in the parent directory rather than checked into this repository.
SCHEMA_PATH = REPO_ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"

# What the code does with the Slack API, and the bot scope each needs.
REQUIRED_BOT_SCOPES = {
    "commands": "the /post slash command and the global shortcut",
    "chat:write": "approval messages, thread replies and DMs (chat.postMessage / chat.update)",
    "chat:write.public": "posting to the approval channel without being invited first",
    "users:read": "the author's time zone (users.info)",
    "im:write": "opening a DM with the author (conversations.open)",
    "usergroups:read": "approvers given as Slack user groups (usergroups.users.list)",
    "files:read": "media attached in the compose modal (files.info)",
    "files:write": "/post export uploads the CSV (files.getUploadURLExternal)",
    "channels:history": "after a lost answer, find the approval message or reply Slack did post",
    "im:history": "after a lost answer, find the DM Slack did post",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


def _commands(manifest: dict[str, Any]) -> list[str]:
    return [entry["command"] for entry in manifest.get("features", {}).get("slash_commands", [])]


def _shortcut_callback_ids(manifest: dict[str, Any]) -> list[str]:
    return [entry["callback_id"] for entry in manifest.get("features", {}).get("shortcuts", [])]


def test_manifest_validates_against_slack_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"Slack manifest schema not found at {SCHEMA_PATH} (the ../shared checkout is absent)")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    assert not messages, "manifest.yml does not match the Slack manifest schema:\n" + "\n".join(messages)


def test_manifest_commands_match_ids(manifest: dict[str, Any]) -> None:
    commands = _commands(manifest)
    assert len(commands) == len(set(commands)), f"duplicate slash commands in manifest.yml: {commands}"
    assert set(commands) == {c.value for c in Command}


def test_manifest_shortcuts_match_ids(manifest: dict[str, Any]) -> None:
    callback_ids = _shortcut_callback_ids(manifest)
    assert len(callback_ids) == len(set(callback_ids)), f"duplicate shortcut callback_ids: {callback_ids}"
    assert set(callback_ids) == {s.value for s in Shortcut}


def test_manifest_shortcut_types(manifest: dict[str, Any]) -> None:
    # "New post" opens the composer from anywhere; "Draft a post from this" needs the message it is used on.
    types = {entry["callback_id"]: entry["type"] for entry in manifest["features"]["shortcuts"]}
    assert types == {Shortcut.NEW_POST.value: "global", Shortcut.DRAFT_FROM_MESSAGE.value: "message"}


def test_manifest_has_required_bot_scopes(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    missing = {scope: why for scope, why in REQUIRED_BOT_SCOPES.items() if scope not in scopes}
    assert not missing, f"manifest.yml lacks bot scopes the code needs: {missing}"


def test_manifest_enables_what_the_code_uses(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    settings = manifest["settings"]
    assert features["bot_user"]["display_name"] == "postgate"
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True  # the bot DMs authors
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert settings["interactivity"]["is_enabled"] is True  # Approve/Reject buttons and modals
    assert all(entry["should_escape"] is False for entry in features["slash_commands"])


def test_manifest_uses_socket_mode_by_default(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["token_rotation_enabled"] is False
    assert settings["org_deploy_enabled"] is False
    # Socket Mode needs no request URLs; they are only in the comments for HTTP mode.
    assert "request_url" not in settings["interactivity"]
    assert "request_url" not in settings["event_subscriptions"]
    assert all("url" not in entry for entry in manifest["features"]["slash_commands"])


def test_manifest_documents_http_mode() -> None:
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    assert "socket_mode_enabled: false" in text
    commented_urls = [
        line
        for line in text.splitlines()
        if line.lstrip().startswith("#") and "https://YOUR-HOST/slack/events" in line
    ]
    # The slash command url, interactivity request_url and event_subscriptions request_url.
    assert len([line for line in commented_urls if "url:" in line]) >= 3


def test_every_manifest_command_and_shortcut_has_a_listener(manifest: dict[str, Any], tmp_path: Path) -> None:
    """Signed requests for each manifest entry reach a listener (Bolt answers 404 when none matches)."""
    import json
    import time
    from urllib.parse import urlencode

    from slack_bolt.request import BoltRequest
    from slack_sdk.signature import SignatureVerifier

    from bot.main import build
    from bot.settings import Settings
    from tests.fakes.slack_api import FakeSlack

    secret = "manifest-test-secret"
    with FakeSlack() as slack:
        slack.add_user("U1", "u1")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            slack_bot_token=slack.bot_token,
            slack_signing_secret=secret,
            slack_api_url=slack.url,
            database_url=f"sqlite:///{tmp_path / 'm.db'}",
            approval_channel="C1",
            approvers=["U1"],
            dry_run=True,
        )
        app = build(settings).bolt

        def dispatch(body: str, content_type: str) -> int:
            timestamp = str(int(time.time()))
            signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
            headers = {
                "x-slack-signature": [signature],
                "x-slack-request-timestamp": [timestamp],
                "content-type": [content_type],
            }
            return app.dispatch(BoltRequest(body=body, headers=headers)).status

        form = "application/x-www-form-urlencoded"
        for command in manifest["features"]["slash_commands"]:
            body = urlencode(
                {
                    "command": command["command"],
                    "text": "help",
                    "user_id": "U1",
                    "team_id": "T1",
                    "channel_id": "C1",
                    "trigger_id": slack.issue_trigger_id("U1"),
                }
            )
            assert dispatch(body, form) == 200, command["command"]
        for shortcut in manifest["features"].get("shortcuts", []):
            payload = {
                "type": "shortcut" if shortcut["type"] == "global" else "message_action",
                "callback_id": shortcut["callback_id"],
                "trigger_id": slack.issue_trigger_id("U1"),
                "user": {"id": "U1", "team_id": "T1"},
                "team": {"id": "T1"},
            }
            assert dispatch(urlencode({"payload": json.dumps(payload)}), form) == 200, shortcut["callback_id"]
        unknown = urlencode(
            {
                "command": "/not-ours",
                "text": "",
                "user_id": "U1",
                "team_id": "T1",
                "channel_id": "C1",
                "trigger_id": slack.issue_trigger_id("U1"),
            }
        )
        assert dispatch(unknown, form) == 404
