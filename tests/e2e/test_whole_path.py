"""The whole path a user walks, against Postgate running as its own process in HTTP mode:
/post → modal → inline errors → approval request → refusals → approve / reject → Publora → thread report."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.harness import SIGNING_SECRET, AppProcess
from tests.e2e.harness import button_ids as _buttons
from tests.e2e.harness import message_text as _text
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_client import SlackClient

pytestmark = pytest.mark.e2e

AUTHOR, ANA, BO, EVE = "U0AUTHOR", "U0ANA", "U0BO", "U0EVE"
APPROVALS, GENERAL = "C0APPROVALS", "C0GENERAL"


class World:
    def __init__(self, slack: FakeSlack, publora: FakePublora, app: AppProcess, client: SlackClient) -> None:
        self.slack, self.publora, self.app, self.client = slack, publora, app, client
        self.x = publora.add_connection("twitter", "1111", username="acme", display_name="Acme on X")
        self.linkedin = publora.add_connection(
            "linkedin", "Tz9W5i6ZYG", username="acme-inc", display_name="Acme Inc"
        )
        self.bluesky = publora.add_connection("bluesky", "did:plc:acme", username="acme.bsky.social")

    def open_composer(self, user: str = AUTHOR, text: str = "") -> dict:
        response = self.client.slash_command(user, "/post", text, channel_id=GENERAL)
        assert response.status_code == 200
        return self.slack.wait_for(
            lambda: next(
                (
                    v
                    for v in self.slack.views(user)
                    if v["callback_id"] == "postgate_compose"
                    and any(b.get("block_id") == "targets" for b in v["blocks"])
                ),
                None,
            )
        )

    def option(self, view: dict, account_id: str) -> str:
        block = next(b for b in view["blocks"] if b.get("block_id") == "targets")
        for group in block["element"]["option_groups"]:
            for option in group["options"]:
                if option["value"].endswith("|" + account_id):
                    return str(option["value"])
        raise AssertionError(f"{account_id} not offered")

    def roots(self) -> list[dict]:
        return self.slack.messages(APPROVALS)

    def root_for(self, post_number: int) -> dict:
        return self.slack.wait_for(
            lambda: next((m for m in self.roots() if f"Post #{post_number}" in _text(m)), None)
        )

    def replies(self, root: dict) -> list[str]:
        return [_text(m) for m in self.slack.replies(APPROVALS, root["ts"])]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        database_url, cleanup = f"sqlite:///{tmp_path / 'postgate.db'}", None
    else:
        admin = request.getfixturevalue("postgres_url")
        database_url, name = fresh_postgres_database(admin)
        cleanup = (admin, name)
    slack = FakeSlack().start()
    for user, name, tz in [
        (AUTHOR, "alex", "Europe/Berlin"),
        (ANA, "ana", "America/New_York"),
        (BO, "bo", "Asia/Tokyo"),
        (EVE, "eve", "UTC"),
    ]:
        slack.add_user(user, name, tz=tz)
    members = [AUTHOR, ANA, BO, EVE]
    slack.add_channel(APPROVALS, "social-approvals", members=members)
    slack.add_channel(GENERAL, "general", members=members)
    publora = FakePublora(publish_delay=0.3).start()
    app = AppProcess(
        env={
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": slack.url,
            "DATABASE_URL": database_url,
            "POSTGATE_APPROVAL_CHANNEL": APPROVALS,
            "POSTGATE_APPROVERS": f"{ANA},{BO},{AUTHOR}",
            "PUBLORA_API_KEY": "sk_test_0123456789.abcdef",
            "PUBLORA_BASE_URL": publora.url,
            "POSTGATE_SWEEP_SECONDS": "5",
            "POSTGATE_DIGEST_TIME": "off",
            "POSTGATE_FOLLOW_POLL_SECONDS": "0.5",
        },
        log_path=tmp_path / "postgate.log",
        cwd=tmp_path,
    ).start()
    client = SlackClient(app_url=app.events_url, signing_secret=SIGNING_SECRET, fake=slack)
    try:
        yield World(slack, publora, app, client)
    finally:
        app.stop()
        client.close()
        publora.stop()
        slack.stop()
        if cleanup:
            drop_postgres_database(*cleanup)
    logs = app.logs()
    for secret in (slack.bot_token, SIGNING_SECRET, "sk_test_0123456789.abcdef"):
        assert secret not in logs, "a secret reached the logs"


def test_draft_approve_publish_and_report(world: World) -> None:
    slack, client = world.slack, world.client
    view = world.open_composer(text="Launch day")
    text_block = next(b for b in view["blocks"] if b.get("block_id") == "text")
    assert text_block["element"]["initial_value"] == "Launch day"  # `/post <text>` starts the draft
    groups = next(b for b in view["blocks"] if b.get("block_id") == "targets")["element"]["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Publora"]
    assert "Europe/Berlin" in str(view["blocks"])  # the author's Slack zone, from users.info

    # Invalid input comes back inline on the fields, and the modal keeps what was typed.
    with pytest.raises(ValueError, match="targets is required"):
        client.submit_view(AUTHOR, view["id"], {"text": "Hi", "targets": []})  # Slack itself refuses it
    response = client.submit_view(
        AUTHOR, view["id"], {"text": "   ", "targets": [world.option(view, world.x)]}
    )
    assert "Write the text" in response.json()["errors"]["text"]
    response = client.submit_view(
        AUTHOR, view["id"], {"text": "x" * 281, "targets": [world.option(view, world.x)]}
    )
    assert "X allows 280 (1 too many)" in response.json()["errors"]["text"]
    past = int((datetime.now(UTC) - timedelta(hours=2)).timestamp())
    response = client.submit_view(
        AUTHOR,
        view["id"],
        {"text": "Hi", "targets": [world.option(view, world.x)], "when": "at_time", "publish_at": past},
    )
    assert "in the past" in response.json()["errors"]["publish_at"]
    assert slack.view(view["id"])["state"]  # still open
    assert world.roots() == [] and world.publora.requests("create-post") == []

    # A valid draft: the approval request lands, with untrusted text defused, and the author gets a link.
    text = "Launch day! <!channel> is <https://evil.example|harmless>"
    response = client.submit_view(
        AUTHOR,
        view["id"],
        {
            "text": text,
            "targets": [world.option(view, world.x), world.option(view, world.linkedin)],
            "when": "on_approval",
        },
    )
    assert response.status_code == 200 and response.content in (b"", b"{}")
    root = world.root_for(1)
    rendered = _text(root)
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
    assert "Acme on X" in rendered and "Acme Inc" in rendered and "As soon as approved" in rendered
    assert _buttons(root) == [
        "postgate_approve",
        "postgate_request_changes",
        "postgate_reject",
        "postgate_edit",
        "postgate_withdraw",
        "postgate_history",
    ]
    dm = slack.wait_for(lambda: slack.dms(AUTHOR))
    assert "waiting for approval" in dm[-1]["text"] and "https://" in _text(dm[-1])

    # Refusals are private and change nothing.
    client.click(EVE, channel_id=APPROVALS, message=root, action_id="postgate_approve")
    client.click(AUTHOR, channel_id=APPROVALS, message=root, action_id="postgate_approve")
    eve = slack.wait_for(lambda: slack.ephemerals(user=EVE))
    author = slack.wait_for(lambda: slack.ephemerals(user=AUTHOR))
    assert "Only approvers" in eve[-1]["text"] and "You wrote this post" in author[-1]["text"]
    assert _buttons(slack.message(APPROVALS, root["ts"]))[:3] == [
        "postgate_approve",
        "postgate_request_changes",
        "postgate_reject",
    ]

    # Two approvers click at the same moment: one decision.
    clicks = [
        threading.Thread(
            target=client.click,
            args=(u,),
            kwargs={"channel_id": APPROVALS, "message": root, "action_id": "postgate_approve"},
        )
        for u in (ANA, BO)
    ]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()

    def decided() -> dict | None:
        message = slack.message(APPROVALS, root["ts"])
        return None if "postgate_approve" in _buttons(message) else message

    updated = slack.wait_for(decided)
    assert re.search(r"approved\*? by <@(U0ANA|U0BO)>", _text(updated), re.IGNORECASE)
    loser = slack.wait_for(lambda: [e for u in (ANA, BO) for e in slack.ephemerals(user=u)])
    assert "already approved" in loser[0]["text"]

    # Published on both accounts; the thread, the root and the author hear about it once.
    slack.wait_for(lambda: any("Published." in r for r in world.replies(root)), timeout=20)
    replies = world.replies(root)
    assert sum("approved this post" in r for r in replies) == 1
    report = next(r for r in replies if "Published." in r)
    assert re.search(r"https://x\.com/i/web/status/\d+", report)
    assert "https://www.linkedin.com/feed/update/urn:li:share:" in report
    assert "Published" in _text(slack.message(APPROVALS, root["ts"]))
    slack.wait_for(lambda: any("published" in m["text"].lower() for m in slack.dms(AUTHOR)[1:]))
    creates = world.publora.requests("create-post")
    assert len(creates) == 1 and creates[0]["headers"].get("idempotency-key")
    assert len(world.publora.published()) == 2


def test_reject_list_help_failures_and_signatures(world: World) -> None:
    slack, client = world.slack, world.client
    # A post scheduled for a date and time shows it as a <!date> token for every reader's zone.
    view = world.open_composer()
    at = int((datetime.now(UTC) + timedelta(days=2)).timestamp())
    client.submit_view(
        AUTHOR,
        view["id"],
        {
            "text": "Later",
            "targets": [world.option(view, world.bluesky)],
            "when": "at_time",
            "publish_at": at,
        },
    )
    scheduled = world.root_for(1)
    assert f"<!date^{at}^" in _text(scheduled)

    # Reject asks for a reason, refuses an empty one inline, and records it in the thread.
    client.click(BO, channel_id=APPROVALS, message=scheduled, action_id="postgate_reject")
    modal = slack.wait_for(
        lambda: next((v for v in slack.views(BO) if v["callback_id"] == "postgate_reject_reason"), None)
    )
    with pytest.raises(ValueError):
        client.submit_view(
            BO, modal["id"], {"reject_reason": ""}
        )  # Slack itself refuses an empty required input
    client.submit_view(BO, modal["id"], {"reject_reason": "Wrong date, launch moved."})
    slack.wait_for(lambda: any("Wrong date" in r for r in world.replies(scheduled)))
    rejected = slack.message(APPROVALS, scheduled["ts"])
    assert "Rejected" in _text(rejected) and _buttons(rejected) == ["postgate_history"]
    slack.wait_for(lambda: any("rejected" in m["text"] for m in slack.dms(AUTHOR)))

    # A failing account is reported per account, in plain words.
    world.publora.fail_account(world.linkedin)
    view = world.open_composer()
    client.submit_view(
        AUTHOR,
        view["id"],
        {"text": "Partial", "targets": [world.option(view, world.x), world.option(view, world.linkedin)]},
    )
    partial = world.root_for(2)
    client.click(ANA, channel_id=APPROVALS, message=partial, action_id="postgate_approve")
    slack.wait_for(lambda: any("some accounts only" in r for r in world.replies(partial)), timeout=20)
    report = next(r for r in world.replies(partial) if "some accounts only" in r)
    assert "reconnect it in Publora" in report and "x.com" in report

    # /post list answers privately right after the ack; /post help in the ack itself.
    view = world.open_composer()
    client.submit_view(AUTHOR, view["id"], {"text": "Pending one", "targets": [world.option(view, world.x)]})
    world.root_for(3)

    def listing_for(user: str) -> str:
        before = len(slack.ephemerals(user=user))
        ack = client.slash_command(user, "/post", "list", channel_id=GENERAL)
        assert ack.status_code == 200 and not ack.content.strip()
        shown = slack.wait_for(lambda: slack.ephemerals(user=user)[before:] or None)
        assert [e["channel"] for e in shown] == [GENERAL]
        return str(shown[0]["blocks"])

    listing = listing_for(AUTHOR)
    assert "Pending one" in listing and "Your drafts waiting for approval" in listing
    ana_list = listing_for(ANA)
    assert "Waiting for your approval" in ana_list and "Pending one" in ana_list
    assert "/post list" in client.slash_command(EVE, "/post", "help", channel_id=GENERAL).json()["text"]

    # Forged, stale or missing signatures: 401 and nothing happens.
    before = len(slack.calls())
    body = b"command=%2Fpost&text=help&user_id=U0EVE&team_id=T0POSTGATE&trigger_id=1.2.abc"
    assert client.send_raw(body, signature="v0=" + "0" * 64).status_code == 401
    assert client.send_raw(body, timestamp=int(time.time()) - 600).status_code == 401
    assert httpx.post(world.app.events_url, content=body).status_code == 401
    assert len(slack.calls()) == before
    assert httpx.get(f"{world.app.url}/healthz").json() == {
        "status": "ok",
        "database": True,
        "scheduler": True,
    }


def _chosen_when(slack: FakeSlack, view_id: str) -> tuple[str, str | None]:
    """The "When to publish" block of an open modal and the choice the person sees selected in it."""
    view = slack.view(view_id)
    block = next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith("when"))
    kept = view["state"]["values"].get(block["block_id"], {}).get("postgate_when")
    option = kept["selected_option"] if kept else block["element"].get("initial_option")
    return block["block_id"], (option or {}).get("value")


def test_picking_a_date_and_time_chooses_to_publish_then(world: World) -> None:
    slack, client = world.slack, world.client
    view = world.open_composer()
    assert _chosen_when(slack, view["id"])[1] == "on_approval"  # a new post starts "as soon as approved"

    at = int((datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0).timestamp())
    client.click_in_view(AUTHOR, view_id=view["id"], action_id="postgate_publish_at", value=at)

    # The modal switches to "At a date and time" by itself, and keeps what was picked.
    slack.wait_for(lambda: _chosen_when(slack, view["id"])[1] == "at_time")
    assert (
        slack.view(view["id"])["state"]["values"]["publish_at"]["postgate_publish_at"]["selected_date_time"]
        == at
    )
    response = client.submit_view(
        AUTHOR, view["id"], {"text": "See you Thursday", "targets": [world.option(view, world.x)]}
    )
    assert response.status_code == 200 and "errors" not in response.text
    root = world.root_for(1)
    assert f"<!date^{at}^" in _text(root) and "As soon as approved" not in _text(root)

    # Choosing "As soon as approved" again after picking is honoured: the person said so last.
    view = world.open_composer()
    client.click_in_view(AUTHOR, view_id=view["id"], action_id="postgate_publish_at", value=at)
    when_block, _ = slack.wait_for(
        lambda: (found := _chosen_when(slack, view["id"]))[1] == "at_time" and found
    )
    client.submit_view(
        AUTHOR,
        view["id"],
        {"text": "Right away", "targets": [world.option(view, world.x)], when_block: "on_approval"},
    )
    assert "As soon as approved" in _text(world.root_for(2))
