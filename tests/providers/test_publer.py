"""PublerProvider against FakePubler over loopback HTTP: accounts, submit, media, job following, partial
failures, reconciliation, cancel, error mapping and the rate budget."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
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
from bot.providers.publer import PublerProvider
from bot.providers.ratelimit import RateLimit, RateLimiter
from tests.fakes.publer import TOO_SOON, FakePubler

KEY = "publer-secret-7f3a9c0e1b2d4f6a8c0e2b4d"
WORKSPACE = "61a7c2e4f9e8c3b2d1e0f9a8"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)
PUBLISH = "posts/schedule/publish"
SCHEDULE = "posts/schedule"


class StoppedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.current


def start_fake(**options: Any) -> FakePubler:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "workspace_id": WORKSPACE,
        "job_delay": 0.02,
        "publish_delay": 0.05,
        "tick": 0.01,
    }
    settings.update(options)
    return FakePubler(**settings)


@pytest.fixture
def fake() -> Iterator[FakePubler]:
    with start_fake() as server:
        yield server


def make_provider(fake: FakePubler, **overrides: Any) -> PublerProvider:
    options: dict[str, Any] = {
        "api_key": KEY,
        "workspace_id": WORKSPACE,
        "base_url": fake.url,
        "retry": FAST,
        "sleep": lambda _: None,
        "job_poll_interval": 0.005,
    }
    options.update(overrides)
    return PublerProvider(**options)


@pytest.fixture
def provider(fake: FakePubler) -> Iterator[PublerProvider]:
    with make_provider(fake) as client:
        yield client


def request(
    accounts: Sequence[Account],
    *,
    text: str = "Hello from Postgate",
    at: datetime | None = None,
    immediate: bool = False,
    media: Sequence[MediaFile] = (),
    first_comment: str | None = None,
) -> SubmitRequest:
    return SubmitRequest(
        text=text,
        account_ids=tuple(a.account_id for a in accounts),
        publish_at=at or datetime.now(UTC),
        idempotency_key="post-1-v1",
        media=tuple(media),
        immediate=immediate,
        accounts=tuple(accounts),
        first_comment=first_comment,
    )


def connect(fake: FakePubler, provider: PublerProvider, *accounts: tuple[str, str]) -> list[Account]:
    ids = [fake.add_account(network, name) for network, name in accounts]
    listed = {a.account_id: a for a in provider.list_accounts()}
    return [listed[i] for i in ids]


def jobs_finished(fake: FakePubler) -> None:
    fake.wait_for(lambda: fake.jobs() and all(j["status"] != "working" for j in fake.jobs().values()), 5)


def posts_settled(fake: FakePubler, count: int) -> None:
    def settled() -> bool:
        posts = fake.posts()
        return len(posts) == count and all(p["state"] != "scheduled" for p in posts)

    jobs_finished(fake)
    fake.wait_for(settled, timeout=5)


def outcomes(state: Any) -> list[tuple[str, AccountOutcome, str | None, str | None]]:
    return [(r.account_id, r.outcome, r.url, r.error) for r in state.results]


def link(fake: FakePubler, account: Account) -> str:
    [post] = fake.published(account.account_id)
    return str(post["post_link"])


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text)


# -- accounts ---------------------------------------------------------------------------------------


def test_accounts_map_publer_providers_to_networks(fake: FakePubler, provider: PublerProvider) -> None:
    x = fake.add_account("twitter", "Acme")
    fb = fake.add_account("facebook", "Acme Page")
    fake.add_account("pinterest", "Acme boards")
    fake.add_account("google", "Acme Berlin")
    fake.add_account("wordpress", "Acme blog")
    bsky = fake.add_account("bluesky", "acme.bsky.social")
    tg = fake.add_account("telegram", "Acme news")

    accounts = provider.list_accounts()

    assert [(a.provider, a.account_id, a.network, a.name, a.profile_url) for a in accounts] == [
        ("publer", x, Network.X, "Acme", None),
        ("publer", fb, Network.FACEBOOK, "Acme Page", None),
        ("publer", bsky, Network.BLUESKY, "acme.bsky.social", None),
        ("publer", tg, Network.TELEGRAM, "Acme news", None),
    ]
    [sent] = fake.requests("accounts")
    assert sent["headers"]["Authorization"] == f"Bearer-API {KEY}"
    assert sent["headers"]["Publer-Workspace-Id"] == WORKSPACE


def test_check_credentials_names_the_user_and_counts_accounts(
    fake: FakePubler, provider: PublerProvider
) -> None:
    assert provider.check_credentials() == (
        "signed in as Ervin Torra, but this workspace has no accounts Postgate can post to"
    )
    fake.add_account("twitter", "Acme")
    fake.add_account("linkedin", "Acme")
    fake.add_account("pinterest", "Acme boards")

    assert provider.check_credentials() == (
        "signed in as Ervin Torra; 2 accounts in this workspace "
        "(1 more on networks Postgate does not post to: pinterest)"
    )
    assert [r["endpoint"] for r in fake.requests()][-2:] == ["users/me", "accounts"]


def test_a_refused_key_is_an_auth_error_and_is_not_retried(fake: FakePubler) -> None:
    with (
        make_provider(fake, api_key="publer-wrong-key") as client,
        pytest.raises(ProviderAuthError) as caught,
    ):
        client.list_accounts()
    assert (
        caught.value.message
        == "the Publer API key was refused (Unauthorized: the API key is missing or invalid)"
    )
    assert caught.value.status == 401 and not caught.value.retryable
    assert len(fake.requests("accounts")) == 1
    assert "publer-wrong-key" not in str(caught.value)


def test_a_wrong_workspace_is_an_auth_error_with_a_hint(fake: FakePubler) -> None:
    with make_provider(fake, workspace_id="0" * 24) as client, pytest.raises(ProviderAuthError) as caught:
        client.check_credentials()
    assert caught.value.status == 403
    assert caught.value.message.startswith("You do not have access to this workspace. Check that the API key")
    assert "workspace id" in caught.value.message and "plan" in caught.value.message


def test_a_key_without_the_users_scope_still_passes_the_check(
    fake: FakePubler, provider: PublerProvider
) -> None:
    fake.add_account("twitter", "Acme")
    fake.fail_next("users/me", status=403, body={"errors": ["Missing scope: users"]})
    assert provider.check_credentials() == "the API key works; 1 account in this workspace"


# -- submit -----------------------------------------------------------------------------------------


def test_immediate_text_post_has_one_block_per_network_and_no_time(
    fake: FakePubler, provider: PublerProvider
) -> None:
    x1, x2, li = connect(
        fake, provider, ("twitter", "Acme"), ("twitter", "Acme support"), ("linkedin", "Acme")
    )
    clock = StoppedClock()

    with make_provider(fake, clock=clock) as client:
        receipt = client.submit(request([x1, x2, li], immediate=True))

    [sent] = fake.requests(PUBLISH)
    assert sent["json"] == {
        "bulk": {
            "state": "scheduled",
            "posts": [
                {
                    "networks": {
                        "twitter": {"type": "status", "text": "Hello from Postgate"},
                        "linkedin": {"type": "status", "text": "Hello from Postgate"},
                    },
                    "accounts": [{"id": x1.account_id}, {"id": x2.account_id}, {"id": li.account_id}],
                }
            ],
        }
    }
    job_id = next(iter(fake.jobs()))
    assert receipt.external_id == f"job:{job_id}@{int(clock.now().timestamp())}"
    assert receipt.effective_time == clock.now()
    assert fake.requests(SCHEDULE) == []


def test_scheduled_post_sends_its_time_with_an_offset_and_stays_pending(
    fake: FakePubler, provider: PublerProvider
) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    sent_request = request([x], at=when)

    receipt = provider.submit(sent_request)

    [sent] = fake.requests(SCHEDULE)
    assert sent["json"]["bulk"]["posts"][0]["accounts"] == [
        {"id": x.account_id, "scheduled_at": when.isoformat()}
    ]
    assert when.isoformat().endswith("+00:00")
    assert receipt.effective_time == when and receipt.notes == ()
    jobs_finished(fake)
    state = provider.fetch_state(receipt.external_id, sent_request)
    assert outcomes(state) == [(x.account_id, AccountOutcome.PENDING, None, None)]
    assert [p["state"] for p in fake.posts()] == ["scheduled"]


def test_a_time_less_than_a_minute_away_is_published_right_away(
    fake: FakePubler, provider: PublerProvider
) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))

    receipt = provider.submit(request([x], at=datetime.now(UTC) + timedelta(seconds=30)))

    assert len(fake.requests(PUBLISH)) == 1 and fake.requests(SCHEDULE) == []
    assert receipt.notes == (
        "Publer needs a minute's notice for a scheduled time, so Postgate had it publish right away.",
    )


def test_accounts_missing_from_the_request_are_looked_up(fake: FakePubler, provider: PublerProvider) -> None:
    bsky = fake.add_account("bluesky", "acme.bsky.social")
    bare = SubmitRequest(
        text="Hi", account_ids=(bsky,), publish_at=datetime.now(UTC), idempotency_key="k", immediate=True
    )

    provider.submit(bare)

    assert list(fake.requests(PUBLISH)[0]["json"]["bulk"]["posts"][0]["networks"]) == ["bluesky"]
    with pytest.raises(ProviderRejected, match="no account Postgate can post to with the id 0{24}"):
        provider.submit(
            SubmitRequest(
                text="Hi", account_ids=("0" * 24,), publish_at=datetime.now(UTC), idempotency_key="k"
            )
        )
    assert len(fake.requests(PUBLISH)) == 1


COMMENT = "Sign up for the webinar: https://example.com/webinar"


def test_a_first_comment_is_a_callback_on_every_account_entry(
    fake: FakePubler, provider: PublerProvider, tmp_path: Path
) -> None:
    x, li, ig = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"), ("instagram", "acme"))
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG" + b"\x01" * 60)
    image = MediaFile(name="photo.png", mime_type="image/png", path=photo, size=64)

    provider.submit(request([x, li, ig], immediate=True, media=[image], first_comment=COMMENT))

    [sent] = fake.requests(PUBLISH)
    post = sent["json"]["bulk"]["posts"][0]
    assert post["accounts"] == [
        {"id": account.account_id, "comments": [{"text": COMMENT}]} for account in (x, li, ig)
    ]
    # Instagram gets the comment through its callback like everyone else, not a second time in its block.
    assert "firstComment" not in post["networks"]["instagram"]
    posts_settled(fake, 3)
    stored = {
        row["account_id"]: (row["comments"], row["firstComment"]) for row in fake.first_comments().values()
    }
    assert stored == {a.account_id: ([{"text": COMMENT}], None) for a in (x, li, ig)}
    comments = fake.wait_for(lambda: len(fake.posted_comments()) == 3 and fake.posted_comments())
    assert sorted((c["account_id"], c["text"]) for c in comments) == sorted(
        (a.account_id, COMMENT) for a in (x, li, ig)
    )


def test_a_scheduled_post_carries_its_comment_beside_the_time(
    fake: FakePubler, provider: PublerProvider
) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)

    provider.submit(request([x], at=when, first_comment=COMMENT))

    [sent] = fake.requests(SCHEDULE)
    assert sent["json"]["bulk"]["posts"][0]["accounts"] == [
        {"id": x.account_id, "scheduled_at": when.isoformat(), "comments": [{"text": COMMENT}]}
    ]
    jobs_finished(fake)
    assert fake.posted_comments() == []  # nothing is said under a post that is not out yet


@pytest.mark.parametrize("comment", [None, "", "  \n "])
def test_without_a_comment_no_comment_field_is_sent(
    fake: FakePubler, provider: PublerProvider, comment: str | None
) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))

    provider.submit(request([x], immediate=True, first_comment=comment))

    [sent] = fake.requests(PUBLISH)
    post = sent["json"]["bulk"]["posts"][0]
    assert post["accounts"] == [{"id": x.account_id}]
    assert all("firstComment" not in block for block in post["networks"].values())
    posts_settled(fake, 1)
    assert fake.first_comments() == {} and fake.posted_comments() == []


@pytest.mark.parametrize(
    "variant",
    [
        {"envelope": "plain", "job_status_spelling": "complete", "create_status": 200},
        {"envelope": "data", "job_status_spelling": "completed", "create_status": 202},
    ],
    ids=["plain", "data-envelope"],
)
def test_the_job_is_followed_to_published_posts_with_links(variant: dict[str, Any]) -> None:
    with start_fake(**variant) as server, make_provider(server) as client:
        x, li = connect(server, client, ("twitter", "Acme"), ("linkedin", "Acme Inc"))
        sent = request([x, li], immediate=True)
        receipt = client.submit(sent)

        posts_settled(server, 2)
        state = client.fetch_state(receipt.external_id, sent)

        assert state.done
        assert outcomes(state) == [
            (x.account_id, AccountOutcome.PUBLISHED, link(server, x), None),
            (li.account_id, AccountOutcome.PUBLISHED, link(server, li), None),
        ]
        assert [r.network for r in state.results] == [Network.X, Network.LINKEDIN]
        assert link(server, x).startswith("https://twitter.example/")


def test_partial_failure_says_which_account_failed_where(fake: FakePubler, provider: PublerProvider) -> None:
    ok, in_job, at_publish = connect(
        fake, provider, ("twitter", "Acme"), ("facebook", "Acme Page"), ("linkedin", "Acme Inc")
    )
    fake.fail_account(in_job.account_id, "Daily limit for Facebook reached", at="job")
    fake.fail_account(at_publish.account_id, "Token expired", at="publish")
    sent = request([ok, in_job, at_publish], immediate=True)
    receipt = provider.submit(sent)
    posts_settled(fake, 2)

    state = provider.fetch_state(receipt.external_id, sent)

    assert state.done
    assert outcomes(state) == [
        (ok.account_id, AccountOutcome.PUBLISHED, link(fake, ok), None),
        (
            in_job.account_id,
            AccountOutcome.FAILED,
            None,
            "Publer refused it for this account: Daily limit for Facebook reached",
        ),
        (
            at_publish.account_id,
            AccountOutcome.FAILED,
            None,
            "Publishing failed. Publer said: Token expired.",
        ),
    ]
    # The finished job is remembered: later polls cost only the posts listing.
    jobs_asked, lists_asked = len(fake.requests("job_status")), len(fake.requests("posts"))
    provider.fetch_state(receipt.external_id, sent)
    assert len(fake.requests("job_status")) == jobs_asked
    assert len(fake.requests("posts")) == lists_asked + 1


def test_wrapped_job_status_with_failures_keyed_by_account(
    fake: FakePubler, provider: PublerProvider
) -> None:
    # Both shapes the contract leaves open (§6): the OpenAPI `data.result` wrapper, and `failures` as an
    # object keyed by account id instead of a list.
    x, li = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"))
    sent = request([x, li], at=datetime.now(UTC) + timedelta(hours=1))
    receipt = provider.submit(sent)
    jobs_finished(fake)
    failures = {li.account_id: {"message": TOO_SOON}}
    result = {"status": "complete", "payload": {"failures": failures}}
    fake.fail_next(
        "job_status", status=200, body={"success": True, "data": {"status": "complete", "result": result}}
    )

    state = provider.fetch_state(receipt.external_id, sent)

    assert [(r.outcome, r.error) for r in state.results] == [
        (AccountOutcome.PENDING, None),
        (AccountOutcome.FAILED, f"Publer refused it for this account: {TOO_SOON}"),
    ]


def test_a_working_job_is_pending_and_cannot_be_cancelled_yet() -> None:
    with start_fake(job_delay=30) as slow, make_provider(slow) as client:
        [x] = connect(slow, client, ("twitter", "Acme"))
        sent = request([x], immediate=True)
        receipt = client.submit(sent)

        assert outcomes(client.fetch_state(receipt.external_id, sent)) == [
            (x.account_id, AccountOutcome.PENDING, None, None)
        ]
        with pytest.raises(ProviderTooLate) as caught:
            client.cancel(receipt.external_id, sent)
        assert not caught.value.live
        assert caught.value.message.startswith("Publer is still creating the post")
        assert slow.requests("posts") == []


def test_a_failed_job_fails_every_account(fake: FakePubler, provider: PublerProvider) -> None:
    x, li = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"))
    fake.fail_next_job("Workspace is locked.")
    sent = request([x, li], immediate=True)
    receipt = provider.submit(sent)
    jobs_finished(fake)

    state = provider.fetch_state(receipt.external_id, sent)

    assert [(r.outcome, r.error) for r in state.results] == [
        (AccountOutcome.FAILED, "Publer refused it: Workspace is locked")
    ] * 2
    assert fake.requests("posts") == []


def test_reconnect_and_reasonless_failures(fake: FakePubler, provider: PublerProvider) -> None:
    x, li, bsky = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"), ("bluesky", "acme"))
    sent = request([x, li, bsky], at=datetime.now(UTC) + timedelta(hours=1))
    receipt = provider.submit(sent)
    jobs_finished(fake)
    posts = {p["account_id"]: p["id"] for p in fake.posts()}
    fake.set_post(posts[x.account_id], state="scheduled_reauth")
    fake.set_post(posts[li.account_id], state="failed")

    state = provider.fetch_state(receipt.external_id, sent)

    assert [(r.outcome, r.error) for r in state.results] == [
        (
            AccountOutcome.FAILED,
            "the account needs to be reconnected in Publer; Publer holds the post until then and may still "
            "publish it afterwards, so delete it in Publer if it should not go out late",
        ),
        (
            AccountOutcome.FAILED,
            "Publer marked the post as failed without a reason; check the post in Publer",
        ),
        (AccountOutcome.PENDING, None),
    ]


def test_the_post_is_found_beyond_the_first_page(fake: FakePubler, provider: PublerProvider) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    later = datetime.now(UTC) + timedelta(hours=1)
    for n in range(45):  # newer posts come first, pushing ours to the third page
        fake.add_post(x.account_id, f"Another post {n}", scheduled_at=later + timedelta(minutes=n))
    sent = request([x], immediate=True)
    receipt = provider.submit(sent)
    fake.wait_for(lambda: fake.published(x.account_id), timeout=5)

    [result] = provider.fetch_state(receipt.external_id, sent).results

    assert result.outcome is AccountOutcome.PUBLISHED and result.url == link(fake, x)
    assert [r["query"]["page"] for r in fake.requests("posts")] == [["0"], ["1"], ["2"]]
    query = fake.requests("posts")[0]["query"]
    assert query["account_ids[]"] == [x.account_id] and query["state"] == ["all"]


# -- media ------------------------------------------------------------------------------------------


def test_files_are_uploaded_and_referenced_per_network(
    fake: FakePubler, provider: PublerProvider, tmp_path: Path
) -> None:
    ig, x = connect(fake, provider, ("instagram", "acme"), ("twitter", "Acme"))
    first, second = tmp_path / "photo.png", tmp_path / "second.jpg"
    first.write_bytes(b"\x89PNG" + b"\x01" * 60)
    second.write_bytes(b"\xff\xd8" + b"\x02" * 30)
    files = [
        MediaFile(name="photo.png", mime_type="image/png", path=first, size=64),
        MediaFile(name="second.jpg", mime_type="image/jpeg", path=second, size=32),
    ]

    provider.submit(request([ig, x], immediate=True, media=files))

    stored = fake.media()
    assert [(m["name"], m["mime"], m["size"], m["direct_upload"]) for m in stored] == [
        ("photo.png", "image/png", 64, True),
        ("second.jpg", "image/jpeg", 32, True),
    ]
    references = [{"id": m["id"], "type": "photo"} for m in stored]
    networks = fake.requests(PUBLISH)[0]["json"]["bulk"]["posts"][0]["networks"]
    assert networks == {
        "instagram": {"type": "carousel", "text": "Hello from Postgate", "media": references},
        "twitter": {"type": "photo", "text": "Hello from Postgate", "media": references},
    }
    jobs_finished(fake)
    [job] = fake.jobs().values()
    assert job["payload"] == {"failures": {}}  # Publer took both blocks, types and media ids


def test_a_video_makes_a_video_post(fake: FakePubler, provider: PublerProvider, tmp_path: Path) -> None:
    [yt] = connect(fake, provider, ("youtube", "Acme TV"))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")

    provider.submit(
        request([yt], immediate=True, media=[MediaFile(name="clip.mp4", mime_type="video/mp4", path=clip)])
    )

    block = fake.requests(PUBLISH)[0]["json"]["bulk"]["posts"][0]["networks"]["youtube"]
    assert block["type"] == "video" and block["media"][0]["type"] == "video"


def test_media_from_a_url_is_imported_through_a_job(fake: FakePubler) -> None:
    with make_provider(fake, sleep=time.sleep) as client:
        [x] = connect(fake, client, ("twitter", "Acme"))
        image = MediaFile(name="banner.jpg", mime_type="image/jpeg", url="https://example.com/banner.jpg")

        client.submit(request([x], immediate=True, media=[image]))

    [imported] = fake.requests("media/from-url")
    assert imported["json"] == {
        "media": [{"url": "https://example.com/banner.jpg", "name": "banner.jpg"}],
        "type": "single",
        "direct_upload": True,
        "in_library": False,
    }
    assert len(fake.requests("job_status")) >= 1
    [media] = fake.media()
    block = fake.requests(PUBLISH)[0]["json"]["bulk"]["posts"][0]["networks"]["twitter"]
    assert block == {
        "type": "photo",
        "text": "Hello from Postgate",
        "media": [{"id": media["id"], "type": "photo"}],
    }


def test_media_problems_are_refused_in_plain_words_before_any_create(tmp_path: Path) -> None:
    with start_fake(max_upload_bytes=10) as server, make_provider(server, sleep=time.sleep) as client:
        [x] = connect(server, client, ("twitter", "Acme"))
        server.fail_media_url("https://example.com/gone.jpg", "The file could not be downloaded")
        big = tmp_path / "big.mp4"
        big.write_bytes(b"0" * 11)

        with pytest.raises(ProviderRejected) as broken:
            client.submit(
                request(
                    [x],
                    media=[
                        MediaFile(name="gone.jpg", mime_type="image/jpeg", url="https://example.com/gone.jpg")
                    ],
                )
            )
        with pytest.raises(ProviderRejected) as too_big:
            client.submit(request([x], media=[MediaFile(name="big.mp4", mime_type="video/mp4", path=big)]))
        with pytest.raises(ProviderRejected) as document:
            client.submit(
                request([x], media=[MediaFile(name="deck.pdf", mime_type="application/pdf", path=big)])
            )

        assert broken.value.message == "could not use the file gone.jpg: The file could not be downloaded"
        assert str(too_big.value) == "Publer: big.mp4 is too large for Publer (max 200 MB)"
        assert document.value.message == "deck.pdf is not an image or a video, so Postgate cannot send it"
        assert not broken.value.retryable and not too_big.value.retryable
        assert server.requests(PUBLISH) == [] and server.requests(SCHEDULE) == []


# -- failures on create -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("401", ProviderAuthError),
        ("403", ProviderAuthError),
        ("400", ProviderRejected),
        ("429", ProviderRateLimited),
        ("500", ProviderOutcomeUnknown),
        ("timeout", ProviderOutcomeUnknown),
        ("malformed json", ProviderOutcomeUnknown),
        ("no job id", ProviderOutcomeUnknown),
    ],
)
def test_a_create_is_never_sent_twice(
    fake: FakePubler, case: str, expected: type[ProviderError], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    options: dict[str, Any] = {}
    if case == "401":
        fake.fail_next(PUBLISH, status=401, body={"errors": ["Invalid API key"]})
    elif case == "403":
        fake.fail_next(PUBLISH, status=403, body={"errors": ["Missing scope: posts"]})
    elif case == "400":
        fake.fail_next(PUBLISH, status=400, body={"errors": ["Text is too long", "Unknown network"]})
    elif case == "429":
        reset = str(int(time.time()) + 90)
        fake.fail_next(PUBLISH, status=429, headers={"X-RateLimit-Reset": reset})
    elif case == "500":
        fake.fail_next(PUBLISH, status=500, after_processing=True)
    elif case == "timeout":
        fake.fail_next(PUBLISH, after_processing=True, delay=1.0)
        options["timeout"] = 0.25
    elif case == "malformed json":
        fake.fail_next(PUBLISH, status=200, raw_body=b'{"job_id": ', after_processing=True)
    elif case == "no job id":
        fake.fail_next(PUBLISH, status=202, body={"success": True})

    with make_provider(fake, **options) as client:
        [x] = connect(fake, client, ("twitter", "Acme"))
        with pytest.raises(ProviderError) as caught:
            client.submit(request([x], immediate=True))

    error = caught.value
    assert type(error) is expected, error
    assert len(fake.requests(PUBLISH)) == 1
    assert str(error).startswith("Publer: ")
    assert_no_secret(error, repr(error), caplog.text)
    if case == "401":
        assert error.message == "the Publer API key was refused (Invalid API key)"
    if case == "403":
        assert error.message.startswith("Missing scope: posts. Check that the API key has the scopes")
    if case == "400":
        assert error.message == "Text is too long. Unknown network."
    if case == "429":
        assert isinstance(error, ProviderRateLimited) and error.retry_after is not None
        assert 80 < error.retry_after <= 90
        assert error.message == "Rate limit exceeded. Retry later."
    if case in ("500", "timeout", "malformed json"):
        assert error.retryable
        jobs_finished(fake)  # the create did arrive: exactly why it must not be sent again


def test_the_rate_limit_reset_becomes_retry_after() -> None:
    sleeps: list[float] = []
    with start_fake(rate_limit=(2, 60.0)) as server, make_provider(server, sleep=sleeps.append) as client:
        client.list_accounts()
        client.list_accounts()
        with pytest.raises(ProviderRateLimited) as caught:
            client.list_accounts()
        limited = server.rate_limited

    # X-RateLimit-Reset is when the first request leaves the 60 s window (UNIX seconds, rounded up).
    assert caught.value.retry_after is not None and 58 < caught.value.retry_after <= 61
    assert caught.value.retryable
    assert sleeps == [] and limited == 1  # too long to sleep off inside the request


def test_the_limiter_keeps_a_burst_under_publers_limit() -> None:
    # The fake's window is slightly shorter than the limiter's: a slot is taken a moment before the
    # request arrives, and loopback latency must not turn into a 429.
    burst = 8
    with start_fake(rate_limit=(5, 0.9)) as unguarded, make_provider(unguarded) as client:
        refused = 0
        for _ in range(burst):
            try:
                client.list_accounts()
            except ProviderRateLimited:
                refused += 1
        assert refused > 0 and unguarded.rate_limited > 0

    limiter = RateLimiter(RateLimit(5, 1.0), provider="Publer")
    with start_fake(rate_limit=(5, 0.9)) as guarded, make_provider(guarded, limiter=limiter) as client:
        for _ in range(burst):
            client.list_accounts()
        assert guarded.rate_limited == 0
        assert len(guarded.requests("accounts")) == burst


# -- reconciliation ---------------------------------------------------------------------------------


def test_a_lost_answer_is_found_and_followed(fake: FakePubler, provider: PublerProvider) -> None:
    x, li = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"))
    fake.fail_next(PUBLISH, status=502, after_processing=True)
    sent = request([x, li], immediate=True)
    sent_at = datetime.now(UTC)
    with pytest.raises(ProviderOutcomeUnknown):
        provider.submit(sent)
    posts_settled(fake, 2)

    receipt = provider.find_submission(sent, sent_at=sent_at)

    assert receipt is not None
    ids = {p["account_id"]: p["id"] for p in fake.posts()}
    assert receipt.external_id.startswith(f"posts:{ids[x.account_id]},{ids[li.account_id]}@")
    state = provider.fetch_state(receipt.external_id, sent)
    assert outcomes(state) == [
        (x.account_id, AccountOutcome.PUBLISHED, link(fake, x), None),
        (li.account_id, AccountOutcome.PUBLISHED, link(fake, li), None),
    ]
    assert len(fake.requests(PUBLISH)) == 1


def test_found_on_some_accounts_counts_as_found(fake: FakePubler, provider: PublerProvider) -> None:
    x, li = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"))
    fake.fail_account(li.account_id, "Not allowed", at="job")
    fake.fail_next(PUBLISH, status=500, after_processing=True)
    sent = request([x, li], immediate=True)
    clock = StoppedClock()
    with make_provider(fake, clock=clock) as client:
        with pytest.raises(ProviderOutcomeUnknown):
            client.submit(sent)
        posts_settled(fake, 1)

        receipt = client.find_submission(sent, sent_at=clock.now())
        assert receipt is not None
        assert receipt.external_id.startswith(f"posts:{fake.posts()[0]['id']}@")
        assert [r.outcome for r in client.fetch_state(receipt.external_id, sent).results] == [
            AccountOutcome.PUBLISHED,
            AccountOutcome.PENDING,
        ]
        clock.current += timedelta(minutes=11)  # long enough for a missing post to mean "not created"
        missing = client.fetch_state(receipt.external_id, sent).results[1]
    assert missing.outcome is AccountOutcome.FAILED
    assert missing.error is not None and missing.error.startswith("Publer accepted the post, but its post")


def test_nothing_found_is_retryable_at_first_and_then_safe_to_resend(
    fake: FakePubler, provider: PublerProvider
) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    now = datetime.now(UTC)
    # Look-alikes that must not count: another text at the time, the same text a week earlier.
    fake.add_post(x.account_id, "Something else", scheduled_at=now)
    fake.add_post(
        x.account_id, "Hello from Postgate", scheduled_at=now - timedelta(days=7), state="published_posted"
    )
    sent = request([x], at=now, immediate=True)
    clock = StoppedClock(now)

    with make_provider(fake, clock=clock) as client:
        with pytest.raises(ProviderUnavailable) as early:
            client.find_submission(sent, sent_at=now)
        clock.current = now + timedelta(minutes=2, seconds=1)
        later = client.find_submission(sent, sent_at=now)

    assert type(early.value) is ProviderUnavailable and early.value.retryable
    assert early.value.message == "may still be processing the earlier try; checking again shortly"
    assert later is None


def test_a_failing_listing_propagates(fake: FakePubler, provider: PublerProvider) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    fake.fail_next("posts", status=403, body={"errors": ["Missing scope: posts"]})
    with pytest.raises(ProviderAuthError):
        provider.find_submission(request([x]), sent_at=datetime.now(UTC) - timedelta(hours=1))


# -- cancel -----------------------------------------------------------------------------------------


def test_cancel_deletes_the_scheduled_posts(fake: FakePubler, provider: PublerProvider) -> None:
    x, li = connect(fake, provider, ("twitter", "Acme"), ("linkedin", "Acme"))
    sent = request([x, li], at=datetime.now(UTC) + timedelta(hours=3))
    receipt = provider.submit(sent)
    jobs_finished(fake)
    ids = sorted(p["id"] for p in fake.posts())

    provider.cancel(receipt.external_id, sent)

    assert fake.posts() == []
    [delete] = [r for r in fake.requests("posts") if r["method"] == "DELETE"]
    assert sorted(delete["query"]["post_ids[]"]) == ids


def test_cancel_after_publishing_is_too_late_and_live(fake: FakePubler, provider: PublerProvider) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    sent = request([x], immediate=True)
    receipt = provider.submit(sent)
    posts_settled(fake, 1)

    with pytest.raises(ProviderTooLate) as caught:
        provider.cancel(receipt.external_id, sent)

    assert caught.value.live
    assert caught.value.message == "the post is already live on X · Acme, so it cannot be withdrawn"
    assert [r for r in fake.requests("posts") if r["method"] == "DELETE"] == []


def test_cancel_of_a_post_publer_is_publishing_is_too_late_but_not_live() -> None:
    with start_fake(publish_delay=30) as slow, make_provider(slow) as client:
        [x] = connect(slow, client, ("twitter", "Acme"))
        sent = request([x], immediate=True)
        receipt = client.submit(sent)
        jobs_finished(slow)  # the post is queued in the same tick that ends the job

        with pytest.raises(ProviderTooLate) as caught:
            client.cancel(receipt.external_id, sent)

        assert not caught.value.live
        assert (
            caught.value.message
            == "Publer is already publishing the post for X · Acme, so it may still go out"
        )
        assert [p["state"] for p in slow.posts()] == ["scheduled"]


def test_cancel_of_a_post_publer_keeps_is_refused(fake: FakePubler, provider: PublerProvider) -> None:
    [x] = connect(fake, provider, ("twitter", "Acme"))
    sent = request([x], at=datetime.now(UTC) + timedelta(hours=1))
    receipt = provider.submit(sent)
    jobs_finished(fake)
    fake.fail_next("posts", method="DELETE", status=200, body={"deleted_ids": []})

    with pytest.raises(ProviderRejected) as caught:
        provider.cancel(receipt.external_id, sent)

    assert not isinstance(caught.value, ProviderTooLate)
    assert caught.value.message == "Publer would not delete the post for X · Acme; remove it in Publer"


# -- secrets ----------------------------------------------------------------------------------------


def test_the_key_never_shows_in_errors_logs_or_repr(
    fake: FakePubler, provider: PublerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    [x] = connect(fake, provider, ("twitter", "Acme"))
    sent = request([x], immediate=True)
    receipt = provider.submit(sent)
    posts_settled(fake, 1)
    provider.fetch_state(receipt.external_id, sent)
    fake.fail_next("posts", status=500, times=3, body={"errors": [f"upstream said {KEY}"]})
    with pytest.raises(ProviderUnavailable) as caught:
        provider.fetch_state(receipt.external_id, sent)

    assert caught.value.message == "upstream said [api key]."
    assert_no_secret(caught.value, repr(caught.value), caplog.text, repr(provider), receipt)
    assert "retrying" in caplog.text  # the retries were logged, without the key


@pytest.mark.parametrize("list_shape", ["reference", "quickstart"])
def test_accounts_are_listed_in_either_documented_shape_and_a_disconnected_one_is_refused(
    list_shape: str,
) -> None:
    with start_fake(list_shape=list_shape) as fake, make_provider(fake) as provider:
        active = fake.add_account("linkedin", "Acme Inc", status="active")
        gone = fake.add_account("twitter", "Acme on X", status="disconnected")
        plain = fake.add_account("mastodon", "Acme on Mastodon")  # the reference lists no status

        listed = {a.account_id: a for a in provider.list_accounts()}

        assert set(listed) == {active, gone, plain}
        assert listed[active].cannot_post is None and listed[plain].cannot_post is None
        assert "reconnect it in Publer" in (listed[gone].cannot_post or "")
        with pytest.raises(ProviderRejected) as refused:
            provider.submit(request([listed[gone]], immediate=True))
        assert "Acme on X is disconnected; reconnect it in Publer" in refused.value.message
        assert fake.requests(PUBLISH) == []
