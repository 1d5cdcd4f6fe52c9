"""A stateful fake of Postoria's Public API v1, served over real HTTP on 127.0.0.1, for tests.

It owns the Postoria side of tests: workspaces, social accounts, queues, the media pipeline (a signed
"storage" URL served by the fake itself, completion, processing that finishes after `media_delay`, URL
imports), posts in the three publish modes with a background publisher that fills `results[]` and
then posts the `first_comment` under each published account's post (after `comment_delay` minutes), the
post list with its filters and cursors, deletes, a sliding-window rate limit, and fault injection.
Behaviour follows `shared/providers/postoria.md` §13 (section numbers §n refer to it). Tests steer it
with `add_account`, `add_queue`, `add_workspace`, `fail_account`, `fail_media_url`, `fail_next` and
`set_down`, and inspect it with `requests`, `posts`, `published`, `first_comments`, `posted_comments`,
`media`, `storage_puts` and `rate_limited`.

Endpoint names (for `fail_next` and `requests`): workspaces, social-accounts, queues, create-upload,
import-media, complete-media, get-media, create-post, list-posts, get-post, delete-post, storage.

Usage::

    with FakePostoria() as fake:
        x = fake.add_account("x", "Acme on X")
        provider = PostoriaProvider(api_key=fake.api_key, workspace_id=str(fake.workspace_id),
                                    base_url=fake.url)
"""

from __future__ import annotations

import copy
import inspect
import json
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http_fake import Headers as _Headers
from tests.fakes.http_fake import Reply as _Reply
from tests.fakes.http_fake import Rule as _Rule
from tests.fakes.http_fake import handler_for

API_PREFIX = "/v1"
STORAGE_PREFIX = "/storage/"

