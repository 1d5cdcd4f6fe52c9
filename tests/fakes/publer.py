"""A stateful fake of Publer's API v1, served over real HTTP on 127.0.0.1, for tests.

It owns the Publer side of provider tests: the user, the workspace and its accounts, uploaded and
imported media, asynchronous jobs (creates and URL imports), one post record per account, a background
publisher that turns due posts into published (or failed) ones and then posts their first comments (the
per-account `comments[]` callbacks and Instagram's `firstComment`, §4), and Publer's per-user rate limit.
Behaviour follows `shared/providers/publer.md` (section numbers §n refer to it, §13 in particular).
Where the contract leaves a shape open, the fake picks one documented variant and offers the other
through a constructor knob (`envelope`, `job_status_spelling`, `create_status`).

Tests steer it with `add_account`, `fail_account`, `fail_media_url`, `fail_next_job`, `add_post`,
`set_post`, `fail_next`, `set_down` and inspect it with `requests`, `posts`, `published`, `jobs`,
`media`, `first_comments`, `posted_comments`, `rate_limited` and `wait_for`.

Usage::

    with FakePubler() as fake:
        x = fake.add_account("twitter", "Acme")
        provider = PublerProvider(api_key=fake.api_key, workspace_id=fake.workspace_id, base_url=fake.url)
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import re
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http_fake import Headers as _Headers
from tests.fakes.http_fake import Reply as _Reply
from tests.fakes.http_fake import Rule as _Rule
from tests.fakes.http_fake import handler_for

API_PREFIX = "/api/v1"
MAX_UPLOAD_BYTES = 200 * 1024 * 1024

#: Account type per Publer provider (§2).
ACCOUNT_TYPES = {
    "facebook": "page",
    "instagram": "business",
    "twitter": "profile",
    "linkedin": "profile",
    "pinterest": "business",
    "youtube": "channel",
    "tiktok": "profile",
    "google": "location",
    "wordpress": "blog",
    "telegram": "channel",
    "mastodon": "profile",
    "threads": "profile",
    "bluesky": "profile",
}
#: Post `type` values per provider (§4).
POST_TYPES = {
    "facebook": {"status", "photo", "video", "link", "carousel", "story", "reel", "gif"},
    "instagram": {"photo", "video", "carousel", "story", "reel"},
    "twitter": {"status", "photo", "video", "link", "gif", "poll"},
    "linkedin": {"status", "photo", "video", "link", "document", "poll", "gif"},
    "pinterest": {"photo", "video", "carousel"},
    "google": {"status", "photo", "event", "offer"},
    "youtube": {"video", "short"},
    "tiktok": {"video", "photo", "carousel"},
    "wordpress": {"article"},
    "telegram": {"status", "photo", "video", "link", "gif"},
    "mastodon": {"status", "photo", "video", "link", "gif", "poll"},
    "threads": {"status", "photo", "video", "link"},
    "bluesky": {"status", "photo", "video", "link"},
}
_NEEDS_MEDIA = {"photo", "video", "carousel", "gif", "story", "reel", "short"}
_BULK_STATES = {"scheduled", "draft", "draft_private", "draft_public", "recurring"}
#: `state` filter values of GET /posts (§6).
POST_STATES = {
    "all",
    "scheduled",
    "scheduled_approved",
    "scheduled_pending",
    "scheduled_declined",
    "scheduled_reauth",
    "scheduled_locked",
    "published",
    "published_posted",
    "published_deleted",
    "published_hidden",
    "draft",
    "draft_dated",
    "draft_undated",
    "draft_private",
    "draft_public",
    "failed",
    "recycling",
    "recycling_active",
    "recycling_paused",
    "recycling_expired",
    "recycling_failed",
    "recycling_pending",
    "recycling_declined",
    "recycling_reauth",
    "recycling_locked",
    "recurring",
}
_MIN_LEAD = timedelta(minutes=1)
_NO_WORKSPACE_HEADER = ("users/me", "workspaces")
RATE_LIMIT_BODY = {"error": "Rate limit exceeded. Retry later."}
TOO_SOON = "Scheduled time must be at least 1 minute in the future"
#: §4 callback delay units, in seconds.
DELAY_UNITS = {"Minute": 60, "Hour": 3600, "Day": 86_400, "Week": 604_800}
_COMMENT_MEDIA_TYPES = {"photo", "video", "gif"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso(value: datetime) -> str:
    """`2025-05-15T14:30:00.000+00:00`, the form Publer answers with (§6)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def _parse_iso(value: Any) -> datetime | None:
    """An aware datetime from ISO 8601 *with* a zone; naive or malformed times are None (§3)."""
    if not isinstance(value, str) or not re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _parse_bound(value: str, *, end: bool) -> datetime | None:
    """A `from`/`to` filter: a date (the whole day, UTC) or a datetime (naive read as UTC)."""
    if _DATE.fullmatch(value):
        day = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day + timedelta(days=1, microseconds=-1) if end else day
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _oid() -> str:
    return secrets.token_hex(12)


