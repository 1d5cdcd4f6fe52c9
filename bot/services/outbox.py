"""The Slack outbox: delivers every message a state change owes, in order per post, with retries.

Rows are written in the transaction of the change they report. Delivery claims a row with a short lease,
sends it, and marks it sent; a 429 waits for Slack's Retry-After, a 5xx or network failure backs off (and
delivery pauses for everyone meanwhile, so an outage costs one probe per back-off), a day of failures or a
permanent Slack error parks the row as dead with its reason in plain words (never silently dropped;
`bot.services.undelivered` shows dead rows to admins and puts one back when asked). The root approval
message is rendered from the post's current state at delivery, so pending refreshes collapse into one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from bot.clock import Clock, as_utc
from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import OutboxMessage, Post
from bot.services.snapshot import ProgressOf, load_snapshot
from bot.slack.views import approval as messages

log = logging.getLogger(__name__)

# A message is retried for a day, Slack outages included; only then is it parked as dead (with its reason).
GIVE_UP_AFTER = timedelta(hours=24)
# Tries back off exponentially up to this; short enough that a report follows a Slack outage's end quickly.
MAX_BACKOFF_SECONDS = 30.0
SEARCH_MARGIN = timedelta(minutes=15)
LEASE = timedelta(seconds=60)
# Slack errors that another try may fix; any other refusal is for good.
_RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
#: A resent dead message carries the time it was resent in its payload: its day of tries counts from then,
#: and its first try looks for an earlier delivery, as any retry does.
RESENT_AT = "resent_at"
# What Slack's permanent refusals mean for the person who reads them (App Home, `postgate outbox`). The
# codes are those of chat.postMessage, chat.update and conversations.open in Slack's method reference.
_REFUSALS = {
    "channel_not_found": "the channel was deleted or Postgate was removed from it",
    "not_in_channel": "Postgate is not a member of the channel; invite it there",
    "is_archived": "the channel was archived",
    "is_inactive": "the channel was archived or deleted",
    "message_not_found": "the approval message was deleted",
    "cant_update_message": "Postgate may change only its own messages",
    "edit_window_closed": "the workspace no longer lets the message be edited",
    "restricted_action": "a workspace setting does not let Postgate post there",
    "restricted_action_read_only_channel": "the channel is read-only",
    "restricted_action_thread_locked": "an admin locked the thread",
    "restricted_action_thread_only_channel": "the channel takes thread replies only",
    "ekm_access_denied": "the workspace's admins disabled posting to this channel",
    "message_limit_exceeded": "the workspace reached Slack's message limit for free workspaces",
    "messages_tab_disabled": "Postgate's Messages tab is switched off, so it cannot send DMs",
    "user_not_found": "that person is not in the workspace",
    "user_disabled": "that person's account was deactivated",
    "cannot_dm_bot": "that user is a bot",
    "invalid_auth": "Postgate's bot token no longer works (the app was removed or the token revoked)",
    "not_authed": "Postgate's bot token no longer works (the app was removed or the token revoked)",
    "account_inactive": "Postgate's bot token no longer works (the app was removed or the token revoked)",
    "token_revoked": "Postgate's bot token no longer works (the app was removed or the token revoked)",
    "missing_scope": "the Slack app lacks a permission; reinstall it from manifest.yml",
    "msg_too_long": "the message was too long for Slack (please report this)",
    "msg_blocks_too_long": "the message was too long for Slack (please report this)",
    "invalid_blocks": "Slack did not accept the message as Postgate built it (please report this)",
    "invalid_blocks_format": "Slack did not accept the message as Postgate built it (please report this)",
}


class Kind(StrEnum):
    APPROVAL_REQUEST = "approval_request"
    AUTHOR_CONFIRMATION = "author_confirmation"
    ROOT_REFRESH = "root_refresh"
    THREAD_REPLY = "thread_reply"
    DM = "dm"
    #: A message to a channel that belongs to no post (the daily digest).
    CHANNEL = "channel"


def owe(session: Session, *, post_id: int | None, kind: Kind, payload: dict[str, Any], now: datetime) -> None:
    """Owe one Slack message; delivered after the caller's transaction commits."""
    repo.enqueue_message(session, post_id=post_id, kind=kind, payload=payload, now=now)


