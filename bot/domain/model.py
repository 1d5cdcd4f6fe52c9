"""Value types of the domain: post status, accounts, drafts and publication outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.networks import Network


class PostStatus(StrEnum):
    #: Waiting for approvers.
    PENDING_APPROVAL = "pending_approval"
    #: An approver asked for changes; waits for the author's edit (a new version).
    CHANGES_REQUESTED = "changes_requested"
    #: Its time came before it was approved; not published. The author can pick a new time.
    MISSED = "missed"
    #: The author took it back before it was decided. Final.
    WITHDRAWN = "withdrawn"
    #: Approved; waits for its time in the dispatcher's queue.
    APPROVED = "approved"
    #: An approver said no. Final.
    REJECTED = "rejected"
    #: Claimed by a dispatcher; the submission to the provider is in flight.
    PUBLISHING = "publishing"
    #: Accepted by the provider; Postgate follows it until it is live or failed.
    SUBMITTED = "submitted"
    #: Live on every target account. Final.
    PUBLISHED = "published"
    #: Live on some accounts, failed on others. Final.
    PARTIALLY_PUBLISHED = "partially_published"
    #: Failed on every account, or refused by the provider. Final.
    FAILED = "failed"
    #: The outcome cannot be known without a human; never resubmitted automatically. Final for Postgate.
    NEEDS_ATTENTION = "needs_attention"
    #: Withdrawn before publication. Final.
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        PostStatus.REJECTED,
        PostStatus.PUBLISHED,
        PostStatus.PARTIALLY_PUBLISHED,
        PostStatus.FAILED,
        PostStatus.NEEDS_ATTENTION,
        PostStatus.CANCELLED,
        PostStatus.WITHDRAWN,
    }
)


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"


class AccountOutcome(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    FAILED = "failed"


@dataclass(frozen=True)
class Account:
    """A social account a provider can publish to. `key` is what Postgate stores and shows in selects."""

    provider: str
    account_id: str
    network: Network
    name: str
    profile_url: str | None = None
    warning: str | None = None
    #: Why nothing can be posted to the account now (e.g. disconnected at the provider), in plain words;
    #: the composer refuses it and the provider refuses to send to it.
    cannot_post: str | None = None

    @property
    def key(self) -> str:
        return make_account_key(self.provider, self.account_id)

    @property
    def label(self) -> str:
        return f"{self.network.display_name} · {self.name}"


def make_account_key(provider: str, account_id: str) -> str:
    return f"{provider}:{account_id}"


def split_account_key(key: str) -> tuple[str, str]:
    provider, _, account_id = key.partition(":")
    if not provider or not account_id:
        raise ValueError(f"not an account key: {key!r}")
    return provider, account_id


class MediaKind(StrEnum):
    IMAGE = "image"
    GIF = "gif"
    VIDEO = "video"
    DOCUMENT = "document"
    OTHER = "other"

    @classmethod
    def of(cls, mime_type: str) -> MediaKind:
        mime = mime_type.lower()
        if mime == "image/gif":
            return cls.GIF
        if mime.startswith("image/"):
            return cls.IMAGE
        if mime.startswith("video/"):
            return cls.VIDEO
        if mime == "application/pdf":
            return cls.DOCUMENT
        return cls.OTHER


@dataclass(frozen=True)
class MediaItem:
    """An image or video attached to a draft: a Slack file (downloaded at submission) or a public URL.

    Exactly one of `slack_file_id` and `url` is set. `size` is in bytes when known (Slack files);
    `duration_ms` is a video's length when Slack measured it (its file object's `duration_ms`).
    """

    name: str
    mime_type: str
    size: int | None = None
    slack_file_id: str | None = None
    url: str | None = None
    duration_ms: int | None = None

    @property
    def kind(self) -> MediaKind:
        return MediaKind.of(self.mime_type)


@dataclass(frozen=True)
class Queue:
    """A provider-side posting queue (Postoria): "add to queue" publishes at the queue's next free slot."""

    provider: str
    queue_id: str
    name: str
    paused: bool = False


@dataclass(frozen=True)
class Workspace:
    """A provider workspace an API key can reach (Publer): the id its requests name, and its name."""

    workspace_id: str
    name: str


@dataclass(frozen=True)
class Draft:
    """What the author asked for: the text, the accounts, when (None = as soon as approved), the media,
    and optionally a provider queue (Postoria) that picks the time instead."""

    text: str
    targets: tuple[Account, ...]
    publish_at: datetime | None
    media: tuple[MediaItem, ...] = ()
    queue: Queue | None = None
    #: A different text for one network (e.g. a shorter one for X), as (network, text) pairs.
    overrides: tuple[tuple[Network, str], ...] = ()
    #: Posted as the first comment/reply under the post where the network and provider allow it.
    first_comment: str | None = None

    def override_for(self, network: Network) -> str | None:
        return next((text for net, text in self.overrides if net is network), None)


@dataclass(frozen=True)
class AccountResult:
    """The outcome of one target account, as the provider reports it."""

    account_id: str
    network: Network | None
    outcome: AccountOutcome
    url: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SubmissionReceipt:
    """What the provider answered when it accepted a post."""

    external_id: str
    effective_time: datetime | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublicationState:
    """A snapshot of a submitted post at the provider. `done` when no account is still pending."""

    results: tuple[AccountResult, ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        return bool(self.results) and all(r.outcome is not AccountOutcome.PENDING for r in self.results)
