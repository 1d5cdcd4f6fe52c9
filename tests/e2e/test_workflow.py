"""The approval workflow as people use it, against Postgate running as its own process in HTTP mode, the
fake Slack (signed requests, as users click) and the fake Publora: rules and user groups set in the
settings modal, request changes → edit → diff → stale clicks refused, withdraw / reschedule / publish now /
retry with their permissions, reminders, missed posts and the digest, network-aware counting with
overrides and a first comment, App Home, history and the CSV export, and the message shortcut."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.harness import SIGNING_SECRET, AppProcess
from tests.e2e.harness import button_ids as _buttons
from tests.e2e.harness import message_text as _text
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_client import SlackClient

pytestmark = pytest.mark.e2e

AUTHOR, ANA, BO, CARL, EVE, ADMIN = "U0AUTHOR", "U0ANA", "U0BO", "U0CARL", "U0EVE", "U0ADMIN"
APPROVALS, GENERAL = "C0APPROVALS", "C0GENERAL"
SOCIAL_GROUP = "S0SOCIAL"
API_KEY = "sk_test_workflow.0123456789"


def dm(user: str) -> str:
    return "D" + user[1:]


class World:
    def __init__(self, slack: FakeSlack, publora: FakePublora, app: AppProcess, client: SlackClient) -> None:
        self.slack, self.publora, self.app, self.client = slack, publora, app, client
        self.x = publora.add_connection("twitter", "1111", username="acme", display_name="Acme on X")
        self.linkedin = publora.add_connection(
            "linkedin", "Tz9W5i6ZYG", username="acme-inc", display_name="Acme Inc"
        )
        self.bluesky = publora.add_connection("bluesky", "did:plc:acme", username="acme.bsky.social")

    def open_composer(self, user: str = AUTHOR, text: str = "") -> dict[str, Any]:
        self.client.slash_command(user, "/post", text, channel_id=GENERAL)
        return self.composer(user)

    def composer(self, user: str) -> dict[str, Any]:
        return self.slack.wait_for(
            lambda: next(
                (
                    v
                    for v in reversed(self.slack.views(user))
                    if v["callback_id"] == "postgate_compose"
                    and any(b.get("block_id") == "targets" for b in v["blocks"])
                ),
                None,
            )
        )

    def modal(self, user: str, callback_id: str) -> dict[str, Any]:
        return self.slack.wait_for(
            lambda: next(
                (v for v in reversed(self.slack.views(user)) if v["callback_id"] == callback_id), None
            )
        )

    def option(self, view: dict[str, Any], account_id: str) -> str:
        block = next(b for b in view["blocks"] if b.get("block_id") == "targets")
        for group in block["element"]["option_groups"]:
            for option in group["options"]:
                if option["value"].endswith("|" + account_id):
                    return str(option["value"])
        raise AssertionError(f"{account_id} not offered")

    def draft(self, text: str, accounts: list[str], user: str = AUTHOR, **inputs: Any) -> dict[str, Any]:
        view = self.open_composer(user)
        response = self.client.submit_view(
            user, view["id"], {"text": text, "targets": [self.option(view, a) for a in accounts], **inputs}
        )
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
        return self.root_with(text[:30])

    def root_with(self, needle: str) -> dict[str, Any]:
        return self.slack.wait_for(
            lambda: next((m for m in self.slack.messages(APPROVALS) if needle in _text(m)), None)
        )

    def current(self, root: dict[str, Any]) -> dict[str, Any]:
        return self.slack.message(APPROVALS, root["ts"])

    def replies(self, root: dict[str, Any]) -> list[str]:
        return [_text(m) for m in self.slack.replies(APPROVALS, root["ts"]) if m["ts"] != root["ts"]]

    def wait_reply(self, root: dict[str, Any], needle: str, timeout: float = 15.0) -> str:
        return self.slack.wait_for(
            lambda: next((r for r in self.replies(root) if needle in r), None), timeout=timeout
        )

    def wait_root(
        self, root: dict[str, Any], predicate: Callable[[str], bool], timeout: float = 15.0
    ) -> dict[str, Any]:
        return self.slack.wait_for(
            lambda: (lambda m: m if predicate(_text(m)) else None)(self.current(root)), timeout=timeout
        )

    def click(self, user: str, message: dict[str, Any], action: str, channel: str = APPROVALS) -> None:
        response = self.client.click(user, channel_id=channel, message=message, action_id=action)
        assert response.status_code == 200

    def ephemeral(self, user: str, needle: str) -> str:
        return self.slack.wait_for(
            lambda: next((e["text"] for e in self.slack.ephemerals(user=user) if needle in e["text"]), None)
        )

    def dm_with(self, user: str, needle: str) -> dict[str, Any]:
        return self.slack.wait_for(
            lambda: next((m for m in self.slack.dms(user) if needle in _text(m)), None)
        )

    def home(self, user: str) -> dict[str, Any]:
        self.client.app_home_opened(user)
        return self.slack.wait_for(
            lambda: next((v for v in self.slack.views(user) if v["type"] == "home"), None)
        )


def _start(tmp_path: Path, database_url: str, env: dict[str, str], *, free_plan: bool = False) -> World:
    slack = FakeSlack(free_plan=free_plan).start()
    for user, name, tz, admin in [
        (AUTHOR, "alex", "Europe/Berlin", False),
        (ANA, "ana", "America/New_York", False),
        (BO, "bo", "Asia/Tokyo", False),
        (CARL, "carl", "UTC", False),
        (EVE, "eve", "UTC", False),
        (ADMIN, "root", "UTC", True),
    ]:
        slack.add_user(user, name, tz=tz, is_admin=admin)
    members = [AUTHOR, ANA, BO, CARL, EVE, ADMIN]
    slack.add_channel(APPROVALS, "social-approvals", members=members)
    slack.add_channel(GENERAL, "general", members=members)
    if not free_plan:
        slack.add_usergroup(SOCIAL_GROUP, "social", [ANA, CARL, AUTHOR], name="Social team")
    publora = FakePublora(api_key=API_KEY, publish_delay=0.3).start()
    app = AppProcess(
        env={
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": slack.url,
            "DATABASE_URL": database_url,
            "POSTGATE_APPROVAL_CHANNEL": APPROVALS,
            "POSTGATE_APPROVERS": f"{ANA},{BO}",
            "POSTGATE_ADMINS": "",
            "PUBLORA_API_KEY": API_KEY,
            "PUBLORA_BASE_URL": publora.url,
            "POSTGATE_SWEEP_SECONDS": "1",
            "POSTGATE_FOLLOW_POLL_SECONDS": "0.5",
            "POSTGATE_DIGEST_TIME": "off",
            **env,
        },
        log_path=tmp_path / "postgate.log",
        cwd=tmp_path,
    )
    try:
        app.start()
    except BaseException:
        publora.stop()
        slack.stop()
        raise
    client = SlackClient(app_url=app.events_url, signing_secret=SIGNING_SECRET, fake=slack)
    return World(slack, publora, app, client)


def _stop(world: World) -> None:
    world.app.stop()
    world.client.close()
    world.publora.stop()
    world.slack.stop()
    logs = world.app.logs()
    for secret in (world.slack.bot_token, SIGNING_SECRET, API_KEY):
        assert secret not in logs, "a secret reached the logs"


@pytest.fixture
def world_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []
    cleanups: list[tuple[str, str]] = []

    def make(env: dict[str, str] | None = None, *, postgres: bool = False, free_plan: bool = False) -> World:
        if postgres:
            admin = request.getfixturevalue("postgres_url")
            url, name = fresh_postgres_database(admin)
            cleanups.append((admin, name))
        else:
            url = f"sqlite:///{tmp_path / f'postgate-{len(worlds)}.db'}"
        world = _start(tmp_path, url, env or {}, free_plan=free_plan)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        _stop(world)
    for cleanup in cleanups:
        drop_postgres_database(*cleanup)


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rules_from_settings_request_changes_edit_diff_and_the_record(
    world_factory: Callable[..., World], database: str
) -> None:
    world = world_factory(postgres=database == "postgres")
    slack, client = world.slack, world.client

    # 7. An admin opens the settings from App Home and adds a rule: LinkedIn needs 2 of @social.
    assert "postgate_open_settings" not in str(world.home(EVE)["blocks"])  # not for everyone
    home = world.home(ADMIN)
    client.click_in_view(ADMIN, view_id=home["id"], action_id="postgate_open_settings")
    settings = world.modal(ADMIN, "postgate_settings")
    client.click_in_view(ADMIN, view_id=settings["id"], action_id="postgate_add_rule")
    rule = world.modal(ADMIN, "postgate_settings_rule")
    response = client.submit_view(
        ADMIN,
        rule["id"],
        {"rule_scope": "network:linkedin", "rule_groups": [SOCIAL_GROUP], "rule_required": "2"},
    )
    assert response.status_code == 200
    settings = slack.wait_for(
        lambda: (lambda v: v if "LinkedIn" in str(v["blocks"]) else None)(
            world.modal(ADMIN, "postgate_settings")
        )
    )
    assert response.status_code == 200
    assert client.submit_view(ADMIN, settings["id"]).status_code == 200  # save the rest as shown

    # 1. A post to X and LinkedIn waits for both rules; progress is shown per rule.
    root = world.draft("Launch day: the new plan is live", [world.x, world.linkedin])
    rendered = _text(root)
    assert "0 of 2" in rendered and "0 of 1" in rendered
    assert _buttons(root)[:3] == ["postgate_approve", "postgate_request_changes", "postgate_reject"]
    # The author is in the group but may not approve their own post.
    world.click(AUTHOR, root, "postgate_approve")
    assert "You wrote this post" in world.ephemeral(AUTHOR, "You wrote")
    world.click(ANA, root, "postgate_approve")  # counts for X (default rule) and LinkedIn (group)
    root_after_ana = world.wait_root(root, lambda t: "1 of 2" in t)
    assert "1 of 1" in _text(root_after_ana)

    # 2. BO asks for changes: a modal for the comment, the thread and the author hear it.
    world.click(BO, root, "postgate_request_changes")
    changes = world.modal(BO, "postgate_request_changes")
    client.submit_view(BO, changes["id"], {"changes_comment": "Say *which* plan, please."})
    world.wait_reply(root, "which")
    asked = world.wait_root(root, lambda t: "Changes requested" in t)
    assert "postgate_approve" not in _buttons(asked)
    author_dm = world.dm_with(AUTHOR, "which")
    assert "postgate_edit" in _buttons(author_dm)
    world.click(CARL, root_after_ana, "postgate_approve")
    assert "already asked for changes" in world.ephemeral(CARL, "changes")

    # The author edits from the DM: the composer comes prefilled; the thread shows what changed.
    world.click(AUTHOR, author_dm, "postgate_edit", channel=dm(AUTHOR))
    edit = slack.wait_for(
        lambda: next(
            (v for v in reversed(slack.views(AUTHOR)) if v["callback_id"] == "postgate_compose"), None
        )
    )
    text_block = next(b for b in edit["blocks"] if b.get("block_id") == "text")
    assert text_block["element"]["initial_value"] == "Launch day: the new plan is live"
    response = client.submit_view(AUTHOR, edit["id"], {"text": "Launch day: the Team plan is live"})
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    diff = world.wait_reply(root, "version 1 → 2")
    assert "Team" in diff and "new" in diff and "no longer count" in diff
    pending_again = world.wait_root(root, lambda t: "version 2" in t and "0 of 2" in t)

    # A click on what an approver saw before the edit is refused and says why.
    world.click(ANA, root_after_ana, "postgate_approve")
    assert "edited after you opened it" in world.ephemeral(ANA, "edited after")

    # Approvals of version 2 complete both rules; what is published is exactly version 2.
    world.click(ANA, pending_again, "postgate_approve")
    world.wait_root(root, lambda t: "1 of 2" in t)
    world.click(CARL, world.current(root), "postgate_approve")
    world.wait_reply(root, "Published.", timeout=25)
    contents = {r["json"]["content"] for r in world.publora.requests("create-post")}
    assert contents == {"Launch day: the Team plan is live"}

    # 8. The record: a history modal and a CSV export uploaded to the caller.
    world.click(EVE, world.current(root), "postgate_history")
    history = str(world.modal(EVE, "postgate_history")["blocks"])
    for words in ("created", "asked for changes", "edited", "approved", "ublished"):
        assert words in history, words
    client.slash_command(ANA, "/post", "export", channel_id=GENERAL)
    upload = slack.wait_for(lambda: slack.uploaded_files(dm(ANA)))
    rows = list(csv.DictReader(io.StringIO(upload[0]["content"].decode())))
    actions = [r["action"] for r in rows]
    assert actions[0] == "created" and "changes_requested" in actions and "edited" in actions
    assert any("which" in r["detail"] for r in rows if r["action"] == "changes_requested")
    # Nothing in the record is rewritten: the first version's decisions are still there.
    assert actions.count("approval_recorded") >= 2


def test_withdraw_reschedule_publish_now_retry_and_who_may(world_factory: Callable[..., World]) -> None:
    world = world_factory()
    slack, client = world.slack, world.client

    # 3. Withdraw: only the author, only while pending.
    root = world.draft("Withdraw me", [world.x])
    world.click(ANA, root, "postgate_withdraw")
    assert "Only the author" in world.ephemeral(ANA, "Only the author")
    world.click(AUTHOR, root, "postgate_withdraw")
    world.wait_reply(root, "withdrew")
    assert "Withdrawn" in _text(world.current(root)) and _buttons(world.current(root)) == ["postgate_history"]

    # Reschedule and publish now: author or approver, from the message; a stranger is refused.
    at = datetime.now(UTC) + timedelta(days=3)
    later = world.draft("Scheduled launch", [world.bluesky], when="at_time", publish_at=int(at.timestamp()))
    world.click(ANA, later, "postgate_approve")
    approved = world.wait_root(later, lambda t: "Approved" in t)
    assert {"postgate_publish_now", "postgate_reschedule", "postgate_edit", "postgate_cancel"} <= set(
        _buttons(approved)
    )
    world.click(EVE, approved, "postgate_reschedule")
    assert "Only the author or an approver" in world.ephemeral(EVE, "Only the author or an approver")
    world.click(BO, approved, "postgate_reschedule")
    modal = world.modal(BO, "postgate_reschedule")
    new_time = int((datetime.now(UTC) + timedelta(days=5)).timestamp())
    client.submit_view(BO, modal["id"], {"new_time": new_time})
    world.wait_reply(later, "moved this post")
    assert f"<!date^{new_time}^" in _text(world.wait_root(later, lambda t: f"<!date^{new_time}^" in t))
    world.click(AUTHOR, world.current(later), "postgate_publish_now")
    world.wait_reply(later, "Published.", timeout=25)

    # Editing an approved post sends it back for approval.
    third = world.draft("Approved then edited", [world.x])
    world.click(BO, third, "postgate_approve")
    world.wait_root(third, lambda t: "Approved" in t)
    # (published at once, since it had no time; so use a scheduled one for the edit)
    fourth = world.draft(
        "Edit after approval",
        [world.x],
        when="at_time",
        publish_at=int((datetime.now(UTC) + timedelta(days=1)).timestamp()),
    )
    world.click(BO, fourth, "postgate_approve")
    approved = world.wait_root(fourth, lambda t: "Approved" in t)
    world.click(AUTHOR, approved, "postgate_edit")
    edit = world.modal(AUTHOR, "postgate_compose")
    client.submit_view(AUTHOR, edit["id"], {"text": "Edit after approval, v2"})
    world.wait_root(fourth, lambda t: "Waiting for approval" in t and "version 2" in t)

    # Retry after a failure publishes the approved version again.
    world.publora.fail_next(
        "create-post", status=400, body={"error": "Validation failed", "code": "SOMETHING"}
    )
    failing = world.draft("Fails first", [world.x])
    world.click(ANA, failing, "postgate_approve")
    failed = world.wait_root(failing, lambda t: "Failed" in t, timeout=25)
    assert "postgate_retry" in _buttons(failed)
    world.click(EVE, failed, "postgate_retry")
    assert "Only the author or an approver" in world.ephemeral(EVE, "retry")
    world.click(AUTHOR, failed, "postgate_retry")
    world.wait_reply(failing, "Published.", timeout=25)
    assert "Published" in _text(world.current(failing))

    # 9. "Draft a post from this" opens the composer with the message's text.
    message = slack.add_message(
        GENERAL,
        text="We shipped dark mode &amp; more: <https://acme.example/blog|the post> <@U0ANA|ana>",
        user=EVE,
    )
    client.message_shortcut(EVE, "postgate_draft_from_message", channel_id=GENERAL, message=message)
    composer = world.composer(EVE)
    text_block = next(b for b in composer["blocks"] if b.get("block_id") == "text")
    assert text_block["element"]["initial_value"] == (
        "We shipped dark mode & more: the post (https://acme.example/blog) @ana"
    )


def test_reminders_missed_posts_and_the_digest(world_factory: Callable[..., World]) -> None:
    world = world_factory(
        {
            "POSTGATE_REQUIRED_APPROVALS": "2",
            "POSTGATE_REMINDER_AFTER_MINUTES": "0.05",
            "POSTGATE_REMINDER_BEFORE_DUE_MINUTES": "0.9",
            "POSTGATE_DIGEST_TIME": "00:00",
        }
    )
    slack, client = world.slack, world.client
    due = datetime.now(UTC) + timedelta(seconds=66)
    root = world.draft("Due soon", [world.x], when="at_time", publish_at=int(due.timestamp()))

    # 4. A reminder DM with the decision buttons reaches each approver; approving from it counts.
    reminder = world.dm_with(ANA, "waits for your approval")
    assert {"postgate_approve", "postgate_request_changes", "postgate_reject"} <= set(_buttons(reminder))
    world.click(ANA, reminder, "postgate_approve", channel=dm(ANA))
    world.wait_root(root, lambda t: "1 of 2" in t)
    # The last reminder before the time goes only to who has not approved.
    slack.wait_for(
        lambda: len([m for m in slack.dms(BO) if "waits for your approval" in _text(m)]) >= 2, timeout=30
    )
    assert len([m for m in slack.dms(ANA) if "waits for your approval" in _text(m)]) == 1

    # The daily digest lists what is pending.
    digest = slack.wait_for(
        lambda: next((m for m in slack.messages(APPROVALS) if "digest" in _text(m).lower()), None)
    )
    assert "Due soon" in _text(digest) or "#1" in _text(digest)

    # Unapproved at its time: not published, marked missed, the author can pick a new time.
    world.wait_reply(root, "was not approved by then", timeout=75)
    missed = world.current(root)
    assert "Missed" in _text(missed) and world.publora.requests("create-post") == []
    author_dm = world.dm_with(AUTHOR, "not approved in time")
    world.click(AUTHOR, author_dm, "postgate_reschedule", channel=dm(AUTHOR))
    modal = world.modal(AUTHOR, "postgate_reschedule")
    new_time = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    client.submit_view(AUTHOR, modal["id"], {"new_time": new_time})
    world.wait_root(root, lambda t: "Waiting for approval" in t and f"<!date^{new_time}^" in t)
    # One digest a day, however many sweeps and restarts.
    assert len([m for m in slack.messages(APPROVALS) if "digest" in _text(m).lower()]) == 1


def test_network_aware_counting_overrides_first_comment_and_app_home(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory()
    slack, client = world.slack, world.client

    # 5. X counts wide characters twice: 150 CJK characters fit Bluesky's 300 but not X's 280.
    view = world.open_composer()
    cjk = "漢" * 150
    response = client.submit_view(
        AUTHOR,
        view["id"],
        {"text": cjk, "targets": [world.option(view, world.x), world.option(view, world.bluesky)]},
    )
    errors = response.json()["errors"]
    assert "X allows 280 (20 too many)" in errors["text"] and "Bluesky" not in errors["text"]
    # A shorter text for X and a first comment make it valid.
    response = client.submit_view(
        AUTHOR,
        view["id"],
        {
            "text": cjk,
            "targets": [world.option(view, world.x), world.option(view, world.bluesky)],
            "override_twitter": "Short for X https://example.com/a-very-long-link-that-counts-as-23-characters",
            "first_comment": "Details: https://example.com",
        },
    )
    assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
    root = world.root_with("Short for X")
    rendered = _text(root)
    assert "/280" in rendered and "150/300" in rendered and "Details: https://example.com" in rendered

    # 6. App Home: ANA sees it waiting for her, approves from there; it shows up as published with links.
    home = world.home(ANA)
    assert "Waiting for your approval" in str(home["blocks"]) and "postgate_approve" in str(home["blocks"])
    post_button = next(
        e["value"]
        for b in home["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == "postgate_approve"
    )
    client.click_in_view(ANA, view_id=home["id"], action_id="postgate_approve", value=post_button)
    world.wait_reply(root, "Published.", timeout=25)
    creates = world.publora.requests("create-post")
    by_content = {r["json"]["content"]: r["json"] for r in creates}
    assert set(by_content) == {
        cjk,
        "Short for X https://example.com/a-very-long-link-that-counts-as-23-characters",
    }
    assert all(body.get("firstComments") for body in by_content.values())
    home = slack.wait_for(
        lambda: (lambda v: v if "view post" in str(v["blocks"]) else None)(world.home(AUTHOR)), timeout=10
    )
    assert "Recently published" in str(home["blocks"])

    # The longest post: every message Postgate posts and updates stays within Slack's limits (the fake
    # refuses anything over them, and the post still reaches the thread and the Home tab).
    longest = ("🚀 Launch " * 300)[:2990] + "\n---\n" + "end"
    view = world.open_composer()
    response = client.submit_view(
        AUTHOR, view["id"], {"text": longest[:3000], "targets": [world.option(view, world.linkedin)]}
    )
    assert response.status_code == 200, response.text
    long_root = world.root_with("Launch")
    assert re.search(r"Post #\d+", _text(long_root))
    world.home(AUTHOR)
    refused = [
        (c["method"], c["error"])
        for c in slack.calls()
        if not c["ok"] and c["method"] in ("chat.postMessage", "chat.update", "views.publish", "views.open")
    ]
    assert refused == [], "Slack refused a message or view"


def test_free_plan_without_user_groups_uses_the_listed_approvers(world_factory: Callable[..., World]) -> None:
    # POSTGATE_APPROVERS names a user group; this workspace's plan has none.
    world = world_factory({"POSTGATE_APPROVERS": f"{SOCIAL_GROUP},{ANA}"}, free_plan=True)
    root = world.draft("Free plan post", [world.x])
    world.click(BO, root, "postgate_approve")
    assert "Only approvers" in world.ephemeral(BO, "Only approvers")
    home = str(world.home(ANA)["blocks"])
    assert "user groups are not available" in home
    world.click(ANA, root, "postgate_approve")
    world.wait_reply(root, "Published.", timeout=25)
    # Said once in the log, not on every look-up.
    assert world.app.logs().count("user groups are not available") == 1
