"""Slack messages the outbox gave up on are shown, not kept silently: admins see them in App Home (post,
what it was, why in plain words), `postgate outbox` lists them, and `postgate outbox resend ID` puts one
back. Through the real path: the fake Slack refuses a message for good (or fails for a day), the outbox
gives up, App Home is opened over HTTP and published through the fake Slack's views.publish; on both
databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from sqlmodel import select

from bot.db.engine import Database
from bot.db.tables import OutboxMessage
from bot.main import Postgate
from tests.conftest import FakeClock
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_client import SlackClient
from tests.slack.test_home_views import texts
from tests.test_dispatch import (  # noqa: F401 - fixtures
    ANA,
    APPROVALS,
    AUTHOR,
    approve,
    draft_for,
    make_app,
    publora,
    slack,
    thread_text,
)
from tests.test_settings_and_cli import run_cli

DEE = "U0DEE"  # a Slack admin; ANA approves but is no admin


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def admin(slack: FakeSlack) -> str:  # noqa: F811
    slack.add_user(DEE, "dee", is_admin=True)
    return DEE


def open_home(app: Postgate, slack: FakeSlack, user: str) -> str:  # noqa: F811
    """Opens the Home tab as Slack does (a signed app_home_opened over HTTP) and returns what it shows."""
    server = make_server("127.0.0.1", 0, app.web, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    before = len(slack.calls("views.publish"))
    try:
        with SlackClient(
            app_url=f"http://127.0.0.1:{server.server_port}/slack/events",
            signing_secret="s3cret-signing",
            fake=slack,
        ) as client:
            assert client.app_home_opened(user).status_code == 200
            slack.wait_for(lambda: len(slack.calls("views.publish")) > before)
    finally:
        server.shutdown()
        server.server_close()
    [home] = [v for v in slack.views(user) if v["type"] == "home"]
    return texts(home)


def deliver(app: Postgate, clock: FakeClock, passes: int = 4) -> None:
    for _ in range(passes):
        app.outbox.deliver_due()
        clock.advance(seconds=5)


def rows(db: Database) -> dict[int, OutboxMessage]:
    with db.read() as session:
        return {row.id or 0: row for row in session.exec(select(OutboxMessage))}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def test_messages_slack_refused_for_good_are_shown_to_admins_in_app_home(
    slack: FakeSlack,  # noqa: F811
    publora: FakePublora,  # noqa: F811
    db: Database,
    clock: FakeClock,
    admin: str,
) -> None:
    app = make_app(slack, publora, db, clock)
    post_id = approve(app, draft_for(publora, text="Launch day\nmore words"))
    # The approval's update of the root and its thread reply are refused for good; the DM goes out.
    slack.fail_next("chat.update", status=200, error="message_not_found")
    slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    deliver(app, clock)
    assert "approved this post" not in thread_text(slack)
    assert any("was approved" in m["text"] for m in slack.dms(AUTHOR))
    assert sorted(r.status for r in rows(db).values()) == ["dead", "dead", "sent", "sent", "sent"]

    shown = open_home(app, slack, admin)
    assert "2 Slack messages could not be delivered" in shown
    root = slack.messages(APPROVALS)[0]
    assert f"/p{root['ts'].replace('.', '')}|#{post_id}>" in shown  # the post, linked to its thread
    assert "“Launch day”" in shown and "more words" not in shown
    assert f"thread reply: ✅ <@{ANA}> approved this post" in shown
    assert "approval message update" in shown
    assert "Slack said: channel_not_found (the channel was deleted or Postgate was removed from it)" in shown
    assert "Slack said: message_not_found (the approval message was deleted)" in shown
    assert "postgate outbox resend" in shown

    assert "could not be delivered" not in open_home(app, slack, ANA)


def test_postgate_outbox_lists_dead_messages_and_resends_one_once(
    slack: FakeSlack,  # noqa: F811
    publora: FakePublora,  # noqa: F811
    db: Database,
    database_url: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    app = make_app(slack, publora, db, clock)
    post_id = approve(app, draft_for(publora, text="Launch day"))
    slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    deliver(app, clock)
    [dead] = [r for r in rows(db).values() if r.status == "dead"]
    [sent] = [r for r in rows(db).values() if r.status == "sent"][:1]
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": slack.bot_token}

    listed = run_cli("outbox", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert "1 Slack message could not be delivered" in out
    assert f"{dead.id}" in out and f"post #{post_id}" in out and "“Launch day”" in out
    assert f"thread reply: ✅ @{ANA} approved this post" in out
    assert "Slack said: channel_not_found (the channel was deleted or Postgate was removed from it)" in out
    assert slack.bot_token not in out + listed.stderr

    unknown = run_cli("outbox", "resend", "99999", env=env, cwd=tmp_path)
    assert unknown.returncode != 0 and "There is no outbox message 99999" in unknown.stderr
    not_dead = run_cli("outbox", "resend", str(sent.id), env=env, cwd=tmp_path)
    assert not_dead.returncode != 0 and f"Message {sent.id} was delivered" in not_dead.stderr

    resent = run_cli("outbox", "resend", str(dead.id), env=env, cwd=tmp_path)
    assert resent.returncode == 0, resent.stderr
    assert f"Message {dead.id} will be sent again" in resent.stdout
    again = run_cli("outbox", "resend", str(dead.id), env=env, cwd=tmp_path)
    assert again.returncode != 0 and "is waiting to be sent" in again.stderr
    row = rows(db)[dead.id or 0]
    assert (row.status, row.attempts) == ("pending", 0)

    deliver(app, clock)
    assert thread_text(slack).count("approved this post") == 1
    deliver(app, clock)
    assert thread_text(slack).count("approved this post") == 1
    assert rows(db)[dead.id or 0].status == "sent"
    assert "no Slack message is undelivered" in run_cli("outbox", env=env, cwd=tmp_path).stdout


def test_a_resent_message_that_reached_slack_before_it_was_given_up_is_not_posted_twice(
    slack: FakeSlack,  # noqa: F811
    publora: FakePublora,  # noqa: F811
    db: Database,
    admin: str,
) -> None:
    """The thread reply was posted but its answer lost, then Slack failed for a day: the outbox gave up
    without knowing. Resent, it finds its own message in the thread (by its metadata) and keeps it."""
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=26))
    app = make_app(slack, publora, db, clock)
    approve(app, draft_for(publora))
    slack.fail_next("chat.postMessage", status=500, error="internal_error", after_processing=True)
    app.outbox.deliver_due()
    slack.set_outage(True)
    for _ in range(60):  # a day of failed tries, each after the back-off Slack's answers ask for
        clock.advance(minutes=30)
        app.outbox.deliver_due()
    slack.set_outage(False)
    # The DM to the author, held behind the reply, was never sent.
    dead = {r.kind: r for r in rows(db).values() if r.status == "dead"}
    assert sorted(dead) == ["dm", "thread_reply"]
    shown = open_home(app, slack, admin)
    assert "2 Slack messages could not be delivered" in shown
    assert "Not delivered after 24 hours of tries" in shown and "Slack answered 500" in shown
    assert f"DM to <@{AUTHOR}>" in shown

    clock.advance(hours=2)  # back at the real time, when a person resends them
    for row in dead.values():
        app.services.undelivered.resend(row.id or 0)
    # A resent message gets a fresh day of tries: a passing failure now is retried, not given up at once.
    slack.fail_next("chat.postMessage", status=500, error="internal_error")
    deliver(app, clock)
    assert thread_text(slack).count("approved this post") == 1
    assert sum("was approved" in m["text"] for m in slack.dms(AUTHOR)) == 1
    assert {rows(db)[row.id or 0].status for row in dead.values()} == {"sent"}
    assert "could not be delivered" not in open_home(app, slack, admin)
