"""Provider webhooks: Publora's signed `post.published` / `post.failed` events wake the follow-up at once.

A webhook is a nudge, not a second source of truth: it makes the dispatcher check the post now instead
of at its next poll, and that check writes the results and the one report. So a webhook and a poll that
see the same outcome cannot report it twice, and a lost webhook (Publora sends each once, no retries)
costs only the wait until the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.clock import Clock
from bot.db import repo
from bot.db.engine import Database
from bot.db.repo import SYSTEM_ACTOR
from bot.db.tables import Post
from bot.domain.model import PostStatus
from bot.providers.publora import parse_webhook, verify_webhook_signature
from bot.services.posts import Waker

log = logging.getLogger(__name__)


class PubloraWebhooks:
    def __init__(self, *, secret: str, db: Database, clock: Clock, waker: Waker) -> None:
        self._secret = secret
        self._db = db
        self._clock = clock
        self._waker = waker

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if not verify_webhook_signature(self._secret, body, headers.get("x-publora-signature")):
            log.warning("rejected a Publora webhook with a missing or wrong signature")
            return 401, {"error": "invalid signature"}
        event = parse_webhook(body)
        if event is None:
            return 400, {"error": "malformed event"}
        if event.outcome is None or not event.post_group_id:
            log.info("Publora webhook %s ignored", event.event)
            return 200, {"ok": True, "ignored": event.event}
        now = self._clock.now()
        with self._db.write() as session:
            attempt = repo.attempt_by_external_id(
                session, provider="publora", external_id=event.post_group_id
            )
            if attempt is None:
                # A post made in Publora itself, or by another tool: not ours to follow.
                return 200, {"ok": True, "ignored": "unknown post"}
            post = session.get(Post, attempt.post_id)
            assert post is not None
            if post.status == PostStatus.SUBMITTED and (
                post.next_action_at is None or post.next_action_at > now
            ):
                post.next_action_at = now
                session.add(post)
            repo.record_audit(
                session,
                post_id=attempt.post_id,
                actor=SYSTEM_ACTOR,
                action="provider_webhook",
                detail=f"publora {event.event} for {event.account_id or 'an account'}",
                at=now,
            )
        self._waker.wake_dispatcher(now)
        return 200, {"ok": True}
