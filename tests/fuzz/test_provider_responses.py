"""Property-based: whatever a publishing provider answers (any JSON shape, wrong types, missing fields, huge
or hostile strings, bodies that are not JSON, odd status codes, garbage `Retry-After` headers, dropped
connections), the provider modules return a well-formed result or raise one of `bot.errors`' provider
errors with a meaningful `retryable`, and the dispatcher built on them never crashes its tick, never
reports a post handed over or live that the provider did not confirm, leaves every post either waiting for
a retry or explained in plain words in its thread, and never shows a secret.

The answers reach the real provider modules through `httpx.MockTransport`, the HTTP seam every provider
takes in its constructor (the same seam production uses with a real transport); the dispatcher is the one
`bot.main.build` assembles, on a real SQLite database, delivering its messages to the fake Slack.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.db import repo
from bot.db.engine import Database, make_engine
from bot.db.migrate import upgrade
from bot.db.tables import AccountResult as PublishResult
from bot.db.tables import AuditEvent, OutboxMessage, PublishAttempt
from bot.domain.model import (
    Account,
    AccountOutcome,
    Draft,
    PostStatus,
    PublicationState,
    SubmissionReceipt,
)
from bot.domain.networks import Network
from bot.errors import ProviderAuthError, ProviderError, ProviderRejected
from bot.main import build
from bot.providers.base import MediaFile, Provider, RetryPolicy, SubmitRequest
from bot.providers.postoria import PostoriaProvider
from bot.providers.publer import PublerProvider
from bot.providers.publora import PubloraProvider
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlack
from tests.test_dispatch import ANA, APPROVALS, AUTHOR, settings_for

KEYS = {
    "publora": "sk_fuzz_publora.0123456789abcdef",
    "publer": "publer-fuzz-key-9f8e7d6c5b4a3f2e",
    "postoria": "pst_live_fuzz_0123456789abcdef",
}
PROVIDERS = sorted(KEYS)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ANCHOR = int(NOW.timestamp())
NO_RETRY_WAIT = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0, max_budget_wait=0.0)
TEAM = "T0POSTGATE"
# Derandomized so CI is reproducible; raise max_examples (or drop derandomize) locally to explore further.
CALLS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DISPATCH = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


# -- what a provider might answer ------------------------------------------------------------------

HOSTILE = [
    "",
    "   ",
    "null",
    "<!channel> <!here> <@U0ANA> <#C0GENERAL>",
    "<https://evil.example|your bank>",
    "javascript:alert(1)",
    "https://evil.example/<!channel>",
    "ftp://files.example/post",
    "https://",
    "http://x.example/post 1",
    "\x00\u202e\ufffd",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
    "2026-11-21T12:00:00Z",
    "-1",
    "1e400",
    "job:abc@99999999999999999999",
    "twitter-1111",
    "a,b@c",
    "../../admin",
]


@functools.cache
def hostile_texts(key: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=30),
        st.sampled_from([*HOSTILE, key, f"invalid key {key}"]),
        st.integers(min_value=3, max_value=5).map(lambda n: "x" * 10**n),
    )


@functools.cache
def leaves(key: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        hostile_texts(key),
    )


@functools.cache
def json_values(key: str) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves(key),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=20,
    )


class Shapes:
    """Builds a provider's answer shapes either tidy (every field present, with a plausible value) or
    messy (fields missing, of the wrong type, hostile, huge), from one description."""

    def __init__(self, key: str, *, messy: bool) -> None:
        self.key, self.messy = key, messy

    def obj(self, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if not self.messy:
            return st.fixed_dictionaries(fields)
        loose = {name: self.value(strategy) for name, strategy in fields.items()}
        return st.fixed_dictionaries({}, optional=loose)

    def value(self, plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """Mostly a plausible value, sometimes anything at all."""
        return st.one_of(plausible, plausible, leaves(self.key), json_values(self.key))

    def many(self, item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if self.messy:
            return self.value(st.lists(item, max_size=3))
        return st.lists(item, min_size=1, max_size=3)

    def words(self, *plausible: str) -> st.SearchStrategy[str]:
        return hostile_texts(self.key) if self.messy else st.sampled_from(plausible)


TIMES = st.sampled_from(["2026-11-21T12:00:00Z", "2026-11-21T12:30:00.000Z", "2026-11-21T14:00:00+02:00"])
URLS = st.sampled_from(
    ["https://x.com/acme/status/1", "http://example.com/p/1", "javascript:alert(1)", "<!channel>", ""]
)
Kinds = dict[str, st.SearchStrategy[Any]]


@functools.cache
def publora_bodies(key: str, messy: bool) -> Kinds:
    s = Shapes(key, messy=messy)
    statuses = st.sampled_from(["published", "published", "failed", "pending", "scheduled", "PUBLISHED"])
    error = s.obj(
        code=st.sampled_from(["RATE_LIMITED", "TIMEOUT_ERROR", "X"]), message=s.words("Token expired")
    )
    outcome = s.obj(
        _id=st.sampled_from(["p1", "p2"]),
        status=statuses,
        permalink=URLS,
        postedId=st.sampled_from(["1111", "", "at://did:plc:a/app.bsky.feed.post/3k", "<!channel>"]),
        error=error,
    )
    # A row about one of the post's own accounts, or about any account at all.
    ours = st.sampled_from(
        [{"platform": "twitter", "platformId": "1111"}, {"platform": "linkedin", "platformId": "2222"}]
    )
    anyone = s.obj(
        platform=st.sampled_from(["twitter", "linkedin", "bluesky"]),
        platformId=st.sampled_from(["1111", "2222", "twitter-1111", "did:plc:acme"]),
    )
    post = st.tuples(ours | ours | anyone, outcome).map(
        lambda parts: (
            {**parts[0], **parts[1]}
            if isinstance(parts[0], dict) and isinstance(parts[1], dict)
            else parts[1]
        )
    )
    return {
        "accounts": s.obj(
            connections=s.many(
                s.obj(
                    platformId=st.sampled_from(["twitter-1111", "linkedin-2222", "twitter-", "pinterest-9"]),
                    username=s.words("acme"),
                    displayName=s.words("Acme <!channel>"),
                    profileUrl=URLS,
                    tokenStatus=st.sampled_from(["ok", "expired", "expiring_soon", "weird"]),
                )
            )
        ),
        "create": s.obj(
            success=st.booleans(),
            postGroupId=st.sampled_from(["grp_1", "grp_2"]),
            scheduledTime=TIMES,
            warnings=s.many(s.words("Skipped the comment on X")),
        ),
        "status": s.obj(
            status=st.sampled_from(["draft", "scheduled", "published", "failed", "partially_published"]),
            platforms=s.many(st.sampled_from(["twitter-1111", "linkedin-2222", "bluesky-x"])),
            posts=s.many(post),
        ),
        "logs": s.obj(
            logs=s.many(
                s.obj(
                    event=st.just("publish_failed"),
                    platform=st.sampled_from(["twitter", "linkedin"]),
                    error=error,
                    createdAt=TIMES,
                )
            )
        ),
        "error": s.obj(
            error=s.words("Validation failed"),
            message=s.words("Not allowed"),
            code=st.sampled_from(["IDEMPOTENCY_IN_FLIGHT", "SCHEDULED_TIME_IN_PAST", "LIMIT", "X"]),
            validation=s.obj(errors=s.many(error)),
            invalidPlatforms=s.many(s.words("twitter-1111")),
        ),
    }


@functools.cache
def publer_bodies(key: str, messy: bool) -> Kinds:
    s = Shapes(key, messy=messy)
    failure = s.obj(
        account_id=st.sampled_from(["5f0c1a", "zzz"]),
        message=s.words("Token expired"),
        provider=st.just("twitter"),
    )
    payload = s.obj(failures=s.many(failure))
    job = s.obj(status=st.sampled_from(["working", "complete", "completed", "failed"]), payload=payload)
    post = s.obj(
        id=st.sampled_from(["p1", "p2"]),
        account_id=st.sampled_from(["5f0c1a", "6a7b8c"]),
        text=st.sampled_from(["Launch day", "Launch day", "other"]),
        state=st.sampled_from(["published", "published_deleted", "failed", "scheduled", "scheduled_reauth"]),
        post_link=URLS,
        scheduled_at=TIMES,
        error=s.words("Token expired"),
    )
    pages = st.integers(min_value=-1, max_value=40) if messy else st.sampled_from([1, 1, 2])
    posts = s.obj(posts=s.many(post), total_pages=pages)
    return {
        "accounts": s.many(
            s.obj(
                id=st.sampled_from(["5f0c1a", "6a7b8c"]),
                provider=st.sampled_from(["twitter", "linkedin", "pinterest"]),
                name=s.words("Acme <!channel>"),
            )
        ),
        "create": s.obj(job_id=st.sampled_from(["job1", "j@b", "a,b"]))
        | s.obj(data=s.obj(job_id=st.just("job2"))),
        "job": job | s.obj(data=job),
        "posts": posts | s.obj(data=posts),
        "media": s.obj(id=st.just("m1"), type=st.just("photo"), job_id=st.just("mj1")),
        "error": s.obj(errors=s.many(s.words("Invalid")), error=s.words("Slow down")),
    }


@functools.cache
def postoria_bodies(key: str, messy: bool) -> Kinds:
    s = Shapes(key, messy=messy)
    ids = st.sampled_from([42, 7, "42", 10**6, -5])
    pagination = s.obj(has_more=st.booleans(), next_cursor=st.sampled_from(["c1", "c2", ""]))
    result = s.obj(
        account_id=st.sampled_from([42, "42", 7]), link_to_post=URLS, error=s.words("Token expired")
    )
    post = s.obj(
        id=ids,
        status=st.sampled_from(["draft", "scheduled", "in_progress", "posted", "failed"]),
        results=s.many(result),
        date=TIMES,
        caption=st.sampled_from(["Launch day", "other"]),
    )
    account = s.obj(
        id=ids, network=st.sampled_from(["x", "linked_in", "reddit"]), name=s.words("Acme"), url=URLS
    )
    return {
        "accounts": s.obj(data=s.many(account), pagination=pagination),
        "create": post,
        "status": post,
        "posts": s.obj(data=s.many(post), pagination=pagination),
        "media": s.obj(id=ids, status=st.sampled_from(["ready", "failed", "processing"]), file_id=ids),
        "error": s.obj(error=s.obj(code=st.just("invalid_request"), message=s.words("Invalid caption"))),
    }


BODIES: dict[str, Callable[[str, bool], Kinds]] = {
    "publora": publora_bodies,
    "publer": publer_bodies,
    "postoria": postoria_bodies,
}

STATUSES = st.one_of(
    st.sampled_from(
        [200, 200, 200, 201, 202, 204, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503]
    ),
    st.integers(min_value=200, max_value=599),
)
HEADER_VALUES = st.sampled_from(
    [
        "",
        "abc",
        "-5",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "1e308",
        "99999999999",
        "0.5",
        "3",
        "Wed, 21 Oct 2015 07:28:00 GMT",
    ]
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/html",
        "application/octet-stream",
        "garbage/;;",
    ]
)
RAW_BODIES = st.one_of(
    st.sampled_from(
        [
            b"",
            b"<html>oops</html>",
            b"{",
            b"null",
            b"NaN",
            b"\xff\xfe\x00",
            b"[" * 100_000,
            b'{"a":' * 50_000,
            b"1" * 5000,
            b'"' + b"x" * 300_000 + b'"',
        ]
    ),
    st.binary(max_size=40),
)
NETWORK_FAILURES: list[type[Exception]] = [
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.RemoteProtocolError,
    httpx.WriteError,
]


@dataclass(frozen=True)
class Answer:
    """One drawn HTTP answer: a response, or a transport failure."""

    status: int = 200
    body: bytes = b"{}"
    headers: tuple[tuple[str, str], ...] = ()
    failure: type[Exception] | None = None

    def respond(self, request: httpx.Request) -> httpx.Response:
        if self.failure is not None:
            raise self.failure("fuzzed failure", request=request)
        return httpx.Response(self.status, content=self.body, headers=list(self.headers), request=request)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None


JSON = (("Content-Type", "application/json"),)


@functools.cache
def answers(provider: str, kind: str) -> st.SearchStrategy[Answer]:
    """An answer to one call of `kind`: mostly one that fits, else a refusal in the provider's envelope, an
    odd status with any body and headers, or a failed connection."""
    key = KEYS[provider]
    tidy, messy = BODIES[provider](key, False), BODIES[provider](key, True)

    def encoded(bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
        return bodies.map(lambda body: json.dumps(body).encode())

    fits = st.builds(Answer, st.sampled_from([200, 201]), encoded(tidy.get(kind, st.just({}))), st.just(JSON))
    refusal = st.builds(
        Answer,
        st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 503]),
        encoded(tidy["error"]),
        st.just(JSON),
    )
    body = encoded(st.one_of(messy.get(kind, json_values(key)), messy["error"], json_values(key)))
    headers = st.lists(
        st.tuples(
            st.sampled_from(["Retry-After", "X-RateLimit-Reset", "X-RateLimit-Remaining"]), HEADER_VALUES
        ),
        max_size=2,
    )
    odd = st.builds(
        lambda status, content, extra, content_type: Answer(
            status, content, (*extra, *((("Content-Type", content_type),) if content_type else ()))
        ),
        STATUSES,
        st.one_of(body, body, body, RAW_BODIES),
        headers,
        st.one_of(st.none(), CONTENT_TYPES),
    )
    failure = st.sampled_from(NETWORK_FAILURES).map(lambda f: Answer(failure=f))
    return st.one_of(fits, fits, fits, fits, refusal, odd, odd, failure)


def kind_of(provider: str, request: httpx.Request) -> str:
    """Which of the provider's calls `request` is, as the answer strategies name them."""
    path, method = request.url.path, request.method
    for base in ("/api/v1", "/v1"):
        path = path.removeprefix(base)
    if provider == "publora":
        for prefix, kind in (
            ("/platform-connections", "accounts"),
            ("/create-post", "create"),
            ("/get-post/", "status"),
            ("/post-logs/", "logs"),
        ):
            if path.startswith(prefix):
                return kind
        return "other"
    if provider == "publer":
        if path.startswith("/accounts"):
            return "accounts"
        if path.startswith("/posts/schedule"):
            return "create"
        if path.startswith("/job_status/"):
            return "job"
        if path.startswith("/media"):
            return "media"
        return "posts" if path.startswith("/posts") else "other"
    if "/social-accounts" in path:
        return "accounts"
    if "/media" in path:
        return "media"
    if path.endswith("/posts"):
        return "create" if method == "POST" else "posts"
    return "status" if "/posts/" in path else "other"


