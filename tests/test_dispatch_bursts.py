"""The dispatcher under a burst of due posts: due-time order, due posts before status checks, a bounded
number of provider calls at once, and a rate budget kept for due posts. Against fake Slack and fake
Publora/Publer over loopback, on both databases, with a controllable clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.db import repo
from bot.db.engine import Database
from bot.domain.model import Account, Draft, PostStatus
from bot.domain.networks import Network
from bot.main import Postgate, build
from bot.providers.base import Provider, RetryPolicy
from bot.providers.publer import PublerProvider
from bot.providers.publora import PubloraProvider
from bot.providers.ratelimit import RateLimit, RateLimiter
from bot.scheduler.dispatcher import Dispatcher, DispatchTuning
from bot.services.media import SlackMedia
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakes.publer import FakePubler
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.test_dispatch import publora, slack

__all__ = ["publora", "slack"]  # the fixtures, used by name

APPROVALS, AUTHOR, ANA = "C0APPROVALS", "U0AUTHOR", "U0ANA"
PUBLORA_KEY = "sk_test_0123456789.abcdef"
PUBLER_KEY = "publer-test-key-0123456789abcdef"


@pytest.fixture
def now_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def make_app(slack: FakeSlack, db: Database, clock: FakeClock, provider: Provider, **extra: Any) -> Postgate:
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": "s3cret-signing",
        "slack_api_url": slack.url,
        "approval_channel": APPROVALS,
        "approvers": [ANA],
        **extra,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    return build(settings, clock=clock, database=db, providers={provider.name: provider})


def dispatcher(app: Postgate, slack: FakeSlack, **tuning: Any) -> Dispatcher:
    """A dispatcher of `app`'s own parts with its own tuning (a narrower pool, a smaller batch)."""
    return Dispatcher(
        db=app.db,
        providers=app.providers,
        accounts=app.services.accounts,
        clock=app.clock,
        owner="dispatcher-under-test",
        media=SlackMedia(client=WebClient(token=slack.bot_token, base_url=slack.url), token=slack.bot_token),
        tuning=DispatchTuning(**tuning),
    )


def approved(app: Postgate, text: str, account: Account, at: datetime | None) -> int:
    draft = Draft(text=text, targets=(account,), publish_at=at)
    post_id = app.services.posts.create(team_id="T0POSTGATE", author_id=AUTHOR, author_tz="UTC", draft=draft)
    app.services.posts.approve(team_id="T0POSTGATE", post_id=post_id, user_id=ANA)
    return post_id


def status_of(db: Database, post_id: int) -> PostStatus:
    with db.read() as session:
        return PostStatus(repo.get_post(session, post_id).status)


def publora_provider(publora: FakePublora, **options: Any) -> PubloraProvider:
    return PubloraProvider(
        api_key=PUBLORA_KEY, base_url=publora.url, retry=RetryPolicy(attempts=1), **options
    )


def test_posts_claimed_together_reach_the_provider_in_due_time_order(
    slack: FakeSlack, publora: FakePublora, db: Database, now_clock: FakeClock
) -> None:
    app = make_app(slack, db, now_clock, publora_provider(publora))
    x = Account("publora", publora.add_connection("twitter", "1111", username="acme"), Network.X, "@acme")
    start = now_clock.now() + timedelta(minutes=5)
    # Drafted in the opposite order of their times, so the order of the rows is not the order of the times.
    for minute in (6, 2, 5, 1, 4, 3):
        approved(app, f"Due at minute {minute}", x, start + timedelta(minutes=minute))
    now_clock.advance(minutes=20)

    dispatcher(app, slack, workers=1).run_once()

    sent = [r["json"]["content"] for r in publora.requests("create-post")]
    assert sent == [f"Due at minute {m}" for m in range(1, 7)]


def test_due_posts_go_before_status_checks_of_earlier_posts(
    slack: FakeSlack, publora: FakePublora, db: Database, now_clock: FakeClock
) -> None:
    app = make_app(slack, db, now_clock, publora_provider(publora))
    x = Account("publora", publora.add_connection("twitter", "1111", username="acme"), Network.X, "@acme")
    first = approved(app, "Already out", x, None)
    burst = dispatcher(app, slack, batch=3, workers=1, follow_poll=timedelta(seconds=30))
    burst.run_once()
    assert status_of(db, first) is PostStatus.SUBMITTED
    for n in range(7):  # more than two batches
        approved(app, f"Due together {n}", x, now_clock.now() + timedelta(minutes=2))
    now_clock.advance(minutes=3)  # the first post's status check is due as well

    burst.run_once()

    assert [r["endpoint"] for r in publora.requests()] == ["create-post"] * 8 + ["get-post"]


class CountingTransport(httpx.HTTPTransport):
    """The real HTTP transport, counting how many requests are in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            return super().handle_request(request)
        finally:
            with self._lock:
                self.in_flight -= 1


def test_no_more_provider_calls_at_once_than_workers(
    slack: FakeSlack, publora: FakePublora, db: Database, now_clock: FakeClock
) -> None:
    transport = CountingTransport()
    app = make_app(slack, db, now_clock, publora_provider(publora, transport=transport))
    x = Account("publora", publora.add_connection("twitter", "1111", username="acme"), Network.X, "@acme")
    publora.set_processing_delay("create-post", 0.1)
    ids = [approved(app, f"Post {n}", x, None) for n in range(8)]

    dispatcher(app, slack, workers=2).run_once()

    assert [status_of(db, i) for i in ids] == [PostStatus.SUBMITTED] * 8
    assert len(publora.requests("create-post")) == 8
    assert 1 <= transport.most <= 2


def test_the_configured_number_of_provider_calls_run_at_once(
    slack: FakeSlack, publora: FakePublora, db: Database, now_clock: FakeClock
) -> None:
    """POSTGATE_DISPATCH_WORKERS widens the app's own dispatcher beyond the default of 4, and bounds it."""
    transport = CountingTransport()
    app = make_app(slack, db, now_clock, publora_provider(publora, transport=transport), dispatch_workers=6)
    x = Account("publora", publora.add_connection("twitter", "1111", username="acme"), Network.X, "@acme")
    publora.set_processing_delay("create-post", 0.3)
    ids = [approved(app, f"Post {n}", x, None) for n in range(12)]

    app.dispatcher.run_once()

    assert [status_of(db, i) for i in ids] == [PostStatus.SUBMITTED] * 12
    assert 4 < transport.most <= 6