def owe_thread_reply(session: Session, *, post_id: int, message: dict[str, Any], now: datetime) -> None:
    owe(session, post_id=post_id, kind=Kind.THREAD_REPLY, payload={"message": message}, now=now)


def owe_state_change(
    session: Session,
    *,
    post_id: int,
    now: datetime,
    thread_message: dict[str, Any],
    author_id: str | None = None,
    author_message: dict[str, Any] | None = None,
) -> None:
    """What a state change owes: the root re-rendered, a thread reply, and optionally an author DM."""
    owe(session, post_id=post_id, kind=Kind.ROOT_REFRESH, payload={}, now=now)
    owe_thread_reply(session, post_id=post_id, message=thread_message, now=now)
    if author_id is not None and author_message is not None:
        owe(
            session,
            post_id=post_id,
            kind=Kind.DM,
            payload={"user": author_id, "message": author_message},
            now=now,
        )


class NotReady(Exception):
    """The row depends on an earlier one (the root message) that has not been delivered yet."""


class SlackOutbox:
    def __init__(
        self,
        *,
        db: Database,
        client: WebClient,
        clock: Clock,
        owner: str,
        batch: int = 50,
        progress: ProgressOf | None = None,
    ) -> None:
        self._progress = progress
        self._db = db
        self._client = client
        self._clock = clock
        self._owner = owner
        self._batch = batch
        # While Slack is failing (5xx, 429, unreachable), nothing is sent until this time: one message
        # probes, the others wait without spending tries, so an outage costs one call per back-off.
        self._paused_until: datetime | None = None

    def deliver_due(self) -> bool:
        """Deliver what is due. True when a full batch was found, so the caller should run again."""
        now = self._clock.now()
        if self._paused_until is not None and now < self._paused_until:
            return False
        with self._db.read() as session:
            rows = list(
                session.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == "pending", col(OutboxMessage.next_attempt_at) <= now)
                    .order_by(col(OutboxMessage.id))
                    .limit(self._batch)
                )
            )
        blocked_posts: set[int] = set()
        for row in rows:
            if row.post_id is not None and row.post_id in blocked_posts:
                continue
            if self._paused_until is not None and self._clock.now() < self._paused_until:
                return False
            if not self._deliver_one(row) and row.post_id is not None:
                # Later messages of this post must not overtake the one that failed.
                blocked_posts.add(row.post_id)
        return len(rows) == self._batch

    def next_due_time(self) -> datetime | None:
        with self._db.read() as session:
            row = session.exec(
                select(OutboxMessage.next_attempt_at)
                .where(OutboxMessage.status == "pending")
                .order_by(col(OutboxMessage.next_attempt_at))
                .limit(1)
            ).first()
        if row is not None and self._paused_until is not None:
            return max(as_utc(row), self._paused_until)
        return row

    def pending_count(self) -> int:
        with self._db.read() as session:
            return len(list(session.exec(select(OutboxMessage.id).where(OutboxMessage.status == "pending"))))

    def _claim(self, row_id: int, now: datetime) -> bool:
        with self._db.write() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == row_id,
                    col(OutboxMessage.status) == "pending",
                    or_(col(OutboxMessage.lease_owner).is_(None), col(OutboxMessage.lease_expires_at) < now),
                )
                .values(lease_owner=self._owner, lease_expires_at=now + LEASE),
                execution_options={"synchronize_session": False},
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _already_sent(self, row_id: int) -> bool:
        with self._db.read() as session:
            current = session.get(OutboxMessage, row_id)
            return current is not None and current.status == "sent"

    def _deliver_one(self, row: OutboxMessage) -> bool:
        assert row.id is not None
        now = self._clock.now()
        if not self._claim(row.id, now):
            # Either sent meanwhile (a coalesced root refresh: later rows may follow) or held by another
            # replica (later rows of the post must wait for it).
            return self._already_sent(row.id)
        try:
            covered = self._send(row)
        except NotReady:
            self._retry(row, now, "the approval message it belongs under was not posted", delay=2.0)
            return False
        except SlackApiError as error:
            code = str(error.response.get("error", "")) if error.response is not None else ""
            status = error.response.status_code if error.response is not None else 0
            if status == 429 or status >= 500 or code in _RETRYABLE_ERRORS:
                retry_after = _retry_after(error)
                delay = self._retry(row, now, f"Slack answered {status} {code}", delay=retry_after)
                self._pause(now, delay)
            else:
                self._dead(row, now, refusal(code, status))
            return False
        except (SlackClientError, OSError) as error:
            delay = self._retry(row, now, f"could not reach Slack ({type(error).__name__})")
            self._pause(now, delay)
            return False
        except Exception as error:
            log.exception("outbox message %s (%s) crashed", row.id, row.kind)
            self._retry(row, now, f"unexpected error {type(error).__name__}")
            return False
        self._mark_sent(row, now, covered)
        self._paused_until = None
        return True

    def _pause(self, now: datetime, delay: float | None) -> None:
        if delay is not None:
            self._paused_until = now + timedelta(seconds=delay)

    def _send(self, row: OutboxMessage) -> Sequence[int]:
        """Deliver `row`; returns the other pending rows the delivery also fulfilled (coalesced root
        refreshes), to be marked sent with it."""
        kind = Kind(row.kind)
        retrying = _maybe_sent_before(row)
        if kind in (Kind.DM, Kind.CHANNEL):
            message = row.payload["message"]
            channel = row.payload["user"] if kind is Kind.DM else row.payload["channel"]
            if retrying and self._find_in_history(channel, row, dm=kind is Kind.DM):
                return ()
            self._client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                metadata=_outbox_metadata(row),
            )
            return ()
        assert row.post_id is not None
        # A thread reply was rendered when it was owed; only the messages that show the post's state now
        # need its snapshot.
        rendered_now = kind is not Kind.THREAD_REPLY
        with self._db.read() as session:
            # The refreshes one update fulfils are read before the state it shows: each was committed with
            # the change it asks to show, so the snapshot read after them shows that change or a later one.
            # (Read after it, a refresh owed in between would be marked sent while the update showed the
            # state before it.)
            covered = _pending_refreshes(session, row.post_id) if kind is Kind.ROOT_REFRESH else []
            post = repo.get_post(session, row.post_id)
            snapshot = load_snapshot(session, post, self._progress) if rendered_now else None
        if kind is Kind.APPROVAL_REQUEST:
            assert snapshot is not None
            if post.message_ts is not None:
                return ()  # delivered before a crash; the ts was saved
            if retrying and self._adopt_posted_root(post):
                return ()
            message = messages.build_root_message(snapshot)
            response = self._client.chat_postMessage(
                channel=post.approval_channel_id,
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": "postgate_post", "event_payload": {"post_id": post.id}},
            )
            self._save_root(
                post, str(response.get("channel") or post.approval_channel_id), str(response["ts"])
            )
            return ()
        if post.message_ts is None:
            raise NotReady
        if kind is Kind.AUTHOR_CONFIRMATION:
            assert snapshot is not None
            if retrying and self._find_in_history(post.author_id, row, dm=True):
                return ()
            message = messages.build_author_confirmation(snapshot)
            self._client.chat_postMessage(
                channel=post.author_id,
                text=message["text"],
                blocks=message["blocks"],
                metadata=_outbox_metadata(row),
            )
        elif kind is Kind.ROOT_REFRESH:
            assert snapshot is not None
            self._refresh_root(post, snapshot_message=messages.build_root_message(snapshot))
            return covered
        elif kind is Kind.THREAD_REPLY:
            if retrying and self._find_in_thread(post, row):
                return ()
            message = row.payload["message"]
            self._client.chat_postMessage(
                channel=post.approval_channel_id,
                thread_ts=post.message_ts,
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                metadata=_outbox_metadata(row),
            )
        return ()

    # --- finding what an earlier try already posted --------------------------------------------------
    # A try whose answer was lost (timeout, 5xx after Slack acted, a crash before "sent" was recorded)
    # may have posted. Every message carries its outbox id (the root its post id) as message metadata, so
    # a retry looks for it first and keeps it instead of posting a duplicate. If Slack will not let
    # Postgate read the conversation, it posts again: a duplicate is better than a lost report.

    def _save_root(self, post: Post, channel: str, ts: str) -> None:
        permalink = self._permalink(channel, ts)
        with self._db.write() as session:
            session.execute(
                update(Post)
                .where(and_(col(Post.id) == post.id, col(Post.message_ts).is_(None)))
                .values(message_ts=ts, approval_channel_id=channel, permalink=permalink),
                execution_options={"synchronize_session": False},
            )

    def _adopt_posted_root(self, post: Post) -> bool:
        found = self._search(
            "conversations_history",
            channel=post.approval_channel_id,
            oldest=post.created_at,
            match=lambda payload, event: event == "postgate_post" and payload.get("post_id") == post.id,
        )
        if found is None:
            return False
        log.info("post %s: the approval message was posted by an earlier try; keeping it", post.id)
        self._save_root(post, post.approval_channel_id, found)
        return True

    def _find_in_thread(self, post: Post, row: OutboxMessage) -> bool:
        return (
            self._search(
                "conversations_replies",
                channel=post.approval_channel_id,
                ts=post.message_ts,
                oldest=row.created_at,
                match=_is_row(row),
            )
            is not None
        )

    def _find_in_history(self, channel: str, row: OutboxMessage, *, dm: bool) -> bool:
        if dm:
            try:
                channel = str(self._client.conversations_open(users=channel)["channel"]["id"])
            except (SlackApiError, SlackClientError, KeyError):
                return False
        return (
            self._search("conversations_history", channel=channel, oldest=row.created_at, match=_is_row(row))
            is not None
        )

    def _search(
        self, method: str, *, channel: str, oldest: datetime, match: Any, ts: str | None = None
    ) -> str | None:
        arguments: dict[str, Any] = {
            "channel": channel,
            # Generous: Slack's clock and ours may disagree, and the scan is small either way.
            "oldest": f"{as_utc(oldest).timestamp() - SEARCH_MARGIN.total_seconds():.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        if ts is not None:
            arguments["ts"] = ts
        try:
            response = getattr(self._client, method)(**arguments)
        except (SlackApiError, SlackClientError) as error:
            log.warning("could not check %s for an earlier delivery (%s)", channel, type(error).__name__)
            return None
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            if message.get("bot_id") and match(
                metadata.get("event_payload") or {}, metadata.get("event_type")
            ):
                return str(message["ts"])
        return None

    def _refresh_root(self, post: Post, *, snapshot_message: dict[str, Any]) -> None:
        self._client.chat_update(
            channel=post.approval_channel_id,
            ts=cast(str, post.message_ts),  # callers only refresh a root that was posted
            text=snapshot_message["text"][:3900],
            blocks=snapshot_message["blocks"],
        )

    def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self._client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except (SlackApiError, SlackClientError, OSError, KeyError):
            log.warning("chat.getPermalink failed for %s/%s", channel, ts)
            return None

    def _mark_sent(self, row: OutboxMessage, now: datetime, covered: Sequence[int] = ()) -> None:
        with self._db.write() as session:
            self._finish(session, row, status="sent", sent_at=now, attempts=row.attempts + 1, last_error=None)
            others = [row_id for row_id in covered if row_id != row.id]
            if others:
                # The message now shows the state every other pending refresh asked for.
                session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(others), col(OutboxMessage.status) == "pending")
                    .values(status="sent", sent_at=now, lease_owner=None),
                    execution_options={"synchronize_session": False},
                )

    def _retry(
        self, row: OutboxMessage, now: datetime, reason: str, *, delay: float | None = None
    ) -> float | None:
        """Schedule the next try; returns its delay in seconds, or None when the row was given up."""
        attempts = row.attempts + 1
        if now - _owed_since(row) >= GIVE_UP_AFTER:
            hours = f"{GIVE_UP_AFTER.total_seconds() / 3600:g}"
            self._dead(
                row, now, f"Not delivered after {hours} hours of tries ({attempts}); the last: {reason}"
            )
            return None
        if delay is None:
            delay = min(MAX_BACKOFF_SECONDS, 2.0**attempts) * (0.75 + random.random() / 2)  # noqa: S311
        log.warning("outbox message %s (%s) will be retried in %.1fs: %s", row.id, row.kind, delay, reason)
        with self._db.write() as session:
            self._finish(
                session,
                row,
                status="pending",
                attempts=attempts,
                last_error=reason,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        return delay

    def _dead(self, row: OutboxMessage, now: datetime, reason: str) -> None:
        log.error("outbox message %s (%s) for post %s is dead: %s", row.id, row.kind, row.post_id, reason)
        with self._db.write() as session:
            # A dead row's next_attempt_at is when it was given up (App Home and `postgate outbox` show it).
            self._finish(
                session,
                row,
                status="dead",
                attempts=row.attempts + 1,
                last_error=reason,
                sent_at=None,
                next_attempt_at=now,
            )

    def _finish(self, session: Session, row: OutboxMessage, **values: Any) -> None:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.lease_owner) == self._owner)
            .values(lease_owner=None, lease_expires_at=None, **values),
            execution_options={"synchronize_session": False},
        )


