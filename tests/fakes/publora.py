"""A stateful fake of Publora's REST API, served over real HTTP on 127.0.0.1, for tests.

It owns the Publora side of end-to-end tests: connections, post groups and their per-target posts,
the post logs, the `Idempotency-Key` store, a background "scheduler" that publishes due groups, the
media pipeline (get-upload-url, a presigned-storage stand-in on the same port, complete-media, media
rows on get-post), first comments (checked on create/update, posted after publishing, reported as
`firstCommentResult`) and webhook deliveries from a background thread. Behaviour follows
`shared/providers/publora.md` (section numbers §n refer to it); `mediaUrls` are stored, never
downloaded. Tests steer it with `add_connection`, `fail_account`, `fail_next`, `set_down`,
`set_webhook`, `send_webhook` and inspect it with `requests`, `groups` (a group keeps
`firstComments` / `firstComment` as they arrived), `published`, `posted_comments`, `media`,
`storage_puts`, `webhook` and `webhook_deliveries`. `WebhookInbox` is a receiving end for webhook tests.

Usage::

    with FakePublora() as fake:
        x = fake.add_connection("twitter", "123", username="acme")
        provider = PubloraProvider(api_key=fake.api_key, base_url=fake.url)
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import inspect
import json
import queue
import random
import re
import secrets
import threading
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.fakes.http_fake import Headers as _Headers
from tests.fakes.http_fake import Reply as _Reply
from tests.fakes.http_fake import Rule as _Rule
from tests.fakes.http_fake import handler_for

API_PREFIX = "/api/v1"
#: Where the fake's stand-in for S3 presigned URLs lives, on the same port as the API.
STORAGE_PREFIX = "/s3"

#: Platforms Publora can publish to (§2). Pinterest may be connected but is never a target.
PLATFORMS = (
    "twitter",
    "linkedin",
    "instagram",
    "threads",
    "tiktok",
    "youtube",
    "facebook",
    "bluesky",
    "mastodon",
    "telegram",
)
_DISPLAY = {
    "twitter": "X",
    "linkedin": "LinkedIn",
    "instagram": "Instagram",
    "threads": "Threads",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "facebook": "Facebook",
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "telegram": "Telegram",
    "pinterest": "Pinterest",
}
# §11, standard tiers. X and Threads are auto-split into chains instead of being rejected (§4).
TEXT_LIMITS = {
    "twitter": 280,
    "linkedin": 3000,
    "instagram": 2200,
    "threads": 500,
    "tiktok": 2200,
    "youtube": 5000,
    "facebook": 63206,
    "bluesky": 300,
    "mastodon": 500,
    "telegram": 4096,
}
# Only X chains: Publora's own text (sources/publora-api-skill.txt, "Threads Restriction") says
# multi-post chains on Threads are temporarily unavailable; single posts and carousels still work.
_AUTO_SPLIT = {"twitter"}
# What test-connection lists as granted for a healthy connection (Threads replies: publora.md §4).
_PERMISSIONS = {
    "threads": ("threads_basic", "threads_content_publish", "threads_manage_replies"),
    "linkedin": ("w_member_social", "r_basicprofile"),
}
_MEDIA_REQUIRED = {"instagram", "tiktok", "youtube"}
# §4 allowlist of platformSettings keys (nested keys beyond these are not checked).
_SETTINGS = {
    "tiktok": {
        "viewerSetting",
        "allowComments",
        "allowDuet",
        "allowStitch",
        "commercialContent",
        "brandOrganic",
        "brandedContent",
    },
    "instagram": {"videoType", "shareToFeed", "coverUrl", "cover_url"},
    "youtube": {"privacy", "title", "tags", "madeForKids", "categoryId", "playlist"},
    "threads": {"replyControl"},
    "twitter": {"replyTo", "quoteTweet"},
    "telegram": {"disableNotification", "disableWebPagePreview", "protectContent"},
    "linkedin": {"repostEnabled", "repostParentUrn", "repostVisibility"},
}
_PLATFORM_ID = re.compile(r"[a-z]+-[^\s/?#]+")
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_PAST_TOLERANCE = timedelta(minutes=5)
_IDEMPOTENCY_TTL = timedelta(hours=24)
_GROUP_STATUSES = ("draft", "scheduled", "published", "failed", "partially_published")
_SORT_FIELDS = ("createdAt", "scheduledTime", "updatedAt")
_DEFAULT_500 = {
    "create-post": "Failed to create post group",
    "get-post": "Failed to fetch post group",
    "post-logs": "Failed to get post logs",
    "update-post": "Failed to update post",
    "delete-post": "Failed to delete post group",
    "platform-connections": "Failed to fetch platform connections",
    "list-posts": "Failed to list posts",
}
_PLATFORM_STATUS = {"PLATFORM_AUTH_EXPIRED": 401, "RATE_LIMITED": 429, "PLATFORM_SERVER_ERROR": 500}
_MEDIA_TYPES = ("image", "video", "document")
#: §8: a webhook is switched off after this many failed deliveries in a row.
_WEBHOOK_MAX_FAILURES = 5
#: §4 first comments: how many a post may carry, and the longest delay after publishing.
MAX_FIRST_COMMENTS = 3
_MAX_COMMENT_DELAY = 86_400
#: §4: first-comment length per platform type (X: 25,000 when every X target is Premium).
FIRST_COMMENT_LIMITS = {"twitter": 280, "linkedin": 1250, "threads": 500, "bluesky": 300, "mastodon": 500}
_COMMENT_CAP = 25_000
_BLUESKY_COMMENT_BYTES = 3000
#: Mastodon counts every link as this many characters, whatever its length.
_MASTODON_LINK = 23
_LINK = re.compile(r"https?://\S+")
_COMMENT_KEYS = ("firstComments", "firstComment")


def iso(value: datetime) -> str:
    """`2026-03-01T14:00:00.000Z`, the form Publora answers with."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse_iso(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string with an offset; None for anything else.

    Naive times are refused: the real server would read them in its own zone, and a fake that
    guessed would hide exactly the bug the contract warns about (§3, pitfall 5).
    """
    if not isinstance(value, str) or not re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _oid() -> str:
    return secrets.token_hex(12)


@dataclass
class _Meta:
    """Scheduler bookkeeping for one group (kept out of the group dict the API returns)."""

    when: datetime | None
    seq: int
    picked: float | None = None
    stage: str = "idle"


@dataclass
class _Webhook:
    url: str
    secret: str
    events: tuple[str, ...]
    active: bool = True
    failures: int = 0
    last_triggered: str | None = None


def _error(status: int, text: str, code: str | None = None, /, **extra: Any) -> _Reply:
    body: dict[str, Any] = {"error": text}
    if code:
        body["code"] = code
    body.update(extra)
    return _Reply(status, body)


def _s3_error(status: int, code: str, message: str) -> _Reply:
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    xml += "</Error>"
    return _Reply(status, raw=xml.encode(), headers={"Content-Type": "application/xml"})


def _sanitize_file_name(name: str) -> str:
    """§5a: `my photo (1).jpg` → `my_photo_1.jpg`."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "", re.sub(r"\s+", "_", name.strip()))
    return cleaned or "file"


def _media_type(content_type: str) -> str | None:
    if content_type.startswith("image/"):
        return "image"
    if content_type.startswith("video/"):
        return "video"
    if content_type == "application/pdf":
        return "document"
    return None


