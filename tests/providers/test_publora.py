"""PubloraProvider against FakePublora over loopback HTTP: accounts, submit, state, cancel, failures."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.model import AccountOutcome
from bot.domain.networks import Network
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.providers.base import RetryPolicy, SubmitRequest
from bot.providers.publora import PubloraProvider
from tests.fakes.publora import FakePublora

KEY = "sk_1712345678901.deadbeefcafebabe0123456789abcdef"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
def fake() -> Iterator[FakePublora]:
    with FakePublora(api_key=KEY, publish_delay=0.1, tick=0.02) as server:
        yield server


def make_provider(fake: FakePublora, **overrides: Any) -> PubloraProvider:
    options: dict[str, Any] = {"api_key": KEY, "base_url": fake.url, "retry": FAST, "sleep": lambda _: None}
    options.update(overrides)
    return PubloraProvider(**options)


@pytest.fixture
def provider(fake: FakePublora) -> Iterator[PubloraProvider]:
    with make_provider(fake) as client:
        yield client


def request(
    *accounts: str, text: str = "Hello from Postgate", key: str = "sub-1", at: datetime | None = None
) -> SubmitRequest:
    when = at or datetime.now(UTC) + timedelta(seconds=1)
    return SubmitRequest(text=text, account_ids=accounts, publish_at=when, idempotency_key=key)


def assert_no_secret(error: BaseException, caplog: pytest.LogCaptureFixture | None = None) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)
    if isinstance(error, ProviderError):
        assert KEY not in error.message
    if caplog is not None:
        assert KEY not in caplog.text


# -- accounts ---------------------------------------------------------------------------------------


def test_accounts_carry_network_name_profile_and_token_warnings(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "123456789", username="acme")
    li = fake.add_connection(
        "linkedin",
        "Tz9W5i6ZYG",
        username="Acme Inc",
        display_name="Acme",
        token_status="expired",
        profile_url="https://www.linkedin.com/company/acme",
    )
    bsky = fake.add_connection(
        "bluesky", "did:plc:abc123", username="acme.bsky.social", token_status="expiring_soon"
    )
    tg = fake.add_connection("telegram", "-1001234567890", username=None, display_name="Acme news")
    fake.add_connection("pinterest", "55", username="acme")

    accounts = {a.account_id: a for a in provider.list_accounts()}

    assert list(accounts) == [x, li, bsky, tg]  # pinterest is connect-only
    assert tg == "telegram--1001234567890"
    assert accounts[x].network is Network.X and accounts[x].name == "@acme" and accounts[x].warning is None
    assert accounts[x].provider == "publora"
    assert accounts[li].name == "Acme"
    assert accounts[li].profile_url == "https://www.linkedin.com/company/acme"
    assert accounts[li].warning == "The connection has expired; reconnect it in Publora before posting."
    assert accounts[bsky].network is Network.BLUESKY
    assert "expires in 6d 23h" in (accounts[bsky].warning or "")
    assert accounts[tg].name == "Acme news"
    assert fake.requests("platform-connections")[0]["headers"]["x-publora-key"] == KEY


def test_check_credentials_counts_accounts_and_names_expired_ones(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    fake.add_connection("twitter", "1", username="acme")
    fake.add_connection("linkedin", "2", username="acme", display_name="Acme", token_status="expired")
    fake.add_connection("bluesky", "did:plc:x", username="acme.bsky.social")
    fake.add_connection("pinterest", "3", username="acme")

    assert (
        provider.check_credentials()
        == "3 connected accounts (1 expired: LinkedIn · Acme — reconnect it in Publora)"
    )


def test_check_credentials_with_no_accounts(provider: PubloraProvider) -> None:
    assert "no accounts are connected" in provider.check_credentials()


@pytest.mark.parametrize(
    ("key", "expected"), [("sk_wrong.0000", "Invalid API key"), ("", "API key is required")]
)
def test_bad_key_is_an_auth_error_without_the_key(
    fake: FakePublora, key: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_provider(fake, api_key=key) as client, pytest.raises(ProviderAuthError) as caught:
        client.check_credentials()
    assert caught.value.message == expected
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert len(fake.requests("platform-connections")) == 1  # never retried
    if key:
        assert key not in str(caught.value) and key not in caplog.text
    assert_no_secret(caught.value, caplog)


def test_workspace_user_header(fake: FakePublora) -> None:
    user = "65f8a1b2c3d4e5f6a7b8c9d0"
    fake.add_managed_user(user)
    with make_provider(fake, user_id=user) as client:
        assert client.list_accounts() == []
    assert fake.requests()[-1]["headers"]["x-publora-user-id"] == user
    with (
        make_provider(fake, user_id="not-an-object-id") as client,
        pytest.raises(ProviderAuthError) as caught,
    ):
        client.list_accounts()
    assert caught.value.message == "Invalid x-publora-user-id"


# -- submit -----------------------------------------------------------------------------------------


def test_submit_sends_key_idempotency_key_and_utc_millisecond_time(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    when = datetime(2031, 3, 1, 15, 0, 0, 123456, tzinfo=UTC)

    receipt = provider.submit(request(x, li, at=when, key="post-7-v1"))

    [sent] = fake.requests("create-post")
    assert sent["method"] == "POST"
    assert sent["headers"]["x-publora-key"] == KEY
    assert sent["headers"]["Idempotency-Key"] == "post-7-v1"
    assert sent["json"] == {
        "content": "Hello from Postgate",
        "platforms": [x, li],
        "scheduledTime": "2031-03-01T15:00:00.123Z",
    }
    assert re.fullmatch(r"[0-9a-f]{24}", receipt.external_id)
    assert receipt.effective_time == datetime(2031, 3, 1, 15, 0, 0, 123000, tzinfo=UTC)
    assert receipt.notes == ()
    assert fake.groups()[receipt.external_id]["status"] == "scheduled"


def test_submit_reports_a_coerced_time_as_a_note(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    asked = datetime.now(UTC) - timedelta(seconds=30)

    receipt = provider.submit(request(x, at=asked))

    assert receipt.effective_time is not None and receipt.effective_time > asked
    [note] = receipt.notes
    assert "was in the past and was changed to server time" in note


def test_submit_retries_a_500_with_the_same_key_and_creates_one_group(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=500)

    receipt = provider.submit(request(x, key="k-500"))

    sent = fake.requests("create-post")
    assert len(sent) == 2
    assert {r["headers"]["idempotency-key"] for r in sent} == {"k-500"}
    assert list(fake.groups()) == [receipt.external_id]


def test_answer_lost_after_the_post_was_stored_replays_the_same_group(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=502, after_processing=True)

    receipt = provider.submit(request(x, key="k-lost"))

    assert len(fake.requests("create-post")) == 2
    assert list(fake.groups()) == [receipt.external_id]


def test_timeout_after_receipt_then_retry_still_creates_one_group(fake: FakePublora) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", after_processing=True, delay=1.0)

    with make_provider(fake, timeout=0.25) as client:
        receipt = client.submit(request(x, key="k-timeout"))

    assert len(fake.requests("create-post")) == 2
    assert list(fake.groups()) == [receipt.external_id]


def test_in_flight_409_is_retried(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next(
        "create-post",
        status=409,
        body={
            "error": "A request with this Idempotency-Key is still being processed",
            "code": "IDEMPOTENCY_IN_FLIGHT",
        },
    )

    receipt = provider.submit(request(x, key="k-409"))

    assert len(fake.requests("create-post")) == 2
    assert list(fake.groups()) == [receipt.external_id]


def test_a_key_reused_with_another_body_is_rejected(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    when = datetime.now(UTC) + timedelta(hours=1)
    first = provider.submit(request(x, key="k-same", at=when))

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, key="k-same", at=when, text="Edited text"))

    assert caught.value.code == "IDEMPOTENCY_KEY_CONFLICT" and caught.value.status == 422
    assert not caught.value.retryable
    assert "already used for a different post" in caught.value.message
    assert list(fake.groups()) == [first.external_id]
    # The very same submission again is answered from the idempotency store.
    assert provider.submit(request(x, key="k-same", at=when)).external_id == first.external_id


def test_validation_errors_are_rejected_with_every_message(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    bsky = fake.add_connection("bluesky", "did:plc:abc", username="acme.bsky.social")
    ig = fake.add_connection("instagram", "17841400000000001", username="acme")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(bsky, ig, text="x" * 301))

    message = caught.value.message
    assert "Content exceeds Bluesky's 300 character limit (301 characters)." in message
    assert "Instagram posts require media." in message
    assert caught.value.code == "CONTENT_TOO_LONG"
    assert not caught.value.retryable
    assert len(fake.requests("create-post")) == 1
    assert fake.groups() == {}


def test_an_unknown_account_names_the_id(fake: FakePublora, provider: PubloraProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request("twitter-404"))
    assert caught.value.code == "INVALID_PLATFORM_CONNECTION"
    assert "twitter-404" in caught.value.message


def test_a_time_long_past_is_rejected_with_publoras_clock(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, at=datetime.now(UTC) - timedelta(minutes=10)))
    assert caught.value.code == "SCHEDULED_TIME_IN_PAST"
    assert "more than 5 minutes in the past (Publora's clock: " in caught.value.message


def test_plan_limit_uses_the_readable_message(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    fake.set_post_limit(1, plan_name="Pro")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, li))

    assert caught.value.status == 403 and caught.value.code == "POST_LIMIT_REACHED"
    assert caught.value.message.startswith(
        "Monthly post limit reached. Your Pro plan allows 1 platform posts per month."
    )
    assert not isinstance(caught.value, ProviderAuthError)


def test_documented_limit_error_body(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next(
        "create-post",
        status=403,
        body={
            "error": "Post limit reached",
            "code": "POST_LIMIT_REACHED",
            "metric": "posts.platform_monthly",
            "message": "Monthly post limit reached. Your Pro plan allows 100 platform posts per month.",
            "limit": 100,
            "used": 100,
            "requested": 2,
            "remaining": 0,
            "periodStart": "2026-03-01T00:00:00.000Z",
            "periodEnd": "2026-04-01T00:00:00.000Z",
            "planName": "Pro",
        },
    )
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x))
    assert caught.value.message == (
        "Monthly post limit reached. Your Pro plan allows 100 platform posts per month. "
        "The limit resets at 2026-04-01T00:00:00.000Z."
    )


def test_api_access_disabled_is_an_auth_error(fake: FakePublora, provider: PubloraProvider) -> None:
    fake.fail_next(
        "platform-connections", status=403, body={"error": "API access is not enabled for this account"}
    )
    with pytest.raises(ProviderAuthError, match="API access is not enabled"):
        provider.list_accounts()


# -- state ------------------------------------------------------------------------------------------


def wait_final(fake: FakePublora, group_id: str) -> None:
    fake.wait_for(lambda: fake.groups()[group_id]["status"] not in ("draft", "scheduled"), timeout=5)


def test_state_after_publishing_builds_links_and_explains_failures(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "123456789", username="acme")
    li = fake.add_connection("linkedin", "Tz9W5i6ZYG", username="Acme", display_name="Acme")
    bsky = fake.add_connection("bluesky", "did:plc:abc123", username="acme.bsky.social")
    threads = fake.add_connection(
        "threads", "1784", username="acme", profile_url="https://www.threads.net/@acme"
    )
    fb = fake.add_connection("facebook", "999", username="Acme page")
    fake.fail_account(fb, code="PLATFORM_AUTH_EXPIRED", message="Error validating access token")
    accounts = provider.list_accounts()
    receipt = provider.submit(request(x, li, bsky, threads, fb, at=datetime.now(UTC)))

    pending = provider.fetch_state(receipt.external_id, accounts)
    assert not pending.done and {r.outcome for r in pending.results} == {AccountOutcome.PENDING}

    wait_final(fake, receipt.external_id)
    state = provider.fetch_state(receipt.external_id, accounts)

    assert state.done
    results = {r.account_id: r for r in state.results}
    assert list(results) == [x, li, bsky, threads, fb]
    posted = {p["platformId"]: p["postedId"] for p in fake.published()}
    assert results[x].outcome is AccountOutcome.PUBLISHED and results[x].network is Network.X
    assert results[x].url == f"https://x.com/i/web/status/{posted[x]}"
    assert re.fullmatch(r"https://www\.linkedin\.com/feed/update/urn:li:share:\d+", results[li].url or "")
    assert re.fullmatch(
        r"https://bsky\.app/profile/did:plc:abc123/post/[a-z2-7]{13}", results[bsky].url or ""
    )
    assert results[threads].url == "https://www.threads.net/@acme"  # the id alone cannot name the post
    assert results[fb].outcome is AccountOutcome.FAILED and results[fb].url is None
    assert results[fb].error == (
        "The connection to this account has expired; reconnect it in Publora. "
        "Publora said: Error validating access token."
    )
    assert fake.groups()[receipt.external_id]["status"] == "partially_published"
    # Reading the state again never publishes again.
    provider.fetch_state(receipt.external_id, accounts)
    assert sorted(p["platformId"] for p in fake.published()) == sorted([x, li, bsky, threads])
    assert fake.requests("post-logs") == []


def test_every_account_failing(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_account(x, code="RATE_LIMITED", message="Too Many Requests", retryable=True)
    receipt = provider.submit(request(x, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)

    [result] = provider.fetch_state(receipt.external_id, []).results

    assert result.outcome is AccountOutcome.FAILED
    assert result.error is not None and result.error.startswith("The network is rate-limiting this account")
    assert fake.groups()[receipt.external_id]["status"] == "failed"


def test_partial_thread_says_it_may_be_live(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_account(x, code="THREAD_PARTIALLY_PUBLISHED", message="Part 2 of 2 failed")
    receipt = provider.submit(request(x, text="First part\n---\nSecond part", at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)

    [result] = provider.fetch_state(receipt.external_id, []).results

    assert result.outcome is AccountOutcome.FAILED
    assert result.error is not None
    assert "may be partly live; check the account before posting again" in result.error
    assert result.error.endswith("Publora said: Part 2 of 2 failed.")
    assert result.url is not None and result.url.startswith("https://x.com/i/web/status/")


def test_missing_error_falls_back_to_the_post_logs(fake: FakePublora, provider: PubloraProvider) -> None:
    li = fake.add_connection("linkedin", "2", username="acme")
    fake.fail_account(li, code="PLATFORM_SERVER_ERROR", message="LinkedIn answered 502", omit_post_error=True)
    receipt = provider.submit(request(li, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)
    assert "error" not in fake.groups()[receipt.external_id]["posts"][0]

    [result] = provider.fetch_state(receipt.external_id, []).results

    assert result.error == (
        "The network had a server error; posting again later may work. Publora said: LinkedIn answered 502."
    )
    assert len(fake.requests("post-logs")) == 1


def test_logs_that_cannot_be_read_still_give_a_sentence(fake: FakePublora, provider: PubloraProvider) -> None:
    li = fake.add_connection("linkedin", "2", username="acme")
    fake.fail_account(li, code="NEW_CODE", message="Something odd", omit_post_error=True)
    receipt = provider.submit(request(li, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)
    fake.fail_next("post-logs", status=500, times=3)

    [result] = provider.fetch_state(receipt.external_id, []).results

    assert result.outcome is AccountOutcome.FAILED
    assert result.error == "Publishing failed; Publora gave no reason."


def test_a_group_still_scheduled_is_pending(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    receipt = provider.submit(request(x, at=datetime.now(UTC) + timedelta(hours=2)))

    state = provider.fetch_state(receipt.external_id, provider.list_accounts())

    assert [(r.account_id, r.outcome, r.url, r.error) for r in state.results] == [
        (x, AccountOutcome.PENDING, None, None)
    ]
    assert not state.done


# -- cancel -----------------------------------------------------------------------------------------


def test_cancel_deletes_a_scheduled_post(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    receipt = provider.submit(request(x, at=datetime.now(UTC) + timedelta(hours=1)))

    provider.cancel(receipt.external_id)

    assert fake.groups() == {}
    assert [r["method"] for r in fake.requests("delete-post")] == ["DELETE"]
    provider.cancel(receipt.external_id)  # already gone: nothing to do
    assert len(fake.requests("delete-post")) == 1


def test_cancel_refuses_once_publishing_started() -> None:
    with FakePublora(api_key=KEY, publish_delay=30, tick=0.02) as slow, make_provider(slow) as client:
        x = slow.add_connection("twitter", "1", username="acme")
        receipt = client.submit(request(x, at=datetime.now(UTC)))
        slow.wait_for(
            lambda: slow.groups()[receipt.external_id]["posts"][0]["status"] == "pending", timeout=5
        )

        with pytest.raises(ProviderRejected, match="publishing already started"):
            client.cancel(receipt.external_id)

        assert slow.requests("delete-post") == []


def test_cancel_refuses_a_published_post(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    receipt = provider.submit(request(x, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)

    with pytest.raises(ProviderRejected, match="already live; deleting it in Publora would only remove"):
        provider.cancel(receipt.external_id)
    assert fake.requests("delete-post") == []


def test_cancel_losing_the_race_to_the_scheduler(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    receipt = provider.submit(request(x, at=datetime.now(UTC) + timedelta(hours=1)))
    fake.fail_next(
        "delete-post",
        status=409,
        body={"error": "Post is already being published", "code": "POST_PUBLISH_IN_PROGRESS"},
    )
    with pytest.raises(ProviderRejected, match="publishing already started") as caught:
        provider.cancel(receipt.external_id)
    assert not caught.value.retryable


# -- failure battery --------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("case", "expected", "retryable"),
    [
        ("500", ProviderUnavailable, True),
        ("502 html", ProviderUnavailable, True),
        ("503 down", ProviderUnavailable, True),
        ("429", ProviderRateLimited, True),
        ("refused", ProviderUnavailable, True),
        ("bad json", ProviderOutcomeUnknown, True),
        ("timeout", ProviderOutcomeUnknown, True),
        ("malformed id", ProviderUnavailable, True),
        ("404", ProviderRejected, False),
        ("401", ProviderAuthError, False),
    ],
)
def test_failure_battery(
    fake: FakePublora,
    case: str,
    expected: type[ProviderError],
    retryable: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    options: dict[str, Any] = {"sleep": sleeps.append, "timeout": 0.25}
    group_id = "0123456789abcdef01234567"
    call = "accounts"
    if case == "500":
        fake.fail_next("platform-connections", status=500, times=3)
    elif case == "502 html":
        fake.fail_next("platform-connections", status=502, raw_body=b"<html>Bad Gateway</html>", times=3)
    elif case == "503 down":
        fake.set_down(True)
    elif case == "429":
        fake.fail_next("platform-connections", status=429, times=3)
        # The policy caps a server's Retry-After at 4 × max_delay; leave room for the 1 s asked.
        options["retry"] = RetryPolicy(attempts=3, base_delay=0.001, max_delay=1.0)
    elif case == "refused":
        options["base_url"] = f"http://127.0.0.1:{closed_port()}/api/v1"
    elif case == "bad json":
        fake.fail_next("platform-connections", status=200, raw_body=b'{"connections": [', times=3)
    elif case == "timeout":
        fake.fail_next("platform-connections", delay=1.0, times=3)
    elif case == "malformed id":
        group_id, call = "not-an-id", "state"
    elif case == "404":
        call = "state"
    elif case == "401":
        options["api_key"] = "sk_other.0000"

    with make_provider(fake, **options) as client, pytest.raises(ProviderError) as caught:
        if call == "accounts":
            client.list_accounts()
        else:
            client.fetch_state(group_id, [])

    error = caught.value
    assert type(error) is expected, error
    assert error.retryable is retryable
    assert str(error).startswith("Publora: ")
    assert_no_secret(error, caplog)
    assert len(sleeps) == (FAST.attempts - 1 if retryable else 0)
    if case == "429":
        assert isinstance(error, ProviderRateLimited) and error.retry_after == 1.0
        assert sleeps == [1.0, 1.0]
    if case == "502 html":
        assert error.message == "answered HTTP 502 Bad Gateway"
    if case == "malformed id":
        assert error.message == "Failed to fetch post group"
    if case == "404":
        assert error.message == "Post group not found"


def test_the_key_never_shows_in_logs_or_errors_of_a_whole_flow(
    fake: FakePublora, provider: PubloraProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=500, body={"error": f"boom while checking {KEY}"}, times=3)
    with pytest.raises(ProviderUnavailable) as caught:
        provider.submit(request(x))
    assert "[api key]" in caught.value.message
    assert_no_secret(caught.value, caplog)
    assert "PubloraProvider(base_url=" in repr(provider) and KEY not in repr(provider)
