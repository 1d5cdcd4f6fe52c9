"""The contract every publishing provider keeps, checked against each provider's fake over loopback HTTP.

Every test runs once per entry of CASES: success, a first comment under the post, partial failure, a
refused create (4xx), a refused key (401), rate limiting (429), a server error on create (5xx), a timeout
after the provider received the create, and a 2xx answer without JSON, each asserting what the
dispatcher and the user would see.
A fourth provider joins by adding one `Case` (its fake, its provider, and how to steer the fake);
nothing else in this module changes. Idempotent providers (`idempotent_submit`) are held to "retry
with the same key, one post"; the others to "never send a create twice, find it again afterwards".
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from bot.domain.model import Account, AccountOutcome, PublicationState, SubmissionReceipt
from bot.domain.networks import Network
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRejected,
)
from bot.providers.base import Provider, RetryPolicy, SubmitRequest
from bot.providers.postoria import PostoriaProvider
from bot.providers.publer import PublerProvider
from bot.providers.publora import PubloraProvider
from tests.fakes.postoria import FakePostoria
from tests.fakes.publer import FakePubler
from tests.fakes.publora import FakePublora

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)
TEXT = "Our autumn release is out: faster approvals for everyone."
COMMENT = "Release notes: https://example.com/autumn"
#: What the network says when an account cannot publish; each fake reports it in its own shape.
REFUSAL = "Error validating access token"
#: Client timeout for the timeout cases, and how long the fake holds its answer back (well beyond it).
SHORT_TIMEOUT = 0.5
HELD_ANSWER = 1.5
GARBAGE = b"<html>oops</html>"
_raw_ids = itertools.count(1001)


class FakeServer(Protocol):
    """The steering surface every fake shares (the rest differs per fake and goes through `Case`)."""

    api_key: str

    def fail_next(
        self,
        endpoint: str,
        *,
        status: int = ...,
        body: Any = ...,
        times: int = ...,
        after_processing: bool = ...,
        delay: float = ...,
        raw_body: bytes | None = ...,
    ) -> None: ...

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]: ...

    def wait_for(self, predicate: Callable[..., Any], timeout: float = 10.0) -> Any: ...


@dataclass(frozen=True)
class Options:
    """How a test wants the provider built; everything else is the case's fast defaults."""

    timeout: float = 10.0
    api_key: str | None = None  # None: the fake's own key
    sleep: Callable[[float], None] = lambda _: None


@dataclass
class Running:
    fake: FakeServer
    provider: Provider
    api_key: str
    case: Case

    def add_account(self, network: Network) -> Account:
        return self.case.add_account(self.fake, network)

    def fail_account(self, account: Account, message: str) -> None:
        self.case.fail_account(self.fake, account.account_id, message)

    def creates(self) -> list[dict[str, Any]]:
        """Every create request that reached the fake."""
        return list(self.fake.requests(self.case.create_endpoint))

    def stored(self) -> int:
        """How many submissions the fake holds (post groups, post jobs, posts)."""
        return self.case.stored(self.fake)

    def published_to(self) -> list[str]:
        return self.case.published_to(self.fake)

    def comments(self) -> list[tuple[str, str]]:
        return self.case.comments(self.fake)


@dataclass(frozen=True)
class Case:
    """One provider under the contract: its fake, its provider, and how to steer that fake."""

    name: str
    #: Starts the fake and builds the provider against it (fast retries, no sleeping, short delays).
    start: Callable[[Options], AbstractContextManager[tuple[FakeServer, Provider]]]
    #: Connects an account of `network` in the fake; returns it as the dispatcher passes it along.
    add_account: Callable[[Any, Network], Account]
    #: From now on, publishing to the account fails with the network's `message`.
    fail_account: Callable[[Any, str, str], None]
    #: The fake's name for the create call of an immediate text-only post, and for the first status read.
    create_endpoint: str
    status_endpoint: str
    #: A create refusal in the provider's own error envelope, and words of it the user must see.
    rejection_status: int
    rejection_body: dict[str, Any]
    rejection_words: str
    stored: Callable[[Any], int]
    #: Account ids the fake published to, one entry per published post.
    published_to: Callable[[Any], list[str]]
    #: (account id, text) of every comment the fake posted under a published post.
    comments: Callable[[Any], list[tuple[str, str]]]

    @contextmanager
    def running(self, options: Options | None = None) -> Iterator[Running]:
        options = options or Options()
        with self.start(options) as (fake, provider):
            yield Running(fake, provider, options.api_key or fake.api_key, self)


