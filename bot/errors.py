"""Postgate's exception tree. Domain errors carry text a Slack user can read.

PostgateError
├── ConfigError                 settings missing or unusable (start-up stops with its message)
├── DomainError                 a user's request that cannot be done; `.user_message` is shown
│   ├── NotAllowed              the clicker may not do this (not an approver, own post, ...)
│   ├── InvalidTransition       the post is no longer in a state that allows it
│   └── PostNotFound
└── ProviderError               a publishing provider failed; `.retryable` says if trying again can help
    ├── ProviderAuthError       the API key is wrong or lacks access (never retryable)
    ├── ProviderRejected        the provider refused the content or request (4xx, never retryable)
    ├── ProviderUnavailable     5xx, connection failure, timeout before sending (retryable)
    │   └── ProviderRateLimited 429; `.retry_after` seconds when the provider said
    └── ProviderOutcomeUnknown  the request may have been received (timeout after sending)
"""

from __future__ import annotations


class PostgateError(Exception):
    """Root of every error Postgate raises on purpose."""


class ConfigError(PostgateError):
    """The configuration is missing or unusable."""


class DomainError(PostgateError):
    """A request that cannot be done; the message is meant for the Slack user."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class NotAllowed(DomainError):
    """The acting user may not do this."""


class InvalidTransition(DomainError):
    """The post is not in a state that allows the action."""


class PostNotFound(DomainError):
    """No such post (in this workspace)."""


class ProviderError(PostgateError):
    """A publishing provider failed. `retryable` tells the dispatcher whether another try can help."""

    retryable: bool = False

    def __init__(
        self, provider: str, message: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.status = status
        self.code = code


class ProviderAuthError(ProviderError):
    """The provider refused the credentials."""


class ProviderRejected(ProviderError):
    """The provider refused the request itself; sending it again unchanged cannot help."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed on its side before accepting the request."""

    retryable = True


class ProviderRateLimited(ProviderUnavailable):
    """The provider asked us to slow down."""

    def __init__(
        self, provider: str, message: str, *, retry_after: float | None = None, **kwargs: object
    ) -> None:
        super().__init__(provider, message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderOutcomeUnknown(ProviderError):
    """The request may have reached the provider; only an idempotent retry or a human can settle it."""

    retryable = True
