"""The dry-run provider: lists sample accounts, records posts in memory and reports them published, without
calling anything. For trying Postgate in a workspace before connecting a real provider."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from bot.domain.model import (
    Account,
    AccountOutcome,
    AccountResult,
    PublicationState,
    Queue,
    SubmissionReceipt,
)
from bot.domain.networks import Network
from bot.errors import ProviderRejected
from bot.providers.base import SubmitRequest

SAMPLE_ACCOUNTS = (
    ("x-postgate-demo", Network.X, "@postgate_demo"),
    ("linkedin-postgate-demo", Network.LINKEDIN, "Postgate Demo"),
    ("bluesky-postgate-demo", Network.BLUESKY, "@postgate-demo.bsky.social"),
)


@dataclass(frozen=True)
class DryRunPost:
    external_id: str
    text: str
    account_ids: tuple[str, ...]
    publish_at: datetime
    first_comment: str | None = None


class DryRunProvider:
    name = "dry_run"
    display_name = "Dry run (nothing is posted)"
    idempotent_submit = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, DryRunPost] = {}

    @property
    def posts(self) -> list[DryRunPost]:
        with self._lock:
            return list(self._by_key.values())

    def list_accounts(self) -> list[Account]:
        return [
            Account(provider=self.name, account_id=i, network=n, name=name) for i, n, name in SAMPLE_ACCOUNTS
        ]

    def submit(self, request: SubmitRequest) -> SubmissionReceipt:
        known = {account_id for account_id, _, _ in SAMPLE_ACCOUNTS}
        unknown = [a for a in request.account_ids if a not in known]
        if unknown:
            raise ProviderRejected(self.display_name, f"unknown accounts: {', '.join(unknown)}")
        with self._lock:
            post = self._by_key.get(request.idempotency_key)
            if post is None:
                post = DryRunPost(
                    external_id=f"dry-{len(self._by_key) + 1}",
                    text=request.text,
                    account_ids=request.account_ids,
                    publish_at=request.publish_at,
                    first_comment=request.comment_to_send,
                )
                self._by_key[request.idempotency_key] = post
        return SubmissionReceipt(
            external_id=post.external_id,
            effective_time=request.publish_at,
            notes=("dry run: nothing was posted",),
        )

    def fetch_state(self, external_id: str, request: SubmitRequest) -> PublicationState:  # noqa: ARG002
        with self._lock:
            post = next((p for p in self._by_key.values() if p.external_id == external_id), None)
        if post is None:
            raise ProviderRejected(self.display_name, f"no post {external_id}")
        return PublicationState(
            results=tuple(
                AccountResult(
                    account_id=a, network=None, outcome=AccountOutcome.PUBLISHED, url=None, error=None
                )
                for a in post.account_ids
            )
        )

    def find_submission(self, request: SubmitRequest, *, sent_at: datetime) -> SubmissionReceipt | None:  # noqa: ARG002
        with self._lock:
            post = self._by_key.get(request.idempotency_key)
        return SubmissionReceipt(external_id=post.external_id) if post else None

    def list_queues(self) -> list[Queue]:
        return []

    def cancel(self, external_id: str, request: SubmitRequest) -> None:  # noqa: ARG002
        with self._lock:
            self._by_key = {k: p for k, p in self._by_key.items() if p.external_id != external_id}

    def check_credentials(self) -> str:
        return "dry run: no credentials needed; nothing will be posted"
