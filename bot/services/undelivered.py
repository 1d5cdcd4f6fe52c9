"""Slack messages Postgate gave up on: the outbox's dead rows told for people (which post, what the message
was, why Slack did not take it) for App Home and `postgate outbox`, and putting one back to be sent again
once its cause is fixed. Delivery itself, and the search that keeps a resent message from being posted
twice, belong to `bot.services.outbox`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.clock import Clock, as_utc
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import OutboxMessage, Post
from bot.errors import NotResendable
from bot.services.outbox import RESENT_AT, Kind


@dataclass(frozen=True)
class UndeliveredMessage:
    id: int
    kind: Kind
    #: When the outbox gave up on it.
    given_up_at: datetime
    attempts: int
    #: Why, in plain words (Slack's error code with its meaning, or the day of failed tries).
    reason: str
    post_id: int | None
    #: The post's current text, which names it by its first line; None for a message of no post.
    post_text: str | None
    permalink: str | None
    #: The person a DM was for, or the channel of a message outside a post's thread.
    recipient: str | None
    #: The message's own text (mrkdwn, as it was to be posted) for the kinds stored ready-made; None for
    #: those rendered from the post's state at delivery (the approval message, its updates, the author's
    #: note).
    text: str | None


@dataclass(frozen=True)
class Undelivered:
    total: int
    #: The latest few, newest first.
    latest: list[UndeliveredMessage]


def load_undelivered(session: Session, *, team_id: str | None, limit: int) -> Undelivered:
    """How many messages were given up on in this workspace (`team_id`, or everywhere) and the latest."""
    found = repo.dead_messages(session, team_id=team_id, limit=limit)
    posts = [post for _, post in found if post is not None]
    versions = repo.versions_of(session, posts)
    latest = [
        _describe(message, post, versions[post.id].text if post and post.id in versions else None)
        for message, post in found
    ]
    total = len(latest) if len(latest) < limit else repo.count_dead_messages(session, team_id=team_id)
    return Undelivered(total=total, latest=latest)


def _describe(message: OutboxMessage, post: Post | None, post_text: str | None) -> UndeliveredMessage:
    kind = Kind(message.kind)
    payload = message.payload or {}
    stored = payload.get("message")
    text = stored.get("text") if isinstance(stored, dict) else None
    recipient: str | None = None
    if kind is Kind.DM:
        recipient = str(payload.get("user") or "")
    elif kind is Kind.CHANNEL:
        recipient = str(payload.get("channel") or "")
    elif kind is Kind.AUTHOR_CONFIRMATION and post is not None:
        recipient = post.author_id
    elif kind is Kind.APPROVAL_REQUEST and post is not None:
        recipient = post.approval_channel_id
    assert message.id is not None
    return UndeliveredMessage(
        id=message.id,
        kind=kind,
        given_up_at=as_utc(message.next_attempt_at),
        attempts=message.attempts,
        reason=message.last_error or "No reason was recorded.",
        post_id=message.post_id,
        post_text=post_text,
        permalink=post.permalink if post is not None else None,
        recipient=recipient or None,
        text=str(text) if text else None,
    )


class UndeliveredService:
    def __init__(self, *, db: Database, clock: Clock, on_resend: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._clock = clock
        self._on_resend = on_resend

    def latest(self, *, team_id: str | None, limit: int) -> Undelivered:
        with self._db.read() as session:
            return load_undelivered(session, team_id=team_id, limit=limit)

    def resend(self, message_id: int, *, team_id: str | None = None) -> UndeliveredMessage:
        """Put a dead message back as due now, with a fresh day of tries. Its first try looks for an
        earlier delivery first (a try whose answer was lost may have posted it), so it is not posted twice
        where Slack lets Postgate read the conversation."""
        now = self._clock.now()
        with self._db.write() as session:
            message = repo.get_message(session, message_id)
            post = repo.get_post(session, message.post_id) if message and message.post_id else None
            if message is None or (team_id is not None and post is not None and post.team_id != team_id):
                raise NotResendable(f"There is no outbox message {message_id}.")
            if message.status != "dead":
                raise NotResendable(_not_dead(message))
            payload = {**(message.payload or {}), RESENT_AT: now.isoformat()}
            if not repo.resend_message(session, message_id=message_id, payload=payload, now=now):
                raise NotResendable(f"Message {message_id} was resent by someone else meanwhile.")
            described = _describe(message, post, None)
        self._on_resend()
        return described


def _not_dead(message: OutboxMessage) -> str:
    if message.status == "sent":
        when = f" at {as_utc(message.sent_at):%Y-%m-%d %H:%M} UTC" if message.sent_at else ""
        return f"Message {message.id} was delivered{when}; there is nothing to resend."
    return (
        f"Message {message.id} is waiting to be sent (next try at "
        f"{as_utc(message.next_attempt_at):%Y-%m-%d %H:%M:%S} UTC); only messages given up on can be resent."
    )
