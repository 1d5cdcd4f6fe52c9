"""The dispatcher and the outbox against the fake Slack and fake Publora over loopback, on both databases,
driven step by step with a controllable clock: lateness, unknown outcomes, outages, Slack rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import OutboxMessage
from bot.domain.model import Account, Draft, MediaItem, PostStatus
from bot.domain.networks import Network
from bot.main import Postgate, build
from bot.providers.base import RetryPolicy
from bot.providers.dry_run import DryRunProvider
from bot.providers.publora import PubloraProvider
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack

APPROVALS, AUTHOR, ANA = "C0APPROVALS", "U0AUTHOR", "U0ANA"
KEY = "sk_test_0123456789.abcdef"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user(AUTHOR, "alex")
    fake.add_user(ANA, "ana")
    fake.add_channel(APPROVALS, "approvals", members=[AUTHOR, ANA])
    yield fake
    fake.stop()


@pytest.fixture
def publora() -> Iterator[FakePublora]:
    fake = FakePublora(publish_delay=0.2).start()
    yield fake
    fake.stop()


def settings_for(slack: FakeSlack, publora: FakePublora, **extra: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": "s3cret-signing",
        "slack_api_url": slack.url,
        "approval_channel": APPROVALS,
        "approvers": [ANA],
        "publora_api_key": KEY,
        "publora_base_url": publora.url,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_app(
    slack: FakeSlack,
    publora: FakePublora,
    db: Database,
    clock: FakeClock,
    *,
    timeout: float = 5.0,
    attempts: int = 2,
) -> Postgate:
    provider = PubloraProvider(
        api_key=KEY,
        base_url=publora.url,
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.02),
        sleep=lambda _: None,
    )
    return build(settings_for(slack, publora), clock=clock, database=db, providers={"publora": provider})


def draft_for(publora: FakePublora, text: str = "Hello", at: datetime | None = None) -> Draft:
    x = publora.add_connection("twitter", "1111", username="acme")
    return Draft(text=text, targets=(Account("publora", x, Network.X, "@acme"),), publish_at=at)


def approve(app: Postgate, draft: Draft) -> int:
    post_id = app.services.posts.create(team_id="T0POSTGATE", author_id=AUTHOR, author_tz="UTC", draft=draft)
    app.outbox.deliver_due()
    app.services.posts.approve(team_id="T0POSTGATE", post_id=post_id, user_id=ANA)
    return post_id


def status_of(db: Database, post_id: int) -> PostStatus:
    with db.read() as session:
        return PostStatus(repo.get_post(session, post_id).status)


def thread_text(slack: FakeSlack) -> str:
    [root] = slack.messages(APPROVALS)
    return "\n".join(m["text"] for m in slack.replies(APPROVALS, root["ts"]))


@pytest.fixture
def real_now_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def test_a_post_due_while_postgate_was_down_goes_out_at_start_with_a_lateness_note(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    app = make_app(slack, publora, db, real_now_clock)
    post_id = approve(app, draft_for(publora, at=real_now_clock.now() + timedelta(minutes=10)))
    real_now_clock.advance(minutes=30)  # Postgate was down past the post's time
    app.dispatcher.run_once()
    app.outbox.deliver_due()
    assert status_of(db, post_id) is PostStatus.SUBMITTED
    assert len(publora.requests("create-post")) == 1
    assert "20 minutes late" in thread_text(slack)


def test_an_answer_lost_after_publora_stored_the_post_is_retried_with_the_same_key_and_creates_one_post(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    app = make_app(slack, publora, db, real_now_clock, timeout=0.5, attempts=1)
    publora.fail_next("create-post", after_processing=True, delay=1.5)
    post_id = approve(app, draft_for(publora))
    app.dispatcher.run_once()
    assert status_of(db, post_id) is PostStatus.APPROVED  # outcome unknown: retry later, same key
    real_now_clock.advance(minutes=1)
    app.dispatcher.run_once()
    assert status_of(db, post_id) is PostStatus.SUBMITTED
    keys = {r["headers"]["idempotency-key"] for r in publora.requests("create-post")}
    assert len(publora.requests("create-post")) == 2 and len(keys) == 1
    assert len(publora.groups()) == 1


def test_a_long_outage_ends_in_a_plain_failure_report_without_duplicates(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    app = make_app(slack, publora, db, real_now_clock)
    publora.set_down(True)
    post_id = approve(app, draft_for(publora))
    for _ in range(10):
        app.dispatcher.run_once()
        real_now_clock.advance(minutes=15)
    app.outbox.deliver_due()
    assert status_of(db, post_id) is PostStatus.FAILED
    assert "could not reach the provider" in thread_text(slack)
    assert publora.groups() == {}


def test_publishing_is_followed_until_live_and_reported_once(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    app = make_app(slack, publora, db, real_now_clock)
    post_id = approve(app, draft_for(publora))
    app.dispatcher.run_once()
    publora.wait_for(lambda: publora.published())
    real_now_clock.advance(minutes=2)
    app.dispatcher.run_once()
    app.dispatcher.run_once()  # nothing left to do: no second report
    app.outbox.deliver_due()
    assert status_of(db, post_id) is PostStatus.PUBLISHED
    assert thread_text(slack).count("Published.") == 1
    with db.read() as session:
        actions = [e.action for e in repo.list_audit(session, post_id=post_id)]
    assert actions == ["created", "approved", "submitted", "handed_to_provider", "published"]


def test_a_slack_rate_limit_delays_a_message_but_never_drops_it(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    app = make_app(slack, publora, db, real_now_clock)
    slack.fail_next("chat.postMessage", status=429, retry_after=2, times=1)
    app.services.posts.create(
        team_id="T0POSTGATE", author_id=AUTHOR, author_tz="UTC", draft=draft_for(publora)
    )
    app.outbox.deliver_due()
    assert slack.messages(APPROVALS) == []
    with db.read() as session:
        pending = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "approval_request")).one()
    assert pending.next_attempt_at >= real_now_clock.now() + timedelta(seconds=2)
    real_now_clock.advance(seconds=4)
    app.outbox.deliver_due()
    assert len(slack.messages(APPROVALS)) == 1
    assert "waiting for approval" in slack.dms(AUTHOR)[0]["text"]


def test_the_dry_run_provider_reports_published_without_calling_anyone(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    provider = DryRunProvider()
    app = build(
        settings_for(slack, publora, publora_api_key=None, dry_run=True),
        clock=real_now_clock,
        database=db,
        providers={"dry_run": provider},
    )
    [offered] = app.services.accounts.get()
    account = offered.accounts[0]
    post_id = approve(app, Draft(text="Trying it out", targets=(account,), publish_at=None))
    app.dispatcher.run_once()
    real_now_clock.advance(minutes=1)
    app.dispatcher.run_once()
    assert status_of(db, post_id) is PostStatus.PUBLISHED
    assert [p.text for p in provider.posts] == ["Trying it out"]
    assert publora.requests() == []


def test_only_the_approved_version_is_ever_published(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    """Versions are never rewritten; if a stored text changed behind Postgate's back after approval, the
    dispatcher notices at submission, publishes nothing, and says so in the thread."""
    from sqlalchemy import update

    from bot.db.tables import PostVersion

    app = make_app(slack, publora, db, real_now_clock)
    post_id = approve(app, draft_for(publora, text="Approved words"))
    with db.write() as session:
        session.execute(
            update(PostVersion).where(PostVersion.post_id == post_id).values(text="Words nobody approved")
        )
    app.dispatcher.run_once()
    app.outbox.deliver_due()
    assert status_of(db, post_id) is PostStatus.NEEDS_ATTENTION
    assert publora.requests("create-post") == []
    assert "no longer matches what was approved" in thread_text(slack)


def test_a_message_whose_answer_was_lost_is_not_posted_twice(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    """Slack posted it but the answer never arrived (5xx after acting, a timeout, a crash): the retry
    finds the message by its metadata and keeps it, for the approval message, thread replies and DMs."""
    app = make_app(slack, publora, db, real_now_clock)
    draft = draft_for(publora)
    # The approval message and the author's DM are both posted, but both answers are lost.
    slack.fail_next("chat.postMessage", status=500, error="internal_error", times=1, after_processing=True)
    post_id = app.services.posts.create(team_id="T0POSTGATE", author_id=AUTHOR, author_tz="UTC", draft=draft)
    for _ in range(4):
        app.outbox.deliver_due()
        real_now_clock.advance(minutes=1)
    [root] = slack.messages(APPROVALS)
    with db.read() as session:
        assert repo.get_post(session, post_id).message_ts == root["ts"]
    # The thread reply and the author's DM: both posted, both answers lost.
    slack.fail_next("chat.postMessage", status=500, error="internal_error", times=2, after_processing=True)
    app.services.posts.approve(team_id="T0POSTGATE", post_id=post_id, user_id=ANA)
    for _ in range(4):
        app.outbox.deliver_due()
        real_now_clock.advance(minutes=1)
    replies = [m["text"] for m in slack.replies(APPROVALS, root["ts"]) if m["ts"] != root["ts"]]
    assert sum("approved this post" in r for r in replies) == 1
    dms = [m["text"] for m in slack.dms(AUTHOR)]
    assert sum("waiting for approval" in t for t in dms) == 1
    assert sum("was approved" in t for t in dms) == 1
    with db.read() as session:
        rows = list(session.exec(select(OutboxMessage)))
    assert {r.status for r in rows} == {"sent"}


def test_a_thread_for_x_and_threads_via_publora_chains_on_x_and_is_one_joined_post_on_threads(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    # Publora's own text: multi-post chains on Threads are temporarily unavailable (the fake refuses one,
    # as Publora would), single posts work. So X gets the chain and Threads the parts joined into one post.
    x = publora.add_connection("twitter", "1111", username="acme")
    threads = publora.add_connection("threads", "2222", username="acme")
    targets = (
        Account("publora", x, Network.X, "@acme"),
        Account("publora", threads, Network.THREADS, "@acme"),
    )
    app = make_app(slack, publora, db, real_now_clock)
    post_id = approve(app, Draft(text="Big news\n---\nHere is why", targets=targets, publish_at=None))
    app.outbox.deliver_due()
    [root] = slack.messages(APPROVALS)
    assert "the parts are joined into one post (Publora cannot post Threads chains right now)" in str(
        root["blocks"]
    )

    app.dispatcher.run_once()
    publora.wait_for(lambda: len(publora.published()) == 2)
    real_now_clock.advance(minutes=2)
    app.dispatcher.run_once()
    app.outbox.deliver_due()

    sent = {tuple(r["json"]["platforms"]): r["json"]["content"] for r in publora.requests("create-post")}
    assert sent == {(x,): "Big news\n---\nHere is why", (threads,): "Big news\n\nHere is why"}
    assert status_of(db, post_id) is PostStatus.PUBLISHED
    assert "Published." in thread_text(slack)


def test_a_post_whose_publora_copy_lost_its_photo_is_sent_afresh_with_it(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    slack.add_file("F0PHOTO", "launch.png", png, mimetype="image/png", user=AUTHOR)
    at = real_now_clock.now() + timedelta(minutes=10)
    draft = draft_for(publora, at=at)
    photo = MediaItem("launch.png", "image/png", size=len(png), slack_file_id="F0PHOTO")
    app = make_app(slack, publora, db, real_now_clock)
    post_id = approve(app, replace(draft, media=(photo,)))
    real_now_clock.advance(minutes=10)
    # Publora scheduled the post with its photo, but the answers were lost; then the photo went from the
    # scheduled group (someone edited it in Publora), so trusting that group would post text only.
    publora.fail_next("update-post", status=502, after_processing=True, times=2)
    app.dispatcher.run_once()
    [first] = publora.groups()
    publora.remove_media(first)

    for _ in range(3):
        real_now_clock.advance(minutes=1)
        app.dispatcher.run_once()

    assert status_of(db, post_id) is PostStatus.SUBMITTED
    [group_id] = publora.groups()
    assert group_id != first  # the photo-less copy was withdrawn before it could go out
    assert publora.groups()[group_id]["status"] == "scheduled"
    assert [(m["sourceFileName"], m["status"], m["size"]) for m in publora.media(group_id)] == [
        ("launch.png", "ready", len(png))
    ]


def test_the_link_reaches_the_thread_seconds_after_the_post_went_live(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    app = make_app(slack, publora, db, real_now_clock)
    post_id = approve(app, draft_for(publora))
    app.dispatcher.run_once()
    publora.wait_for(lambda: publora.published())  # live at the provider at its time

    real_now_clock.advance(seconds=3)
    app.dispatcher.run_once()
    app.outbox.deliver_due()

    assert status_of(db, post_id) is PostStatus.PUBLISHED
    assert "Published." in thread_text(slack) and "https://x.com/i/web/status/" in thread_text(slack)


def test_a_post_not_live_yet_is_checked_again_at_widening_intervals_up_to_the_usual_one(
    slack: FakeSlack, publora: FakePublora, db: Database, real_now_clock: FakeClock
) -> None:
    publora.publish_delay = 3600  # stays scheduled at the provider
    app = make_app(slack, publora, db, real_now_clock)
    approve(app, draft_for(publora))
    app.dispatcher.run_once()
    start = real_now_clock.now()
    checks: list[float] = []
    for _ in range(180):  # three minutes, a second at a time
        real_now_clock.advance(seconds=1)
        before = len(publora.requests("get-post"))
        app.dispatcher.run_once()
        if len(publora.requests("get-post")) > before:
            checks.append((real_now_clock.now() - start).total_seconds())

    gaps = [b - a for a, b in zip([0.0, *checks], checks, strict=False)]
    assert gaps[0] <= 5, checks  # the first check comes seconds after the post's time, not 30 s later
    assert gaps == sorted(gaps) and max(gaps) == 30, checks  # widening, never beyond the usual interval
    assert all(gap == 30 for gap in gaps[-3:]), checks
    assert len(checks) <= 10, checks