def _pending_refreshes(session: Session, post_id: int) -> list[int]:
    return [
        row_id
        for row_id in session.exec(
            select(OutboxMessage.id).where(
                OutboxMessage.post_id == post_id,
                OutboxMessage.kind == Kind.ROOT_REFRESH,
                OutboxMessage.status == "pending",
            )
        )
        if row_id is not None
    ]


def _outbox_metadata(row: OutboxMessage) -> dict[str, Any]:
    return {"event_type": "postgate_outbox", "event_payload": {"outbox_id": row.id}}


def _is_row(row: OutboxMessage) -> Any:
    return lambda payload, event: event == "postgate_outbox" and payload.get("outbox_id") == row.id


def _maybe_sent_before(row: OutboxMessage) -> bool:
    """An earlier try may have reached Slack: it was tried and failed, its deliverer died holding it, or it
    was given up and resent (a try whose answer was lost may have posted it before)."""
    return row.attempts > 0 or row.lease_owner is not None or RESENT_AT in row.payload


def _owed_since(row: OutboxMessage) -> datetime:
    """Where the row's day of tries starts: when it was owed, or when a person last resent it."""
    resent = row.payload.get(RESENT_AT)
    return as_utc(datetime.fromisoformat(resent)) if isinstance(resent, str) else as_utc(row.created_at)


def refusal(code: str, status: int) -> str:
    """Why a message is dead after Slack refused it for good, in words for the person who reads it."""
    if not code:
        return f"Slack refused it with HTTP {status}"
    meaning = _REFUSALS.get(code)
    return f"Slack said: {code} ({meaning})" if meaning else f"Slack said: {code}"


def _retry_after(error: SlackApiError) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value if not isinstance(value, list) else value[0]) + random.random()  # noqa: S311
            except ValueError:
                return None
    return None
