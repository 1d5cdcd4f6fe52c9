"""The "Provider keys" part of the settings modal and the modal an admin enters a key in, as Slack accepts
them, and what a key submission parses back to. Nothing of a key is ever in a view."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.model import Workspace
from bot.domain.workspace import WorkspaceSettings
from bot.providers.registry import Credentials, Origin
from bot.services.credentials import KeyStatus, WorkspaceListing
from bot.slack.ids import Action, Block, ViewId
from bot.slack.views.settings import (
    KeysSection,
    build_key_modal,
    build_settings_modal,
    parse_key,
)
from tests.fakes.slack_client import SlackClient
from tests.fakes.slack_limits import input_blocks
from tests.slack.test_home_views import accepted, buttons, texts

ENTERED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
PUBLER_WS = "61a7c2e4f9e8c3b2d1e0f9a8"
STATUSES = (
    KeyStatus(provider="publora", display_name="Publora", origin=Origin.ENVIRONMENT, in_environment=True),
    KeyStatus(
        provider="publer",
        display_name="Publer",
        origin=Origin.SLACK,
        entered_by="U0ANA",
        entered_at=ENTERED,
        in_environment=True,
        workspace_id="61a7c2e4f9e8c3b2d1e0f9a8",
    ),
    KeyStatus(provider="postoria", display_name="Postoria", origin=None),
)


def modal(section: KeysSection) -> dict[str, Any]:
    return accepted(
        build_settings_modal(
            settings=WorkspaceSettings(),
            revision=1,
            providers=(),
            groups=(),
            groups_unavailable=None,
            keys=section,
        )
    )


def key_buttons(view: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (b["action_id"], b["value"], b["text"]["text"])
        for b in buttons(view)
        if b["action_id"] in (Action.ENTER_KEY, Action.REMOVE_KEY)
    ]


def test_each_provider_says_where_its_key_comes_from() -> None:
    view = modal(KeysSection(statuses=STATUSES, can_store=True))
    shown = texts(view)
    assert "Provider keys" in shown
    assert "*Publora* · key from the environment" in shown
    assert "*Publer* · key entered in Slack by <@U0ANA> on <!date^" in shown
    assert "takes over from the environment's key" in shown
    assert "*Postoria* · no key" in shown
    assert key_buttons(view) == [
        (Action.ENTER_KEY, "publora", "Enter a key"),
        (Action.ENTER_KEY, "publer", "Replace the key"),
        (Action.REMOVE_KEY, "publer", "Remove"),
        (Action.ENTER_KEY, "postoria", "Enter a key"),
    ]
    remove = next(b for b in buttons(view) if b["action_id"] == Action.REMOVE_KEY)
    assert "goes back to the key from the environment" in remove["confirm"]["text"]["text"]


def test_without_a_secret_key_the_section_explains_and_offers_no_button() -> None:
    view = modal(KeysSection(statuses=STATUSES, can_store=False))
    assert "once the operator sets `POSTGATE_SECRET_KEY`" in texts(view)
    assert key_buttons(view) == []


def test_removing_the_only_key_warns_that_publishing_stops() -> None:
    only_slack = KeyStatus(
        provider="postoria",
        display_name="Postoria",
        origin=Origin.SLACK,
        entered_by="U0BO",
        entered_at=ENTERED,
    )
    view = modal(KeysSection(statuses=[only_slack], can_store=True))
    remove = next(b for b in buttons(view) if b["action_id"] == Action.REMOVE_KEY)
    assert "stops publishing through Postoria" in remove["confirm"]["text"]["text"]


def test_the_key_modal_asks_for_what_each_provider_needs() -> None:
    # Publer: the key alone first; its workspaces are listed once the key is checked.
    publer = accepted(build_key_modal(STATUSES[1]))
    assert publer["callback_id"] == ViewId.SETTINGS_KEY
    inputs = {b["block_id"]: b for b in input_blocks(publer)}
    assert list(inputs) == [Block.KEY_API]
    assert inputs[Block.KEY_API]["element"]["type"] == "plain_text_input"
    assert "initial_value" not in inputs[Block.KEY_API]["element"]  # a key is never shown again
    assert publer["submit"]["text"] == "Check the key"

    # Then the same key input (so Slack keeps what was pasted) and the workspaces to pick from.
    listing = WorkspaceListing(
        (Workspace("60a2e45f9b3c8d002a4b7c32", "Client"), Workspace(PUBLER_WS, "Marketing"))
    )
    picking = accepted(build_key_modal(STATUSES[1], listing))
    inputs = {b["block_id"]: b for b in input_blocks(picking)}
    assert list(inputs) == [Block.KEY_API, Block.KEY_WORKSPACE]
    assert inputs[Block.KEY_API]["element"]["action_id"] == Action.KEY_API
    picker = inputs[Block.KEY_WORKSPACE]["element"]
    assert picker["type"] == "static_select" and picker["action_id"] == Action.KEY_WORKSPACE_PICK
    assert [o["text"]["text"] for o in picker["options"]] == [
        "Client (60a2e45f9b3c8d002a4b7c32)",
        f"Marketing ({PUBLER_WS})",
    ]
    assert picker["initial_option"]["value"] == PUBLER_WS  # the one in use stays selected
    assert picking["submit"]["text"] == "Check and save"

    # When they could not be listed, the id is typed, and the modal says why.
    fallback = accepted(
        build_key_modal(STATUSES[1], WorkspaceListing((), "this key may not list the workspaces"))
    )
    inputs = {b["block_id"]: b for b in input_blocks(fallback)}
    assert inputs[Block.KEY_WORKSPACE]["element"]["initial_value"] == PUBLER_WS
    assert "this key may not list the workspaces, so type the workspace ID below" in texts(fallback)

    postoria = accepted(build_key_modal(STATUSES[2]))
    assert [b["block_id"] for b in input_blocks(postoria)] == [Block.KEY_API, Block.KEY_WORKSPACE]

    publora = accepted(build_key_modal(STATUSES[0]))
    inputs = {b["block_id"]: b for b in input_blocks(publora)}
    assert list(inputs) == [Block.KEY_API, Block.KEY_WEBHOOK]
    assert inputs[Block.KEY_WEBHOOK]["optional"] is True


def submitted(view: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    values = {}
    for block in input_blocks(view):
        element = block["element"]
        state = SlackClient._initial_state(element)
        if block["block_id"] in typed:
            state["value"] = typed[block["block_id"]]
        values[block["block_id"]] = {element["action_id"]: state}
    return {**view, "state": {"values": values}}


def test_a_key_submission_parses_to_credentials() -> None:
    view = accepted(build_key_modal(STATUSES[1]))
    provider, credentials, errors = parse_key(submitted(view, {Block.KEY_API: "  publer-new-key-42  "}))
    assert (provider, errors) == ("publer", {})
    assert credentials == Credentials(api_key="publer-new-key-42")  # the workspace is picked next
    assert "publer-new-key-42" not in repr(credentials)

    picking = accepted(build_key_modal(STATUSES[1], WorkspaceListing((Workspace(PUBLER_WS, "Marketing"),))))
    _, credentials, errors = parse_key(submitted(picking, {Block.KEY_API: "publer-new-key-42"}))
    assert errors == {}
    assert credentials == Credentials(api_key="publer-new-key-42", workspace_id=PUBLER_WS)

    publora = accepted(build_key_modal(STATUSES[0]))
    _, credentials, _ = parse_key(submitted(publora, {Block.KEY_API: "sk_abc", Block.KEY_WEBHOOK: "whsec_1"}))
    assert credentials == Credentials(api_key="sk_abc", webhook_secret="whsec_1")


def test_a_mangled_key_is_refused_without_repeating_it() -> None:
    view = accepted(build_key_modal(STATUSES[2]))
    typed = "postoria secret key\nwith a line break"
    _, credentials, errors = parse_key(submitted(view, {Block.KEY_API: typed, Block.KEY_WORKSPACE: " "}))
    assert credentials is None
    assert set(errors) == {Block.KEY_API, Block.KEY_WORKSPACE}
    assert "no spaces, line breaks" in errors[Block.KEY_API]
    assert "needs the workspace ID" in errors[Block.KEY_WORKSPACE]
    assert not any(part in str(errors) for part in ("postoria secret", "with a line break"))


def test_a_forged_provider_is_refused() -> None:
    view = accepted(build_key_modal(STATUSES[1]))
    forged = {**submitted(view, {Block.KEY_API: "k"}), "private_metadata": '{"provider": "dry_run"}'}
    provider, credentials, errors = parse_key(forged)
    assert provider is None and credentials is None and Block.KEY_API in errors
