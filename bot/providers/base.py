"""The provider interface and the HTTP mechanics every provider shares.

A provider lists the accounts it can publish to, submits a post, reports how the post is doing, and
cancels it. Failures are `bot.errors.ProviderError` subclasses whose `retryable` says whether another
try can help; provider modules only map their API's shapes onto these types.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import httpx

from bot.domain.model import (
    Account,
    AccountResult,
    MediaKind,
    PublicationState,
    Queue,
    SubmissionReceipt,
    Workspace,
)
from bot.errors import (
    ProviderAuthError,
    ProviderBudgetExhausted,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.providers.parsing import clip, web_url
from bot.providers.ratelimit import Limiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaFile:
    """One image or video to hand to the provider: bytes already downloaded to `path`, or a public `url`
    the provider imports itself. Exactly one of the two is set. Files are streamed, never held in memory.
    """

    name: str
    mime_type: str
    path: Path | None = None
    url: str | None = None
    size: int | None = None

    @property
    def kind(self) -> MediaKind:
        return MediaKind.of(self.mime_type)

    def open(self) -> IO[bytes]:
        if self.path is None:
            raise ValueError(f"{self.name} has no downloaded bytes (it is imported from {self.url})")
        return self.path.open("rb")


@dataclass(frozen=True)
class Upload:
    """A multipart body: `media` streamed as the form field `form_field`, beside plain form `data`.

    The file is opened afresh for every try, so a retried upload sends the whole file again.
    """

    form_field: str
    media: MediaFile
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitRequest:
    """One submission of one post to one provider.

    `idempotency_key` is stable for every retry of the same submission, so an idempotent provider
    never creates the post twice. `publish_at` is aware UTC and fixed for the submission; `immediate` is
    True when that time has come (the dispatcher submits at the due time), so providers with a separate
    "publish now" call use it. `accounts` describes `account_ids` (network, name) where the provider needs
    it. `queue_id` asks a provider with queues (Postoria) to use the queue's next slot instead of a time.
    `first_comment` is to be posted under the post, without delay, on every account whose network takes
    comments; None (or a blank text) sends no comment field at all.
    """

    text: str
    account_ids: tuple[str, ...]
    publish_at: datetime
    idempotency_key: str
    media: tuple[MediaFile, ...] = ()
    immediate: bool = False
    queue_id: str | None = None
    accounts: tuple[Account, ...] = ()
    first_comment: str | None = None

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)

    @property
    def comment_to_send(self) -> str | None:
        """`first_comment` when it has words in it: a blank comment is no comment, not an empty one."""
        if self.first_comment is None or not self.first_comment.strip():
            return None
        return self.first_comment


class Provider(Protocol):
    #: Short stable name stored in the database ("publora").
    name: str
    #: Name shown to people ("Publora").
    display_name: str
    #: True when a create may be retried with the same idempotency key without risk of a duplicate.
    idempotent_submit: bool

    def list_accounts(self) -> list[Account]: ...

    def submit(self, request: SubmitRequest) -> SubmissionReceipt: ...

    def fetch_state(self, external_id: str, request: SubmitRequest) -> PublicationState:
        """How the submission `request` that the provider accepted as `external_id` is doing, per account.

        `request` is the submission as it was sent (without media files), so providers that must find
        their posts again (Publer) can match accounts, time and text.
        """
        ...

    def cancel(self, external_id: str, request: SubmitRequest) -> None:
        """Withdraw a submitted post, re-reading its state first.

        Raises ProviderTooLate when publishing started or finished (`live` says whether it is out).
        """
        ...

    def find_submission(self, request: SubmitRequest, *, sent_at: datetime) -> SubmissionReceipt | None:
        """For providers without idempotency: did an earlier try of `request`, sent at `sent_at`, create a
        post? Looks at the provider's posts (accounts, time window, text).

        Returns the receipt of the post found, or None when the provider's records prove there is none, so
        sending again is safe. Raises ProviderOutcomeUnknown when it cannot tell (a human decides), and a
        retryable ProviderError when asking again later can tell (e.g. the provider may still be
        processing the earlier try).
        """
        ...

    def list_queues(self) -> list[Queue]:
        """The provider's posting queues; empty for providers without queues."""
        ...

    def check_credentials(self) -> str:
        """A sentence describing what the credentials can reach; raises ProviderError when they fail.

        Connections whose tokens are expired or expiring are named in the sentence.
        """
        ...


@runtime_checkable
class ListsWorkspaces(Protocol):
    """A provider whose key reaches several workspaces and that can list them (Publer)."""

    def list_workspaces(self) -> list[Workspace]:
        """The workspaces the key can reach, in the provider's order; raises ProviderError."""
        ...


