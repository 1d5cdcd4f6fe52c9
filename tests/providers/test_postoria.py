"""PostoriaProvider against FakePostoria over loopback HTTP: accounts, queues, media, the three publish
modes, state, finding an earlier try, cancel, failures, the rate limiter, and the key staying secret."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.model import Account, AccountOutcome
from bot.domain.networks import Network
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTooLate,
    ProviderUnavailable,
)
from bot.providers.base import MediaFile, RetryPolicy, SubmitRequest
from bot.providers.postoria import PostoriaProvider
from bot.providers.ratelimit import RateLimit, RateLimiter
from tests.conftest import FakeClock
from tests.fakes.postoria import FakePostoria

KEY = "pst_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


def nap(seconds: float) -> None:
    """A short real pause for media polling, so the fake's processing timer can run."""
    time.sleep(min(seconds, 0.01))


@pytest.fixture
def fake() -> Iterator[FakePostoria]:
    with FakePostoria(api_key=KEY, publish_delay=0.05, media_delay=0.05, tick=0.01) as server:
        yield server


def make_provider(fake: FakePostoria, **overrides: Any) -> PostoriaProvider:
    options: dict[str, Any] = {
        "api_key": KEY,
        "workspace_id": str(fake.workspace_id),
        "base_url": fake.url,
        "retry": FAST,
        "sleep": lambda _: None,
        "media_poll_interval": 0.01,
    }
    options.update(overrides)
    return PostoriaProvider(**options)


@pytest.fixture
def provider(fake: FakePostoria) -> Iterator[PostoriaProvider]:
    with make_provider(fake, sleep=nap) as client:
        yield client


def account(row: dict[str, Any]) -> Account:
    network = {"x": Network.X, "instagram": Network.INSTAGRAM, "linkedin": Network.LINKEDIN}[row["network"]]
    return Account("postoria", str(row["id"]), network, row["name"], row["url"])


def request(
    *rows: dict[str, Any],
    text: str = "Launch day",
    at: datetime | None = None,
    immediate: bool = False,
    queue_id: str | None = None,
    media: tuple[MediaFile, ...] = (),
    first_comment: str | None = None,
) -> SubmitRequest:
    return SubmitRequest(
        text=text,
        account_ids=tuple(str(row["id"]) for row in rows),
        publish_at=at or datetime.now(UTC),
        idempotency_key="unused-by-postoria",
        media=media,
        immediate=immediate,
        queue_id=queue_id,
        accounts=tuple(account(row) for row in rows),
        first_comment=first_comment,
    )


def image(tmp_path: Path, name: str = "photo.png", mime: str = "image/png") -> MediaFile:
    path = tmp_path / "download.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    return MediaFile(name=name, mime_type=mime, path=path)


def created(fake: FakePostoria) -> dict[str, Any]:
    [sent] = fake.requests("create-post")
    body: dict[str, Any] = sent["json"]
    return body


def wait_posted(fake: FakePostoria, post_id: str) -> None:
    fake.wait_for(lambda: fake.posts()[int(post_id)]["status"] == "posted", timeout=5)


def assert_no_secret(error: BaseException, caplog: pytest.LogCaptureFixture | None = None) -> None:
    assert KEY not in str(error) and KEY not in repr(error)
    if isinstance(error, ProviderError):
        assert KEY not in error.message
    if caplog is not None:
        assert KEY not in caplog.text


# -- accounts, queues, credentials ------------------------------------------------------------------