# -- Publora ----------------------------------------------------------------------------------------


@contextmanager
def _start_publora(options: Options) -> Iterator[tuple[FakeServer, Provider]]:
    with (
        FakePublora(publish_delay=0.1, tick=0.02) as fake,
        PubloraProvider(
            api_key=options.api_key or fake.api_key,
            base_url=fake.url,
            timeout=options.timeout,
            retry=FAST,
            sleep=options.sleep,
        ) as provider,
    ):
        yield fake, provider


def _publora_account(fake: FakePublora, network: Network) -> Account:
    account_id = fake.add_connection(network.value, str(next(_raw_ids)), username="acme")
    return Account(provider="publora", account_id=account_id, network=network, name="@acme")


PUBLORA = Case(
    name="publora",
    start=_start_publora,
    add_account=_publora_account,
    fail_account=lambda fake, account_id, message: fake.fail_account(account_id, message=message),
    create_endpoint="create-post",
    status_endpoint="get-post",
    # §9's validation envelope.
    rejection_status=400,
    rejection_body={
        "error": "Validation failed",
        "validation": {
            "valid": False,
            "errors": [
                {
                    "code": "CONTENT_TOO_LONG",
                    "message": "Content exceeds the 280 character limit",
                    "platform": "twitter",
                    "field": "content",
                    "severity": "error",
                }
            ],
            "warnings": [],
            "summary": {"errorCount": 1, "warningCount": 0, "affectedPlatforms": ["twitter"]},
        },
    },
    rejection_words="Content exceeds the 280 character limit",
    stored=lambda fake: len(fake.groups()),
    published_to=lambda fake: [row["platformId"] for row in fake.published()],
    comments=lambda fake: [(row["platformId"], row["text"]) for row in fake.posted_comments()],
)


# -- Publer -----------------------------------------------------------------------------------------


@contextmanager
def _start_publer(options: Options) -> Iterator[tuple[FakeServer, Provider]]:
    # A generous rate limit: polling for outcomes must not run into the fake's 100 requests per 2 min.
    with (
        FakePubler(job_delay=0.05, publish_delay=0.1, tick=0.02, rate_limit=(10_000, 120.0)) as fake,
        PublerProvider(
            api_key=options.api_key or fake.api_key,
            workspace_id=fake.workspace_id,
            base_url=fake.url,
            timeout=options.timeout,
            retry=FAST,
            sleep=options.sleep,
            job_poll_interval=0.01,
        ) as provider,
    ):
        yield fake, provider


def _publer_account(fake: FakePubler, network: Network) -> Account:
    account_id = fake.add_account(network.value, "Acme")
    return Account(provider="publer", account_id=account_id, network=network, name="Acme")


PUBLER = Case(
    name="publer",
    start=_start_publer,
    add_account=_publer_account,
    # The network refuses when the post's time comes (the post turns `failed`), not inside the job.
    fail_account=lambda fake, account_id, message: fake.fail_account(account_id, message, at="publish"),
    create_endpoint="posts/schedule/publish",
    status_endpoint="job_status",
    # §9's standard envelope: an array of strings, no code.
    rejection_status=400,
    rejection_body={"errors": ["Text is too long for Twitter (280 characters at most)"]},
    rejection_words="Text is too long for Twitter",
    stored=lambda fake: sum(1 for job in fake.jobs().values() if job["kind"] == "post"),
    published_to=lambda fake: [row["account_id"] for row in fake.published()],
    comments=lambda fake: [(row["account_id"], row["text"]) for row in fake.posted_comments()],
)