class FakePublora:
    """The fake server. Thread-safe; every inspection method returns copies."""

    def __init__(
        self,
        *,
        api_key: str = "sk_test_0123456789.abcdef",
        publish_delay: float = 0.5,
        tick: float = 0.1,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.publish_delay = publish_delay
        self.tick = tick
        #: §8: one delivery attempt per event with this timeout, no retries.
        self.webhook_timeout = webhook_timeout
        #: Publora's announced strict mode (§3): ≥ 5 min in the past → 400 instead of clamping.
        self.strict_past = True
        self.url = ""
        self.storage_url = ""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._random = random.Random()
        self._seq = 0
        self._down = False
        self._connections: dict[str, dict[str, Any]] = {}
        self._permissions: dict[str, list[str]] = {}
        self._failing: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, _Meta] = {}
        self._logs: dict[str, list[dict[str, Any]]] = {}
        self._inflight: list[tuple[dict[str, Any], _Meta]] = []
        self._idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self._requests: list[dict[str, Any]] = []
        self._published: list[dict[str, Any]] = []
        self._comments: list[dict[str, Any]] = []
        # First comments waiting for their delay: (due, group id, post id, the comment, first for its post).
        self._comments_due: list[tuple[datetime, str, str, dict[str, Any], bool]] = []
        self._rules: dict[str, list[_Rule]] = {}
        self._processing_delay: dict[str, float] = {}
        self._managed_users: set[str] = set()
        self._post_limit: tuple[int, str] | None = None
        self._posts_used = 0
        self._errors: list[str] = []
        # Media: presigned-upload tokens, the bytes that arrived per media id, and each media row's group.
        self._uploads: dict[str, dict[str, str]] = {}
        self._blobs: dict[str, bytes] = {}
        self._media_group: dict[str, str] = {}
        self._storage_puts: list[dict[str, Any]] = []
        self._webhook: _Webhook | None = None
        self._outbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._deliveries: list[dict[str, Any]] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakePublora:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0), handler_for(self._serve, self._stopping, server_version="FakePublora/1")
        )
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}{API_PREFIX}"
        self.storage_url = f"http://{host!s}:{port}{STORAGE_PREFIX}"
        serve = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-publora-http", daemon=True
        )
        publisher = threading.Thread(target=self._run_publisher, name="fake-publora-scheduler", daemon=True)
        courier = threading.Thread(target=self._run_webhooks, name="fake-publora-webhooks", daemon=True)
        self._threads = [serve, publisher, courier]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if self._errors:
            errors, self._errors = self._errors, []
            raise RuntimeError("FakePublora hit internal errors:\n" + "\n".join(errors))

    def __enter__(self) -> FakePublora:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- steering ---------------------------------------------------------------------------------

    def add_connection(
        self,
        platform: str,
        raw_id: str,
        *,
        username: str | None,
        display_name: str | None = None,
        token_status: str = "valid",
        profile_url: str | None = None,
        subscription_type: str | None = None,
        permissions: list[str] | None = None,
    ) -> str:
        """`permissions`: what test-connection lists as granted (default: what the platform needs).
        A Telegram `raw_id` without the leading "-" of a bot's chat id is an MTProto connection."""
        platform_id = f"{platform}-{raw_id}"
        expires_in = {"expired": "expired", "expiring_soon": "6d 23h"}.get(token_status)
        expires_at = None
        if token_status == "expired":
            expires_at = iso(datetime.now(UTC) - timedelta(days=1))
        elif token_status == "expiring_soon":
            expires_at = iso(datetime.now(UTC) + timedelta(days=6, hours=23))
        with self._lock:
            self._connections[platform_id] = {
                "platformId": platform_id,
                "username": username,
                "displayName": display_name,
                "profileImageUrl": None,
                "profileUrl": profile_url,
                "accessTokenExpiresAt": expires_at,
                "tokenStatus": token_status,
                "tokenExpiresIn": expires_in,
                "lastSuccessfulPost": None,
                "lastError": None,
                "subscriptionType": subscription_type,
            }
            self._permissions[platform_id] = (
                list(permissions) if permissions is not None else list(_PERMISSIONS.get(platform, ()))
            )
        return platform_id

    def fail_account(
        self,
        platform_id: str,
        *,
        code: str = "PLATFORM_AUTH_EXPIRED",
        message: str = "Error validating access token",
        retryable: bool = False,
        omit_post_error: bool = False,
    ) -> None:
        """Publishing to `platform_id` fails with this error from now on.

        `omit_post_error` leaves the get-post row without its `error` object (the message is then
        only in the post logs), which the contract allows for and clients must survive.
        """
        with self._lock:
            self._failing[platform_id] = {
                "code": code,
                "message": message,
                "retryable": retryable,
                "omit": omit_post_error,
            }

    def fail_next(
        self,
        endpoint: str,
        *,
        status: int = 500,
        body: dict[str, Any] | None = None,
        times: int = 1,
        after_processing: bool = False,
        delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> None:
        """The next `times` requests to `endpoint` answer `status` with `body` (or `raw_body` bytes).

        `after_processing` does the real work first (the post is stored, the idempotency record is
        kept) and only then answers with the failure: "received, but the answer was lost". `delay`
        sleeps before answering; more than the client's timeout simulates a timeout after receipt.
        A 429 gets `Retry-After: 1` unless `headers` says otherwise.
        """
        if body is None and raw_body is None:
            body = self._default_failure(endpoint, status)
        extra = dict(headers or {})
        if status == 429:
            extra.setdefault("Retry-After", "1")
        with self._lock:
            self._rules.setdefault(endpoint, []).append(
                _Rule(status, body, times, after_processing, delay, headers=extra, raw=raw_body)
            )

    def clear_faults(self) -> None:
        """Forget every failure `fail_next` queued that no request has consumed yet."""
        with self._lock:
            self._rules.clear()

    def set_down(self, down: bool) -> None:
        """While down, every request answers 503."""
        with self._lock:
            self._down = down

    def set_processing_delay(self, endpoint: str, seconds: float) -> None:
        """Hold each request to `endpoint` this long *while* its idempotency claim is open."""
        with self._lock:
            self._processing_delay[endpoint] = seconds

    def remove_media(self, group_id: str) -> None:
        """Drop a group's media rows and keep its status, as someone editing the post in Publora's
        dashboard (or Publora losing the files) would: a scheduled group then goes out as text only."""
        with self._lock:
            group = self._groups[group_id]
            for row in group["media"]:
                self._forget_media(row["mediaId"])
            group["media"] = []

    def set_post_limit(self, limit: int, *, plan_name: str = "Pro") -> None:
        """Enforce a monthly platform-post limit with 403 LimitExceededError (§9, §10)."""
        with self._lock:
            self._post_limit = (limit, plan_name)

    def add_managed_user(self, user_id: str) -> None:
        """Allow `x-publora-user-id: <user_id>` (a workspace key acting for a managed user)."""
        with self._lock:
            self._managed_users.add(user_id)

    def set_webhook(
        self, url: str, secret: str, events: Iterable[str] = ("post.published", "post.failed")
    ) -> None:
        """Deliver `events` to `url`, signed with `secret` (§8); replaces any earlier webhook.

        Unlike the real service, loopback URLs are accepted: they are the only ones a test can serve.
        """
        with self._lock:
            self._webhook = _Webhook(url, secret, tuple(events))

    def send_webhook(
        self, event: str, data: dict[str, Any], *, secret: str | None = None, signature: str | None = None
    ) -> int:
        """POST a hand-made `event` to the webhook URL now and return the HTTP status it got.

        Signed with `secret` (default: the webhook's) unless `signature` gives the header verbatim.
        Manual sends ignore the event filter and never count towards switching the webhook off.
        """
        with self._lock:
            hook = self._webhook
        if hook is None:
            raise RuntimeError("FakePublora.send_webhook: call set_webhook first")
        status = self._deliver(hook, event, data, secret=secret, signature=signature, manual=True)
        if status is None:
            raise RuntimeError(f"FakePublora.send_webhook: delivery to {hook.url} failed")
        return status

    # -- inspection -------------------------------------------------------------------------------

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = [r for r in self._requests if endpoint is None or r["endpoint"] == endpoint]
            return copy.deepcopy(rows)

    def groups(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._groups)

    def published(self, platform_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = [p for p in self._published if platform_id is None or p["platformId"] == platform_id]
            return copy.deepcopy(rows)

    def posted_comments(self, group_id: str | None = None) -> list[dict[str, Any]]:
        """First comments that went out under published posts, in order: postGroupId, postId, platformId
        ("twitter-123"), text, commentId, postedAt."""
        with self._lock:
            rows = [c for c in self._comments if group_id is None or c["postGroupId"] == group_id]
            return copy.deepcopy(rows)

    def logs(self, group_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._logs.get(group_id, []))

    def media(self, group_id: str) -> list[dict[str, Any]]:
        """The group's media rows as get-post shows them (§5), plus `size`: bytes that arrived, or None."""
        with self._lock:
            group = self._groups.get(group_id)
            rows = copy.deepcopy(group["media"]) if group else []
            for row in rows:
                blob = self._blobs.get(row["mediaId"])
                row["size"] = len(blob) if blob is not None else None
            return rows

    def storage_puts(self) -> list[dict[str, Any]]:
        """Every PUT to a presigned URL: token, mediaId, status answered, Content-Type, size, headers."""
        with self._lock:
            return copy.deepcopy(self._storage_puts)

    def webhook(self) -> dict[str, Any] | None:
        """The webhook as `GET /webhooks` lists it (§8): url, events, isActive, failureCount, ..."""
        with self._lock:
            hook = self._webhook
            if hook is None:
                return None
            return {
                "url": hook.url,
                "events": list(hook.events),
                "isActive": hook.active,
                "failureCount": hook.failures,
                "lastTriggeredAt": hook.last_triggered,
            }

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """What was sent: event, url, body (the envelope), raw bytes, headers, and the HTTP `status`
        received (None with `error` when no answer came)."""
        with self._lock:
            return copy.deepcopy(self._deliveries)

    def wait_for(self, predicate: Callable[..., Any], timeout: float = 10.0) -> Any:
        """Poll `predicate()` (or `predicate(fake)`) until it returns something truthy; return that."""
        wants_fake = _takes_argument(predicate)
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self) if wants_fake else predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"FakePublora.wait_for: condition still false after {timeout}s")
            time.sleep(min(0.02, remaining))

    # -- HTTP entry point (called from handler threads) -------------------------------------------

    def _serve(self, method: str, target: str, headers: _Headers, raw: bytes) -> _Reply:
        split = urlsplit(target)
        path = split.path
        if path.startswith(f"{STORAGE_PREFIX}/"):
            return self._serve_storage(method, path, headers, raw)
        segments = (
            [unquote(s) for s in path[len(API_PREFIX) :].split("/")[1:]]
            if path.startswith(API_PREFIX)
            else []
        )
        endpoint = segments[0] if segments else ""
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        with self._lock:
            self._requests.append(
                {
                    "method": method,
                    "path": path,
                    "endpoint": endpoint,
                    "headers": _Headers(headers.items()),
                    "json": body,
                    "query": split.query,
                    "at": time.time(),  # arrival, UNIX seconds (benchmarks)
                }
            )
            if self._down:
                return _error(503, "Service Unavailable")
            rule = self._take_rule(endpoint)
        if rule is not None and not rule.after_processing:
            return self._rule_reply(rule)
        try:
            reply = self._route(method, segments, parse_qs(split.query), headers, body, bad_json)
        except Exception:  # a bug in the fake must fail the test, not hang it
            with self._lock:
                self._errors.append(traceback.format_exc())
            return _error(500, "Internal server error")
        if rule is not None:
            return self._rule_reply(rule)
        return reply

    def _serve_storage(self, method: str, path: str, headers: _Headers, raw: bytes) -> _Reply:
        """The presigned-URL stand-in: no API key, the declared Content-Type, a length (as S3 wants).

        Storage is not Publora's API: `set_down` leaves it up; `fail_next("s3", ...)` steers it.
        """
        token = unquote(path[len(STORAGE_PREFIX) + 1 :])
        with self._lock:
            self._requests.append(
                {
                    "method": method,
                    "path": path,
                    "endpoint": "s3",
                    "headers": _Headers(headers.items()),
                    "json": None,
                    "query": "",
                }
            )
            rule = self._take_rule("s3")
            if rule is not None and not rule.after_processing:
                return self._rule_reply(rule)
            upload = self._uploads.get(token)
            if method == "GET":
                blob = self._blobs.get(upload["mediaId"]) if upload else None
                if upload is None or blob is None:
                    return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
                return _Reply(200, raw=blob, headers={"Content-Type": upload["contentType"]})
            if method != "PUT":
                return _s3_error(405, "MethodNotAllowed", "The specified method is not allowed.")
            reply = self._store_upload(upload, headers, raw)
            self._storage_puts.append(
                {
                    "token": token,
                    "mediaId": upload["mediaId"] if upload else None,
                    "status": reply.status,
                    "contentType": headers.get("content-type"),
                    "size": len(raw),
                    "headers": _Headers(headers.items()),
                }
            )
        return self._rule_reply(rule) if rule is not None else reply

    def _store_upload(self, upload: dict[str, str] | None, headers: _Headers, raw: bytes) -> _Reply:
        if upload is None:
            return _s3_error(403, "AccessDenied", "Access Denied")
        if "x-publora-key" in headers:
            # A presigned URL carries its own signature; an API key sent along means it leaked.
            return _s3_error(400, "InvalidRequest", "Unexpected x-publora-key header on a presigned URL.")
        if headers.get("content-type") != upload["contentType"]:
            return _s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if "content-length" not in headers:
            return _s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        self._blobs[upload["mediaId"]] = raw
        return _Reply(200, raw=b"", headers={"ETag": f'"{hashlib.md5(raw).hexdigest()}"'})

    def _take_rule(self, endpoint: str) -> _Rule | None:
        rules = self._rules.get(endpoint)
        if not rules:
            return None
        rule = rules[0]
        rule.times -= 1
        if rule.times <= 0:
            rules.pop(0)
        return rule

    @staticmethod
    def _rule_reply(rule: _Rule) -> _Reply:
        return _Reply(rule.status, copy.deepcopy(rule.body), dict(rule.headers), rule.raw, rule.delay)

    def _default_failure(self, endpoint: str, status: int) -> dict[str, Any]:
        if status == 500:
            return {"error": _DEFAULT_500.get(endpoint, "Internal server error")}
        if status == 429:
            return {"error": "Too many requests", "retryAfterSec": 1}
        try:
            return {"error": HTTPStatus(status).phrase}
        except ValueError:
            return {"error": f"HTTP {status}"}

    def _route(
        self,
        method: str,
        segments: list[str],
        query: dict[str, list[str]],
        headers: _Headers,
        body: Any,
        bad_json: bool,
    ) -> _Reply:
        if not segments:
            return _error(404, "Not found")
        denied = self._authenticate(headers)
        if denied is not None:
            return denied
        if bad_json:
            return _error(400, "Invalid JSON in request body")
        endpoint, rest = segments[0], segments[1:]
        group_id = rest[0] if len(rest) == 1 else None
        if method == "GET" and endpoint == "platform-connections" and not rest:
            return self._list_connections()
        if method == "POST" and endpoint == "create-post" and not rest:
            return self._idempotent(headers, method, endpoint, body, lambda: self._create(body))
        if method == "GET" and endpoint == "get-post" and group_id is not None:
            return self._get_post(group_id)
        if method == "GET" and endpoint == "post-logs" and group_id is not None:
            return self._post_logs(group_id)
        if method == "GET" and endpoint == "list-posts" and not rest:
            return self._list_posts(query)
        if method == "PUT" and endpoint == "update-post" and group_id is not None:
            return self._idempotent(
                headers, method, f"{endpoint}/{group_id}", body, lambda: self._update(group_id, body)
            )
        if method == "DELETE" and endpoint == "delete-post" and group_id is not None:
            return self._delete(group_id)
        if method == "POST" and endpoint == "get-upload-url" and not rest:
            return self._upload_url(body)
        if method == "POST" and endpoint == "complete-media" and group_id is not None:
            return self._complete_media(group_id)
        if method == "DELETE" and endpoint == "media" and group_id is not None:
            return self._delete_media(group_id)
        if method == "POST" and endpoint == "test-connection" and group_id is not None:
            return self._test_connection(group_id)
        return _error(404, "Not found")

    def _authenticate(self, headers: _Headers) -> _Reply | None:
        key = headers.get("x-publora-key")
        if not key:
            return _error(401, "API key is required")
        if key != self.api_key:
            return _error(401, "Invalid API key")
        user = headers.get("x-publora-user-id")
        if user is not None:
            if not _OBJECT_ID.fullmatch(user):
                return _error(400, "Invalid x-publora-user-id")
            with self._lock:
                managed = set(self._managed_users)
            if not managed:
                return _error(403, "Workspace access is not enabled for this key")
            if user not in managed:
                return _error(403, "User is not managed by key")
        return None

    def _idempotent(
        self, headers: _Headers, method: str, path: str, body: Any, work: Callable[[], _Reply]
    ) -> _Reply:
        key = headers.get("idempotency-key")
        if not key:
            with self._lock:
                return work()
        # Keys are per acting user (§3); JSON key order does not matter for "same body".
        scope = (headers.get("x-publora-user-id") or "", key)
        fingerprint = json.dumps([method, path, body], sort_keys=True)
        now = datetime.now(UTC)
        with self._lock:
            entry = self._idempotency.get(scope)
            if entry is not None and now - entry["at"] > _IDEMPOTENCY_TTL:
                entry = None
            if entry is not None:
                if entry["fingerprint"] != fingerprint:
                    return _error(
                        422,
                        "Idempotency-Key has already been used with a different request body",
                        "IDEMPOTENCY_KEY_CONFLICT",
                    )
                if entry["reply"] is None:
                    return _error(
                        409,
                        "A request with this Idempotency-Key is still being processed",
                        "IDEMPOTENCY_IN_FLIGHT",
                    )
                stored: _Reply = entry["reply"]
                return _Reply(stored.status, copy.deepcopy(stored.body))
            claim: dict[str, Any] = {"fingerprint": fingerprint, "at": now, "reply": None}
            self._idempotency[scope] = claim
            hold = self._processing_delay.get(path.split("/")[0], 0.0)
        if hold:
            self._stopping.wait(hold)
        with self._lock:
            try:
                reply = work()
            except BaseException:
                self._idempotency.pop(scope, None)
                raise
            if reply.status >= 500:
                self._idempotency.pop(scope, None)  # a server failure frees the key for a retry
            else:
                claim["reply"] = _Reply(reply.status, copy.deepcopy(reply.body))
            return reply

    # -- endpoints --------------------------------------------------------------------------------

    def _test_connection(self, platform_id: str) -> _Reply:
        # Publora's own text: {status: "ok"|"error", message, permissions, tokenExpiresIn}, HTTP 200 even
        # when the test fails (its test-connection page adds platform, platformId, username,
        # lastSuccessfulPost, lastError). Telegram MTProto connections always answer "Invalid bot
        # connection" although they publish.
        with self._lock:
            connection = copy.deepcopy(self._connections.get(platform_id))
            permissions = list(self._permissions.get(platform_id, []))
        if connection is None:
            return _error(404, "Connection not found")
        platform, _, raw_id = platform_id.partition("-")
        if connection["tokenStatus"] == "expired":
            status, message = "error", "Access token has expired; reconnect the account"
        elif platform == "telegram" and not raw_id.startswith("-"):
            status, message = "error", "Invalid bot connection"
        else:
            status, message = "ok", "Connection is working"
        return _Reply(
            200,
            {
                "platform": platform,
                "platformId": platform_id,
                "username": connection["username"],
                "status": status,
                "message": message,
                "permissions": permissions,
                "tokenExpiresIn": connection["tokenExpiresIn"],
                "lastSuccessfulPost": connection["lastSuccessfulPost"],
                "lastError": connection["lastError"],
            },
        )

    def _list_connections(self) -> _Reply:
        with self._lock:
            rows = [copy.deepcopy(c) for c in self._connections.values()]
        return _Reply(200, {"success": True, "connections": rows})

    def _check_platforms(self, platforms: Any, *, allow_empty: bool, update: bool) -> _Reply | list[str]:
        if platforms is None:
            return _error(400, "Platforms are required", "PLATFORMS_REQUIRED" if update else None)
        if isinstance(platforms, str):
            try:
                platforms = json.loads(platforms)
            except ValueError:
                return _error(400, "Invalid platforms JSON format", "INVALID_PLATFORMS" if update else None)
        if not isinstance(platforms, list):
            return _error(400, "Platforms must be an array", "INVALID_PLATFORMS" if update else None)
        if not platforms and not allow_empty:
            return _error(400, "At least one platform is required", "PLATFORMS_REQUIRED" if update else None)
        for platform_id in platforms:
            if not isinstance(platform_id, str) or not _PLATFORM_ID.fullmatch(platform_id):
                return _error(
                    400, f"Invalid platform ID format: {platform_id}", "INVALID_PLATFORMS" if update else None
                )
        if len(set(platforms)) != len(platforms):
            return _error(
                400, "Platforms must not contain duplicates", "INVALID_PLATFORMS" if update else None
            )
        unknown = [p for p in platforms if p not in self._connections]
        if unknown:
            return _error(
                400,
                f"No connected account for: {', '.join(unknown)}",
                "INVALID_PLATFORM_CONNECTION",
                invalidPlatforms=unknown,
            )
        return list(platforms)

    def _check_settings(self, settings: Any) -> _Reply | None:
        if settings is None:
            return None
        if isinstance(settings, str):
            try:
                settings = json.loads(settings)
            except ValueError:
                return _error(400, "Invalid platformSettings JSON")
        if not isinstance(settings, dict):
            return _error(400, "platformSettings must be an object")
        for platform, options in settings.items():
            allowed = _SETTINGS.get(platform)
            if allowed is None:
                return _error(
                    400,
                    f"Unknown platformSettings path: {platform}",
                    "PLATFORM_SETTING_UNKNOWN",
                    field=platform,
                )
            for key in options if isinstance(options, dict) else {}:
                if key not in allowed:
                    path = f"{platform}.{key}"
                    return _error(
                        400, f"Unknown platformSettings path: {path}", "PLATFORM_SETTING_UNKNOWN", field=path
                    )
        return None

    @staticmethod
    def _check_media_urls(urls: Any) -> _Reply | list[str]:
        if urls is None:
            return []
        if not isinstance(urls, list) or not all(
            isinstance(u, str) and u.startswith("https://") for u in urls
        ):
            return _error(400, "mediaUrls must be an array of public https URLs")
        if len(urls) > 10:
            return _error(400, "mediaUrls supports at most 10 URLs per request")
        return list(urls)

    def _resolve_time(
        self, when: datetime | None, now: datetime
    ) -> _Reply | tuple[datetime, list[dict[str, Any]]]:
        """The effective time of a post becoming `scheduled` (§3 past-time rules)."""
        if when is None:
            return now, []
        if when > now:
            return when, []
        if now - when >= _PAST_TOLERANCE and self.strict_past:
            return _error(
                400,
                f"Scheduled time is in the past. Server time is {iso(now)} UTC.",
                "SCHEDULED_TIME_IN_PAST",
                serverTime=iso(now),
            )
        warning = {
            "code": "SCHEDULED_TIME_COERCED",
            "message": (
                f"Requested scheduled time {iso(when)} was in the past "
                f"and was changed to server time {iso(now)}."
            ),
            "requested": iso(when),
            "effective": iso(now),
        }
        return now, [warning]

    def _validate(self, content: str, platforms: list[str], media: list[str]) -> _Reply | None:
        """Content/media rules checked when a group becomes `scheduled` (§3, §9, §11).

        `media` holds one kind per item: "url" for an imported link (its type is never looked at),
        else the upload's type (image, video, document).
        """
        errors = []
        for platform_id in platforms:
            platform = platform_id.split("-", 1)[0]
            name = _DISPLAY.get(platform, platform)
            if platform not in TEXT_LIMITS:
                errors.append(
                    self._issue("PLATFORM_NOT_SUPPORTED", f"{name} is not supported for publishing", platform)
                )
                continue
            if platform in _MEDIA_REQUIRED and not media:
                what = "a video" if platform == "youtube" else "media"
                errors.append(
                    self._issue("MEDIA_REQUIRED", f"{name} posts require {what}", platform, "media")
                )
            elif platform == "youtube" and not {"url", "video"} & set(media):
                errors.append(
                    self._issue("VIDEO_REQUIRED", "YouTube posts require a video", platform, "media")
                )
            limit = self._text_limit(platform_id, bool(media))
            if platform == "threads" and len(re.split(r"\n---\n", content)) > 1:
                errors.append(
                    self._issue(
                        "THREADS_CHAINS_UNAVAILABLE",
                        "Multi-threaded nested posts are temporarily unavailable on Threads",
                        platform,
                    )
                )
            if platform not in _AUTO_SPLIT and len(content) > limit:
                errors.append(
                    self._issue(
                        "CONTENT_TOO_LONG",
                        f"Content exceeds {name}'s {limit:,} character limit ({len(content):,} characters)",
                        platform,
                    )
                )
        if not errors:
            return None
        affected = sorted({e["platform"] for e in errors})
        validation = {
            "valid": False,
            "errors": errors,
            "warnings": [],
            "summary": {"errorCount": len(errors), "warningCount": 0, "affectedPlatforms": affected},
        }
        return _Reply(400, {"error": "Validation failed", "validation": validation})

    @staticmethod
    def _issue(code: str, message: str, platform: str, where: str = "content") -> dict[str, Any]:
        return {
            "code": code,
            "message": message,
            "platform": platform,
            "field": where,
            "suggestions": [],
            "severity": "error",
        }

    def _text_limit(self, platform_id: str, has_media: bool) -> int:
        platform = platform_id.split("-", 1)[0]
        if platform == "twitter":
            tier = (self._connections.get(platform_id) or {}).get("subscriptionType")
            return 25_000 if tier in ("Premium", "PremiumPlus") else 280
        if platform == "telegram" and has_media:
            return 1024
        return TEXT_LIMITS.get(platform, 0)

    def _check_limit(self, targets: int) -> _Reply | None:
        if self._post_limit is None:
            return None
        limit, plan = self._post_limit
        if self._posts_used + targets <= limit:
            return None
        now = datetime.now(UTC)
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        return _error(
            403,
            "Post limit reached",
            "POST_LIMIT_REACHED",
            metric="posts.platform_monthly",
            message=f"Monthly post limit reached. Your {plan} plan allows {limit} platform posts per month.",
            limit=limit,
            used=self._posts_used,
            requested=targets,
            remaining=max(0, limit - self._posts_used),
            periodStart=iso(start),
            periodEnd=iso(end),
            planName=plan,
        )

    def _create(self, body: Any) -> _Reply:
        if not isinstance(body, dict):
            return _error(400, "Content is required")
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            return _error(400, "Content is required")
        platforms = self._check_platforms(body.get("platforms"), allow_empty=False, update=False)
        if isinstance(platforms, _Reply):
            return platforms
        problem = self._check_settings(body.get("platformSettings"))
        if problem is not None:
            return problem
        media = self._check_media_urls(body.get("mediaUrls"))
        if isinstance(media, _Reply):
            return media
        comments = {key: copy.deepcopy(body.get(key)) for key in _COMMENT_KEYS}
        comment_warnings = self._check_first_comments(comments, platforms)
        if isinstance(comment_warnings, _Reply):
            return comment_warnings
        now = datetime.now(UTC)
        raw_time = body.get("scheduledTime")
        warnings: list[dict[str, Any]] = []
        when: datetime | None = None
        if raw_time is not None:
            requested = _parse_iso(raw_time)
            if requested is None:
                return _error(400, "Invalid scheduled time format")
            resolved = self._resolve_time(requested, now)
            if isinstance(resolved, _Reply):
                return resolved
            when, warnings = resolved
            # Drafts skip content/media validation; scheduling does not (§3).
            invalid = self._validate(content, platforms, ["url"] * len(media)) or self._check_limit(
                len(platforms)
            )
            if invalid is not None:
                return invalid
            self._posts_used += len(platforms)
        status = "scheduled" if when is not None else "draft"
        group_id = _oid()
        self._seq += 1
        stamp = iso(now)
        group = {
            "postGroupId": group_id,
            "status": status,
            "content": content,
            "scheduledTime": iso(when) if when else None,
            "platforms": platforms,
            "platformSettings": copy.deepcopy(body.get("platformSettings") or {}),
            **comments,
            "mediaUrls": media,
            "posts": [self._new_post(p, content, status) for p in platforms],
            "media": [],
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self._groups[group_id] = group
        self._meta[group_id] = _Meta(when=when, seq=self._seq)
        self._logs[group_id] = []
        if status == "scheduled":
            self._log(group_id, "scheduled", metadata={"scheduledTime": group["scheduledTime"]})
            self._emit_scheduled(group)
        answer: dict[str, Any] = {
            "success": True,
            "postGroupId": group_id,
            "scheduledTime": group["scheduledTime"],
        }
        warnings.extend(comment_warnings)
        if warnings:
            answer["warnings"] = warnings
        return _Reply(200, answer)

    def _check_first_comments(
        self, sent: Mapping[str, Any], platforms: list[str]
    ) -> _Reply | list[dict[str, Any]]:
        """§4's rules for the first comments `sent` (`firstComments` and legacy `firstComment`, as a
        group stores them) on a group targeting `platforms`: the warnings to answer with, or the 400.

        The wording of messages and the shape of warnings beyond `code` are not in the contract.
        """
        plural, legacy = sent.get("firstComments"), sent.get("firstComment")
        if plural is not None and legacy is not None:
            return _comment_invalid("Send firstComments or the legacy firstComment, not both")
        if legacy is not None:
            items = [legacy]
        elif plural is None:
            return []
        elif not isinstance(plural, list):
            return _comment_invalid("firstComments must be an array")
        else:
            items = plural
        if len(items) > MAX_FIRST_COMMENTS:
            return _comment_invalid(f"At most {MAX_FIRST_COMMENTS} first comments are allowed")
        targeted = [p.split("-", 1)[0] for p in platforms]
        unsupported: set[str] = set()
        not_targeted: set[str] = set()
        for index, item in enumerate(items):
            where = "firstComment" if legacy is not None else f"firstComments[{index}]"
            if not isinstance(item, dict):
                return _comment_invalid(f"{where} must be an object")
            text = item.get("text")
            if not isinstance(text, str) or not text.strip():
                return _comment_invalid(f"{where}.text is required")
            delay = item.get("delaySeconds", 0)
            if not _is_whole(delay) or not 0 <= delay <= _MAX_COMMENT_DELAY:
                return _comment_invalid(f"{where}.delaySeconds must be a whole number from 0 to 86400")
            named = item.get("platforms")
            if named is not None:
                if not isinstance(named, list) or not named or not all(isinstance(n, str) for n in named):
                    return _comment_invalid(f"{where}.platforms must be a non-empty array of platform types")
                unknown = [n for n in named if n not in PLATFORMS]
                if unknown:
                    # Connection ids ("twitter-123") land here too: the field takes platform types only.
                    return _error(
                        400,
                        f"Unknown first comment platform: {unknown[0]}",
                        "FIRST_COMMENT_PLATFORM_UNKNOWN",
                        allowed=list(PLATFORMS),
                    )
                not_targeted.update(n for n in named if n not in targeted and n in FIRST_COMMENT_LIMITS)
            reached = [t for t in dict.fromkeys(targeted) if named is None or t in named]
            unsupported.update(t for t in (named or reached) if t not in FIRST_COMMENT_LIMITS)
            for platform in (t for t in reached if t in FIRST_COMMENT_LIMITS):
                limit = self._comment_limit(platform, platforms)
                too_long = _comment_too_long(platform, text, limit)
                if too_long is not None:
                    return too_long
            capped = _comment_too_long(None, text, _COMMENT_CAP)
            if capped is not None:
                return capped
        warnings = []
        if unsupported:
            names = _display_names(unsupported)
            warnings.append(
                {
                    "code": "FIRST_COMMENT_UNSUPPORTED_PLATFORMS",
                    "message": f"First comments are not supported on {names}; they will be skipped there.",
                    "platforms": sorted(unsupported),
                }
            )
        if not_targeted:
            warnings.append(
                {
                    "code": "FIRST_COMMENT_PLATFORM_NOT_TARGETED",
                    "message": f"First comments name {_display_names(not_targeted)}, which the post does not "
                    "target.",
                    "platforms": sorted(not_targeted),
                }
            )
        return warnings

    def _comment_limit(self, platform: str, platforms: list[str]) -> int:
        if platform == "twitter":
            tiers = [
                (self._connections.get(p) or {}).get("subscriptionType")
                for p in platforms
                if p.startswith("twitter-")
            ]
            if tiers and all(tier in ("Premium", "PremiumPlus") for tier in tiers):
                return _COMMENT_CAP
        return FIRST_COMMENT_LIMITS[platform]

    def _post_first_comments(self, group: dict[str, Any], post: dict[str, Any]) -> None:
        """§4: once a target is published, each first comment meant for it goes out once, after its
        delay; `firstCommentResult` follows the first of them. Networks without comments skip them."""
        platform = post["platform"]
        mine = [
            item
            for item in _comment_items(group)
            if item.get("platforms") is None or platform in item["platforms"]
        ]
        if not mine:
            return
        if platform not in FIRST_COMMENT_LIMITS:
            post["firstCommentResult"] = _comment_result("skipped", skip_reason="UNSUPPORTED_PLATFORM")
            return
        now = datetime.now(UTC)
        for index, item in enumerate(mine):
            delay = item.get("delaySeconds", 0)
            if delay:
                due = now + timedelta(seconds=delay)
                self._comments_due.append((due, group["postGroupId"], post["_id"], item, index == 0))
                if index == 0:
                    post["firstCommentResult"] = _comment_result("pending")
            else:
                self._post_comment(group, post, item, first=index == 0)

    def _post_comment(
        self, group: dict[str, Any], post: dict[str, Any], item: dict[str, Any], *, first: bool
    ) -> None:
        stamp = iso(datetime.now(UTC))
        comment_id = self._posted_id(post)
        self._comments.append(
            {
                "postGroupId": group["postGroupId"],
                "postId": post["_id"],
                "platformId": f"{post['platform']}-{post['platformId']}",
                "text": item["text"],
                "commentId": comment_id,
                "postedAt": stamp,
            }
        )
        if first:
            post["firstCommentResult"] = _comment_result("posted", comment_id=comment_id, at=stamp)

    def _post_due_comments(self, now: datetime) -> None:
        for entry in [e for e in self._comments_due if e[0] <= now]:
            self._comments_due.remove(entry)
            _, group_id, post_id, item, first = entry
            group = self._groups.get(group_id)  # a group deleted meanwhile takes its comments with it
            post = next((p for p in group["posts"] if p["_id"] == post_id), None) if group else None
            if group is not None and post is not None:
                self._post_comment(group, post, item, first=first)

    def _new_post(self, platform_id: str, content: str, status: str) -> dict[str, Any]:
        platform, _, raw_id = platform_id.partition("-")
        parts = self._thread_parts(platform_id, content)
        return {
            "_id": _oid(),
            "platform": platform,
            "platformId": raw_id,  # raw id, without the "<platform>-" prefix (§6)
            "content": content,
            "status": status,
            "postedId": None,
            "permalink": None,
            "isThread": len(parts) > 1,
            "threadParts": (
                [
                    {"index": i, "content": p, "status": "pending", "publishedId": None}
                    for i, p in enumerate(parts)
                ]
                if len(parts) > 1
                else []
            ),
            "firstCommentResult": None,
        }

    def _thread_parts(self, platform_id: str, content: str) -> list[str]:
        """§4: `---` lines split X/Threads chains; parts over the limit are split at words, marked (i/N)."""
        platform = platform_id.split("-", 1)[0]
        if platform not in _AUTO_SPLIT:
            return [content]
        limit = self._text_limit(platform_id, False)
        manual = [p.strip() for p in re.split(r"\n---\n", content) if p.strip()] or [content]
        parts: list[str] = []
        for part in manual:
            if len(part) <= limit:
                parts.append(part)
                continue
            room = limit - 10  # room for the " (i/N)" suffix
            chunk = ""
            for word in part.split():
                while len(word) > room:  # a single over-long "word" is cut hard
                    if chunk:
                        parts.append(chunk)
                        chunk = ""
                    parts.append(word[:room])
                    word = word[room:]
                candidate = f"{chunk} {word}".strip()
                if len(candidate) > room:
                    parts.append(chunk)
                    chunk = word
                else:
                    chunk = candidate
            if chunk:
                parts.append(chunk)
        if len(parts) > 1 and any(len(p) > limit for p in manual):
            total = len(parts)
            parts = [f"{p} ({i}/{total})" for i, p in enumerate(parts, start=1)]
        return parts

    def _known_group(self, group_id: str, malformed: str) -> _Reply | dict[str, Any]:
        if not _OBJECT_ID.fullmatch(group_id):
            return _error(500, malformed)  # Publora's quirk: a malformed id is a 500, not a 400 (§6)
        group = self._groups.get(group_id)
        if group is None:
            return _error(404, "Post group not found")
        return group

    def _get_post(self, group_id: str) -> _Reply:
        with self._lock:
            group = self._known_group(group_id, "Failed to fetch post group")
            if isinstance(group, _Reply):
                return group
            keys = ("postGroupId", "status", "scheduledTime", "platforms", "platformSettings", "firstComment")
            answer = {"success": True, **{k: copy.deepcopy(group[k]) for k in keys}}
            answer["posts"] = copy.deepcopy(group["posts"])
            answer["media"] = copy.deepcopy(group["media"])
        return _Reply(200, answer)

    def _post_logs(self, group_id: str) -> _Reply:
        if not _OBJECT_ID.fullmatch(group_id):
            return _error(500, "Failed to get post logs")
        with self._lock:
            # An unknown id is UNCONFIRMED in the contract; a plain query by id would find no rows.
            logs = copy.deepcopy(self._logs.get(group_id, [])[:100])
        return _Reply(200, {"success": True, "logs": logs})

    def _list_posts(self, query: dict[str, list[str]]) -> _Reply:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        page = max(1, _int(one("page"), 1))
        limit = min(100, max(1, _int(one("limit"), 20)))
        status = one("status")
        if status is not None and status not in _GROUP_STATUSES:
            return _error(400, f"Invalid status. Must be one of: {', '.join(_GROUP_STATUSES)}")
        sort_by = one("sortBy") or "createdAt"
        if sort_by not in _SORT_FIELDS:
            return _error(400, f"Invalid sortBy. Must be one of: {', '.join(_SORT_FIELDS)}")
        ascending = (one("sortOrder") or "desc").lower() == "asc"
        bounds = []
        for name in ("fromDate", "toDate"):
            raw = one(name)
            parsed = _parse_iso(raw) if raw else None
            if raw and parsed is None:
                return _error(400, f"Invalid {name} format")
            bounds.append(parsed)
        platform = (one("platform") or "").lower()
        with self._lock:
            rows = []
            for group_id, group in self._groups.items():
                meta = self._meta[group_id]
                if status and group["status"] != status:
                    continue
                if platform and not any(p.lower().startswith(platform) for p in group["platforms"]):
                    continue
                if bounds[0] and (meta.when is None or meta.when < bounds[0]):
                    continue
                if bounds[1] and (meta.when is None or meta.when > bounds[1]):
                    continue
                rows.append((group, meta))
            rows.sort(key=lambda row: (row[0].get(sort_by) or "", row[1].seq), reverse=not ascending)
            total = len(rows)
            window = rows[(page - 1) * limit : page * limit]
            posts = [
                {
                    "postGroupId": g["postGroupId"],
                    "content": g["content"],
                    "status": g["status"],
                    "scheduledTime": g["scheduledTime"],
                    "createdAt": g["createdAt"],
                    "updatedAt": g["updatedAt"],
                    "platforms": [
                        {
                            "platformId": f"{p['platform']}-{p['platformId']}",
                            "platform": p["platform"],
                            "status": p["status"],
                        }
                        for p in g["posts"]
                    ],
                    "mediaUrls": list(g["mediaUrls"]),
                }
                for g, _ in window
            ]
        pages = (total + limit - 1) // limit
        pagination = {
            "page": page,
            "limit": limit,
            "totalItems": total,
            "totalPages": pages,
            "hasNextPage": page < pages,
            "hasPrevPage": page > 1,
        }
        return _Reply(200, {"success": True, "posts": posts, "pagination": pagination})

    def _update(self, group_id: str, body: Any) -> _Reply:
        found = self._known_group(group_id, "Failed to update post")
        if isinstance(found, _Reply):
            return found
        group = found
        meta = self._meta[group_id]
        fields = ("status", "scheduledTime", "content", "platforms", "platformSettings", "mediaUrls")
        if not isinstance(body, dict) or not any(
            k in body for k in (*fields, "firstComment", "firstComments")
        ):
            return _error(
                400,
                "At least one of status, scheduledTime, content, platforms, platformSettings, or mediaUrls "
                "must be provided",
            )
        new_status = body.get("status", group["status"])
        if "status" in body and new_status not in ("draft", "scheduled"):
            return _error(400, "Status must be either 'draft' or 'scheduled'")
        if group["status"] not in ("draft", "scheduled"):
            return _error(
                400, f"Cannot update post: post is currently in {group['status']} status", "POST_NOT_EDITABLE"
            )
        if any(p["status"] in ("pending", "processing") for p in group["posts"]):
            return _error(
                409,
                "Post is already being published and can no longer be changed",
                "POST_PUBLISH_IN_PROGRESS",
            )
        content = body.get("content", group["content"])
        if "content" in body and (not isinstance(content, str) or not content.strip()):
            return _error(400, "Content must be a non-empty string", "INVALID_CONTENT")
        platforms = group["platforms"]
        if "platforms" in body:
            checked = self._check_platforms(body["platforms"], allow_empty=new_status == "draft", update=True)
            if isinstance(checked, _Reply):
                return checked
            platforms = checked
        problem = self._check_settings(body.get("platformSettings"))
        if problem is not None:
            return problem
        added = self._check_media_urls(body.get("mediaUrls"))
        if isinstance(added, _Reply):
            return added
        media = [*group["mediaUrls"], *added]
        comments = {key: group[key] for key in _COMMENT_KEYS}
        comment_warnings: list[dict[str, Any]] = []
        if any(key in body for key in (*_COMMENT_KEYS, "platforms")):
            if any(key in body for key in _COMMENT_KEYS):
                # A patch (§7): the form sent replaces whichever the group had, and null clears it.
                comments = {key: copy.deepcopy(body.get(key)) for key in _COMMENT_KEYS}
            checked_comments = self._check_first_comments(comments, platforms)
            if isinstance(checked_comments, _Reply):
                return checked_comments
            comment_warnings = checked_comments
        when = meta.when
        if body.get("scheduledTime") is not None:
            when = _parse_iso(body["scheduledTime"])
            if when is None:
                return _error(400, "Invalid scheduled time format")
        warnings: list[dict[str, Any]] = []
        if new_status == "scheduled":
            now = datetime.now(UTC)
            resolved = self._resolve_time(when, now)
            if isinstance(resolved, _Reply):
                return resolved
            when, warnings = resolved
            if not platforms:
                return _error(400, "At least one platform is required", "PLATFORMS_REQUIRED")
            not_ready = self._media_not_ready(group)
            if not_ready:
                return _error(400, f"Media is not ready: {', '.join(not_ready)}", "MEDIA_NOT_READY")
            kinds = ["url"] * len(media) + [row["type"] for row in group["media"]]
            invalid = self._validate(content, platforms, kinds)
            if invalid is None and group["status"] == "draft":
                invalid = self._check_limit(len(platforms))
            if invalid is not None:
                return invalid
            if group["status"] == "draft":
                self._posts_used += len(platforms)
        group["content"] = content
        group["platforms"] = platforms
        group["mediaUrls"] = media
        group.update(comments)
        if isinstance(body.get("platformSettings"), dict):
            group["platformSettings"] = {**group["platformSettings"], **body["platformSettings"]}
        group["status"] = new_status
        meta.when = when
        group["scheduledTime"] = iso(when) if when else None
        group["posts"] = [self._new_post(p, content, new_status) for p in platforms]
        group["updatedAt"] = iso(datetime.now(UTC))
        self._log(group_id, "status_changed", metadata={"status": new_status})
        if new_status == "scheduled":
            self._emit_scheduled(group)
        summary: dict[str, Any] = {
            "_id": group_id,
            "status": new_status,
            "content": content,
            "platforms": list(platforms),
        }
        if group["scheduledTime"]:
            summary["scheduledTime"] = group["scheduledTime"]
        answer: dict[str, Any] = {
            "success": True,
            "message": "Post updated successfully",
            "scheduledTime": group["scheduledTime"],
            "postGroup": summary,
        }
        warnings.extend(comment_warnings)
        if warnings:
            answer["warnings"] = warnings
        return _Reply(200, answer)

    def _delete(self, group_id: str) -> _Reply:
        with self._lock:
            found = self._known_group(group_id, "Failed to delete post group")
            if isinstance(found, _Reply):
                return found
            # Deleting removes Publora's records only; a publish already under way still goes out (§7).
            for row in found["media"]:
                self._forget_media(row["mediaId"])
            del self._groups[group_id]
            del self._meta[group_id]
            self._logs.pop(group_id, None)
        return _Reply(200, {"success": True})

    # -- media (§5a) ------------------------------------------------------------------------------

    def _upload_url(self, body: Any) -> _Reply:
        if not isinstance(body, dict):
            body = {}
        file_name, content_type, group_id = (body.get(k) for k in ("fileName", "contentType", "postGroupId"))
        if not all(isinstance(v, str) and v.strip() for v in (file_name, content_type, group_id)):
            # The exact wording is not in the contract; the rule (all three required) is.
            return _error(400, "fileName, contentType and postGroupId are required")
        kind = _media_type(content_type)
        if kind is None:
            return _error(400, "contentType must be an image/*, video/* or application/pdf type")
        if body.get("type") is not None and body["type"] not in _MEDIA_TYPES:
            return _error(400, "type must be one of: image, video, document")
        with self._lock:
            # A malformed id answers 500 as on the other group endpoints; the contract does not say here.
            found = self._known_group(group_id, "Failed to generate upload URL")
            if isinstance(found, _Reply):
                return found
            group = found
            refused = self._refuse_media_change(group)
            if refused is not None:
                return refused
            media_id, token = _oid(), secrets.token_urlsafe(16)
            stored_name = _sanitize_file_name(file_name)
            file_url = f"{self.storage_url}/{token}"
            self._uploads[token] = {"mediaId": media_id, "contentType": content_type}
            self._media_group[media_id] = group_id
            group["media"].append(
                {
                    "mediaId": media_id,
                    "sourceFileName": file_name,
                    "fileName": stored_name,
                    "type": body.get("type") or kind,
                    "mimeType": content_type,
                    "status": "uploading",
                    "failureReason": None,
                    "url": file_url,
                }
            )
            answer: dict[str, Any] = {
                "success": True,
                "uploadUrl": file_url,
                "fileUrl": file_url,
                "mediaId": media_id,
            }
            if self._demote(group, "attach", media_id):
                answer["postGroupDemoted"] = True
                answer["message"] = (
                    "The post was moved back to draft because its media changed; schedule it again."
                )
        return _Reply(200, answer)

    def _refuse_media_change(self, group: dict[str, Any]) -> _Reply | None:
        if any(p["status"] in ("pending", "processing") for p in group["posts"]):
            return _error(
                409,
                "Post is already being published and can no longer be changed",
                "POST_PUBLISH_IN_PROGRESS",
            )
        if group["status"] not in ("draft", "scheduled"):
            return _error(
                400, f"Cannot update post: post is currently in {group['status']} status", "POST_NOT_EDITABLE"
            )
        return None

    def _demote(self, group: dict[str, Any], change: str, media_id: str) -> bool:
        """Changing the media of a scheduled group sends it back to draft (§5a, pitfall 6)."""
        if group["status"] != "scheduled":
            return False
        group["status"] = "draft"
        for post in group["posts"]:
            post["status"] = "draft"
        group["updatedAt"] = iso(datetime.now(UTC))
        self._log(group["postGroupId"], "status_changed", metadata={"status": "draft"})
        self._emit(
            "post.demoted",
            {
                "postGroupId": group["postGroupId"],
                "reason": "media_changed",
                "changeType": change,
                "mediaFileId": media_id,
            },
        )
        return True

    def _media_row(self, media_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        group = self._groups.get(self._media_group.get(media_id, ""))
        if group is None:
            return None
        row = next((m for m in group["media"] if m["mediaId"] == media_id), None)
        return (group, row) if row is not None else None

    def _complete_media(self, media_id: str) -> _Reply:
        if not _OBJECT_ID.fullmatch(media_id):
            return _error(400, "Invalid media file id", "INVALID_MEDIA_FILE_ID")
        with self._lock:
            found = self._media_row(media_id)
            if found is None:
                return _error(404, "Media file not found", "MEDIA_FILE_NOT_FOUND")
            group, row = found
            if not self._probe(group, row):
                return _error(400, "Media probe failed: no uploaded file was found", "PROBE_FAILED")
            media_file = {
                "_id": media_id,
                "type": row["type"],
                "mimeType": row["mimeType"],
                "fileName": row["fileName"],
                "url": row["url"],
                "status": row["status"],
                "metadata": {"size": len(self._blobs[media_id])},
            }
        return _Reply(200, {"success": True, "mediaFile": media_file})

    def _probe(self, group: dict[str, Any], row: dict[str, Any]) -> bool:
        """Check the bytes of a media row now: ready when some arrived, failed otherwise."""
        if row["status"] == "ready":
            return True
        if self._blobs.get(row["mediaId"]):
            row["status"], row["failureReason"] = "ready", None
            self._log(group["postGroupId"], "media_finalize_succeeded", metadata={"mediaId": row["mediaId"]})
            return True
        row["status"], row["failureReason"] = "failed", "No uploaded file was found"
        self._log(group["postGroupId"], "media_finalize_failed", metadata={"mediaId": row["mediaId"]})
        return False

    def _delete_media(self, media_id: str) -> _Reply:
        if not _OBJECT_ID.fullmatch(media_id):
            return _error(400, "Invalid mediaId")
        with self._lock:
            found = self._media_row(media_id)
            if found is None:
                return _error(404, "Media file not found")
            group, row = found
            refused = self._refuse_media_change(group)
            if refused is not None:
                return refused
            group["media"].remove(row)
            self._forget_media(media_id)
            answer: dict[str, Any] = {"success": True}
            if self._demote(group, "detach", media_id):
                answer["postGroupDemoted"] = True
        return _Reply(200, answer)

    def _forget_media(self, media_id: str) -> None:
        self._blobs.pop(media_id, None)
        self._media_group.pop(media_id, None)
        for token in [t for t, u in self._uploads.items() if u["mediaId"] == media_id]:
            del self._uploads[token]

    def _media_not_ready(self, group: dict[str, Any]) -> list[str]:
        """Names of media rows that cannot go out; rows never completed are probed now (§5a step 4)."""
        return [row["sourceFileName"] for row in group["media"] if not self._probe(group, row)]

    # -- webhooks (§8) ----------------------------------------------------------------------------

    def _emit_scheduled(self, group: dict[str, Any]) -> None:
        self._emit(
            "post.scheduled",
            {
                "postGroupId": group["postGroupId"],
                "scheduledTime": group["scheduledTime"],
                "platforms": list(group["platforms"]),
            },
        )

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        """Queue `event` for the webhook courier; the caller (often the scheduler) never waits on it."""
        hook = self._webhook
        if hook is not None and hook.active and event in hook.events:
            self._outbox.put((event, copy.deepcopy(data)))

    def _run_webhooks(self) -> None:
        while not self._stopping.is_set():
            try:
                event, data = self._outbox.get(timeout=self.tick)
            except queue.Empty:
                continue
            with self._lock:
                hook = self._webhook
            if hook is None or not hook.active:
                continue
            try:
                self._deliver(hook, event, data)
            except Exception:  # surfaced by stop()
                with self._lock:
                    self._errors.append(traceback.format_exc())

    def _deliver(
        self,
        hook: _Webhook,
        event: str,
        data: dict[str, Any],
        *,
        secret: str | None = None,
        signature: str | None = None,
        manual: bool = False,
    ) -> int | None:
        """One attempt, no retries (§8). Returns the HTTP status, or None when no answer came."""
        stamp = iso(datetime.now(UTC))
        envelope = {"version": "1", "event": event, "timestamp": stamp, "data": data}
        raw = json.dumps(envelope, separators=(",", ":")).encode()
        if signature is None:
            signature = hmac.new((secret or hook.secret).encode(), raw, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Publora-Signature": signature,
            "X-Publora-Event": event,
        }
        status: int | None = None
        error: str | None = None
        try:
            response = httpx.post(
                hook.url, content=raw, headers=headers, timeout=self.webhook_timeout, trust_env=False
            )
            status = response.status_code
        except httpx.HTTPError as failure:
            error = type(failure).__name__
        with self._lock:
            self._deliveries.append(
                {
                    "event": event,
                    "url": hook.url,
                    "body": envelope,
                    "raw": raw,
                    "headers": headers,
                    "status": status,
                    "error": error,
                }
            )
            if not manual:
                hook.last_triggered = stamp
                if status is not None and 200 <= status < 300:
                    hook.failures = 0
                else:
                    hook.failures += 1
                    hook.active = hook.failures < _WEBHOOK_MAX_FAILURES
        return status

    # -- the scheduler ----------------------------------------------------------------------------

    def _run_publisher(self) -> None:
        while not self._stopping.wait(self.tick):
            try:
                self._advance()
            except Exception:  # surfaced by stop()
                with self._lock:
                    self._errors.append(traceback.format_exc())

    def _advance(self) -> None:
        now = datetime.now(UTC)
        clock = time.monotonic()
        with self._lock:
            for group_id, group in self._groups.items():
                meta = self._meta[group_id]
                if group["status"] != "scheduled" or meta.picked is not None or meta.when is None:
                    continue
                if meta.when <= now:
                    meta.picked, meta.stage = clock, "pending"
                    for post in group["posts"]:
                        post["status"] = "pending"
                        self._log(group_id, "processing", post)
                    self._inflight.append((group, meta))
            for group, meta in list(self._inflight):
                assert meta.picked is not None
                elapsed = clock - meta.picked
                if meta.stage == "pending" and elapsed >= self.publish_delay / 2:
                    meta.stage = "processing"
                    for post in group["posts"]:
                        post["status"] = "processing"
                        self._log(group["postGroupId"], "publish_attempted", post)
                if meta.stage == "processing" and elapsed >= self.publish_delay:
                    meta.stage = "done"
                    self._finish(group)
                    self._inflight.remove((group, meta))
            self._post_due_comments(now)

    def _finish(self, group: dict[str, Any]) -> None:
        group_id = group["postGroupId"]
        stamp = iso(datetime.now(UTC))
        for post in group["posts"]:
            platform_id = f"{post['platform']}-{post['platformId']}"
            failure = self._failing.get(platform_id)
            connection = self._connections.get(platform_id)
            if failure is None:
                post["status"] = "published"
                post["postedId"] = self._posted_id(post)
                for part in post["threadParts"]:
                    part["status"] = "published"
                    part["publishedId"] = post["postedId"] if part["index"] == 0 else self._posted_id(post)
                self._log(group_id, "publish_succeeded", post)
                self._record_published(group, post, stamp)
                self._post_first_comments(group, post)
                if connection is not None:
                    connection["lastSuccessfulPost"] = stamp
                self._emit(
                    "post.published",
                    {
                        "postId": post["_id"],
                        "postGroupId": group_id,
                        "platform": post["platform"],
                        "platformId": post["platformId"],
                        "postedId": post["postedId"],
                        "permalink": post["permalink"],
                        "publishedAt": stamp,
                    },
                )
                continue
            code = failure["code"]
            post["status"] = "failed"
            if code == "THREAD_PARTIALLY_PUBLISHED":
                # The first part went out before the chain broke; postedId names it (§6).
                post["postedId"] = self._posted_id(post)
                for part in post["threadParts"]:
                    part["status"] = "published" if part["index"] == 0 else "failed"
                self._record_published(group, post, stamp, partial=True)
            error = {
                "code": code,
                "message": failure["message"],
                "platformStatusCode": _PLATFORM_STATUS.get(code, 400),
                "platformError": failure["message"],
                "failedAt": stamp,
                "retryable": failure["retryable"],
            }
            if not failure["omit"]:
                post["error"] = error
            self._log(
                group_id,
                "publish_failed",
                post,
                error=failure["message"],
                httpStatus=error["platformStatusCode"],
                retryCount=0,
                metadata={"errorCode": code, "retryable": failure["retryable"]},
            )
            if connection is not None:
                connection["lastError"] = {"message": failure["message"], "occurredAt": stamp}
            # §8 documents no platformId here: a receiver matches the target by group and platform.
            self._emit(
                "post.failed",
                {
                    "postId": post["_id"],
                    "postGroupId": group_id,
                    "platform": post["platform"],
                    "error": {"code": code, "message": failure["message"]},
                    "failedAt": stamp,
                },
            )
        statuses = {post["status"] for post in group["posts"]}
        if statuses == {"published"}:
            group["status"] = "published"
        elif statuses == {"failed"}:
            group["status"] = "failed"
        else:
            group["status"] = "partially_published"
        group["updatedAt"] = stamp
        self._log(group_id, "status_changed", metadata={"status": group["status"]})

    def _record_published(
        self, group: dict[str, Any], post: dict[str, Any], stamp: str, partial: bool = False
    ) -> None:
        self._published.append(
            {
                "postGroupId": group["postGroupId"],
                "postId": post["_id"],
                "platform": post["platform"],
                "platformId": f"{post['platform']}-{post['platformId']}",
                "postedId": post["postedId"],
                "content": post["content"],
                "publishedAt": stamp,
                "partial": partial,
            }
        )

    def _posted_id(self, post: dict[str, Any]) -> str:
        platform, raw_id = post["platform"], post["platformId"]
        digits = self._random

        def number(length: int) -> str:
            return str(digits.randint(1, 9)) + "".join(str(digits.randint(0, 9)) for _ in range(length - 1))

        if platform == "twitter":
            return "1" + number(18)  # snowflakes stay below 2**63
        if platform == "linkedin":
            return f"urn:li:share:{number(19)}"
        if platform == "bluesky":
            did = raw_id if raw_id.startswith("did:") else f"did:plc:{secrets.token_hex(12)}"
            rkey = "".join(digits.choice("234567abcdefghijklmnopqrstuvwxyz") for _ in range(13))
            return f"at://{did}/app.bsky.feed.post/{rkey}"
        if platform == "youtube":
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            return "".join(digits.choice(alphabet) for _ in range(11))
        if platform == "facebook":
            return f"{raw_id}_{number(16)}"
        if platform == "telegram":
            return str(digits.randint(2, 99_999))
        return number(18)

    def _log(self, group_id: str, event: str, post: dict[str, Any] | None = None, **extra: Any) -> None:
        stamp = iso(datetime.now(UTC))
        entry: dict[str, Any] = {"_id": _oid(), "postGroupId": group_id}
        if post is not None:
            entry["postId"] = post["_id"]
            entry["platform"] = post["platform"]
        entry["event"] = event
        entry.update(extra)  # optional keys are absent, not null, when unused (§6)
        entry.update({"createdAt": stamp, "updatedAt": stamp, "__v": 0})
        self._logs.setdefault(group_id, []).append(entry)


class WebhookInbox:
    """The receiving end of FakePublora's webhooks in tests: a loopback server that records every POST
    (headers and the exact raw body) and answers `status` (changeable while running).

    Usage::

        with WebhookInbox() as inbox:
            fake.set_webhook(inbox.url, "whsec_test")
    """

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.url = ""
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookInbox:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length > 0 else b""
                with inbox._lock:
                    inbox._received.append({"headers": _Headers(self.headers.items()), "raw": raw})
                    status = inbox.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}/hooks/publora"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="webhook-inbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebhookInbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def received(self) -> list[dict[str, Any]]:
        """Each POST as {"headers": case-insensitive headers, "raw": body bytes}, oldest first."""
        with self._lock:
            return copy.deepcopy(self._received)


def _comment_invalid(message: str) -> _Reply:
    return _error(400, message, "FIRST_COMMENT_INVALID")


def _comment_items(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The group's first comments in order, whichever form (plural or legacy) they came in."""
    if group.get("firstComments"):
        return list(group["firstComments"])
    return [group["firstComment"]] if group.get("firstComment") else []


def _comment_too_long(platform: str | None, text: str, limit: int) -> _Reply | None:
    """§4 counting: Threads in code points, Bluesky in graphemes and bytes, Mastodon with every link as
    23 characters, X and LinkedIn in characters (code points here)."""
    measures: list[tuple[int, str, int]] = []
    if platform == "bluesky":
        measures.append((_graphemes(text), "graphemes", limit))
        measures.append((len(text.encode()), "bytes", _BLUESKY_COMMENT_BYTES))
    elif platform == "mastodon":
        measures.append((len(_LINK.sub("x" * _MASTODON_LINK, text)), "characters", limit))
    elif platform == "threads":
        measures.append((len(text), "code points", limit))
    else:
        measures.append((len(text), "characters", limit))
    for count, unit, most in measures:
        if count > most:
            where = f"{_DISPLAY.get(platform, platform)}'s" if platform else "the"
            return _error(
                400,
                f"First comment exceeds {where} {most:,} {unit} limit ({count:,} {unit})",
                "FIRST_COMMENT_TOO_LONG",
                platform=platform,
                limit=most,
                count=count,
                unit=unit,
            )
    return None


def _graphemes(text: str) -> int:
    """User-perceived characters, roughly: combining marks, variation selectors, skin tones and whatever
    a zero-width joiner glues on do not start a new one. Enough for a fake's length check."""
    count = 0
    joined = False
    for char in text:
        if joined:
            joined = False
            continue
        if char == "\u200d":
            joined = True
            continue
        code = ord(char)
        if unicodedata.combining(char) or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF:
            continue
        count += 1
    return count


def _comment_result(
    status: str, *, comment_id: str | None = None, at: str | None = None, skip_reason: str | None = None
) -> dict[str, Any]:
    """A post's `firstCommentResult` (§6)."""
    return {
        "status": status,
        "commentId": comment_id,
        "skipReason": skip_reason,
        "error": None,
        "attemptedAt": at,
        "postedAt": at,
    }


def _display_names(platforms: Iterable[str]) -> str:
    names = [_DISPLAY.get(p, p) for p in sorted(platforms)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _takes_argument(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in parameters
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return bool(required)