def _errors(status: int, *messages: str) -> _Reply:
    return _Reply(status, {"errors": list(messages)})


@dataclass
class _Part:
    """One field of a multipart/form-data body."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class _Planned:
    """One account of a create, checked when the create arrived and materialised when its job ends."""

    account_id: str
    networks: dict[str, Any]
    when: datetime | None
    failure: str | None
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Job:
    job_id: str
    kind: str  # "post" or "media"
    endpoint: str
    created: float
    status: str = "working"  # "working", "complete" or "failed"
    payload: Any = None
    bulk_state: str = "scheduled"
    planned: list[_Planned] = field(default_factory=list)
    urls: list[dict[str, str]] = field(default_factory=list)
    fail_whole: str | None = None
    post_ids: list[str] = field(default_factory=list)


@dataclass
class _PostMeta:
    """Publisher bookkeeping for one post (kept out of the record GET /posts returns)."""

    due: datetime | None
    job_id: str | None = None
    queued: float | None = None
    #: What the create asked to comment: the account entry's `comments[]` and Instagram's `firstComment`.
    comments: list[dict[str, Any]] = field(default_factory=list)
    first_comment: str | None = None


class FakePubler:
    """The fake server. Thread-safe (one lock); every inspection method returns copies."""

    def __init__(
        self,
        *,
        api_key: str = "publer-test-key-0123456789abcdef",
        workspace_id: str = "61a7c2e4f9e8c3b2d1e0f9a8",
        user_name: str = "Ervin Torra",
        envelope: str = "plain",
        job_status_spelling: str = "complete",
        create_status: int = 200,
        job_delay: float = 0.2,
        publish_delay: float = 0.5,
        tick: float = 0.05,
        rate_limit: tuple[int, float] = (100, 120.0),
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        per_page: int = 20,
        list_shape: str = "reference",
    ) -> None:
        if envelope not in ("plain", "data"):
            raise ValueError("envelope is 'plain' or 'data'")
        if job_status_spelling not in ("complete", "completed"):
            raise ValueError("job_status_spelling is 'complete' or 'completed'")
        self.api_key = api_key
        self.workspace_id = workspace_id
        self.user_name = user_name
        self.user_id = _oid()
        self.envelope = envelope
        self.job_status_spelling = job_status_spelling
        self.create_status = create_status
        self.job_delay = job_delay
        self.publish_delay = publish_delay
        self.tick = tick
        self.rate_limit = rate_limit
        self.max_upload_bytes = max_upload_bytes
        self.per_page = per_page
        # GET /accounts and GET /posts answer as the OpenAPI reference shows them ("reference": a bare array;
        # {posts, total, page, per_page, total_pages}) or as the getting-started guide does ("quickstart":
        # {accounts: [...]}; {posts, total} and nothing else).
        if list_shape not in ("reference", "quickstart"):
            raise ValueError("list_shape is 'reference' or 'quickstart'")
        self.list_shape = list_shape
        self.url = ""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._down = False
        self._accounts: dict[str, dict[str, Any]] = {}
        # The key's own workspace (which holds the accounts) is "Marketing Team"; more may be added.
        self._workspace_names: dict[str, str] = {workspace_id: "Marketing Team"}
        self._failing: dict[str, tuple[str, str]] = {}
        self._failing_urls: dict[str, str] = {}
        self._failing_jobs: deque[str] = deque()
        self._media: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, _Job] = {}
        self._posts: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, _PostMeta] = {}
        self._published: list[dict[str, Any]] = []
        self._comments: list[dict[str, Any]] = []
        # Comments waiting for their delay after publishing: (due, post id, text).
        self._comments_due: list[tuple[datetime, str, str]] = []
        self._requests: list[dict[str, Any]] = []
        self._rules: dict[str, list[_Rule]] = {}
        self._hits: deque[float] = deque()
        self._rate_limited = 0
        self._errors: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakePubler:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(
            ("127.0.0.1", 0), handler_for(self._serve, self._stopping, server_version="FakePubler/1")
        )
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}{API_PREFIX}"
        serve = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-publer-http", daemon=True
        )
        publisher = threading.Thread(target=self._run_publisher, name="fake-publer-publisher", daemon=True)
        self._threads = [serve, publisher]
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
            raise RuntimeError("FakePubler hit internal errors:\n" + "\n".join(errors))

    def __enter__(self) -> FakePubler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- steering ---------------------------------------------------------------------------------

    def add_workspace(self, name: str, workspace_id: str | None = None) -> str:
        """Another workspace the key's user belongs to (without accounts); returns its id."""
        new_id = workspace_id or _oid()
        with self._lock:
            self._workspace_names[new_id] = name
        return new_id

    def add_account(
        self, provider: str, name: str, *, account_type: str | None = None, status: str | None = None
    ) -> str:
        """Connect an account of `provider` (a Publer provider name, §2) to the workspace; returns its id.
        `status` is listed when given (the getting-started guide shows "active"; the reference has none)."""
        if provider not in ACCOUNT_TYPES:
            raise ValueError(f"Publer has no provider {provider!r}")
        account_id = _oid()
        with self._lock:
            self._accounts[account_id] = {
                "id": account_id,
                "provider": provider,
                "name": name,
                "social_id": f"{provider}-{secrets.token_hex(4)}",
                "picture": f"https://cdn.publer.example/avatars/{account_id}.png",
                "type": account_type or ACCOUNT_TYPES[provider],
            }
            if status is not None:
                self._accounts[account_id]["status"] = status
        return account_id

    def fail_account(self, account_id: str, message: str = "Publishing failed", *, at: str = "job") -> None:
        """Creates for `account_id` fail from now on: `at="job"` in the job's `failures[]` (no post is
        created), `at="publish"` when the post's time comes (the post turns `failed`)."""
        if at not in ("job", "publish"):
            raise ValueError("at is 'job' or 'publish'")
        with self._lock:
            self._failing[account_id] = (message, at)

    def fail_media_url(self, url: str, message: str = "The file could not be downloaded") -> None:
        """Imports of `url` through POST /media/from-url end in a failed job."""
        with self._lock:
            self._failing_urls[url] = message

    def fail_next_job(self, message: str = "Something went wrong while creating the posts") -> None:
        """The next create's job fails as a whole: status `failed`, nothing created."""
        with self._lock:
            self._failing_jobs.append(message)

    def add_post(
        self,
        account_id: str,
        text: str,
        *,
        scheduled_at: datetime,
        state: str = "scheduled",
        post_type: str = "status",
        **fields: Any,
    ) -> str:
        """A post made outside the API (e.g. in Publer's app); `fields` are extra record keys."""
        post_id = _oid()
        with self._lock:
            account = self._accounts[account_id]
            record = self._post_record(
                post_id, account, text, post_type, scheduled_at, state, has_media=False
            )
            record.update(fields)
            self._posts[post_id] = record
            self._meta[post_id] = _PostMeta(due=scheduled_at if state == "scheduled" else None)
        return post_id

    def set_post(self, post_id: str, **fields: Any) -> None:
        """Change a post record, e.g. `state="scheduled_reauth"`; only `scheduled` posts get published."""
        with self._lock:
            self._posts[post_id].update(fields)

    def fail_next(
        self,
        endpoint: str,
        *,
        status: int = 500,
        body: Any = None,
        times: int = 1,
        after_processing: bool = False,
        delay: float = 0.0,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
    ) -> None:
        """The next `times` requests to `endpoint` (e.g. "posts/schedule", "job_status", "posts"; only
        `method` ones when given) answer `status` with `body` (or `raw_body` bytes).

        `after_processing` does the real work first and only then answers with the failure: "received,
        but the answer was lost". `delay` sleeps before answering; more than the client's timeout
        simulates a timeout after receipt. A 429 defaults to Publer's `{error}` body and a reset one
        second ahead, without Retry-After.
        """
        if body is None and raw_body is None:
            body = RATE_LIMIT_BODY if status == 429 else self._default_failure(status)
        with self._lock:
            self._rules.setdefault(endpoint, []).append(
                _Rule(
                    status,
                    body,
                    times,
                    after_processing,
                    delay,
                    headers=dict(headers or {}),
                    raw=raw_body,
                    method=method,
                )
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
        """Requests received, oldest first: method, path, endpoint, headers, query (lists), json, form."""
        with self._lock:
            return copy.deepcopy([r for r in self._requests if endpoint is None or r["endpoint"] == endpoint])

    def posts(self) -> list[dict[str, Any]]:
        """Every post record, as GET /posts would show it."""
        with self._lock:
            return copy.deepcopy(list(self._posts.values()))

    def published(self, account_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = [p for p in self._published if account_id is None or p["account_id"] == account_id]
            return copy.deepcopy(rows)

    def first_comments(self) -> dict[str, dict[str, Any]]:
        """post id → what its create asked to comment under it: `account_id`, `comments` (the account
        entry's callbacks, as sent) and `firstComment` (the Instagram block's, or None). Posts without
        either are left out."""
        with self._lock:
            return {
                post_id: {
                    "account_id": self._posts[post_id]["account_id"],
                    "comments": copy.deepcopy(meta.comments),
                    "firstComment": meta.first_comment,
                }
                for post_id, meta in self._meta.items()
                if post_id in self._posts and (meta.comments or meta.first_comment is not None)
            }

    def posted_comments(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Comments that went out under published posts, in order: post_id, account_id, network, text,
        posted_at."""
        with self._lock:
            rows = [c for c in self._comments if account_id is None or c["account_id"] == account_id]
            return copy.deepcopy(rows)

    def jobs(self) -> dict[str, dict[str, Any]]:
        """job id → kind, endpoint, status ("working"/"complete"/"failed"), payload, post_ids."""
        with self._lock:
            return {
                job.job_id: copy.deepcopy(
                    {
                        "kind": job.kind,
                        "endpoint": job.endpoint,
                        "status": job.status,
                        "payload": job.payload,
                        "post_ids": job.post_ids,
                    }
                )
                for job in self._jobs.values()
            }

    def media(self) -> list[dict[str, Any]]:
        """Stored media: id, name, mime, size (bytes received), type, source, direct_upload."""
        with self._lock:
            return copy.deepcopy(list(self._media.values()))

    @property
    def rate_limited(self) -> int:
        """How many requests the rate limit turned away with 429."""
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
                raise AssertionError(f"FakePubler.wait_for: condition still false after {timeout}s")
            time.sleep(min(0.02, remaining))

    # -- HTTP entry point (called from handler threads) -------------------------------------------

    def _serve(self, method: str, target: str, headers: _Headers, raw: bytes) -> _Reply:
        split = urlsplit(target)
        path = split.path
        inside = path.startswith(API_PREFIX + "/")
        segments = [unquote(s) for s in path[len(API_PREFIX) + 1 :].split("/")] if inside else []
        endpoint = _endpoint(segments)
        query = parse_qs(split.query, keep_blank_values=True)
        body: Any = None
        form: dict[str, _Part] | None = None
        problem = None
        content_type = headers.get("content-type") or ""
        if raw and content_type.startswith("multipart/form-data"):
            parsed = _parse_multipart(content_type, raw)
            if isinstance(parsed, str):
                problem = parsed
            else:
                form = parsed
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                problem = "Invalid JSON in request body"
        with self._lock:
            self._requests.append(
                {
                    "method": method,
                    "path": path,
                    "endpoint": endpoint,
                    "headers": _Headers(headers.items()),
                    "query": query,
                    "json": body,
                    "form": _describe_form(form),
                    "at": time.time(),  # arrival, UNIX seconds (benchmarks)
                }
            )
            admitted, rate_headers = self._admit()
            if not admitted:
                return _Reply(429, dict(RATE_LIMIT_BODY), rate_headers)
            if self._down:
                return _Reply(503, {"errors": ["Service Unavailable"]}, rate_headers)
            rule = self._take_rule(endpoint, method)
        reply = None
        if rule is None or rule.after_processing:
            try:
                reply = self._route(method, segments, endpoint, query, headers, body, form, problem)
            except Exception:  # a bug in the fake must fail the test, not hang it
                with self._lock:
                    self._errors.append(traceback.format_exc())
                reply = _errors(500, "Internal server error")
        if rule is not None:
            reply = self._rule_reply(rule)
        assert reply is not None
        reply.headers = {**rate_headers, **reply.headers}
        return reply

    def _admit(self) -> tuple[bool, dict[str, str]]:
        """Count this request against the sliding window (§10); every admitted request counts."""
        limit, window = self.rate_limit
        now = time.monotonic()
        while self._hits and self._hits[0] <= now - window:
            self._hits.popleft()
        admitted = len(self._hits) < limit
        if admitted:
            self._hits.append(now)
        else:
            self._rate_limited += 1
        # Reset: when the oldest request in the window leaves it and a slot frees (UNIX seconds).
        frees_in = self._hits[0] + window - now if self._hits else 0.0
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - len(self._hits), 0)),
            "X-RateLimit-Reset": str(math.ceil(time.time() + frees_in)),
        }
        return admitted, headers

    def _take_rule(self, endpoint: str, method: str) -> _Rule | None:
        rules = self._rules.get(endpoint, [])
        rule = next((r for r in rules if r.method is None or r.method == method), None)
        if rule is None:
            return None
        rule.times -= 1
        if rule.times <= 0:
            rules.remove(rule)
        return rule

    @staticmethod
    def _rule_reply(rule: _Rule) -> _Reply:
        headers = dict(rule.headers)
        if rule.status == 429:
            headers.setdefault("X-RateLimit-Remaining", "0")
            headers.setdefault("X-RateLimit-Reset", str(math.ceil(time.time() + 1)))
        return _Reply(rule.status, copy.deepcopy(rule.body), headers, rule.raw, rule.delay)

    @staticmethod
    def _default_failure(status: int) -> dict[str, Any]:
        try:
            return {"errors": [HTTPStatus(status).phrase]}
        except ValueError:
            return {"errors": [f"HTTP {status}"]}

    def _route(
        self,
        method: str,
        segments: list[str],
        endpoint: str,
        query: dict[str, list[str]],
        headers: _Headers,
        body: Any,
        form: dict[str, _Part] | None,
        problem: str | None,
    ) -> _Reply:
        denied = self._authenticate(headers, workspace=endpoint not in _NO_WORKSPACE_HEADER)
        if denied is not None:
            return denied
        if problem is not None:
            return _errors(400, problem)
        route = (method, endpoint)
        if route == ("GET", "users/me"):
            return self._me()
        if route == ("GET", "workspaces"):
            return self._workspaces()
        if route == ("GET", "accounts"):
            with self._lock:
                accounts = copy.deepcopy(list(self._accounts.values()))
                if headers.get("publer-workspace-id") != self.workspace_id:
                    accounts = []  # the other workspaces have no accounts connected
                # The getting-started guide's shape; the reference's is the bare array.
                return _Reply(200, {"accounts": accounts} if self.list_shape == "quickstart" else accounts)
        if route == ("POST", "media"):
            return self._upload(form)
        if route == ("POST", "media/from-url"):
            return self._import(body)
        if route in (("POST", "posts/schedule"), ("POST", "posts/schedule/publish")):
            return self._create(body, endpoint)
        if route == ("GET", "job_status") and len(segments) == 2:
            return self._job_status(segments[1])
        if route == ("GET", "posts"):
            return self._list_posts(query)
        if route == ("DELETE", "posts"):
            return self._delete(query)
        return _errors(404, "Not found")

    def _authenticate(self, headers: _Headers, *, workspace: bool) -> _Reply | None:
        scheme, _, key = (headers.get("authorization") or "").partition(" ")
        if scheme != "Bearer-API" or key.strip() != self.api_key:
            return _errors(401, "Unauthorized: the API key is missing or invalid")
        if not workspace:
            return None
        workspace_id = headers.get("publer-workspace-id")
        if not workspace_id:
            return _errors(403, "Missing Publer-Workspace-Id header")
        with self._lock:
            known = workspace_id in self._workspace_names
        if not known:
            return _errors(403, "You do not have access to this workspace")
        return None

    # -- endpoints --------------------------------------------------------------------------------

    def _me(self) -> _Reply:
        first = self.user_name.split()[0] if self.user_name.split() else self.user_name
        return _Reply(
            200,
            {
                "id": self.user_id,
                "email": "owner@acme.example",
                "name": self.user_name,
                "first_name": first,
                "picture": None,
            },
        )

    def _workspaces(self) -> _Reply:
        owner = {"id": self.user_id, "email": "owner@acme.example", "name": self.user_name}
        with self._lock:
            names = dict(self._workspace_names)
        if self.list_shape == "quickstart":
            # The getting-started guide's rows: id, name, role, picture.
            rows = [
                {
                    "id": wid,
                    "name": name,
                    "role": "owner" if wid == self.workspace_id else "admin",
                    "picture": None,
                }
                for wid, name in names.items()
            ]
        else:
            # The reference's rows: id, name, plan, picture, members, owner.
            rows = [
                {"id": wid, "name": name, "plan": "business", "picture": None, "members": [], "owner": owner}
                for wid, name in names.items()
            ]
        return _Reply(200, rows)

    def _upload(self, form: dict[str, _Part] | None) -> _Reply:
        part = (form or {}).get("file")
        if part is None or part.filename is None:
            return _errors(400, "file is required")
        if len(part.data) > self.max_upload_bytes:
            return _errors(413, "File is too large. The maximum size is 200 MB")
        media_type = _media_type(part.content_type or "", part.filename)
        if media_type is None:
            return _errors(400, f"Unsupported file type: {part.content_type}")
        fields = {k: v.data.decode(errors="replace") for k, v in (form or {}).items() if k != "file"}
        record = self._store_media(
            part.filename,
            part.content_type or "",
            len(part.data),
            media_type,
            source="upload",
            direct_upload=fields.get("direct_upload") == "true",
        )
        return _Reply(200, _media_view(record))

    def _import(self, body: Any) -> _Reply:
        items = body.get("media") if isinstance(body, dict) else None
        if (
            not isinstance(items, list)
            or not items
            or not all(
                isinstance(i, dict) and isinstance(i.get("url"), str) and isinstance(i.get("name"), str)
                for i in items
            )
        ):
            return _errors(400, "media[].url and media[].name are required")
        job = _Job(job_id=_oid(), kind="media", endpoint="media/from-url", created=time.monotonic())
        job.urls = [{"url": i["url"], "name": i["name"]} for i in items]
        with self._lock:
            self._jobs[job.job_id] = job
        return _Reply(200, {"job_id": job.job_id})

    def _create(self, body: Any, endpoint: str) -> _Reply:
        immediate = endpoint == "posts/schedule/publish"
        bulk = body.get("bulk") if isinstance(body, dict) else None
        if not isinstance(bulk, dict):
            return _errors(400, "bulk is required")
        state = bulk.get("state", "scheduled")
        if state not in _BULK_STATES:
            return _errors(400, f"Invalid state: {state}")
        posts = bulk.get("posts")
        if not isinstance(posts, list) or not posts:
            return _errors(400, "bulk.posts must be a non-empty array")
        now = datetime.now(UTC)
        planned: list[_Planned] = []
        for post in posts:
            networks = post.get("networks") if isinstance(post, dict) else None
            accounts = post.get("accounts") if isinstance(post, dict) else None
            if (
                not isinstance(networks, dict)
                or not networks
                or not isinstance(accounts, list)
                or not accounts
            ):
                return _errors(400, "Each post needs networks and accounts")
            instagram = networks.get("instagram")
            if isinstance(instagram, dict) and not isinstance(instagram.get("firstComment"), str | None):
                return _errors(400, "instagram.firstComment must be a string")
            for entry in accounts:
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    return _errors(400, "Each account needs an id")
                problem = _check_comments(entry.get("comments"))
                if problem is not None:
                    return _errors(400, problem)
                when = None
                if not immediate and state == "scheduled":
                    if entry.get("scheduled_at") is None:
                        return _errors(400, "scheduled_at is required for scheduled posts")
                    when = _parse_iso(entry["scheduled_at"])
                    if when is None:
                        return _errors(400, "scheduled_at must be an ISO 8601 time with a time zone")
                failure = self._check_account(entry["id"], networks, when, now)
                comments = copy.deepcopy(entry.get("comments") or [])
                planned.append(_Planned(entry["id"], networks, when, failure, comments))
        job = _Job(job_id=_oid(), kind="post", endpoint=endpoint, created=time.monotonic())
        job.bulk_state = state
        job.planned = planned
        with self._lock:
            job.fail_whole = self._failing_jobs.popleft() if self._failing_jobs else None
            self._jobs[job.job_id] = job
        answer: dict[str, Any] = {"job_id": job.job_id}
        if self.envelope == "data":
            answer = {"success": True, "data": answer}
        return _Reply(self.create_status, answer)

    def _check_account(
        self, account_id: str, networks: dict[str, Any], when: datetime | None, now: datetime
    ) -> str | None:
        """Why this account's post would fail in the job, or None (§6 `failures[]`)."""
        with self._lock:
            account = self._accounts.get(account_id)
            failing = self._failing.get(account_id)
            known_media = set(self._media)
        if account is None:
            return "Account not found"
        if failing is not None and failing[1] == "job":
            return failing[0]
        provider = account["provider"]
        block = networks.get(provider)
        if not isinstance(block, dict):
            return f"No content was given for {provider}"
        post_type = block.get("type")
        if post_type not in POST_TYPES[provider]:
            return f"{post_type!r} posts are not supported on {provider}"
        media = block.get("media") or []
        if post_type in _NEEDS_MEDIA and not media:
            return f"A {post_type} post needs media"
        if any(not isinstance(m, dict) or m.get("id") not in known_media for m in media):
            return "Media not found"
        if post_type == "status" and not (isinstance(block.get("text"), str) and block["text"].strip()):
            return "Text is required"
        if when is not None and when < now + _MIN_LEAD:
            return TOO_SOON
        return None

    def _job_status(self, job_id: str) -> _Reply:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return _errors(404, "Job not found")
            status = self.job_status_spelling if job.status == "complete" else job.status
            payload = copy.deepcopy(job.payload)
        if self.envelope == "data":
            result = {"status": status, "payload": payload, "plan": {"rate": "business", "locked": False}}
            return _Reply(200, {"success": True, "data": {"status": status, "result": result}})
        answer: dict[str, Any] = {"status": status}
        if job.status != "working":
            answer["payload"] = payload
        return _Reply(200, answer)

    def _list_posts(self, query: dict[str, list[str]]) -> _Reply:
        states = query.get("state[]") or query.get("state") or ["all"]
        unknown = [s for s in states if s not in POST_STATES]
        if unknown:
            return _errors(400, f"Invalid state: {unknown[0]}")
        start, end = query.get("from"), query.get("to")
        if bool(start) != bool(end):
            return _errors(400, "from and to must be given together")
        low = _parse_bound(start[0], end=False) if start else None
        high = _parse_bound(end[0], end=True) if end else None
        if start and (low is None or high is None):
            return _errors(400, "from and to must be dates or datetimes")
        accounts = set(query.get("account_ids[]") or query.get("account_ids") or [])
        search = (query.get("query") or [""])[0].lower()
        try:
            page = int((query.get("page") or ["0"])[0])
        except ValueError:
            return _errors(400, "page must be a number")
        with self._lock:
            rows = [
                copy.deepcopy(p)
                for p in self._posts.values()
                if _state_matches(p["state"], states)
                and (not accounts or p["account_id"] in accounts)
                and (not search or search in p["text"].lower())
                and (low is None or _within(p, low, high))
            ]
        rows.sort(key=lambda p: (p["scheduled_at"] or "", p["id"]), reverse=True)
        total = len(rows)
        window = rows[page * self.per_page : (page + 1) * self.per_page] if page >= 0 else []
        if self.list_shape == "quickstart":
            return _Reply(200, {"posts": window, "total": total})
        return _Reply(
            200,
            {
                "posts": window,
                "total": total,
                "page": page,
                "per_page": self.per_page,
                "total_pages": math.ceil(total / self.per_page),
            },
        )

    def _delete(self, query: dict[str, list[str]]) -> _Reply:
        ids = query.get("post_ids[]") or query.get("post_ids")
        if not ids:
            return _errors(400, "post_ids is required")
        deleted = []
        with self._lock:
            for post_id in ids:
                post = self._posts.get(post_id)
                meta = self._meta.get(post_id)
                if post is None or meta is None:
                    continue
                # Published posts stay, and queued ones cannot be deleted (§7): absent from deleted_ids.
                if post["state"].startswith("published") or meta.queued is not None:
                    continue
                del self._posts[post_id]
                del self._meta[post_id]
                deleted.append(post_id)
        return _Reply(200, {"deleted_ids": deleted})

    # -- records ----------------------------------------------------------------------------------

    def _store_media(
        self, name: str, mime: str, size: int, media_type: str, *, source: str, direct_upload: bool
    ) -> dict[str, Any]:
        media_id = _oid()
        record = {
            "id": media_id,
            "name": name,
            "mime": mime,
            "size": size,
            "type": media_type,
            "source": source,
            "direct_upload": direct_upload,
            "path": f"https://cdn.publer.example/uploads/{media_id}/{name}",
        }
        with self._lock:
            self._media[media_id] = record
        return record

    def _post_record(
        self,
        post_id: str,
        account: dict[str, Any],
        text: str,
        post_type: str,
        when: datetime | None,
        state: str,
        *,
        has_media: bool,
    ) -> dict[str, Any]:
        return {
            "id": post_id,
            "text": text,
            "url": None,
            "state": state,
            "type": post_type,
            "account_id": account["id"],
            "network": account["provider"],
            "user": {"id": self.user_id, "name": self.user_name, "picture": None},
            "scheduled_at": iso(when) if when is not None else None,
            "post_link": None,
            "has_media": has_media,
        }

    # -- the publisher ----------------------------------------------------------------------------

    def _run_publisher(self) -> None:
        while not self._stopping.wait(self.tick):
            try:
                self._advance()
            except Exception:  # surfaced by stop()
                with self._lock:
                    self._errors.append(traceback.format_exc())

    def _advance(self) -> None:
        clock = time.monotonic()
        with self._lock:
            for job in self._jobs.values():
                if job.status == "working" and clock - job.created >= self.job_delay:
                    if job.kind == "post":
                        self._finish_post_job(job)
                    else:
                        self._finish_media_job(job)
            now = datetime.now(UTC)
            for post_id, post in self._posts.items():
                meta = self._meta[post_id]
                if post["state"] != "scheduled" or meta.due is None:
                    continue
                if meta.queued is None and meta.due <= now:
                    meta.queued = clock
                if meta.queued is not None and clock - meta.queued >= self.publish_delay:
                    self._publish(post)
            for entry in [e for e in self._comments_due if e[0] <= now]:
                self._comments_due.remove(entry)
                _, post_id, text = entry
                if post_id in self._posts:  # a post deleted meanwhile takes its comments with it
                    self._post_comment(self._posts[post_id], text)

    def _finish_post_job(self, job: _Job) -> None:
        if job.fail_whole is not None:
            job.status, job.payload = "failed", {"error": job.fail_whole}
            return
        failures = []
        for planned in job.planned:
            account = self._accounts.get(planned.account_id)
            if planned.failure is not None or account is None:
                failures.append(
                    {
                        "account_id": planned.account_id,
                        "account_name": account["name"] if account else None,
                        "provider": account["provider"] if account else None,
                        "message": planned.failure or "Account not found",
                    }
                )
                continue
            block = planned.networks[account["provider"]]
            now = datetime.now(UTC)
            when = planned.when or now
            state = "scheduled" if job.bulk_state == "scheduled" else job.bulk_state
            post_id = _oid()
            record = self._post_record(
                post_id,
                account,
                block.get("text") or "",
                block["type"],
                when,
                state,
                has_media=bool(block.get("media")),
            )
            record["media"] = copy.deepcopy(block.get("media") or [])
            self._posts[post_id] = record
            self._meta[post_id] = _PostMeta(
                due=when if state == "scheduled" else None,
                job_id=job.job_id,
                comments=planned.comments,
                first_comment=block.get("firstComment") if account["provider"] == "instagram" else None,
            )
            job.post_ids.append(post_id)
        # `{}` when nothing failed, a list otherwise, as the docs show (§6).
        job.status, job.payload = "complete", {"failures": failures if failures else {}}

    def _finish_media_job(self, job: _Job) -> None:
        imported, failures = [], []
        for item in job.urls:
            message = self._failing_urls.get(item["url"])
            if message is not None:
                failures.append({"url": item["url"], "message": message})
                continue
            path = urlsplit(item["url"]).path
            media_type = _media_type("", path) or "photo"
            record = self._store_media(item["name"], "", 0, media_type, source="url", direct_upload=True)
            imported.append(_media_view(record))
        if imported:
            job.status, job.payload = "complete", imported
        else:
            job.status, job.payload = "failed", {"failures": failures}

    def _publish(self, post: dict[str, Any]) -> None:
        failing = self._failing.get(post["account_id"])
        if failing is not None and failing[1] == "publish":
            post["state"], post["error"] = "failed", failing[0]
            return
        post["state"] = "published_posted"
        post["post_link"] = f"https://{post['network']}.example/{post['id']}"
        self._published.append(
            {
                "post_id": post["id"],
                "account_id": post["account_id"],
                "network": post["network"],
                "text": post["text"],
                "post_link": post["post_link"],
                "published_at": iso(datetime.now(UTC)),
            }
        )
        meta = self._meta[post["id"]]
        if meta.first_comment:
            self._post_comment(post, meta.first_comment)
        now = datetime.now(UTC)
        for comment in meta.comments:
            delay = comment.get("delay") or {}
            seconds = delay.get("duration", 0) * DELAY_UNITS.get(str(delay.get("unit")), 0)
            if seconds > 0:
                self._comments_due.append((now + timedelta(seconds=seconds), post["id"], comment["text"]))
            else:
                self._post_comment(post, comment["text"])

    def _post_comment(self, post: dict[str, Any], text: str) -> None:
        self._comments.append(
            {
                "post_id": post["id"],
                "account_id": post["account_id"],
                "network": post["network"],
                "text": text,
                "posted_at": iso(datetime.now(UTC)),
            }
        )


# -- helpers ----------------------------------------------------------------------------------------


def _endpoint(segments: list[str]) -> str:
    """The name requests are logged and faults are injected under: the path without ids."""
    if segments and segments[0] == "job_status":
        return "job_status"
    return "/".join(segments)


def _check_comments(comments: Any) -> str | None:
    """Why an account entry's `comments[]` (§4 post callbacks) is malformed, or None."""
    if comments is None:
        return None
    if not isinstance(comments, list):
        return "comments must be an array"
    for comment in comments:
        if not isinstance(comment, dict) or not isinstance(comment.get("text"), str):
            return "Each comment needs a text"
        if not comment["text"].strip() and not comment.get("media"):
            return "A comment needs a text or media"
        if not isinstance(comment.get("language"), str | None):
            return "comment language must be a string"
        delay = comment.get("delay")
        if delay is not None and (
            not isinstance(delay, dict)
            or not isinstance(delay.get("duration"), int | float)
            or isinstance(delay.get("duration"), bool)
            or delay["duration"] < 0
            or delay.get("unit") not in DELAY_UNITS
        ):
            return "comment delay needs a duration and a unit (Minute, Hour, Day or Week)"
        media = comment.get("media")
        if media is not None and (
            not isinstance(media, dict)
            or media.get("type") not in _COMMENT_MEDIA_TYPES
            or not isinstance(media.get("path"), str)
        ):
            return "comment media needs a type (photo, video or gif) and a path"
    return None


def _state_matches(state: str, wanted: list[str]) -> bool:
    return any(w == "all" or state == w or state.startswith(f"{w}_") for w in wanted)


def _within(post: dict[str, Any], low: datetime, high: datetime | None) -> bool:
    when = _parse_iso(post.get("scheduled_at"))
    return when is not None and low <= when and (high is None or when <= high)


def _media_type(mime: str, name: str) -> str | None:
    mime = mime.lower()
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if mime == "image/gif" or extension == "gif":
        return "gif"
    if mime.startswith("image/") or extension in ("jpg", "jpeg", "png", "webp"):
        return "photo"
    if mime.startswith("video/") or extension in ("mp4", "mov", "avi", "webm"):
        return "video"
    return None


def _media_view(record: dict[str, Any]) -> dict[str, Any]:
    """A media object as POST /media answers it (§5a)."""
    return {
        "id": record["id"],
        "path": record["path"],
        "thumbnail": record["path"],
        "validity": {},
        "width": 1200,
        "height": 800,
        "source": None,
        "type": record["type"],
        "name": record["name"],
        "caption": None,
    }


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, _Part] | str:
    """The fields of a multipart/form-data body, or a message saying why it cannot be read."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        return "multipart body without a boundary"
    delimiter = b"--" + match[1].encode()
    parts: dict[str, _Part] = {}
    for chunk in raw.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            return "malformed multipart part"
        lines = head.decode("latin-1").split("\r\n")
        disposition = next(
            (v for k, _, v in (h.partition(":") for h in lines) if k.lower() == "content-disposition"), ""
        )
        part_type = next(
            (v.strip() for k, _, v in (h.partition(":") for h in lines) if k.lower() == "content-type"), None
        )
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name is None:
            return "multipart part without a name"
        parts[name[1]] = _Part(data.removesuffix(b"\r\n"), filename[1] if filename else None, part_type)
    return parts


def _describe_form(form: dict[str, _Part] | None) -> dict[str, Any] | None:
    if form is None:
        return None
    return {
        name: (
            {"filename": part.filename, "content_type": part.content_type, "size": len(part.data)}
            if part.filename is not None
            else part.data.decode(errors="replace")
        )
        for name, part in form.items()
    }


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