# Errors the request provably never left this machine with: safe to retry even without idempotency.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: A 429 asking for a longer pause than this is not slept off inside the request: it is raised, and
    #: the dispatcher comes back to the post later instead of blocking a worker.
    max_rate_limit_wait: float = 10.0
    #: How long a request may wait for a slot of the client-side rate limiter before giving up.
    max_budget_wait: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), 60.0)
        backoff = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


class HttpProvider:
    """Shared HTTP mechanics: one `httpx.Client`, timeouts, error mapping and safe retries.

    Subclasses set `name`, `display_name`, override `error_message` to pull the provider's text out of
    its error bodies, and implement `read_state`. Secrets are sent only in headers and never appear in
    raised messages: `secrets` are blanked out of every answer before it is read, so a provider echoing
    its key cannot carry it into an error, a result or a Slack message.
    """

    name = "http"
    display_name = "HTTP"
    idempotent_submit = False

    def __init__(
        self,
        *,
        client: httpx.Client,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: Limiter | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._limiter = limiter
        # A "secret" of a few characters is no credential, and blanking it would mangle every answer.
        self._secrets = tuple(s for s in secrets if len(s) >= 8)

    # Defaults for providers without these features; providers that have them override.
    def list_queues(self) -> list[Queue]:
        return []

    def fetch_state(self, external_id: str, request: SubmitRequest) -> PublicationState:
        """`read_state`, kept to what Postgate asked about and can show (see `tidy_state`)."""
        return tidy_state(self.read_state(external_id, request), request)

    def read_state(self, external_id: str, request: SubmitRequest) -> PublicationState:
        """The provider's own reading of a submission's state; `fetch_state` tidies it."""
        raise NotImplementedError

    def find_submission(self, request: SubmitRequest, *, sent_at: datetime) -> SubmissionReceipt | None:  # noqa: ARG002
        raise ProviderOutcomeUnknown(
            self.display_name, "cannot look up whether an earlier try created the post"
        )

    def error_message(self, response: httpx.Response, body: Any) -> tuple[str, str | None]:
        """(message, code) from an error response. Providers override this for their envelope."""
        if isinstance(body, Mapping):
            message = body.get("error") or body.get("message")
            if isinstance(message, str):
                return message, body.get("code") if isinstance(body.get("code"), str) else None
        return f"HTTP {response.status_code}", None

    # Default hook: providers override it and use the arguments.
    def classify_error(self, status: int, code: str | None) -> type[ProviderError] | None:  # noqa: ARG002
        """A provider's own mapping of (status, code) to an error class; None falls back to the defaults."""
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_safe: bool = True,
        upload: Upload | None = None,
    ) -> Any:
        """Send a request (JSON, or a multipart `upload`) and return its JSON body, raising a ProviderError
        subclass on failure.

        `retry_safe` says whether sending the same request twice is harmless (reads, or writes that
        carry an idempotency key). When it is not, only failures that provably never reached the
        provider are retried, and a failure after sending becomes ProviderOutcomeUnknown.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._request_once(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=headers,
                    retry_safe=retry_safe,
                    upload=upload,
                )
            except ProviderError as error:
                if not error.retryable or attempt >= self._retry.attempts:
                    raise
                if isinstance(error, ProviderOutcomeUnknown) and not retry_safe:
                    raise
                if isinstance(error, ProviderBudgetExhausted):
                    raise
                retry_after = error.retry_after if isinstance(error, ProviderRateLimited) else None
                if retry_after is not None and retry_after > self._retry.max_rate_limit_wait:
                    raise
                delay = self._retry.delay(attempt, retry_after)
                log.warning(
                    "%s %s %s failed (%s); retrying in %.1fs",
                    self.display_name,
                    method,
                    path,
                    error.message,
                    delay,
                )
                self._sleep(delay)

    def _observe_rate_headers(self, response: httpx.Response) -> None:
        if self._limiter is None:
            return
        remaining, reset_in = rate_headers(response)
        self._limiter.observe(remaining=remaining, reset_in=reset_in, limited=response.status_code == 429)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        upload: Upload | None,
    ) -> httpx.Response:
        if upload is None:
            return self._client.request(method, path, json=json, params=params, headers=headers)
        media = upload.media
        try:
            stream = media.open()
        except OSError as error:
            raise ProviderRejected(
                self.display_name, f"Postgate could not read {media.name} ({type(error).__name__})"
            ) from None
        with stream:
            return self._client.request(
                method,
                path,
                params=params,
                headers=headers,
                files={upload.form_field: (media.name, stream, media.mime_type)},
                data=dict(upload.data),
            )

    def _request_once(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        retry_safe: bool,
        upload: Upload | None = None,
    ) -> Any:
        if self._limiter is not None:
            self._limiter.acquire(self._retry.max_budget_wait)
        try:
            response = self._send(method, path, json=json, params=params, headers=headers, upload=upload)
        except httpx.InvalidURL:
            # An id the provider gave earlier that no address can hold: asking again cannot help.
            raise ProviderRejected(
                self.display_name, "Postgate could not form a valid address for it"
            ) from None
        except _NOT_SENT as error:
            raise ProviderUnavailable(
                self.display_name, f"could not connect ({type(error).__name__})"
            ) from None
        except httpx.TimeoutException as error:
            raise ProviderOutcomeUnknown(
                self.display_name, f"no answer in time ({type(error).__name__}); the request may have arrived"
            ) from None
        except httpx.HTTPError as error:
            raise ProviderOutcomeUnknown(
                self.display_name, f"the connection failed mid-request ({type(error).__name__})"
            ) from None
        self._observe_rate_headers(response)
        if response.status_code == 204:
            return {}  # success that by definition carries no body (deletes)
        body = _json_or_none(response, self._secrets)
        if response.is_success:
            if body is None:
                raise ProviderOutcomeUnknown(
                    self.display_name, f"answered {response.status_code} without JSON"
                )
            return body
        message, code = self.error_message(response, body)
        message = clip(message.strip() or f"answered HTTP {response.status_code}", ERROR_MAX)
        status = response.status_code
        special = self.classify_error(status, code)
        if special is not None:
            raise special(self.display_name, message, status=status, code=code)
        if status == 429:
            raise ProviderRateLimited(
                self.display_name, message, retry_after=retry_after(response), status=status, code=code
            )
        if status in (401, 403) and code is None:
            raise ProviderAuthError(self.display_name, message, status=status, code=code)
        if status >= 500 or status == 408 or status < 400:
            # A 5xx may come after the provider stored the post; only a retry-safe request may go again.
            # So may an answer no API gives (1xx, a redirect): it is no refusal.
            cls = ProviderUnavailable if retry_safe else ProviderOutcomeUnknown
            raise cls(self.display_name, message, status=status, code=code)
        raise ProviderRejected(self.display_name, message, status=status, code=code)


#: The longest error text kept from a provider's answer.
ERROR_MAX = 1000
# No provider nests its JSON this deep; deeper answers are treated as not JSON rather than walked.
_MAX_DEPTH = 32


def _json_or_none(response: httpx.Response, secrets: tuple[str, ...] = ()) -> Any:
    """The answer's JSON with `secrets` blanked out of every text in it; None when it is not JSON (or
    absurdly nested)."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    return _scrubbed(body, secrets)