def test_accounts_map_networks_skip_unsupported_ones_and_follow_cursors() -> None:
    with FakePostoria(api_key=KEY, page_size=2) as paged, make_provider(paged) as client:
        x = paged.add_account("x", "Acme on X", "https://x.com/acme")
        li = paged.add_account("linked_in", "Acme")
        paged.add_account("pinterest", "Acme pins")
        yt = paged.add_account("you_tube", "Acme videos")
        paged.add_account("google_business_profile", "Acme shop")
        tt = paged.add_account("tik_tok", "acme")
        bsky = paged.add_account("bluesky", "acme.bsky.social")

        accounts = client.list_accounts()

        assert [(a.account_id, a.network, a.name, a.profile_url) for a in accounts] == [
            (str(x["id"]), Network.X, "Acme on X", "https://x.com/acme"),
            (str(li["id"]), Network.LINKEDIN, "Acme", None),
            (str(yt["id"]), Network.YOUTUBE, "Acme videos", None),
            (str(tt["id"]), Network.TIKTOK, "acme", None),
            (str(bsky["id"]), Network.BLUESKY, "acme.bsky.social", None),
        ]
        assert {a.provider for a in accounts} == {"postoria"}
        sent = paged.requests("social-accounts")
        assert len(sent) == 4  # seven accounts, two per page
        assert [r["query"].get("cursor") for r in sent] == [None, ["cur_2"], ["cur_4"], ["cur_6"]]
        assert sent[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_a_repeated_cursor_ends_the_listing(
    fake: FakePostoria, provider: PostoriaProvider, caplog: pytest.LogCaptureFixture
) -> None:
    x = fake.add_account("x", "Acme on X")
    stuck = {"data": [x], "pagination": {"has_more": True, "next_cursor": "cur_0"}}
    fake.fail_next("social-accounts", status=200, body=stuck, times=2)

    accounts = provider.list_accounts()

    assert [a.account_id for a in accounts] == [str(x["id"])]
    assert len(fake.requests("social-accounts")) == 2
    assert "pagination of" in caplog.text and "did not advance" in caplog.text


def test_queues(fake: FakePostoria, provider: PostoriaProvider) -> None:
    weekday = fake.add_queue("Weekday slots")
    paused = fake.add_queue("Holidays", paused=True)

    queues = provider.list_queues()

    assert [(q.provider, q.queue_id, q.name, q.paused) for q in queues] == [
        ("postoria", str(weekday["id"]), "Weekday slots", False),
        ("postoria", str(paused["id"]), "Holidays", True),
    ]


def test_check_credentials_names_the_workspace_and_counts_accounts(
    fake: FakePostoria, provider: PostoriaProvider
) -> None:
    fake.add_account("x", "Acme on X")
    fake.add_account("linkedin", "Acme")
    fake.add_account("pinterest", "Acme pins")

    assert provider.check_credentials() == (
        f"The key reaches workspace Acme ({fake.workspace_id}) with 2 social accounts (plus 1 on networks "
        "Postgate cannot publish to: pinterest); Postoria does not report connection health, so an "
        "expired connection shows up only as a failed post."
    )
    assert [r["endpoint"] for r in fake.requests()] == ["workspaces", "social-accounts"]


def test_check_credentials_with_a_workspace_the_key_cannot_see(fake: FakePostoria) -> None:
    fake.add_workspace("Side project")
    with make_provider(fake, workspace_id="4711") as client, pytest.raises(ProviderAuthError) as caught:
        client.check_credentials()
    assert caught.value.message == (
        "workspace 4711 is not reachable with this key; the key can see: Acme, Side project"
    )


def test_check_credentials_with_a_bad_key(fake: FakePostoria, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        make_provider(fake, api_key="pst_live_revoked") as client,
        pytest.raises(ProviderAuthError) as caught,
    ):
        client.check_credentials()
    assert caught.value.status == 401 and caught.value.code == "invalid_api_key"
    assert caught.value.message == "The API key is missing, invalid or revoked"
    assert not caught.value.retryable
    assert len(fake.requests("workspaces")) == 1
    assert "pst_live_revoked" not in caplog.text


# -- submit -----------------------------------------------------------------------------------------


def test_publish_now(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")

    receipt = provider.submit(request(x, li, immediate=True))

    assert created(fake) == {
        "social_account_ids": [x["id"], li["id"]],
        "caption": "Launch day",
        "media_ids": [],
        "publish_mode": "publish_now",
    }
    assert list(fake.posts()) == [int(receipt.external_id)]
    assert receipt.effective_time is not None
    assert abs(receipt.effective_time - datetime.now(UTC)) < timedelta(minutes=1)


COMMENT = "Sign up for the webinar: https://example.com/webinar"


def test_a_first_comment_is_sent_once_for_every_account_without_a_delay(
    fake: FakePostoria, provider: PostoriaProvider
) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")

    receipt = provider.submit(request(x, li, immediate=True, first_comment=COMMENT))

    assert created(fake) == {
        "social_account_ids": [x["id"], li["id"]],
        "caption": "Launch day",
        "media_ids": [],
        "first_comment": COMMENT,
        "publish_mode": "publish_now",
    }
    post_id = int(receipt.external_id)
    assert fake.first_comments() == {post_id: {"first_comment": COMMENT, "comment_delay": None}}
    wait_posted(fake, receipt.external_id)
    comments = fake.wait_for(lambda: len(fake.posted_comments()) == 2 and fake.posted_comments())
    assert sorted((c["account_id"], c["text"]) for c in comments) == sorted(
        [(x["id"], COMMENT), (li["id"], COMMENT)]
    )


@pytest.mark.parametrize("comment", [None, "", "  \n "])
def test_without_a_comment_no_comment_field_is_sent(
    fake: FakePostoria, provider: PostoriaProvider, comment: str | None
) -> None:
    x = fake.add_account("x", "Acme on X")

    receipt = provider.submit(request(x, immediate=True, first_comment=comment))

    assert not {"first_comment", "comment_delay"} & set(created(fake))
    wait_posted(fake, receipt.external_id)
    assert fake.first_comments() == {} and fake.posted_comments() == []


def test_schedule_sends_utc_with_milliseconds(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    brussels = datetime(2031, 3, 1, 16, 0, 0, 123456).astimezone()  # any zone: sent as UTC

    receipt = provider.submit(request(x, at=brussels))

    body = created(fake)
    assert body["publish_mode"] == "schedule"
    expected = brussels.astimezone(UTC)
    assert body["scheduled_time"] == expected.strftime("%Y-%m-%dT%H:%M:%S.123Z")
    assert receipt.effective_time == expected.replace(microsecond=0)
    assert fake.posts()[int(receipt.external_id)]["status"] == "scheduled"


def test_queue_takes_the_queues_next_slot(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    slot = datetime(2031, 4, 2, 9, 0, tzinfo=UTC)
    queue = fake.add_queue("Mornings", next_slot=slot)

    receipt = provider.submit(request(x, queue_id=str(queue["id"]), immediate=True))

    body = created(fake)
    assert body["publish_mode"] == "queue" and body["queue_id"] == queue["id"]
    assert "scheduled_time" not in body
    assert receipt.effective_time == slot
    assert fake.posts()[int(receipt.external_id)]["status"] == "queued"


def test_image_upload_keeps_the_key_away_from_storage(
    fake: FakePostoria, provider: PostoriaProvider, tmp_path: Path
) -> None:
    x = fake.add_account("x", "Acme on X")
    photo = image(tmp_path)

    receipt = provider.submit(request(x, immediate=True, media=(photo,)))

    assert fake.requests("create-upload")[0]["json"] == {"name": "photo.png", "content_type": "image/png"}
    [put] = fake.storage_puts()
    assert put["body"] == photo.open().read()
    assert put["content_type"] == "image/png"
    assert put["authorization"] is None
    [storage] = fake.requests("storage")
    assert all(KEY not in value for value in storage["headers"].values())
    [media_id] = fake.media()
    assert fake.media()[media_id]["status"] == "ready"
    assert created(fake)["media_ids"] == [media_id]
    order = [r["endpoint"] for r in fake.requests()]
    assert order[:3] == ["create-upload", "storage", "complete-media"]
    assert order[-1] == "create-post" and set(order[3:-1]) == {"get-media"}
    wait_posted(fake, receipt.external_id)
    assert fake.published()[0]["media_ids"] == [media_id]


def test_upload_names_get_the_extension_postoria_expects(
    fake: FakePostoria, provider: PostoriaProvider, tmp_path: Path
) -> None:
    x = fake.add_account("x", "Acme on X")
    provider.submit(request(x, immediate=True, media=(image(tmp_path, "IMG_0042", "image/jpeg"),)))
    assert fake.requests("create-upload")[0]["json"] == {"name": "IMG_0042.jpg", "content_type": "image/jpeg"}


def test_an_unsupported_file_type_is_refused_before_anything_is_sent(
    fake: FakePostoria, provider: PostoriaProvider, tmp_path: Path
) -> None:
    x = fake.add_account("x", "Acme on X")
    with pytest.raises(ProviderRejected, match=r"does not take image/bmp files \(scan.bmp\)"):
        provider.submit(request(x, immediate=True, media=(image(tmp_path, "scan.bmp", "image/bmp"),)))
    assert fake.requests() == []


def test_url_import(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    chart = MediaFile(name="chart.png", mime_type="image/png", url="https://cdn.example/chart.png")

    provider.submit(request(x, immediate=True, media=(chart,)))

    assert fake.requests("import-media")[0]["json"] == {"url": "https://cdn.example/chart.png"}
    assert fake.requests("create-upload") == []
    assert created(fake)["media_ids"] == list(fake.media())


def test_media_processing_failure_is_a_plain_refusal(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    fake.fail_media_url(
        "https://cdn.example/chart.png", code="unsupported_file", message="The file is not an image"
    )
    chart = MediaFile(name="chart.png", mime_type="image/png", url="https://cdn.example/chart.png")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, immediate=True, media=(chart,)))

    assert caught.value.message == "Postoria could not process chart.png: The file is not an image"
    assert not caught.value.retryable
    assert fake.requests("create-post") == []


def test_media_still_processing_after_media_wait_is_worth_a_later_try(fake: FakePostoria) -> None:
    fake.media_delay = 3600
    x = fake.add_account("x", "Acme on X")
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    chart = MediaFile(name="chart.png", mime_type="image/png", url="https://cdn.example/chart.png")
    with (
        make_provider(fake, clock=clock, sleep=sleep, media_poll_interval=5.0, media_wait=60.0) as client,
        pytest.raises(ProviderUnavailable) as caught,
    ):
        client.submit(request(x, immediate=True, media=(chart,)))

    assert caught.value.retryable
    assert (
        caught.value.message
        == "Postoria was still processing chart.png after 60 s; trying again later may work"
    )
    assert sum(slept) == 60
    # Backing off: well under the 12 polls a flat 5 s interval would cost.
    assert len(fake.requests("get-media")) == len(slept) < 8
    assert fake.requests("create-post") == []


# -- state ------------------------------------------------------------------------------------------


def test_results_become_published_links_and_per_account_errors(
    fake: FakePostoria, provider: PostoriaProvider
) -> None:
    x = fake.add_account("x", "Acme on X")
    ig = fake.add_account("instagram", "Acme on Instagram")
    fake.fail_account(ig["id"], "Instagram requires an image or video")
    submission = request(x, ig, immediate=True)
    receipt = provider.submit(submission)
    wait_posted(fake, receipt.external_id)

    state = provider.fetch_state(receipt.external_id, submission)

    assert state.done
    assert [(r.account_id, r.network, r.outcome, r.url, r.error) for r in state.results] == [
        (
            str(x["id"]),
            Network.X,
            AccountOutcome.PUBLISHED,
            f"https://x.example/{receipt.external_id}-{x['id']}",
            None,
        ),
        (
            str(ig["id"]),
            Network.INSTAGRAM,
            AccountOutcome.FAILED,
            None,
            "Postoria said: Instagram requires an image or video.",
        ),
    ]


def test_a_scheduled_post_is_pending(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    submission = request(x, at=datetime.now(UTC) + timedelta(hours=2))
    receipt = provider.submit(submission)

    state = provider.fetch_state(receipt.external_id, submission)

    assert [(r.outcome, r.url, r.error) for r in state.results] == [(AccountOutcome.PENDING, None, None)]
    assert not state.done


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("posted", "Postoria finished the post but reported nothing for this account."),
        ("failed", "Postoria marked the post failed without a reason for this account."),
    ],
)
def test_a_finished_post_without_a_result_for_an_account(
    fake: FakePostoria, provider: PostoriaProvider, status: str, error: str
) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")
    link = "https://x.example/1"
    body = {
        "id": 1,
        "status": status,
        "results": [{"account_id": x["id"], "link_to_post": link, "error": None}],
    }
    fake.fail_next("get-post", status=200, body=body)

    state = provider.fetch_state("1", request(x, li))

    assert [(r.outcome, r.url, r.error) for r in state.results] == [
        (AccountOutcome.PUBLISHED, link, None),
        (AccountOutcome.FAILED, None, error),
    ]


def test_a_post_deleted_in_postoria_fails_every_account(
    fake: FakePostoria, provider: PostoriaProvider
) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")

    state = provider.fetch_state("4242", request(x, li))

    assert state.done
    assert {(r.outcome, r.error) for r in state.results} == {
        (AccountOutcome.FAILED, "the post no longer exists in Postoria (deleted there?)")
    }


# -- finding an earlier try -------------------------------------------------------------------------


def test_find_submission_finds_the_earlier_try(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")
    sent_at = datetime.now(UTC)
    receipt = provider.submit(request(x, li, text="Launch  day\nis here", immediate=True))

    found = provider.find_submission(
        request(x, li, text="Launch day is here", immediate=True), sent_at=sent_at
    )

    assert found is not None and found.external_id == receipt.external_id
    [search] = fake.requests("list-posts")
    assert search["query"]["account_ids"] == [str(x["id"]), str(li["id"])]
    assert set(search["query"]) == {"account_ids", "limit", "date_from", "date_to"}


def test_find_submission_says_none_when_nothing_was_stored(
    fake: FakePostoria, provider: PostoriaProvider
) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")
    provider.submit(request(x, text="Another post", immediate=True))
    provider.submit(request(x, text="Launch day", immediate=True))  # same text, but only one of the accounts

    assert provider.find_submission(request(x, li, immediate=True), sent_at=datetime.now(UTC)) is None
    window, recent = fake.requests("list-posts")
    assert "date_from" in window["query"]
    assert set(recent["query"]) == {"account_ids", "limit"}  # the newest posts, without dates


def test_find_submission_falls_back_to_the_newest_posts(
    fake: FakePostoria, provider: PostoriaProvider
) -> None:
    x = fake.add_account("x", "Acme on X")
    receipt = provider.submit(request(x, immediate=True))
    # As if Postoria listed the publish_now post with a date outside the window (UNCONFIRMED in §6).
    fake.fail_next("list-posts", status=200, body={"data": [], "pagination": {"has_more": False}})

    found = provider.find_submission(request(x, immediate=True), sent_at=datetime.now(UTC))

    assert found is not None and found.external_id == receipt.external_id
    assert len(fake.requests("list-posts")) == 2


# -- cancel -----------------------------------------------------------------------------------------


def test_cancel_deletes_a_scheduled_post(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    submission = request(x, at=datetime.now(UTC) + timedelta(hours=1))
    receipt = provider.submit(submission)

    provider.cancel(receipt.external_id, submission)

    assert fake.posts() == {}
    assert len(fake.requests("delete-post")) == 1
    provider.cancel(receipt.external_id, submission)  # already gone: nothing to do
    assert len(fake.requests("delete-post")) == 1


def test_cancel_refuses_a_published_post(fake: FakePostoria, provider: PostoriaProvider) -> None:
    x = fake.add_account("x", "Acme on X")
    submission = request(x, immediate=True)
    receipt = provider.submit(submission)
    wait_posted(fake, receipt.external_id)

    with pytest.raises(ProviderTooLate, match="already live") as caught:
        provider.cancel(receipt.external_id, submission)

    assert caught.value.live
    assert fake.requests("delete-post") == []


def test_cancel_refuses_while_postoria_is_publishing() -> None:
    with FakePostoria(api_key=KEY, publish_delay=30, tick=0.01) as slow, make_provider(slow) as client:
        x = slow.add_account("x", "Acme on X")
        submission = request(x, immediate=True)
        receipt = client.submit(submission)

        with pytest.raises(ProviderTooLate) as caught:
            client.cancel(receipt.external_id, submission)

        assert caught.value.message == "Postoria is publishing it right now; it may still go out"
        assert not caught.value.live
        assert slow.requests("delete-post") == []


# -- failures ---------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("case", "expected", "creates"),
    [
        ("401", ProviderAuthError, 1),
        ("403", ProviderAuthError, 1),
        ("404", ProviderRejected, 1),
        ("400", ProviderRejected, 1),
        ("429", ProviderRateLimited, 3),
        ("500", ProviderOutcomeUnknown, 1),
        ("502 stored", ProviderOutcomeUnknown, 1),
        ("timeout", ProviderOutcomeUnknown, 1),
        ("bad json", ProviderOutcomeUnknown, 1),
        ("refused", ProviderUnavailable, 0),
    ],
)
def test_create_failures(
    fake: FakePostoria,
    case: str,
    expected: type[ProviderError],
    creates: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    x = fake.add_account("x", "Acme on X")
    accounts: tuple[dict[str, Any], ...] = (x,)
    sleeps: list[float] = []
    options: dict[str, Any] = {"sleep": sleeps.append, "timeout": 0.25}
    if case == "401":
        options["api_key"] = "pst_live_other"
    elif case == "403":
        fake.fail_next("create-post", status=403)
    elif case == "404":
        options["workspace_id"] = "4711"
    elif case == "400":
        accounts = (x, {"id": 4242, "network": "x", "name": "Gone", "url": None})
    elif case == "429":
        fake.fail_next("create-post", status=429, times=3)
    elif case == "500":
        fake.fail_next("create-post", status=500)
    elif case == "502 stored":
        fake.fail_next("create-post", status=502, after_processing=True)
    elif case == "timeout":
        fake.fail_next("create-post", after_processing=True, delay=1.0)
    elif case == "bad json":
        fake.fail_next("create-post", status=201, raw_body=b'{"id": 5', after_processing=True)
    elif case == "refused":
        options["base_url"] = f"http://127.0.0.1:{closed_port()}/v1"

    with make_provider(fake, **options) as client, pytest.raises(ProviderError) as caught:
        client.submit(request(*accounts, immediate=True))

    error = caught.value
    assert type(error) is expected, error
    assert str(error).startswith("Postoria: ")
    assert len(fake.requests("create-post")) == creates
    assert_no_secret(error, caplog)
    if case == "403":
        assert (
            error.message
            == "the Postoria plan or key does not allow this: Your plan does not include API access"
        )
    if case == "400":
        assert error.message == "Unknown social account 4242 (field social_account_ids)"
        assert fake.posts() == {}
    if case == "404":
        assert error.message == "Workspace 4711 not found (field workspace_id)"
    if case == "429":
        assert isinstance(error, ProviderRateLimited) and error.retry_after == 1.0
        assert sleeps == [1.0, 1.0]
    if case in ("500", "502 stored", "timeout", "bad json"):
        assert sleeps == []  # a create that may have arrived is never sent again
    if case == "refused":
        assert len(sleeps) == FAST.attempts - 1  # provably never sent, so retried


def test_a_429_on_create_is_retried_and_creates_one_post(fake: FakePostoria) -> None:
    x = fake.add_account("x", "Acme on X")
    fake.fail_next("create-post", status=429)
    sleeps: list[float] = []
    with make_provider(fake, sleep=sleeps.append) as client:
        receipt = client.submit(request(x, immediate=True))
    assert len(fake.requests("create-post")) == 2 and sleeps == [1.0]
    assert list(fake.posts()) == [int(receipt.external_id)]


def test_reads_retry_a_5xx(fake: FakePostoria, provider: PostoriaProvider) -> None:
    fake.add_queue("Mornings")
    fake.fail_next("queues", status=503)
    assert [q.name for q in provider.list_queues()] == ["Mornings"]
    with make_provider(fake) as client:
        fake.set_down(True)
        with pytest.raises(ProviderUnavailable):
            client.list_queues()
    assert len(fake.requests("queues")) == 2 + FAST.attempts


# -- rate limit -------------------------------------------------------------------------------------


def test_the_limiter_keeps_a_burst_under_postorias_limit(tmp_path: Path) -> None:
    # The fake's window is a little shorter than the limiter's so scheduling jitter cannot fail the test.
    with FakePostoria(api_key=KEY, rate_limit=(5, 0.8), media_delay=0.05, tick=0.01) as strict:
        x = strict.add_account("x", "Acme on X")
        strict.add_queue("Mornings")
        limiter = RateLimiter(RateLimit(5, 1.0), provider="Postoria")
        with make_provider(strict, limiter=limiter, sleep=nap) as client:
            client.submit(request(x, immediate=True, media=(image(tmp_path),)))
            for _ in range(3):
                client.list_queues()

        api_requests = [r for r in strict.requests() if r["endpoint"] != "storage"]
        assert len(api_requests) > 5 and strict.rate_limited == 0

        # Without the limiter the same kind of burst runs into Postoria's limit.
        with make_provider(strict) as unlimited, pytest.raises(ProviderRateLimited):
            for _ in range(8):
                unlimited.list_queues()
        assert strict.rate_limited > 0


# -- secrets ----------------------------------------------------------------------------------------


def test_the_key_never_shows_in_errors_logs_or_repr(
    fake: FakePostoria, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    x = fake.add_account("x", "Acme on X")
    envelope = {"error": {"code": "internal_error", "message": f"boom near {KEY}", "request_id": "req_42"}}
    fake.fail_next("create-post", status=500, body=envelope)

    with make_provider(fake, sleep=nap) as client:
        with pytest.raises(ProviderOutcomeUnknown) as caught:
            client.submit(request(x, immediate=True, media=(image(tmp_path),)))
        text = repr(client)

    assert caught.value.message == "boom near [api key]"
    assert_no_secret(caught.value, caplog)
    assert "request id req_42" in caplog.text
    assert text == f"PostoriaProvider(base_url='{fake.url}/', workspace_id='{fake.workspace_id}')"
    assert fake.storage_puts()[0]["authorization"] is None
