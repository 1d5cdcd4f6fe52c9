"""Text Postgate did not write cannot ping anyone or forge a link in Postgate's own messages, and values
larger than Slack allows are refused, not stored; against Postgate running as its own process in HTTP
mode, the fake Slack and the fake Publora.

A draft whose text, per-network text, first comment and attached file name are full of Slack's control
sequences goes through request changes, an edit, a rejection and the history; a provider whose account
name and error messages carry the same publishes partly and fails. Then every message, update, ephemeral,
DM, modal and Home tab the fake Slack recorded is read the way a Slack client renders it: the only
mentions are the people who acted, the only channel is the approval channel, the only links are Slack's
permalinks and the provider's post links, and no `<!channel>`, `<!here>`, `<!everyone>` or user group
ping appears anywhere.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.harness import message_text as _text
from tests.e2e.test_providers import png_bytes
from tests.e2e.test_workflow import (  # noqa: F401 - world_factory is the fixture
    ADMIN,
    ANA,
    APPROVALS,
    AUTHOR,
    BO,
    EVE,
    World,
    dm,
    world_factory,
)
from tests.fakes.slack_api import rendered_specials, surfaces_shown
from tests.fakes.slack_client import SlackClient

pytestmark = pytest.mark.e2e

HOSTILE = (
    "<!channel> <!here> <!everyone> <@U0ANA> <#C0GENERAL> <!subteam^S123> "
    "<https://evil.example|your bank> *bold* _it_ ~s~ `code` &lt;!channel&gt;"
)
PERMALINKS = "https://fake.slack.test/"
# Where the fake Publora's published posts live (the links Postgate builds from its post ids).
PROVIDER_LINKS = (
    "https://x.com/",
    "https://www.linkedin.com/",
    "https://bsky.app/",
    "https://www.threads.net/",
)
_DATE = re.compile(r"!date\^\d+\^[^|<>]*\|[^|<>]*")


def test_untrusted_text_can_neither_ping_nor_link(world_factory: Callable[..., World]) -> None:  # noqa: F811
    # BO is the only approver, so a mention of ANA (in the hostile text) can only come from the text.
    world = world_factory({"POSTGATE_APPROVERS": BO, "POSTGATE_REMINDER_AFTER_MINUTES": "0.05"})
    slack, client, publora = world.slack, world.client, world.publora
    hostile_account = publora.add_connection("threads", "6666", username="<!here>", display_name=HOSTILE)
    publora.fail_account(hostile_account, code="INVALID_CONTENT", message=HOSTILE)
    slack.add_file("F0HOSTILE", f"{HOSTILE}.png", png_bytes(), mimetype="image/png", user=AUTHOR)

    # The draft: every text the author types, and a file name, are hostile.
    view = world.open_composer()
    assert hostile_account.partition("-")[2] in json.dumps(view["blocks"])  # the provider's name is offered
    response = client.submit_view(
        AUTHOR,
        view["id"],
        {
            "text": f"Launch {HOSTILE}",
            "targets": [world.option(view, world.x)],
            "override_twitter": f"For X {HOSTILE}",
            "first_comment": f"Comment {HOSTILE}",
            "media_files": ["F0HOSTILE"],
        },
    )
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    root = world.root_with("Launch")
    assert "&lt;!channel&gt;" in _text(root) and "&amp;lt;!channel&amp;gt;" in _text(root)
    world.dm_with(BO, "waits for your approval")  # a reminder quotes the text to the approver

    # Changes requested, edited, rejected: each comment hostile, each reaching the thread and the author.
    world.click(BO, root, "postgate_request_changes")
    changes = world.modal(BO, "postgate_request_changes")
    assert client.submit_view(BO, changes["id"], {"changes_comment": f"Fix {HOSTILE}"}).status_code == 200
    author_dm = world.dm_with(AUTHOR, "asked for changes")
    world.click(AUTHOR, author_dm, "postgate_edit", channel=dm(AUTHOR))
    edit = world.modal(AUTHOR, "postgate_compose")
    response = client.submit_view(AUTHOR, edit["id"], {"text": f"Launch again {HOSTILE} <!channel>"})
    assert response.status_code == 200, response.text
    world.wait_reply(root, "version 1 → 2")
    world.click(BO, world.current(root), "postgate_reject")
    reject = world.modal(BO, "postgate_reject_reason")
    assert client.submit_view(BO, reject["id"], {"reject_reason": f"No: {HOSTILE}"}).status_code == 200
    world.wait_reply(root, "rejected this post")
    world.dm_with(AUTHOR, "was rejected")
    world.click(EVE, world.current(root), "postgate_history")
    assert "&lt;!channel&gt;" in json.dumps(world.modal(EVE, "postgate_history")["blocks"])

    # The provider: an account named with the same, failing with the same; then a refusal saying it.
    partial = world.draft("Partly out", [world.x, hostile_account])
    world.click(BO, partial, "postgate_approve")
    world.wait_reply(partial, "Published on some accounts only", timeout=25)
    publora.fail_next("create-post", status=400, body={"error": f"Refused {HOSTILE}", "code": "X"})
    failing = world.draft("Refused by the provider", [world.x])
    world.click(BO, failing, "postgate_approve")
    world.wait_reply(failing, "Publishing failed", timeout=25)
    world.dm_with(AUTHOR, "Refused")

    # Where people look afterwards: App Home, /post list.
    for user in (AUTHOR, BO, ANA, ADMIN):
        world.home(user)
    client.slash_command(AUTHOR, "/post", "list", channel_id="C0GENERAL")
    slack.wait_for(lambda: any("drafts" in e["text"] for e in slack.ephemerals(user=AUTHOR)))

    # Read as a Slack client reads it: nothing pings, mentions or links but what Postgate meant.
    surfaces = surfaces_shown(slack)
    assert len(surfaces) > 40
    for where, surface in surfaces:
        for token in rendered_specials(surface):
            target = token.split("|", 1)[0]
            allowed = (
                target in (f"@{AUTHOR}", f"@{BO}", f"#{APPROVALS}")
                or _DATE.fullmatch(token)
                or ("|" in token and target.startswith((PERMALINKS, *PROVIDER_LINKS)))
            )
            assert allowed, f"{where} renders <{token}>: {json.dumps(surface)[:600]}"
            assert "evil.example" not in token and "your bank" not in token


def _forged(
    client: SlackClient, user: str, view: dict[str, Any], inputs: dict[str, Any], **changes: Any
) -> Any:
    """A signed view_submission of `view` with `inputs`, then altered as Slack's own client never would:
    `changes` replace parts of the view, or (`options`) the accounts picked in the composer."""
    values = client._state_values(view, inputs)
    options = changes.pop("options", None)
    if options is not None:
        values["targets"]["postgate_targets"]["selected_options"] = options
    payload = client._common("view_submission", user) | {
        "view": client._view_payload(view, values) | changes,
        "response_urls": [],
    }
    return client.send_raw(urllib.parse.urlencode({"payload": json.dumps(payload)}).encode())


def test_values_larger_than_slack_allows_are_refused_and_not_stored(
    world_factory: Callable[..., World],  # noqa: F811
) -> None:
    world = world_factory()
    slack, client = world.slack, world.client
    root = world.draft("Waiting for a decision", [world.x])

    # A reason of half a megabyte, and private_metadata beyond Slack's 3,000 characters: refused outright;
    # a megabyte is over the body limit itself.
    world.click(BO, root, "postgate_reject")
    reject = world.modal(BO, "postgate_reject_reason")
    assert _forged(client, BO, reject, {"reject_reason": "x" * 500_000}).status_code == 400
    metadata = json.dumps({"post_id": 1, "version": 1, "pad": "x" * 5000})
    response = _forged(client, BO, reject, {"reject_reason": "Not this"}, private_metadata=metadata)
    assert response.status_code == 400
    assert _forged(client, BO, reject, {"reject_reason": "x" * 1_000_001}).status_code == 413

    # The composer: a text one character over Slack's cap, and an account option no modal offers.
    view = world.open_composer()
    targets = [world.option(view, world.x)]
    assert _forged(client, AUTHOR, view, {"text": "y" * 3001, "targets": targets}).status_code == 400
    option = {"text": {"type": "plain_text", "text": "X · acme"}, "value": "publora|twitter|" + "1" * 400}
    response = _forged(client, AUTHOR, view, {"text": "Short", "targets": targets}, options=[option])
    assert response.status_code == 400

    # A button value beyond Slack's 2,000 characters.
    response = client.click(
        BO, channel_id=APPROVALS, message=root, action_id="postgate_approve", value="1" * 2001
    )
    assert response.status_code == 400

    # Nothing was decided or stored: the post still waits, its thread is empty, it is the only post.
    assert "Waiting for approval" in _text(world.current(root))
    assert world.replies(root) == []
    assert len(slack.messages(APPROVALS)) == 1
    assert "larger than Slack allows" in world.app.logs()
