"""Workspace settings stored in the database shape what people can do: publishing hours refuse a time
outside them (inline) and hold an "as soon as approved" post until they open; a save based on an old
revision is refused. Runs the real services on both databases against the fake Slack and Publora."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import event

from bot.db import repo
from bot.db.engine import Database
from bot.domain.rules import DraftField
from bot.domain.workspace import PublishingHours
from bot.errors import DomainError
from tests.conftest import FakeClock
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.test_dispatch import ANA, APPROVALS, draft_for, make_app, publora, slack  # noqa: F401 - fixtures

TEAM = "T0POSTGATE"


def test_publishing_hours_are_enforced_and_respected(slack: FakeSlack, publora: FakePublora, db) -> None:  # noqa: F811
    saturday_noon = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = FakeClock(saturday_noon)
    app = make_app(slack, publora, db, clock)
    workflow = app.services.workflow
    settings, revision = workflow.settings_with_revision(TEAM)
    hours = PublishingHours(start=time(9), end=time(17), days=[0, 1, 2, 3, 4])
    workflow.save_settings(
        TEAM, settings.model_copy(update={"publishing_hours": hours}), user_id=ANA, revision=revision
    )

    sunday = draft_for(publora, at=saturday_noon + timedelta(days=1))
    errors = app.services.posts.validate(sunday, wants_time=True, tz_name="UTC", team_id=TEAM)
    assert (
        "outside the team's publishing hours (09:00–17:00, Mon, Tue, Wed, Thu, Fri, UTC)"
        in (errors[DraftField.PUBLISH_AT])
    )
    assert "Mon 23 Nov 09:00" in errors[DraftField.PUBLISH_AT]

    # Approved on a Saturday "as soon as approved": it waits for Monday 09:00.
    post_id = app.services.posts.create(
        team_id=TEAM, author_id="U0AUTHOR", author_tz="UTC", draft=draft_for(publora)
    )
    app.services.posts.approve(team_id=TEAM, post_id=post_id, user_id=ANA)
    with db.read() as session:
        post = repo.get_post(session, post_id)
    assert post.publish_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    # Two admins editing at once: the second save, based on the old revision, is refused.
    with pytest.raises(DomainError, match="Someone else saved the settings"):
        workflow.save_settings(TEAM, settings, user_id=ANA, revision=revision)
    assert workflow.settings(TEAM).publishing_hours == hours


def test_a_decision_reads_the_posts_records_once_and_tells_thread_and_author(
    slack: FakeSlack,  # noqa: F811
    publora: FakePublora,  # noqa: F811
    db: Database,
) -> None:
    """The approval that completes a post renders its thread reply and the author's DM from the records it
    read under the row lock (it used to read them all again, and the version and decisions a third time,
    while holding SQLite's one write lock)."""
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    app = make_app(slack, publora, db, clock)
    post_id = app.services.posts.create(
        team_id=TEAM, author_id="U0AUTHOR", author_tz="UTC", draft=draft_for(publora)
    )
    app.outbox.deliver_due()
    selects: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        app.services.posts.approve(team_id=TEAM, post_id=post_id, user_id=ANA)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    for table in ("post_version", "decision", "publish_attempt", "account_result"):
        assert sum(f"FROM {table} " in s for s in selects) == 1, table

    while app.outbox.deliver_due():
        pass
    [root] = slack.messages(APPROVALS)
    thread = "\n".join(m["text"] for m in slack.replies(APPROVALS, root["ts"]))
    assert f"<@{ANA}> approved this post. It will be published" in thread
    assert any(f"Your post #{post_id} was approved" in m["text"] for m in slack.dms("U0AUTHOR"))


def test_state_changes_owed_together_update_the_approval_message_once(
    slack: FakeSlack,  # noqa: F811
    publora: FakePublora,  # noqa: F811
    db: Database,
) -> None:
    """Two edits in a row owe two refreshes of the approval message; the one chat.update that shows the
    latest text fulfils both, and nothing stays owed."""
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    app = make_app(slack, publora, db, clock)
    posts = app.services.posts
    post_id = posts.create(team_id=TEAM, author_id="U0AUTHOR", author_tz="UTC", draft=draft_for(publora))
    app.outbox.deliver_due()
    for version, text in ((1, "Second wording"), (2, "Third wording")):
        posts.edit(
            team_id=TEAM,
            post_id=post_id,
            user_id="U0AUTHOR",
            version=version,
            draft=draft_for(publora, text=text),
        )
    updates_before = len(slack.calls("chat.update"))

    while app.outbox.deliver_due():
        pass
    assert len(slack.calls("chat.update")) == updates_before + 1
    [root] = slack.messages(APPROVALS)
    assert "Third wording" in str(root["blocks"]) and "Second wording" not in str(root["blocks"])
    assert app.outbox.pending_count() == 0
    edits = [m["text"] for m in slack.replies(APPROVALS, root["ts"]) if "edited" in m["text"]]
    assert len(edits) == 2


def test_a_refresh_owed_while_another_is_being_delivered_is_not_lost(
    slack: FakeSlack,  # noqa: F811
    publora: FakePublora,  # noqa: F811
    db: Database,
) -> None:
    """The author edits again just as the approval message is being updated for the first edit: the message
    ends up showing the second edit (the outbox once marked the second refresh as done by the first
    update, which showed the older text)."""
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    app = make_app(slack, publora, db, clock)
    posts = app.services.posts
    post_id = posts.create(team_id=TEAM, author_id="U0AUTHOR", author_tz="UTC", draft=draft_for(publora))
    app.outbox.deliver_due()
    posts.edit(
        team_id=TEAM, post_id=post_id, user_id="U0AUTHOR", version=1, draft=draft_for(publora, text="Second")
    )
    armed = [True]

    def edit_meanwhile(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # When the outbox reads the post's version to render the update, the author's next edit commits.
        if armed[0] and "FROM post_version" in statement:
            armed[0] = False
            editing = threading.Thread(
                target=posts.edit,
                kwargs={
                    "team_id": TEAM,
                    "post_id": post_id,
                    "user_id": "U0AUTHOR",
                    "version": 2,
                    "draft": draft_for(publora, text="Third"),
                },
            )
            editing.start()
            editing.join(timeout=10)

    event.listen(db.engine, "before_cursor_execute", edit_meanwhile)
    try:
        while app.outbox.deliver_due():
            pass
        assert not armed[0]
        while app.outbox.deliver_due():  # what the edit owed, if the wake came after the loop
            pass
    finally:
        event.remove(db.engine, "before_cursor_execute", edit_meanwhile)
    [root] = slack.messages(APPROVALS)
    assert "Third" in str(root["blocks"])
    assert app.outbox.pending_count() == 0
