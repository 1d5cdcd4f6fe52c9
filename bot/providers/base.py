"""The provider interface and the HTTP mechanics every provider shares.

A provider lists the accounts it can publish to, submits a post, reports how the post is doing, and
cancels it. Failures are `bot.errors.ProviderError` subclasses whose `retryable` says whether another
try can help; provider modules only map their API's shapes onto these types.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from bot.domain.model import Account, PublicationState, SubmissionReceipt
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmitRequest:
    """One submission of one post to one provider.

    `idempotency_key` is stable for every retry of the same submission, so an idempotent provider
    never creates the post twice. `publish_at` is aware UTC.
    """

    text: str
    account_ids: tuple[str, ...]
    publish_at: datetime
    idempotency_key: str


class Provider(Protocol):
    #: Short stable name stored in the database ("publora").
    name: str
    #: Name shown to people ("Publora").
    display_name: str
    #: True when a create may be retried with the same idempotency key without risk of a duplicate.
    idempotent_submit: bool

    def list_accounts(self) -> list[Account]: ...

    def submit(self, request: SubmitRequest) -> SubmissionReceipt: ...

    def fetch_state(self, external_id: str, accounts: Sequence[Account]) -> PublicationState: ...

    def cancel(self, external_id: str) -> None: ...

    def check_credentials(self) -> str:
        """A sentence describing what the credentials can reach; raises ProviderError when they fail."""
        ...


# Errors the request provably never left this machine with: safe to retry even without idempotency.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), 60.0)
        backoff = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


class HttpProvider:
    """Shared HTTP mechanics: one `httpx.Client`, timeouts, error mapping and safe retries.

    Subclasses set `name`, `display_name` and override `error_message` to pull the provider's text out
    of its error bodies. Secrets are sent only in headers and never appear in raised messages.
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
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

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
    ) -> Any:
        """Send a request and return its JSON body, raising a ProviderError subclass on failure.

        `retry_safe` says whether sending the same request twice is harmless (reads, or writes that
        carry an idempotency key). When it is not, only failures that provably never reached the
        provider are retried, and a failure after sending becomes ProviderOutcomeUnknown.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._request_once(
                    method, path, json=json, params=params, headers=headers, retry_safe=retry_safe
                )
            except ProviderError as error:
                if not error.retryable or attempt >= self._retry.attempts:
                    raise
                if isinstance(error, ProviderOutcomeUnknown) and not retry_safe:
                    raise
                retry_after = error.retry_after if isinstance(error, ProviderRateLimited) else None
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

    def _request_once(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        retry_safe: bool,
    ) -> Any:
        try:
            response = self._client.request(method, path, json=json, params=params, headers=headers)
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
        body = _json_or_none(response)
        if response.is_success:
            if body is None:
                raise ProviderOutcomeUnknown(
                    self.display_name, f"answered {response.status_code} without JSON"
                )
            return body
        message, code = self.error_message(response, body)
        status = response.status_code
        special = self.classify_error(status, code)
        if special is not None:
            raise special(self.display_name, message, status=status, code=code)
        if status == 429:
            raise ProviderRateLimited(
                self.display_name, message, retry_after=_retry_after(response), status=status, code=code
            )
        if status in (401, 403) and code is None:
            raise ProviderAuthError(self.display_name, message, status=status, code=code)
        if status >= 500 or status == 408:
            # A 5xx may come after the provider stored the post; only a retry-safe request may go again.
            cls = ProviderUnavailable if retry_safe else ProviderOutcomeUnknown
            raise cls(self.display_name, message, status=status, code=code)
        raise ProviderRejected(self.display_name, message, status=status, code=code)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