# -- Postoria ---------------------------------------------------------------------------------------


@contextmanager
def _start_postoria(options: Options) -> Iterator[tuple[FakeServer, Provider]]:
    with (
        FakePostoria(publish_delay=0.1, media_delay=0.05, tick=0.02, rate_limit=(10_000, 300.0)) as fake,
        PostoriaProvider(
            api_key=options.api_key or fake.api_key,
            workspace_id=str(fake.workspace_id),
            base_url=fake.url,
            timeout=options.timeout,
            retry=FAST,
            sleep=options.sleep,
        ) as provider,
    ):
        yield fake, provider


def _postoria_account(fake: FakePostoria, network: Network) -> Account:
    row = fake.add_account("x" if network is Network.X else network.value, "Acme")
    return Account(provider="postoria", account_id=str(row["id"]), network=network, name="Acme")


POSTORIA = Case(
    name="postoria",
    start=_start_postoria,
    add_account=_postoria_account,
    fail_account=lambda fake, account_id, message: fake.fail_account(account_id, message),
    create_endpoint="create-post",
    status_endpoint="get-post",
    # §9's envelope; which status validation uses is UNCONFIRMED, 422 is one of the two expected.
    rejection_status=422,
    rejection_body={
        "error": {
            "code": "validation_error",
            "message": "Caption is longer than X allows",
            "param": "caption",
            "details": {"limit": 280},
            "request_id": "req_0123456789abcdef",
        }
    },
    rejection_words="Caption is longer than X allows",
    stored=lambda fake: len(fake.posts()),
    published_to=lambda fake: [str(row["account_id"]) for row in fake.published()],
    comments=lambda fake: [(str(row["account_id"]), row["text"]) for row in fake.posted_comments()],
)


CASES = [PUBLORA, PUBLER, POSTORIA]


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request: pytest.FixtureRequest) -> Case:
    chosen: Case = request.param
    return chosen


@pytest.fixture
def running(case: Case) -> Iterator[Running]:
    with case.running() as started:
        yield started


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Everything is logged, so the key checks see every line a provider (or httpx) might write.
    caplog.set_level(logging.DEBUG)


# -- helpers ----------------------------------------------------------------------------------------


def submission(
    *accounts: Account, key: str = "post-42:v1:attempt", first_comment: str | None = None
) -> SubmitRequest:
    return SubmitRequest(
        text=TEXT,
        account_ids=tuple(a.account_id for a in accounts),
        publish_at=datetime.now(UTC),
        idempotency_key=key,
        immediate=True,
        accounts=accounts,
        first_comment=first_comment,
    )


def settle(provider: Provider, external_id: str, request: SubmitRequest) -> PublicationState:
    """Poll the provider like the dispatcher does until no account is pending (bounded)."""
    deadline = time.monotonic() + 10.0
    while True:
        state = provider.fetch_state(external_id, request)
        if state.done:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{provider.display_name} still reports a pending account: {state}")
        time.sleep(0.05)


def find_again(provider: Provider, request: SubmitRequest, sent_at: datetime) -> SubmissionReceipt | None:
    """find_submission as the dispatcher drives it: a retryable answer means "ask again later"."""
    deadline = time.monotonic() + 10.0
    while True:
        try:
            return provider.find_submission(request, sent_at=sent_at)
        except ProviderOutcomeUnknown:
            raise  # a human must decide: no amount of asking again helps
        except ProviderError as error:
            if not error.retryable or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def assert_published_everywhere(state: PublicationState, accounts: tuple[Account, ...]) -> None:
    assert [r.account_id for r in state.results] == [a.account_id for a in accounts]
    for result, account in zip(state.results, accounts, strict=True):
        assert result.outcome is AccountOutcome.PUBLISHED, result
        assert result.network is account.network
        assert result.url is not None and result.url.startswith("https://"), result
        assert result.error is None


def assert_plain(message: str) -> None:
    """A sentence for a person, not a JSON fragment."""
    assert message.strip()
    for fragment in ("{", "}", "[", "]", '":'):
        assert fragment not in message, message