class Monotonic:
    """The rate limiter's clock: moved by hand, and by the limiter's own sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_status_checks_leave_the_budget_to_a_post_waiting_for_it(
    slack: FakeSlack, db: Database, now_clock: FakeClock
) -> None:
    mono = Monotonic()
    limiter = RateLimiter(
        RateLimit(2, 60.0), provider="Publer", monotonic=mono, sleep=mono.sleep, longest_wait=15.0
    )
    with FakePubler(api_key=PUBLER_KEY, job_delay=0.01, publish_delay=0.01, tick=0.01) as publer:
        provider = PublerProvider(
            api_key=PUBLER_KEY,
            workspace_id=publer.workspace_id,
            base_url=publer.url,
            retry=RetryPolicy(attempts=1),
            limiter=limiter,
            clock=now_clock,
        )
        app = make_app(slack, db, now_clock, provider, follow_poll_seconds=20)
        x = Account("publer", publer.add_account("twitter", "@acme"), Network.X, "@acme")
        app.services.accounts.refresh()  # long before: its request is out of the window
        mono.now += 1000
        early = approved(app, "Early post", x, None)
        app.dispatcher.run_once()  # its create takes the first of the two requests a minute
        assert status_of(db, early) is PostStatus.SUBMITTED

        now_clock.advance(seconds=1)
        mono.now += 1
        second = approved(app, "Second post", x, None)
        third = approved(app, "Third post", x, None)
        app.dispatcher.run_once()  # the second takes the last request; the third must wait a minute
        assert status_of(db, second) is PostStatus.SUBMITTED
        assert status_of(db, third) is PostStatus.APPROVED

        # The early post's status check is due, and a request frees within the wait a check may take:
        # it is the third post's, so the check is not made.
        now_clock.advance(seconds=49)
        mono.now += 49
        app.dispatcher.run_once()
        assert [r["endpoint"] for r in publer.requests() if r["endpoint"] != "accounts"] == [
            "posts/schedule/publish",
            "posts/schedule/publish",
        ]

        now_clock.advance(seconds=12)
        mono.now += 12
        app.dispatcher.run_once()
        assert status_of(db, third) is PostStatus.SUBMITTED
        creates = [r["json"] for r in publer.requests("posts/schedule/publish")]
        assert len(creates) == 3


def test_once_shutdown_begins_a_run_claims_nothing_more(
    slack: FakeSlack, publora: FakePublora, db: Database, now_clock: FakeClock
) -> None:
    app = make_app(slack, db, now_clock, publora_provider(publora))
    x = Account("publora", publora.add_connection("twitter", "1111", username="acme"), Network.X, "@acme")
    post_id = approved(app, "Due as Postgate stops", x, None)

    app.dispatcher.stop_claiming()
    app.dispatcher.run_once()

    assert status_of(db, post_id) is PostStatus.APPROVED  # the next start sends it
    assert publora.requests("create-post") == []


@pytest.mark.parametrize("list_shape", ["reference", "quickstart"])
def test_a_lost_publer_answer_is_found_pages_deep_and_the_post_is_created_once(
    slack: FakeSlack, db: Database, now_clock: FakeClock, list_shape: str
) -> None:
    # Publer's guide lists posts as {posts, total} without page counts, its reference with them: in both,
    # an earlier try hidden behind pages of the same account's newer posts must be found, not sent again.
    with FakePubler(
        api_key=PUBLER_KEY, job_delay=0.01, publish_delay=0.01, tick=0.01, per_page=5, list_shape=list_shape
    ) as publer:
        provider = PublerProvider(
            api_key=PUBLER_KEY,
            workspace_id=publer.workspace_id,
            base_url=publer.url,
            retry=RetryPolicy(attempts=1),
            clock=now_clock,
        )
        app = make_app(slack, db, now_clock, provider)
        x = Account("publer", publer.add_account("twitter", "@acme"), Network.X, "@acme")
        later = now_clock.now() + timedelta(hours=1)
        for n in range(12):  # newer posts are listed first: the lost one is on the third page
            publer.add_post(x.account_id, f"Another post {n}", scheduled_at=later + timedelta(minutes=n))
        publer.fail_next("posts/schedule/publish", status=502, after_processing=True)
        post_id = approved(app, "Launch day", x, None)

        app.dispatcher.run_once()  # the create reached Publer, its answer did not reach Postgate
        publer.wait_for(lambda: publer.published(x.account_id))
        assert status_of(db, post_id) is PostStatus.APPROVED
        now_clock.advance(minutes=5)
        app.dispatcher.run_once()

        assert status_of(db, post_id) in (PostStatus.SUBMITTED, PostStatus.PUBLISHED)
        assert len(publer.requests("posts/schedule/publish")) == 1
        assert [p["text"] for p in publer.posts()].count("Launch day") == 1
        assert len(publer.requests("posts")) >= 3