#: §2 `network` values.
NETWORKS = (
    "facebook",
    "instagram",
    "linkedin",
    "google_business_profile",
    "threads",
    "x",
    "pinterest",
    "youtube",
    "tiktok",
    "telegram",
    "bluesky",
    "reddit",
    "tumblr",
)
#: §5a upload types and the extensions a name may carry for each.
MEDIA_TYPES = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "video/mp4": (".mp4",),
    "video/quicktime": (".mov",),
    "application/pdf": (".pdf",),
}
_MODES = ("publish_now", "schedule", "queue")
_POST_STATUSES = ("draft", "scheduled", "queued", "in_progress", "posted")
#: §3: the `comment_delay` range (minutes) the official n8n node allows; the API's own bound is unknown.
COMMENT_DELAY_RANGE = (0, 120)
# Schedule times this far in the past still pass (client clocks drift); the real rule is UNCONFIRMED.
_PAST_TOLERANCE = timedelta(seconds=60)
_DEFAULT_MESSAGES = {
    400: ("validation_error", "The request is invalid"),
    401: ("invalid_api_key", "Invalid API key"),
    403: ("forbidden", "Your plan does not include API access"),
    404: ("not_found", "Not found"),
    422: ("validation_error", "The request could not be processed"),
    429: ("rate_limited", "Too many requests; slow down"),
    500: ("internal_error", "Something went wrong on our side"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service temporarily unavailable"),
}


def iso(value: datetime) -> str:
    """`2026-08-01T09:00:00Z`, the form of §6's `date`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 with `Z` or an offset; naive or malformed → None (§3)."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class _Media:
    """One media item; `public()` is what the API shows."""

    id: int
    status: str
    name: str | None = None
    content_type: str | None = None
    source_url: str | None = None
    token: str | None = None
    uploaded: bytes | None = None
    file_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    processing_since: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "file_id": self.file_id,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


@dataclass
class _Post:
    id: int
    workspace_id: int
    mode: str
    status: str
    when: datetime
    account_ids: list[int]
    caption: str | None
    media_ids: list[int]
    queue_id: int | None
    first_comment: str | None = None
    comment_delay: int | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    picked: float | None = None
    deleted: bool = False


def _error(status: int, code: str, message: str, param: str | None = None, details: Any = None) -> _Reply:
    return _Reply(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "param": param,
                "details": details,
                "request_id": f"req_{secrets.token_hex(8)}",
            }
        },
    )


def _invalid(message: str, param: str | None, status: int = 400) -> _Reply:
    return _error(status, "validation_error", message, param)


def _page(rows: list[dict[str, Any]], *, has_more: bool = False, cursor: str | None = None) -> _Reply:
    return _Reply(200, {"data": rows, "pagination": {"has_more": has_more, "next_cursor": cursor}})


class FakePostoria:
    """The fake server. Thread-safe; every inspection method returns copies."""

    def __init__(
        self,
        *,
        api_key: str = "pst_live_fake_0123456789abcdef",
        workspace_name: str = "Acme",
        publish_delay: float = 0.2,
        media_delay: float = 0.1,
        tick: float = 0.02,
        page_size: int = 100,
        rate_limit: tuple[int, float] = (300, 300.0),
        rate_headers: bool = True,
        create_status: int = 201,
    ) -> None:
        self.api_key = api_key
        self.publish_delay = publish_delay
        self.media_delay = media_delay
        self.tick = tick
        #: Social accounts per page at most, whatever `limit` asks: small values exercise cursors.
        self.page_size = page_size
        self.rate_limit = rate_limit
        #: §10 leaves rate-limit headers UNCONFIRMED; False answers 429 without `Retry-After`.
        self.rate_headers = rate_headers
        #: 200 vs 201 for a create is UNCONFIRMED (§3).
        self.create_status = create_status
        self.url = ""
        self._base = ""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._ids = 100
        self._down = False
        self._workspaces: dict[int, dict[str, Any]] = {}
        self._accounts: dict[int, dict[str, Any]] = {}
        self._account_workspace: dict[int, int] = {}
        self._queues: dict[int, dict[str, Any]] = {}
        self._queue_slots: dict[int, tuple[datetime, timedelta]] = {}
        self._media: dict[int, _Media] = {}
        self._tokens: dict[str, int] = {}
        self._failing_urls: dict[str, tuple[str, str]] = {}
        self._failing_accounts: dict[int, str] = {}
        self._posts: dict[int, _Post] = {}
        self._published: list[dict[str, Any]] = []
        self._comments: list[dict[str, Any]] = []
        # First comments waiting for their delay after publishing: (due, post id, account id).
        self._comments_due: list[tuple[datetime, int, int]] = []
        self._storage_puts: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._rules: dict[str, list[_Rule]] = {}
        self._window: deque[float] = deque()
        self._rate_limited = 0
        self._errors: list[str] = []
        self.workspace_id = self.add_workspace(workspace_name)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakePostoria:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0),
            handler_for(
                self._serve, self._stopping, server_version="FakePostoria/1", raw_content_type="text/plain"
            ),
        )
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self._base = f"http://{host!s}:{port}"
        self.url = f"{self._base}{API_PREFIX}"
        serve = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-postoria-http",
            daemon=True,
        )
        worker = threading.Thread(target=self._run_worker, name="fake-postoria-worker", daemon=True)
        self._threads = [serve, worker]
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
            raise RuntimeError("FakePostoria hit internal errors:\n" + "\n".join(errors))

    def __enter__(self) -> FakePostoria:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- steering ---------------------------------------------------------------------------------

    def add_workspace(self, name: str, *, timezone: str = "Europe/Brussels") -> int:
        with self._lock:
            workspace_id = self._next_id()
            self._workspaces[workspace_id] = {"id": workspace_id, "name": name, "timezone": timezone}
        return workspace_id

    def add_account(
        self, network: str, name: str, url: str | None = None, *, workspace_id: int | None = None
    ) -> dict[str, Any]:
        """A connected social account (§2) in the default workspace; returns its API row."""
        if network not in NETWORKS and network not in ("linked_in", "you_tube", "tik_tok"):
            raise ValueError(f"Postoria has no network {network!r}")
        with self._lock:
            account_id = self._next_id()
            row = {"id": account_id, "name": name, "description": None, "network": network, "url": url}
            self._accounts[account_id] = row
            self._account_workspace[account_id] = workspace_id or self.workspace_id
            return dict(row)

    def add_queue(
        self,
        name: str,
        *,
        next_slot: datetime | None = None,
        paused: bool = False,
        slot_every: timedelta = timedelta(hours=1),
    ) -> dict[str, Any]:
        """A posting queue whose next free slot is `next_slot` (default: in a day); each queued post takes
        the next slot, and the one after it comes `slot_every` later. `paused` is only shown: what a
        paused queue does with new posts is UNCONFIRMED (§3)."""
        with self._lock:
            queue_id = self._next_id()
            row = {"id": queue_id, "name": name, "is_paused": paused}
            self._queues[queue_id] = row
            first = next_slot or datetime.now(UTC) + timedelta(days=1)
            self._queue_slots[queue_id] = (first.astimezone(UTC), slot_every)
            return dict(row)

    def fail_account(self, account_id: int | str, message: str) -> None:
        """Publishing to this account fails from now on with `message` in its `results[].error`."""
        with self._lock:
            self._failing_accounts[int(account_id)] = message

    def fail_media_url(
        self,
        url: str,
        *,
        code: str = "download_failed",
        message: str = "The file could not be downloaded from the URL",
    ) -> None:
        """Importing `url` ends `failed` with this error_code / error_message."""
        with self._lock:
            self._failing_urls[url] = (code, message)

    def fail_next(
        self,
        endpoint: str,
        status: int = 500,
        body: Any = None,
        times: int = 1,
        after_processing: bool = False,
        delay: float = 0.0,
        raw_body: bytes | None = None,
    ) -> None:
        """The next `times` requests to `endpoint` answer `status` with `body` (or `raw_body` bytes).

        The default body is the §9 envelope for the status. `after_processing` does the real work first
        (the post is stored) and only then answers with the failure: "received, but the answer was lost".
        `delay` sleeps before answering; more than the client's timeout is a timeout after receipt.
        A 429 carries `Retry-After: 1` when `rate_headers` is on, like the fake's own rate limit.
        """
        if body is None and raw_body is None:
            code, message = _DEFAULT_MESSAGES.get(status, ("error", f"HTTP {status}"))
            body = _error(status, code, message).body
        headers = {"Retry-After": "1"} if status == 429 and self.rate_headers else {}
        with self._lock:
            self._rules.setdefault(endpoint, []).append(
                _Rule(status, body, times, after_processing, delay, headers=headers, raw=raw_body)
            )

    def clear_faults(self) -> None:
        """Forget every failure `fail_next` queued that no request has consumed yet."""
        with self._lock:
            self._rules.clear()

    def set_down(self, down: bool) -> None:
        """While down, every request answers 503."""
        with self._lock:
            self._down = down

    # -- inspection -------------------------------------------------------------------------------

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy([r for r in self._requests if endpoint is None or r["endpoint"] == endpoint])

    def posts(self) -> dict[int, dict[str, Any]]:
        """Every post not deleted, as GET posts/{id} shows it."""
        with self._lock:
            return {post_id: self._render(post) for post_id, post in self._posts.items() if not post.deleted}

    def published(self, account_id: int | str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = [p for p in self._published if account_id is None or p["account_id"] == int(account_id)]
            return copy.deepcopy(rows)

    def first_comments(self) -> dict[int, dict[str, Any]]:
        """post id → the `first_comment` and `comment_delay` its create carried (the Post object of §6
        does not show them). Posts without a comment are left out."""
        with self._lock:
            return {
                post_id: {"first_comment": post.first_comment, "comment_delay": post.comment_delay}
                for post_id, post in self._posts.items()
                if not post.deleted and post.first_comment is not None
            }

    def posted_comments(self, account_id: int | str | None = None) -> list[dict[str, Any]]:
        """First comments that went out under published posts, in order: post_id, account_id, network,
        text, posted_at."""
        with self._lock:
            rows = [c for c in self._comments if account_id is None or c["account_id"] == int(account_id)]
            return copy.deepcopy(rows)

    def media(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {media_id: item.public() for media_id, item in self._media.items()}

    def storage_puts(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._storage_puts)

    @property
    def rate_limited(self) -> int:
        """How many requests were answered 429 by the rate limit (not by `fail_next`)."""
        with self._lock:
            return self._rate_limited

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
                raise AssertionError(f"FakePostoria.wait_for: condition still false after {timeout}s")
            time.sleep(min(0.02, remaining))

    # -- HTTP entry point (called from handler threads) -------------------------------------------

    def _serve(self, method: str, target: str, headers: _Headers, raw: bytes) -> _Reply:
        split = urlsplit(target)
        path = split.path
        query = parse_qs(split.query)
        storage = path.startswith(STORAGE_PREFIX)
        segments = (
            [unquote(s) for s in path[len(API_PREFIX) :].split("/")[1:]]
            if path.startswith(API_PREFIX + "/")
            else []
        )
        endpoint = "storage" if storage else _endpoint(method, segments)
        body: Any = None
        bad_json = False
        if raw and not storage:
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
                    "query": query,
                    "size": len(raw),
                    "at": time.time(),  # arrival, UNIX seconds (benchmarks)
                }
            )
            if self._down:
                return _error(503, "service_unavailable", "Service temporarily unavailable")
        if not storage:
            denied = self._authenticate(headers) or self._count_request()
            if denied is not None:
                return denied
        with self._lock:
            rule = self._take_rule(endpoint)
        if rule is not None and not rule.after_processing:
            return _rule_reply(rule)
        try:
            if storage:
                reply = self._put_storage(path[len(STORAGE_PREFIX) :], headers, raw)
            elif bad_json:
                reply = _invalid("The request body is not valid JSON", None)
            else:
                reply = self._route(method, segments, query, body)
        except Exception:  # a bug in the fake must fail the test, not hang it
            with self._lock:
                self._errors.append(traceback.format_exc())
            return _error(500, "internal_error", "Something went wrong on our side")
        if rule is not None:
            return _rule_reply(rule)
        return reply

    def _authenticate(self, headers: _Headers) -> _Reply | None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_api_key", "The API key is missing, invalid or revoked")
        return None

    def _count_request(self) -> _Reply | None:
        """The §10 limit as a sliding window over accepted requests; a refused one does not count."""
        limit, window = self.rate_limit
        now = time.monotonic()
        with self._lock:
            while self._window and self._window[0] <= now - window:
                self._window.popleft()
            if len(self._window) < limit:
                self._window.append(now)
                return None
            self._rate_limited += 1
            wait = self._window[0] + window - now
        reply = _error(
            429,
            "rate_limited",
            f"Rate limit of {limit} requests per {window:g} seconds exceeded",
            details={"limit": limit, "window_seconds": window},
        )
        if self.rate_headers:
            reply.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return reply

    def _take_rule(self, endpoint: str) -> _Rule | None:
        rules = self._rules.get(endpoint)
        if not rules:
            return None
        rule = rules[0]
        rule.times -= 1
        if rule.times <= 0:
            rules.pop(0)
        return rule

    def _route(self, method: str, segments: list[str], query: dict[str, list[str]], body: Any) -> _Reply:
        if segments == ["workspaces"] and method == "GET":
            with self._lock:
                return _page([dict(w) for w in self._workspaces.values()])
        if len(segments) < 3 or segments[0] != "workspaces":
            return _error(404, "not_found", "No such route")
        workspace_id = _int_or_none(segments[1])
        with self._lock:
            known = workspace_id is not None and workspace_id in self._workspaces
        if workspace_id is None or not known:
            return _error(404, "not_found", f"Workspace {segments[1]} not found", "workspace_id")
        rest = segments[2:]
        if method == "GET" and rest == ["social-accounts"]:
            return self._list_accounts(workspace_id, query)
        if method == "GET" and rest == ["queues"]:
            with self._lock:
                return _page([dict(q) for q in self._queues.values()])
        if method == "POST" and rest == ["media", "uploads"]:
            return self._create_upload(body)
        if method == "POST" and rest == ["media", "imports"]:
            return self._import(body)
        if method == "POST" and len(rest) == 3 and rest[0] == "media" and rest[2] == "complete":
            return self._complete(rest[1])
        if method == "GET" and len(rest) == 2 and rest[0] == "media":
            return self._get_media(rest[1])
        if method == "POST" and rest == ["posts"]:
            return self._create_post(workspace_id, body)
        if method == "GET" and rest == ["posts"]:
            return self._list_posts(workspace_id, query)
        if method == "GET" and len(rest) == 2 and rest[0] == "posts":
            return self._get_post(workspace_id, rest[1])
        if method == "DELETE" and len(rest) == 2 and rest[0] == "posts":
            return self._delete_post(workspace_id, rest[1])
        return _error(404, "not_found", "No such route")

    # -- accounts ---------------------------------------------------------------------------------

    def _list_accounts(self, workspace_id: int, query: dict[str, list[str]]) -> _Reply:
        paging = _paging(query, default=25)
        if isinstance(paging, _Reply):
            return paging
        offset, limit = paging
        with self._lock:
            rows = [
                dict(row)
                for account_id, row in self._accounts.items()
                if self._account_workspace[account_id] == workspace_id
            ]
        size = min(limit, self.page_size)
        return _slice(rows, offset, size)

    # -- media ------------------------------------------------------------------------------------

    def _create_upload(self, body: Any) -> _Reply:
        if not isinstance(body, dict):
            return _invalid("The request body must be a JSON object", None)
        name, content_type = body.get("name"), body.get("content_type")
        if content_type not in MEDIA_TYPES:
            return _invalid(f"Unsupported content_type: {content_type}", "content_type")
        if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
            return _invalid("name must be a bare file name", "name")
        if not name.lower().endswith(MEDIA_TYPES[content_type]):
            return _invalid(f"The extension of {name} does not match {content_type}", "name")
        with self._lock:
            media = _Media(
                self._next_id(),
                "waiting_for_upload",
                name=name,
                content_type=content_type,
                token=secrets.token_urlsafe(16),
            )
            assert media.token is not None
            self._media[media.id] = media
            self._tokens[media.token] = media.id
            answer = media.public()
            answer["upload"] = {"url": f"{self._base}{STORAGE_PREFIX}{media.token}?signature=fake"}
        return _Reply(201, answer)

    def _put_storage(self, token: str, headers: _Headers, raw: bytes) -> _Reply:
        # Answers in the manner of a signed-URL object store: plain text, and the URL is the credential.
        with self._lock:
            media_id = self._tokens.get(token)
            media = self._media.get(media_id) if media_id is not None else None
            self._storage_puts.append(
                {
                    "media_id": media_id,
                    "content_type": headers.get("content-type"),
                    "authorization": headers.get("authorization"),
                    "size": len(raw),
                    "body": raw,
                }
            )
            if media is None or media.status != "waiting_for_upload":
                return _Reply(403, raw=b"AccessDenied: the upload URL is unknown or expired")
            if "authorization" in headers:
                return _Reply(400, raw=b"InvalidArgument: only one auth mechanism allowed")
            if (headers.get("content-type") or "").split(";")[0].strip().lower() != media.content_type:
                return _Reply(403, raw=b"SignatureDoesNotMatch: Content-Type differs from the signed one")
            if "content-length" not in headers:
                return _Reply(411, raw=b"MissingContentLength")
            media.uploaded = raw
        return _Reply(200, raw=b"", headers={"ETag": f'"{secrets.token_hex(8)}"'})

    def _complete(self, raw_id: str) -> _Reply:
        with self._lock:
            media = self._find_media(raw_id)
            if isinstance(media, _Reply):
                return media
            if media.status == "waiting_for_upload":
                if media.uploaded is None:
                    media.status = "failed"
                    media.error_code = "upload_missing"
                    media.error_message = "No file was uploaded to the upload URL"
                else:
                    media.status = "processing"
                    media.processing_since = time.monotonic()
            return _Reply(200, media.public())

    def _import(self, body: Any) -> _Reply:
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url.lower().startswith("https://"):
            return _invalid("url must be a public HTTPS URL", "url")
        with self._lock:
            media = _Media(self._next_id(), "processing", source_url=url, processing_since=time.monotonic())
            self._media[media.id] = media
            return _Reply(201, media.public())

    def _get_media(self, raw_id: str) -> _Reply:
        with self._lock:
            media = self._find_media(raw_id)
            return media if isinstance(media, _Reply) else _Reply(200, media.public())

    def _find_media(self, raw_id: str) -> _Media | _Reply:
        media_id = _int_or_none(raw_id)
        media = self._media.get(media_id) if media_id is not None else None
        if media is None:
            return _error(404, "not_found", f"Media {raw_id} not found", "media_id")
        return media

    # -- posts ------------------------------------------------------------------------------------

    def _create_post(self, workspace_id: int, body: Any) -> _Reply:
        if not isinstance(body, dict):
            return _invalid("The request body must be a JSON object", None)
        mode = body.get("publish_mode")
        if mode not in _MODES:
            return _invalid("publish_mode must be publish_now, schedule or queue", "publish_mode")
        accounts = body.get("social_account_ids")
        if not isinstance(accounts, list) or not accounts or not all(_is_int(a) for a in accounts):
            return _invalid("social_account_ids must be a non-empty list of ids", "social_account_ids")
        caption = body.get("caption")
        if caption is not None and not isinstance(caption, str):
            return _invalid("caption must be a string", "caption")
        media_ids = body.get("media_ids") or []
        if not isinstance(media_ids, list) or not all(_is_int(m) for m in media_ids):
            return _invalid("media_ids must be a list of ids", "media_ids")
        first_comment = body.get("first_comment")
        if first_comment is not None and not isinstance(first_comment, str):
            return _invalid("first_comment must be a string", "first_comment")
        comment_delay = body.get("comment_delay")
        low, high = COMMENT_DELAY_RANGE
        if comment_delay is not None and (not _is_int(comment_delay) or not low <= comment_delay <= high):
            return _invalid(
                f"comment_delay must be a number of minutes from {low} to {high}", "comment_delay"
            )
        now = datetime.now(UTC)
        with self._lock:
            for account_id in accounts:
                if self._account_workspace.get(account_id) != workspace_id:
                    return _invalid(f"Unknown social account {account_id}", "social_account_ids")
            for media_id in media_ids:
                media = self._media.get(media_id)
                if media is None:
                    return _invalid(f"Media {media_id} does not exist", "media_ids")
                if media.status != "ready" or media.file_id is None:
                    return _invalid(f"Media {media_id} is not ready (status {media.status})", "media_ids")
            queue_id = None
            if mode == "schedule":
                when = _parse_iso(body.get("scheduled_time"))
                if when is None:
                    return _invalid("scheduled_time must be a UTC ISO 8601 time", "scheduled_time")
                if when < now - _PAST_TOLERANCE:
                    return _invalid("scheduled_time must be in the future", "scheduled_time", 422)
                status = "scheduled"
            elif mode == "queue":
                queue_id = body.get("queue_id")
                if not _is_int(queue_id) or queue_id not in self._queues:
                    return _invalid(f"Unknown queue {queue_id}", "queue_id")
                when, every = self._queue_slots[queue_id]
                self._queue_slots[queue_id] = (when + every, every)
                status = "queued"
            else:
                when, status = now, "in_progress"
            post = _Post(
                id=self._next_id(),
                workspace_id=workspace_id,
                mode=mode,
                status=status,
                when=when,
                account_ids=list(accounts),
                caption=caption,
                media_ids=list(media_ids),
                queue_id=queue_id,
                first_comment=first_comment,
                comment_delay=comment_delay,
                picked=time.monotonic() if status == "in_progress" else None,
            )
            self._posts[post.id] = post
            return _Reply(self.create_status, self._render(post))

    def _get_post(self, workspace_id: int, raw_id: str) -> _Reply:
        with self._lock:
            post = self._find_post(workspace_id, raw_id)
            return post if isinstance(post, _Reply) else _Reply(200, self._render(post))

    def _delete_post(self, workspace_id: int, raw_id: str) -> _Reply:
        with self._lock:
            post = self._find_post(workspace_id, raw_id)
            if isinstance(post, _Reply):
                return post
            # The record goes; a publish already under way still reaches the networks (§7 UNCONFIRMED).
            post.deleted = True
        return _Reply(204)

    def _find_post(self, workspace_id: int, raw_id: str) -> _Post | _Reply:
        post_id = _int_or_none(raw_id)
        post = self._posts.get(post_id) if post_id is not None else None
        if post is None or post.deleted or post.workspace_id != workspace_id:
            return _error(404, "not_found", f"Post {raw_id} not found", "post_id")
        return post

    def _list_posts(self, workspace_id: int, query: dict[str, list[str]]) -> _Reply:
        paging = _paging(query, default=25)
        if isinstance(paging, _Reply):
            return paging
        offset, limit = paging
        wanted_accounts: set[int] = set()
        for value in _values(query, "account_ids"):
            account_id = _int_or_none(value)
            if account_id is None:
                return _invalid(f"Invalid account id {value}", "account_ids")
            wanted_accounts.add(account_id)
        statuses = set(_values(query, "status"))
        if not statuses <= set(_POST_STATUSES):
            return _invalid(f"status must be one of {', '.join(_POST_STATUSES)}", "status")
        bounds: dict[str, datetime | None] = {}
        for name in ("date_from", "date_to"):
            raw = query.get(name, [None])[0]
            bounds[name] = _parse_iso(raw) if raw is not None else None
            if raw is not None and bounds[name] is None:
                return _invalid(f"{name} must be a UTC ISO 8601 time", name)
        date_from, date_to = bounds["date_from"], bounds["date_to"]
        with self._lock:
            posts = [
                post
                for post in sorted(self._posts.values(), key=lambda p: p.id, reverse=True)
                if not post.deleted
                and post.workspace_id == workspace_id
                and (not wanted_accounts or wanted_accounts & set(post.account_ids))
                and (not statuses or post.status in statuses)
                and (date_from is None or post.when >= date_from)
                and (date_to is None or post.when < date_to)  # date_to is exclusive (§6)
            ]
            rows = [self._render(post) for post in posts]
        return _slice(rows, offset, limit)

    def _render(self, post: _Post) -> dict[str, Any]:
        """The §6 Post object."""
        answer: dict[str, Any] = {
            "id": post.id,
            "status": post.status,
            "date": iso(post.when),
            "queue_id": post.queue_id,
            "results": copy.deepcopy(post.results),
        }
        files = [
            {"url": f"https://files.postoria.example/{self._media[m].file_id}"}
            for m in post.media_ids
            if m in self._media
        ]
        for account_id in post.account_ids:
            network = self._accounts[account_id]["network"]
            answer[network] = {"caption": post.caption, "files": copy.deepcopy(files)}
        return answer

    # -- background work --------------------------------------------------------------------------

    def _run_worker(self) -> None:
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
            for media in self._media.values():
                if media.status != "processing" or media.processing_since is None:
                    continue
                if clock - media.processing_since < self.media_delay:
                    continue
                failure = self._failing_urls.get(media.source_url or "")
                if failure is not None:
                    media.status = "failed"
                    media.error_code, media.error_message = failure
                else:
                    media.status = "ready"
                    media.file_id = f"file_{secrets.token_hex(6)}"
            for post in self._posts.values():
                if post.status in ("scheduled", "queued") and not post.deleted and post.when <= now:
                    post.status, post.picked = "in_progress", clock
                picked = post.picked if post.status == "in_progress" else None
                if picked is not None and clock - picked >= self.publish_delay:
                    self._finish(post)
            for entry in [e for e in self._comments_due if e[0] <= now]:
                self._comments_due.remove(entry)
                _, post_id, account_id = entry
                post = self._posts[post_id]
                if not post.deleted:  # a post deleted meanwhile takes its comment with it
                    self._post_comment(post, account_id)

    def _finish(self, post: _Post) -> None:
        stamp = iso(datetime.now(UTC))
        post.results = []
        for account_id in post.account_ids:
            failure = self._failing_accounts.get(account_id)
            if failure is not None:
                post.results.append({"account_id": account_id, "link_to_post": None, "error": failure})
                continue
            network = self._accounts[account_id]["network"]
            link = f"https://{network}.example/{post.id}-{account_id}"
            post.results.append({"account_id": account_id, "link_to_post": link, "error": None})
            self._published.append(
                {
                    "post_id": post.id,
                    "account_id": account_id,
                    "network": network,
                    "link": link,
                    "caption": post.caption,
                    "media_ids": list(post.media_ids),
                    "published_at": stamp,
                }
            )
            if post.first_comment:
                # A missing delay posts the comment right away (the contract gives no default).
                if post.comment_delay:
                    due = datetime.now(UTC) + timedelta(minutes=post.comment_delay)
                    self._comments_due.append((due, post.id, account_id))
                else:
                    self._post_comment(post, account_id)
        # §6 has no `failed` status: a post whose accounts all failed still ends `posted`.
        post.status = "posted"

    def _post_comment(self, post: _Post, account_id: int) -> None:
        self._comments.append(
            {
                "post_id": post.id,
                "account_id": account_id,
                "network": self._accounts[account_id]["network"],
                "text": post.first_comment,
                "posted_at": iso(datetime.now(UTC)),
            }
        )

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids


def _endpoint(method: str, segments: list[str]) -> str:
    """The name `fail_next` and `requests` use for an API route."""
    if segments == ["workspaces"]:
        return "workspaces"
    rest = segments[2:] if len(segments) > 2 and segments[0] == "workspaces" else []
    if rest in (["social-accounts"], ["queues"]):
        return rest[0]
    if rest == ["media", "uploads"]:
        return "create-upload"
    if rest == ["media", "imports"]:
        return "import-media"
    if len(rest) == 3 and rest[0] == "media" and rest[2] == "complete":
        return "complete-media"
    if len(rest) == 2 and rest[0] == "media":
        return "get-media"
    if rest == ["posts"]:
        return "create-post" if method == "POST" else "list-posts"
    if len(rest) == 2 and rest[0] == "posts":
        return "delete-post" if method == "DELETE" else "get-post"
    return "unknown"


def _rule_reply(rule: _Rule) -> _Reply:
    return _Reply(rule.status, copy.deepcopy(rule.body), dict(rule.headers), rule.raw, rule.delay)


def _values(query: dict[str, list[str]], name: str) -> list[str]:
    """A repeated query key (§6: `account_ids=1&account_ids=2`); comma-separated values are split too."""
    return [part for value in query.get(name, []) for part in value.split(",") if part]


def _paging(query: dict[str, list[str]], *, default: int) -> tuple[int, int] | _Reply:
    """(offset, limit) from `cursor` and `limit` (1–100, §6)."""
    raw_limit = query.get("limit", [str(default)])[0]
    limit = _int_or_none(raw_limit)
    if limit is None or not 1 <= limit <= 100:
        return _invalid("limit must be between 1 and 100", "limit")
    cursor = query.get("cursor", [None])[0]
    if cursor is None:
        return 0, limit
    offset = _int_or_none(cursor.removeprefix("cur_")) if cursor.startswith("cur_") else None
    if offset is None:
        return _invalid("Invalid cursor", "cursor")
    return offset, limit


def _slice(rows: list[dict[str, Any]], offset: int, size: int) -> _Reply:
    window = rows[offset : offset + size]
    more = offset + size < len(rows)
    return _page(window, has_more=more, cursor=f"cur_{offset + size}" if more else None)


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


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
