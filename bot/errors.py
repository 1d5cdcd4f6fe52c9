"""Postgate's exception tree. Domain errors carry text a Slack user can read.

PostgateError
├── ConfigError                 settings missing or unusable (start-up stops with its message)
├── DomainError                 a user's request that cannot be done; `.user_message` is shown
│   ├── NotAllowed              the clicker may not do this (not an approver, own post, ...)
│   ├── InvalidTransition       the post is no longer in a state that allows it
│   ├── PostNotFound
│   └── NotResendable           an outbox message that is unknown or not dead cannot be resent
└── ProviderError               a publishing provider failed; `.retryable` says if trying again can help
    ├── ProviderAuthError       the API key is wrong or lacks access (never retryable)
    ├── ProviderRejected        the provider refused the content or request (4xx, never retryable)
    │   └── ProviderTooLate     cancel/edit refused: publishing started or finished (`.live` when it is out)
    ├── ProviderUnavailable     5xx, connection failure, timeout before sending (retryable)
    │   └── ProviderRateLimited 429; `.retry_after` seconds when the provider said
    │       └── ProviderBudgetExhausted  held back by Postgate's own rate limiter; nothing was sent
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


class NotResendable(DomainError):
    """No such outbox message, or it was not given up on (sent, or still being tried)."""


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


class ProviderTooLate(ProviderRejected):
    """A cancel (or edit) came too late: the provider already started or finished publishing.

    `live` is True when the post is known to be out on at least one account, False when publishing is
    in progress and may still go out.
    """

    def __init__(self, provider: str, message: str, *, live: bool = False, **kwargs: object) -> None:
        super().__init__(provider, message, **kwargs)  # type: ignore[arg-type]
        self.live = live


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


class ProviderStartOver(ProviderUnavailable):
    """The provider's copy of an earlier try was unusable and has been removed from the provider.

    Trying again under the same idempotency key would only find (or replay) that copy, so the next try
    needs a fresh key; nothing of this submission is left at the provider to be published twice.
    """


class ProviderBudgetExhausted(ProviderRateLimited):
    """Postgate's own limiter held the request back to stay under the provider's rate limit.

    Nothing was sent, so this is never a sign the provider might have received anything, and it does not
    count as a failed try.
    """