KINDS = {
    "publora": ("accounts", "create", "status", "logs", "other"),
    "publer": ("accounts", "create", "job", "posts", "media", "other"),
    "postoria": ("accounts", "create", "status", "posts", "media", "other"),
}


@dataclass
class Script:
    """What the fake provider answers, per kind of call: each call takes the next answer, and the last
    one repeats. Records what was answered, for the properties."""

    provider: str
    queues: dict[str, list[Answer]] = field(default_factory=dict)
    served: list[tuple[str, str, Answer]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        kind = kind_of(self.provider, request)
        queue = self.queues.get(kind) or [Answer(503, b"{}")]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        self.served.append((kind, request.method, answer))
        return answer.respond(request)

    def statuses(self, kind: str | None = None) -> list[int | None]:
        """The status of each answer given (to calls of `kind`), None for a failed connection."""
        return [None if a.failure else a.status for k, _, a in self.served if kind in (None, k)]

    def ok_bodies(self) -> list[Any]:
        return [a.json() for _, _, a in self.served if a.failure is None and 200 <= a.status < 300]


def draw_script(data: st.DataObject, provider: str) -> dict[str, list[Answer]]:
    return {
        kind: data.draw(st.lists(answers(provider, kind), min_size=1, max_size=3), label=kind)
        for kind in KINDS[provider]
    }


# -- the providers as Postgate builds them, on the fuzzed transport ---------------------------------


def make_provider(name: str, script: Script, clock: FakeClock) -> Provider:
    transport = httpx.MockTransport(script.handle)

    def sleep(seconds: float) -> None:
        # Waiting moves the clock, so every polling loop reaches its deadline.
        clock.advance(seconds=max(seconds, 1.0))

    if name == "publora":
        return PubloraProvider(
            api_key=KEYS[name],
            base_url="https://publora.test/api/v1",
            transport=transport,
            retry=NO_RETRY_WAIT,
            sleep=sleep,
        )
    if name == "publer":
        return PublerProvider(
            api_key=KEYS[name],
            workspace_id="ws1",
            base_url="https://publer.test/api/v1",
            transport=transport,
            retry=NO_RETRY_WAIT,
            sleep=sleep,
            clock=clock,
            job_poll_interval=0.0,
            job_wait=0.0,
        )
    return PostoriaProvider(
        api_key=KEYS[name],
        workspace_id="9",
        base_url="https://postoria.test/v1",
        transport=transport,
        retry=NO_RETRY_WAIT,
        sleep=sleep,
        clock=clock,
        media_poll_interval=1.0,
        media_wait=3.0,
    )


ACCOUNT_IDS = {
    "publora": ("twitter-1111", "linkedin-2222"),
    "publer": ("5f0c1a", "6a7b8c"),
    "postoria": ("42", "7"),
}


def accounts_of(provider: str) -> tuple[Account, ...]:
    x, linkedin = ACCOUNT_IDS[provider]
    return (
        Account(provider, x, Network.X, "@acme"),
        Account(provider, linkedin, Network.LINKEDIN, "Acme Inc"),
    )


def valid_accounts_answer(provider: str) -> Answer:
    x, linkedin = ACCOUNT_IDS[provider]
    body: Any
    if provider == "publora":
        body = {
            "connections": [
                {"platformId": x, "username": "acme"},
                {"platformId": linkedin, "displayName": "Acme Inc"},
            ]
        }
    elif provider == "publer":
        body = [
            {"id": x, "provider": "twitter", "name": "@acme"},
            {"id": linkedin, "provider": "linkedin", "name": "Acme Inc"},
        ]
    else:
        body = {
            "data": [
                {"id": int(x), "network": "x", "name": "@acme"},
                {"id": int(linkedin), "network": "linkedin", "name": "Acme Inc"},
            ]
        }
    return Answer(200, json.dumps(body).encode(), (("Content-Type", "application/json"),))


def no_secret(text: str | None, provider: str) -> None:
    assert text is None or KEYS[provider] not in text, "a provider's key reached a text Postgate shows"


def is_web_url(url: str | None) -> bool:
    return url is None or (url.startswith(("https://", "http://")) and "<" not in url and " " not in url)


def check_error(error: ProviderError, provider: str, served: list[int | None]) -> None:
    assert isinstance(error.message, str) and error.message.strip()
    no_secret(error.message, provider)
    assert len(error.message) <= 5000, "an error text is bounded"
    if isinstance(error, ProviderAuthError | ProviderRejected):
        assert not error.retryable
    transient = [s for s in served if s is None or s >= 500 or s in (408, 429)]
    if served and len(transient) == len(served):
        assert error.retryable, (
            f"only outages and rate limits were answered ({served}), yet {error!r} is final"
        )


# -- property 1: every provider call returns a well-formed value or a provider error -----------------


@pytest.mark.parametrize("name", PROVIDERS)
@CALLS
@given(data=st.data())
def test_provider_calls_return_well_formed_values_or_provider_errors(name: str, data: st.DataObject) -> None:
    clock = FakeClock(NOW)
    script = Script(name, draw_script(data, name))
    provider = make_provider(name, script, clock)
    key = KEYS[name]

    try:
        accounts = provider.list_accounts()
    except ProviderError as error:
        check_error(error, name, script.statuses("accounts"))
    else:
        for account in accounts:
            assert isinstance(account, Account) and account.provider == name
            assert isinstance(account.account_id, str) and account.account_id.strip()
            assert isinstance(account.network, Network) and isinstance(account.name, str) and account.name
            assert is_web_url(account.profile_url)
            no_secret(account.warning, name)

    media = (MediaFile("launch.png", "image/png", url="https://cdn.example/launch.png"),)
    request = SubmitRequest(
        text="Launch day",
        account_ids=ACCOUNT_IDS[name],
        publish_at=NOW + timedelta(hours=1),
        idempotency_key="postgate-1-1-fuzz",
        accounts=accounts_of(name),
        media=media if data.draw(st.booleans(), label="with media") else (),
        first_comment=data.draw(st.sampled_from([None, "", "Details <!channel>"]), label="comment"),
    )
    script.served.clear()
    try:
        receipt = provider.submit(request)
    except ProviderError as error:
        event(f"submit raised {type(error).__name__}")
        check_error(error, name, script.statuses("create"))
        creates = script.statuses("create")
        if creates and not error.retryable:
            # A final refusal only when the provider itself said no: anything else may have stored it.
            assert creates[-1] is not None and 400 <= creates[-1] < 500 and creates[-1] not in (408, 429)
    else:
        assert isinstance(receipt, SubmissionReceipt)
        assert isinstance(receipt.external_id, str) and receipt.external_id.strip()
        assert receipt.effective_time is None or receipt.effective_time.tzinfo is not None
        assert script.statuses("create") and script.statuses("create")[-1] in range(200, 300)
        for note in receipt.notes:
            assert isinstance(note, str)
            no_secret(note, name)

    external_id = data.draw(
        st.sampled_from(["grp_1", f"job:job1@{ANCHOR}", f"posts:p1,p2@{ANCHOR}", "42"]) | hostile_texts(key),
        label="external id",
    )
    script.served.clear()
    try:
        state = provider.fetch_state(external_id, request)
    except ProviderError as error:
        check_error(error, name, script.statuses())
    else:
        assert isinstance(state, PublicationState)
        event("state: " + ",".join(sorted({r.outcome.value for r in state.results})))
        for result in state.results:
            assert result.account_id in request.account_ids, (
                "only the accounts Postgate submitted are reported"
            )
            assert isinstance(result.outcome, AccountOutcome)
            assert is_web_url(result.url), f"not a web address: {result.url!r}"
            assert result.error is None or (isinstance(result.error, str) and len(result.error) <= 5000)
            no_secret(result.error, name)


# -- property 2: the dispatcher on top of them --------------------------------------------------------


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each example copies: migrating once keeps the examples fast."""
    path = tmp_path_factory.mktemp("fuzz-db") / "template.db"
    database = Database(make_engine(f"sqlite:///{path}"))
    upgrade(database.engine)
    database.dispose()
    return path


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user(AUTHOR, "alex")
    fake.add_user(ANA, "ana")
    fake.add_channel(APPROVALS, "approvals", members=[AUTHOR, ANA])
    yield fake
    fake.stop()


_examples = itertools.count()


class _Logged(logging.Handler):
    """Postgate's warnings and errors; those with an exception are crashes (the dispatcher logs one when a
    post's work raised)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def crashes(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.exc_info]


def confirmed_live(provider: str, bodies: list[Any]) -> bool:
    """Whether some 2xx answer reported a post as live, in the provider's own words."""

    def walk(value: Any) -> Iterator[dict[str, Any]]:
        if isinstance(value, dict):
            yield value
            for child in value.values():
                yield from walk(child)
        elif isinstance(value, list):
            for child in value:
                yield from walk(child)

    for body in bodies:
        for node in walk(body):
            if provider == "publora" and str(node.get("status", "")).strip().lower() == "published":
                return True
            if provider == "publer" and str(node.get("state", "")).strip().lower().startswith("published"):
                return True
            if (
                provider == "postoria"
                and isinstance(node.get("link_to_post"), str)
                and node["link_to_post"].strip()
            ):
                return True
    return False


def strings_in(bodies: list[Any]) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            found.add(str(value))
        elif isinstance(value, dict):
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for body in bodies:
        walk(body)
    return found


def provider_ids(provider: str, external_id: str) -> list[str]:
    """The provider's own ids inside the external id Postgate stored (Publer's is Postgate's wrapping)."""
    if provider != "publer":
        return [external_id]
    body = external_id.rpartition("@")[0] if "@" in external_id else external_id
    kind, _, ids = body.partition(":")
    return [i for i in ids.split(",") if i] if kind == "posts" else [ids]


HEADLINES = ("❌ Publishing failed", "🛑 *A human needs", "⚠️ Published on some", "🚀 Published")


@pytest.mark.parametrize("name", PROVIDERS)
@DISPATCH
@given(data=st.data())
def test_the_dispatcher_survives_any_provider_answer(
    name: str, data: st.DataObject, template_db: Path, slack: FakeSlack, tmp_path: Path
) -> None:
    path = tmp_path / f"example-{next(_examples)}.db"
    shutil.copy(template_db, path)
    db = Database(make_engine(f"sqlite:///{path}"))
    clock = FakeClock(NOW)
    # The composer listed the accounts (and Postoria's queues, none) before anything went wrong.
    script = Script(
        name, {"accounts": [valid_accounts_answer(name)], "other": [Answer(200, b'{"data": []}')]}
    )
    provider = make_provider(name, script, clock)
    app = build(
        settings_for(slack, _NoPublora(), approvers=[ANA]),  # type: ignore[arg-type]
        clock=clock,
        database=db,
        providers={name: provider},
    )
    logged = _Logged()
    logging.getLogger("bot").addHandler(logged)
    try:
        [offered] = app.services.accounts.get()
        assert len(offered.accounts) == 2, offered.failure
        draft = Draft(
            text="Launch day",
            targets=accounts_of(name)[: data.draw(st.sampled_from([1, 1, 2]), label="accounts")],
            publish_at=None,
            first_comment=data.draw(st.sampled_from([None, "Details"]), label="comment"),
        )
        post_id = app.services.posts.create(team_id=TEAM, author_id=AUTHOR, author_tz="UTC", draft=draft)
        app.outbox.deliver_due()
        app.services.posts.approve(team_id=TEAM, post_id=post_id, user_id=ANA)
        # Three ticks an hour apart: the submission, then retries or follow-ups.
        for _ in range(3):
            script.queues = draw_script(data, name)
            app.dispatcher.run_once()
            clock.advance(hours=1)
        app.outbox.deliver_due()
        check_dispatch(name, db, slack, post_id, script, clock.now())
        assert not logged.crashes(), logged.crashes()
        for record in logged.records:
            no_secret(record.getMessage(), name)
    finally:
        logging.getLogger("bot").removeHandler(logged)
        db.dispose()
        path.unlink(missing_ok=True)


class _NoPublora:
    """`settings_for` takes the Publora fake for its URL; these tests pass their providers themselves."""

    url = "http://127.0.0.1:9/unused"


def check_dispatch(
    name: str, db: Database, slack: FakeSlack, post_id: int, script: Script, now: datetime
) -> None:
    with db.read() as session:
        post = repo.get_post(session, post_id)
        status = PostStatus(post.status)
        attempts = list(session.exec(select(PublishAttempt).where(PublishAttempt.post_id == post_id)))
        results = list(session.exec(select(PublishResult).where(PublishResult.post_id == post_id)))
        audit = list(session.exec(select(AuditEvent).where(AuditEvent.post_id == post_id)))
        outbox = list(session.exec(select(OutboxMessage).where(OutboxMessage.post_id == post_id)))
        last_error, next_action_at, lease = post.last_error, post.next_action_at, post.lease_owner
        message_ts = post.message_ts

    event(f"post ended {status.value}")
    # Never stuck: waiting for a retry, handed over and followed, or finished.
    assert status in {
        PostStatus.APPROVED,
        PostStatus.SUBMITTED,
        PostStatus.PUBLISHED,
        PostStatus.PARTIALLY_PUBLISHED,
        PostStatus.FAILED,
        PostStatus.NEEDS_ATTENTION,
    }, status
    assert lease is None, "the dispatcher kept its lease: its work crashed"
    if status in (PostStatus.APPROVED, PostStatus.SUBMITTED):
        assert next_action_at is not None and next_action_at > now - timedelta(hours=1)
    if status is PostStatus.APPROVED:
        assert last_error, "a post waiting for a retry says why"

    # Handed over only on the provider's word: its id came back in a success answer.
    ok_bodies = script.ok_bodies()
    answered = strings_in(ok_bodies) if ok_bodies else set()
    for attempt in attempts:
        if attempt.external_id is not None:
            for provider_id in provider_ids(name, attempt.external_id):
                assert provider_id in answered or any(provider_id in s for s in answered), attempt.external_id

    # Live only where the provider said so, and linked only to web pages.
    live = [r for r in results if r.status == AccountOutcome.PUBLISHED]
    if live or status in (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED):
        assert confirmed_live(name, ok_bodies), "reported live without the provider saying so"
    submitted = set(ACCOUNT_IDS[name])
    for result in results:
        assert result.account_id in submitted
        assert is_web_url(result.url), result.url
        no_secret(result.error, name)

    # Every ending is told in the thread in plain words; nothing shown carries a secret.
    no_secret(last_error, name)
    for attempt in attempts:
        no_secret(attempt.error, name)
    for entry in audit:
        no_secret(entry.detail, name)
    assert {row.status for row in outbox} == {"sent"}, [
        (row.kind, row.status, row.last_error) for row in outbox
    ]
    assert message_ts is not None
    thread = [m for m in slack.replies(APPROVALS, message_ts) if m["ts"] != message_ts]
    for message in thread:
        no_secret(json.dumps(message), name)
        assert slack.bot_token not in json.dumps(message)
    if status in (
        PostStatus.FAILED,
        PostStatus.NEEDS_ATTENTION,
        PostStatus.PUBLISHED,
        PostStatus.PARTIALLY_PUBLISHED,
    ):
        endings = [m["text"] for m in thread if m.get("text", "").startswith(HEADLINES)]
        assert endings, [m.get("text") for m in thread]
        assert all(any(c.isalpha() for c in text) for text in endings)