def assert_key_kept_out(running: Running, caplog: pytest.LogCaptureFixture, *errors: BaseException) -> None:
    key = running.api_key
    for error in errors:
        assert key not in str(error)
        assert key not in repr(error)
        if isinstance(error, ProviderError):
            assert key not in error.message
    assert key not in repr(running.provider)
    assert key not in caplog.text


# -- success ----------------------------------------------------------------------------------------


def test_lists_accounts_and_publishes_to_every_one(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    x = running.add_account(Network.X)
    linkedin = running.add_account(Network.LINKEDIN)

    listed = {a.account_id: a for a in running.provider.list_accounts()}
    request = submission(x, linkedin)
    receipt = running.provider.submit(request)
    state = settle(running.provider, receipt.external_id, request)

    assert {i: (a.network, a.provider) for i, a in listed.items()} == {
        x.account_id: (Network.X, running.provider.name),
        linkedin.account_id: (Network.LINKEDIN, running.provider.name),
    }
    assert receipt.external_id
    assert_published_everywhere(state, (x, linkedin))
    assert sorted(running.published_to()) == sorted([x.account_id, linkedin.account_id])
    assert len(running.creates()) == 1
    assert_key_kept_out(running, caplog)


# -- first comment ----------------------------------------------------------------------------------


def test_a_first_comment_appears_under_the_post_on_every_account(running: Running) -> None:
    x = running.add_account(Network.X)
    linkedin = running.add_account(Network.LINKEDIN)

    request = submission(x, linkedin, first_comment=COMMENT)
    receipt = running.provider.submit(request)
    state = settle(running.provider, receipt.external_id, request)

    assert_published_everywhere(state, (x, linkedin))
    comments = running.fake.wait_for(lambda: len(running.comments()) >= 2 and running.comments())
    assert sorted(comments) == sorted([(x.account_id, COMMENT), (linkedin.account_id, COMMENT)])
    assert len(running.creates()) == 1


def test_no_first_comment_means_nothing_is_said_under_the_post(running: Running) -> None:
    x = running.add_account(Network.X)

    request = submission(x)
    receipt = running.provider.submit(request)

    assert_published_everywhere(settle(running.provider, receipt.external_id, request), (x,))
    assert running.published_to() == [x.account_id]
    assert running.comments() == []


def test_a_failing_account_gets_no_comment_and_the_others_do(running: Running) -> None:
    good = running.add_account(Network.X)
    bad = running.add_account(Network.LINKEDIN)
    running.fail_account(bad, REFUSAL)

    request = submission(good, bad, first_comment=COMMENT)
    receipt = running.provider.submit(request)
    state = settle(running.provider, receipt.external_id, request)

    assert {r.account_id: r.outcome for r in state.results} == {
        good.account_id: AccountOutcome.PUBLISHED,
        bad.account_id: AccountOutcome.FAILED,
    }
    assert running.fake.wait_for(running.comments) == [(good.account_id, COMMENT)]


# -- partial failure --------------------------------------------------------------------------------


def test_one_failing_account_is_reported_with_the_networks_reason(running: Running) -> None:
    good = running.add_account(Network.X)
    bad = running.add_account(Network.LINKEDIN)
    running.fail_account(bad, REFUSAL)

    request = submission(good, bad)
    receipt = running.provider.submit(request)
    state = settle(running.provider, receipt.external_id, request)

    assert state.done
    outcomes = {r.account_id: r for r in state.results}
    assert set(outcomes) == {good.account_id, bad.account_id}
    assert outcomes[good.account_id].outcome is AccountOutcome.PUBLISHED
    assert (outcomes[good.account_id].url or "").startswith("https://")
    failed = outcomes[bad.account_id]
    assert failed.outcome is AccountOutcome.FAILED
    assert failed.url is None
    assert failed.error is not None and REFUSAL in failed.error
    assert_plain(failed.error)
    assert running.published_to() == [good.account_id]


# -- refused create (4xx) ---------------------------------------------------------------------------


def test_a_refused_create_is_final_and_names_the_providers_reason(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    x = running.add_account(Network.X)
    case = running.case
    running.fake.fail_next(case.create_endpoint, status=case.rejection_status, body=case.rejection_body)

    with pytest.raises(ProviderRejected) as caught:
        running.provider.submit(submission(x))

    error = caught.value
    assert not error.retryable
    assert error.status == case.rejection_status
    assert case.rejection_words in error.message
    assert_plain(error.message)
    assert len(running.creates()) == 1  # never sent again unchanged
    assert running.stored() == 0
    assert running.published_to() == []
    assert_key_kept_out(running, caplog, error)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_the_fakes_default_4xx_bodies_are_refusals_too(running: Running, status: int) -> None:
    x = running.add_account(Network.X)
    running.fake.fail_next(running.case.create_endpoint, status=status)

    with pytest.raises(ProviderRejected) as caught:
        running.provider.submit(submission(x))

    assert not caught.value.retryable
    assert caught.value.status == status
    assert_plain(caught.value.message)
    assert len(running.creates()) == 1
    assert running.stored() == 0


# -- refused key (401) ------------------------------------------------------------------------------


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = "wrong-key-abcdef0123456789-never-shown"
    with case.running(Options(api_key=wrong_key)) as running:
        x = running.add_account(Network.X)

        with pytest.raises(ProviderAuthError) as listing:
            running.provider.list_accounts()
        with pytest.raises(ProviderAuthError) as submitting:
            running.provider.submit(submission(x))

        for error in (listing.value, submitting.value):
            assert not error.retryable
            assert error.status == 401
            assert_plain(error.message)
        assert running.stored() == 0
        assert_key_kept_out(running, caplog, listing.value, submitting.value)


def test_a_401_on_create_is_an_auth_error(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    x = running.add_account(Network.X)
    running.fake.fail_next(running.case.create_endpoint, status=401)

    with pytest.raises(ProviderAuthError) as caught:
        running.provider.submit(submission(x))

    assert not caught.value.retryable
    assert len(running.creates()) == 1
    assert running.stored() == 0
    assert_key_kept_out(running, caplog, caught.value)


# -- rate limited (429) -----------------------------------------------------------------------------
# HttpProvider.request retries a 429 for every provider, idempotent or not: a 429 says the request was
# turned away unprocessed, so sending it again cannot double-post. It waits the server's Retry-After /
# X-RateLimit-Reset (when within RetryPolicy.max_rate_limit_wait) and raises ProviderRateLimited once
# the attempts are used up. So a passing 429 ends in success, a lasting one in the raised type.


def test_a_passing_429_is_waited_out_and_the_post_is_made_once(case: Case) -> None:
    pauses: list[float] = []
    with case.running(Options(sleep=pauses.append)) as running:
        x = running.add_account(Network.X)
        running.fake.fail_next(case.create_endpoint, status=429)

        request = submission(x)
        receipt = running.provider.submit(request)
        state = settle(running.provider, receipt.external_id, request)

        assert_published_everywhere(state, (x,))
        assert len(running.creates()) == 2
        assert running.stored() == 1
        # The provider waited as long as the server asked, not the retry policy's 1 ms backoff.
        assert pauses and pauses[0] >= 0.5


def test_a_lasting_429_is_a_retryable_rate_limit_with_the_servers_wait(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    x = running.add_account(Network.X)
    running.fake.fail_next(running.case.create_endpoint, status=429, times=FAST.attempts)

    with pytest.raises(ProviderRateLimited) as caught:
        running.provider.submit(submission(x))

    error = caught.value
    assert error.retryable
    assert error.status == 429
    # Each fake sends a wait of about a second (Retry-After, or Publer's X-RateLimit-Reset).
    assert error.retry_after is not None and 0 < error.retry_after <= 2
    assert_plain(error.message)
    assert len(running.creates()) == FAST.attempts
    assert running.stored() == 0
    assert_key_kept_out(running, caplog, error)


# -- server error on create (5xx) -------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_after_the_create_was_stored_never_makes_a_second_post(
    running: Running, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    x = running.add_account(Network.X)
    # The worst case a 5xx allows: the provider stored the post, then failed to answer.
    running.fake.fail_next(running.case.create_endpoint, status=status, after_processing=True)
    request = submission(x)

    if running.provider.idempotent_submit:
        receipt = running.provider.submit(request)

        creates = running.creates()
        assert len(creates) == 2
        keys = {c["headers"].get("idempotency-key") for c in creates}
        assert keys == {request.idempotency_key}
        assert running.stored() == 1
        assert_published_everywhere(settle(running.provider, receipt.external_id, request), (x,))
    else:
        with pytest.raises(ProviderOutcomeUnknown) as caught:
            running.provider.submit(request)

        assert caught.value.retryable
        assert_plain(caught.value.message)
        assert len(running.creates()) == 1  # never blind-retried
        assert_key_kept_out(running, caplog, caught.value)
    # The one stored post goes out, once.
    assert running.fake.wait_for(running.published_to) == [x.account_id]


# -- timeout after the provider received the create -------------------------------------------------


def test_a_timeout_after_receipt_is_settled_without_a_second_post(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    with case.running(Options(timeout=SHORT_TIMEOUT)) as running:
        x = running.add_account(Network.X)
        running.fake.fail_next(case.create_endpoint, status=500, after_processing=True, delay=HELD_ANSWER)
        request = submission(x)
        sent_at = datetime.now(UTC)

        if running.provider.idempotent_submit:
            # The provider asks again with the same key and gets the first answer replayed.
            receipt = running.provider.submit(request)

            creates = running.creates()
            assert len(creates) == 2
            assert {c["headers"].get("idempotency-key") for c in creates} == {request.idempotency_key}
        else:
            with pytest.raises(ProviderOutcomeUnknown) as caught:
                running.provider.submit(request)

            assert caught.value.retryable
            assert_plain(caught.value.message)
            assert len(running.creates()) == 1
            assert_key_kept_out(running, caplog, caught.value)
            # What the dispatcher does next: ask the provider whether the earlier try made the post.
            found = find_again(running.provider, request, sent_at)
            assert found is not None, "the post the provider stored was not found again"
            receipt = found

        state = settle(running.provider, receipt.external_id, request)

        assert_published_everywhere(state, (x,))
        assert running.stored() == 1
        assert running.published_to() == [x.account_id]


# -- 2xx without JSON -------------------------------------------------------------------------------


def test_a_create_answered_without_json_is_an_unknown_outcome(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    x = running.add_account(Network.X)
    # The create went through; every answer to it is an HTML page.
    running.fake.fail_next(
        running.case.create_endpoint,
        status=200,
        raw_body=GARBAGE,
        after_processing=True,
        times=FAST.attempts,
    )
    request = submission(x)

    with pytest.raises(ProviderOutcomeUnknown) as caught:
        running.provider.submit(request)

    assert caught.value.retryable
    assert_plain(caught.value.message)
    creates = running.creates()
    if running.provider.idempotent_submit:
        # Asking again is safe with the key: still one post however often it was asked.
        assert len(creates) == FAST.attempts
        assert {c["headers"].get("idempotency-key") for c in creates} == {request.idempotency_key}
    else:
        assert len(creates) == 1
    assert running.stored() == 1
    assert_key_kept_out(running, caplog, caught.value)


def test_a_status_read_answered_without_json_is_retryable_and_the_next_read_works(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    x = running.add_account(Network.X)
    request = submission(x)
    receipt = running.provider.submit(request)
    running.fake.fail_next(running.case.status_endpoint, status=200, raw_body=GARBAGE, times=FAST.attempts)

    with pytest.raises(ProviderError) as caught:
        running.provider.fetch_state(receipt.external_id, request)

    assert caught.value.retryable
    assert_plain(caught.value.message)
    assert_key_kept_out(running, caplog, caught.value)
    assert_published_everywhere(settle(running.provider, receipt.external_id, request), (x,))