def _scrubbed(body: Any, secrets: tuple[str, ...]) -> Any:
    """`body` with each secret in its strings (keys too) replaced, walked without recursion; None when it
    nests deeper than `_MAX_DEPTH`."""

    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[api key]")
        return text

    if isinstance(body, str):
        return clean(body)
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return None
        if isinstance(node, dict):
            for key in [k for k in node if clean(k) != k]:
                node[clean(key)] = node.pop(key)
            items: list[tuple[Any, Any]] = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for index, value in items:
            if isinstance(value, str):
                node[index] = clean(value)
            elif isinstance(value, dict | list):
                stack.append((value, depth + 1))
    return body


def tidy_state(state: PublicationState, request: SubmitRequest) -> PublicationState:
    """Only the accounts `request` submitted (once each; any the provider names when `request` names
    none), links only to web pages, error texts cut to a readable length."""
    wanted = set(request.account_ids)
    seen: set[str] = set()
    results = []
    for result in state.results:
        if (wanted and result.account_id not in wanted) or result.account_id in seen:
            continue
        seen.add(result.account_id)
        url = web_url(result.url)
        error = clip(result.error, ERROR_MAX) if result.error else None
        results.append(AccountResult(result.account_id, result.network, result.outcome, url=url, error=error))
    return PublicationState(tuple(results))


# A reset header above this is a UNIX time (Publer), below it a number of seconds (other APIs).
_UNIX_TIME_FLOOR = 1_000_000_000
# A longer wait than this is not believed: Postgate comes back after it and asks again.
_MAX_RETRY_AFTER = 3600.0


def retry_after(response: httpx.Response, *, wall: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait, from `Retry-After` or else `X-RateLimit-Reset` (UNIX seconds or a delta)."""
    value = _number(response.headers.get("Retry-After"))
    if value is None:
        reset = _number(response.headers.get("X-RateLimit-Reset"))
        if reset is None:
            return None
        value = reset - wall() if reset > _UNIX_TIME_FLOOR else reset
    return min(max(value, 0.0), _MAX_RETRY_AFTER)


def rate_headers(response: httpx.Response) -> tuple[int | None, float | None]:
    """(remaining, seconds until reset) from the X-RateLimit-* headers, when the provider sends them."""
    remaining = _number(response.headers.get("X-RateLimit-Remaining"))
    return (int(remaining) if remaining is not None else None), retry_after(response)


def _number(value: str | None) -> float | None:
    """A finite number from a header; None for anything else ("nan", "inf", an HTTP date)."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
