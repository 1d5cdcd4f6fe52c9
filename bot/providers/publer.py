"""Publer as a publishing provider: its REST shapes mapped onto `bot.providers.base.Provider`.

This module owns everything Publer-specific: which Publer accounts become Postgate accounts, uploading
and importing media, the bulk create body, following Publer's asynchronous jobs, finding the per-account
posts a job created (Publer hands back no post ids), reconciling after a lost answer (Publer has no
idempotency), cancelling, and reading Publer's two error envelopes. The contract it follows is
`shared/providers/publer.md`; section numbers below (§n) refer to it.

The submission id Postgate stores is ours: `job:<job id>@<unix time>` after a create, or
`posts:<post id>,<post id>@<unix time>` when reconciliation found the posts. The time is the moment the
posts were meant to go out; it anchors the search for them, since `GET /posts` is the only way back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from bot.clock import Clock, SystemClock
from bot.domain.model import (
    Account,
    AccountOutcome,
    AccountResult,
    MediaKind,
    PublicationState,
    SubmissionReceipt,
    Workspace,
)
from bot.domain.networks import Network
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderTooLate,
    ProviderUnavailable,
)
from bot.providers.base import HttpProvider, MediaFile, RetryPolicy, SubmitRequest, Upload
from bot.providers.parsing import identifier, parse_time, web_url
from bot.providers.parsing import sentence as _sentence
from bot.providers.parsing import text as _text
from bot.providers.ratelimit import Limiter

log = logging.getLogger(__name__)

# Postgate's Network values are Publer's provider names (`twitter` is X). Publer's pinterest, google
# (Business Profile locations) and wordpress accounts are left out: Postgate has no network for them, and
# their posts need fields it does not collect (a board, an article title), so they could never be targets.
_NETWORKS = {network.value: network for network in Network}
# Several images make a `carousel` where the network has that type (§4); elsewhere a multi-image `photo`.
_CAROUSEL_NETWORKS = {Network.FACEBOOK, Network.INSTAGRAM, Network.TIKTOK}
_MEDIA_TYPES = {MediaKind.IMAGE: "photo", MediaKind.GIF: "gif", MediaKind.VIDEO: "video"}

# Publer refuses scheduled times less than a minute ahead (§3); the rest covers the trip there.
_MIN_LEAD = timedelta(seconds=70)
# A post's `scheduled_at` is searched for from shortly before the intended time (clock differences) to a
# day after (an immediate post gets the time Publer processed it, which a slow queue can push back).
_SEARCH_BEFORE = timedelta(minutes=10)
_SEARCH_AFTER = timedelta(days=1)
# Publer creates posts asynchronously: right after a create, "no post yet" proves nothing.
_STILL_PROCESSING = timedelta(minutes=2)
# A finished job whose post cannot be found this long after its time was deleted or edited in Publer.
_NOT_FOUND_GRACE = timedelta(minutes=10)
# GET /posts returns 20 per page and the page size cannot be set (§12); 25 pages is far beyond a few
# accounts' posts over three days, and keeps a runaway listing from eating the rate budget.
_MAX_PAGES = 25
# An account's `status`: the getting-started guide shows "active" and documents no other value. Only
# values that say the connection is gone are read as disconnected; anything unknown is left usable, so a
# new wording at Publer cannot block posting.
_DISCONNECTED_STATUSES = {"disconnected", "inactive", "expired", "reauth", "needs_reauth", "revoked", "error"}
_DISCONNECTED = "Publer reports this account as disconnected; reconnect it in Publer before posting."
_FINISHED_JOBS_KEPT = 512
_SCOPES_HINT = (
    "Check that the API key has the scopes Postgate needs (accounts, posts, media, job_status), "
    "that the workspace id belongs to a workspace the key can use, and that the Publer plan includes "
    "API access."
)
_REAUTH = (
    "the account needs to be reconnected in Publer; Publer holds the post until then and may still "
    "publish it afterwards, so delete it in Publer if it should not go out late"
)
_NO_REASON = "no reason given"
_FAILED_WITHOUT_REASON = "Publer marked the post as failed without a reason; check the post in Publer"
_NOT_FOUND = (
    "Publer accepted the post, but its post for this account can no longer be found (deleted or edited "
    "in Publer?); check the account"
)


@dataclass(frozen=True)
class _Reference:
    """What our external id encodes: the create's job, or the posts reconciliation found, and a time."""

    job_id: str | None
    post_ids: tuple[str, ...]
    anchor: datetime | None

    def encode(self) -> str:
        when = f"@{int(self.anchor.timestamp())}" if self.anchor is not None else ""
        if self.job_id is not None:
            return f"job:{self.job_id}{when}"
        return f"posts:{','.join(self.post_ids)}{when}"

    @classmethod
    def parse(cls, external_id: str) -> _Reference:
        # The time is always last; a job id of Publer's own could hold an "@" itself.
        body, _, when = external_id.rpartition("@")
        if not (when.isascii() and when.isdigit() and len(when) <= 12):
            body, when = external_id, ""
        anchor = datetime.fromtimestamp(int(when), UTC) if when else None
        kind, _, ids = body.partition(":")
        if kind == "posts":
            return cls(None, tuple(i for i in ids.split(",") if i), anchor)
        # `job:<id>`, or a bare job id.
        return cls(ids if kind == "job" else body, (), anchor)


@dataclass(frozen=True)
class _Job:
    """A job as `GET /job_status` describes it, whichever of its envelopes was used (§6)."""

    state: str  # "working", "complete" or "failed"
    payload: Any
    message: str | None


@dataclass(frozen=True)
class _Failures:
    """The per-account failures of a finished post job, attributed to the request's accounts."""

    by_account: dict[str, str]
    unattributed: tuple[str, ...]


@dataclass(frozen=True)
class _Media:
    """An upload or import Publer accepted, as the network blocks reference it."""

    media_id: str
    media_type: str
    kind: MediaKind

    def reference(self) -> dict[str, str]:
        # The docs also copy `path`/`thumbnail` from the upload answer; the id alone links the file, and
        # `type` mirrors Publer's own spelling for it (§4, the accepted spellings are UNCONFIRMED).
        return {"id": self.media_id, "type": self.media_type}


class PublerProvider(HttpProvider):
    """Publishes posts through Publer (https://app.publer.com/api/v1)."""

    name = "publer"
    display_name = "Publer"
    idempotent_submit = False

    def __init__(
        self,
        *,
        api_key: str,
        workspace_id: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: Limiter | None = None,
        clock: Clock | None = None,
        job_poll_interval: float = 1.0,
        job_wait: float = 60.0,
    ) -> None:
        # Every request carries the workspace header; only /users/me and /workspaces do without it (§1),
        # which is all a key being entered, before its workspace is picked, is asked.
        headers = {"Authorization": f"Bearer-API {api_key}", "Accept": "application/json"}
        if workspace_id:
            headers["Publer-Workspace-Id"] = workspace_id
        client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )
        super().__init__(client=client, retry=retry, sleep=sleep, limiter=limiter, secrets=(api_key,))
        self._api_key = api_key
        self._workspace_id = workspace_id
        self._clock: Clock = clock or SystemClock()
        self._job_poll_interval = job_poll_interval
        self._job_wait = job_wait
        self._jobs_lock = threading.Lock()
        # Finished post jobs never change, so each later poll costs only the posts listing.
        self._finished_jobs: OrderedDict[str, _Job] = OrderedDict()

    def __repr__(self) -> str:
        # No key: a repr ends up in logs and tracebacks.
        return f"PublerProvider(base_url={str(self._client.base_url)!r}, workspace_id={self._workspace_id!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PublerProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- accounts ---------------------------------------------------------------------------------

    def list_accounts(self) -> list[Account]:
        return self._accounts()[0]

    def check_credentials(self) -> str:
        try:
            me = self.request("GET", "/users/me")
        except ProviderAuthError as error:
            if error.status != 403:
                raise
            # Scopes are per key (§1): one without `users` can still post, and /accounts tests the rest.
            me = None
        who = None
        if isinstance(me, Mapping):
            who = _text(me.get("name")) or _text(me.get("first_name")) or _text(me.get("email"))
        accounts, skipped = self._accounts()
        signed_in = f"signed in as {who}" if who else "the API key works"
        if not accounts:
            sentence = f"{signed_in}, but this workspace has no accounts Postgate can post to"
        else:
            count = len(accounts)
            sentence = f"{signed_in}; {count} account{'' if count == 1 else 's'} in this workspace"
        if skipped:
            names = ", ".join(sorted(set(skipped)))
            sentence += f" ({len(skipped)} more on networks Postgate does not post to: {names})"
        # Publer reports no connection health (§2); an expired connection shows up as a failed post.
        return sentence

    def _listing(self, name: str) -> list[Any]:
        """The rows of `GET /<name>` (accounts, workspaces). The sources disagree on the shape: the
        reference answers a bare array (or `{data: [...]}`), the getting-started guide `{"<name>": [...]}`.
        Every shape is read."""
        rows = _unwrap(self.request("GET", f"/{name}"))
        if isinstance(rows, Mapping) and isinstance(rows.get(name), list):
            rows = rows[name]
        if not isinstance(rows, list):
            raise ProviderUnavailable(self.display_name, f"answered without a list of {name}")
        return rows

    def list_workspaces(self) -> list[Workspace]:
        """§2 `GET /workspaces` (no workspace header). The reference's rows carry plan/owner, the
        getting-started guide's a role; both have the id and name, which is all that is read."""
        rows = self._listing("workspaces")
        found: list[Workspace] = []
        for row in rows:
            workspace_id = identifier(row.get("id")) if isinstance(row, Mapping) else None
            if workspace_id and all(w.workspace_id != workspace_id for w in found):
                found.append(Workspace(workspace_id, _text(row.get("name")) or workspace_id))
        return found

    def _accounts(self) -> tuple[list[Account], list[str]]:
        """(usable accounts, Publer provider names of the accounts left out)."""
        rows = self._listing("accounts")
        accounts: list[Account] = []
        skipped: list[str] = []
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            account_id = identifier(row.get("id"))
            provider = (_text(row.get("provider")) or "").lower()
            if not account_id:
                continue
            network = _NETWORKS.get(provider)
            if network is None:
                skipped.append(provider or "unknown")
                continue
            name = _text(row.get("name")) or _text(row.get("social_id")) or account_id
            status = (_text(row.get("status")) or "").lower()
            accounts.append(
                Account(
                    provider=self.name,
                    account_id=account_id,
                    network=network,
                    name=name,
                    warning=_DISCONNECTED if status in _DISCONNECTED_STATUSES else None,
                    cannot_post=_DISCONNECTED if status in _DISCONNECTED_STATUSES else None,
                )
            )
        return accounts, skipped

    # -- submit -----------------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> SubmissionReceipt:
        targets = self._targets(request)
        media = self._prepare_media(request.media)
        now = self._clock.now()
        # Uploads can take long enough that a scheduled time comes within Publer's one-minute minimum;
        # publishing right away then is closer to what was asked than a refusal.
        immediate = request.immediate or request.publish_at - now < _MIN_LEAD
        when = None if immediate else request.publish_at
        answer = self.request(
            "POST",
            "/posts/schedule/publish" if immediate else "/posts/schedule",
            json=_create_body(request.text, targets, media, when, request.comment_to_send),
            # No idempotency (§3): once the create may have arrived, sending it again can double-post.
            retry_safe=False,
        )
        job_id = _job_id(answer)
        if job_id is None:
            raise ProviderOutcomeUnknown(self.display_name, "accepted the post but did not say its job id")
        effective = now if immediate else request.publish_at
        notes: tuple[str, ...] = ()
        if immediate and not request.immediate:
            notes = (
                "Publer needs a minute's notice for a scheduled time, so Postgate had it publish right away.",
            )
        return SubmissionReceipt(
            external_id=_Reference(job_id, (), effective).encode(), effective_time=effective, notes=notes
        )

    def _targets(self, request: SubmitRequest) -> list[Account]:
        known = {i: a for i in request.account_ids if (a := request.account(i)) is not None}
        if len(known) < len(set(request.account_ids)):
            listed = {a.account_id: a for a in self.list_accounts()}
            known.update({i: listed[i] for i in request.account_ids if i not in known and i in listed})
        unknown = [i for i in request.account_ids if i not in known]
        if unknown:
            raise ProviderRejected(
                self.display_name,
                f"this workspace has no account Postgate can post to with the id {', '.join(unknown)}",
            )
        targets = [known[i] for i in dict.fromkeys(request.account_ids)]
        if disconnected := [a.name for a in targets if a.cannot_post]:
            raise ProviderRejected(
                self.display_name,
                f"{', '.join(disconnected)} {'is' if len(disconnected) == 1 else 'are'} disconnected; "
                "reconnect it in Publer, then retry the post",
            )
        return targets

    # -- media ------------------------------------------------------------------------------------

    def _prepare_media(self, files: Sequence[MediaFile]) -> list[_Media]:
        for media in files:
            if media.kind not in _MEDIA_TYPES:
                raise ProviderRejected(
                    self.display_name, f"{media.name} is not an image or a video, so Postgate cannot send it"
                )
        prepared = []
        for media in files:
            if media.path is not None:
                answer = self._upload(media)
            elif media.url is not None:
                answer = self._import(media)
            else:
                raise ProviderRejected(self.display_name, f"{media.name} has neither a file nor a URL")
            media_id = _text(answer.get("id"))
            if media_id is None:
                raise ProviderUnavailable(
                    self.display_name, f"took {media.name} but did not say its media id"
                )
            media_type = _text(answer.get("type")) or _MEDIA_TYPES[media.kind]
            prepared.append(_Media(media_id, media_type, media.kind))
        return prepared

    def _upload(self, media: MediaFile) -> Mapping[str, Any]:
        """`POST /media` (multipart, §5a), retried like any retry-safe request: a duplicate upload only
        leaves an unused file in Publer's storage."""
        upload = Upload("file", media, {"direct_upload": "true", "in_library": "false"})
        try:
            answer = self.request("POST", "/media", upload=upload)
        except ProviderRejected as error:
            raise self._media_refused(media, error.message, error.status) from None
        if not isinstance(answer, Mapping):
            raise ProviderUnavailable(
                self.display_name, f"answered the upload of {media.name} without an object"
            )
        return answer

    def _import(self, media: MediaFile) -> Mapping[str, Any]:
        """`POST /media/from-url`, then follow its job until Publer has fetched the file (§5b)."""
        body = {
            # Snake case as real clients send it; one docs version spells the flags in camel case (§5b,
            # UNCONFIRMED which is canonical).
            "media": [{"url": media.url, "name": media.name}],
            "type": "single",
            "direct_upload": True,
            "in_library": False,
        }
        try:
            answer = self.request("POST", "/media/from-url", json=body)
        except ProviderRejected as error:
            raise self._media_refused(media, error.message, error.status) from None
        job_id = _job_id(answer)
        if job_id is None:
            raise ProviderUnavailable(self.display_name, f"did not say which job imports {media.name}")
        job = self._wait_for_media(job_id, media)
        if job.state == "failed":
            raise self._media_refused(media, job.message or "the import failed without a reason", None)
        imported = _first_media(job.payload)
        if imported is None:
            reason = job.message or _joined(_failure_messages(job.payload)) or "Publer imported nothing"
            raise self._media_refused(media, reason, None)
        return imported

    def _wait_for_media(self, job_id: str, media: MediaFile) -> _Job:
        deadline = time.monotonic() + self._job_wait
        interval = self._job_poll_interval
        while True:
            job = self._read_job(job_id)
            if job.state != "working":
                return job
            if time.monotonic() + interval > deadline:
                # Nothing was posted yet, so the dispatcher may simply try the whole submission again.
                raise ProviderUnavailable(
                    self.display_name, f"is still importing {media.name}; Postgate will try again shortly"
                )
            self._sleep(interval)
            # Media jobs can take minutes (§6); backing off keeps the polls within the rate budget.
            interval = min(interval * 1.5, self._job_poll_interval * 5)

    def _media_refused(self, media: MediaFile, message: str, status: int | None) -> ProviderRejected:
        if status == 413:
            return ProviderRejected(
                self.display_name, f"{media.name} is too large for Publer (max 200 MB)", status=413
            )
        return ProviderRejected(
            self.display_name, f"could not use the file {media.name}: {_unsentence(message)}", status=status
        )

    # -- state ------------------------------------------------------------------------------------

    def read_state(self, external_id: str, request: SubmitRequest) -> PublicationState:
        # A complete job only says which accounts Publer refused; whether it also means "live" for an
        # immediate post is UNCONFIRMED (§6), so every other account's outcome comes from its post.
        reference = _Reference.parse(external_id)
        failures = _Failures({}, ())
        if reference.job_id is not None:
            job = self._post_job(reference.job_id)
            if job is not None and job.state == "working":
                return PublicationState(
                    tuple(
                        AccountResult(i, _network(request, i), AccountOutcome.PENDING)
                        for i in request.account_ids
                    )
                )
            if job is not None and job.state == "failed":
                error = f"Publer refused it: {_unsentence(job.message or 'its job failed without a reason')}"
                return PublicationState(
                    tuple(
                        AccountResult(i, _network(request, i), AccountOutcome.FAILED, error=error)
                        for i in request.account_ids
                    )
                )
            if job is not None:
                failures = _attribute_failures(job.payload, request)
        found, _ = self._locate(reference, request, skip=set(failures.by_account))
        anchor = reference.anchor or request.publish_at
        overdue = self._clock.now() >= anchor + _NOT_FOUND_GRACE
        results = []
        for account_id in request.account_ids:
            post = found.get(account_id)
            network = _network(request, account_id, post)
            if account_id in failures.by_account:
                error = f"Publer refused it for this account: {_unsentence(failures.by_account[account_id])}"
                results.append(AccountResult(account_id, network, AccountOutcome.FAILED, error=error))
            elif post is not None:
                results.append(_post_result(account_id, network, post))
            elif failures.unattributed:
                error = f"Publer refused it: {_unsentence(_joined(failures.unattributed))}"
                results.append(AccountResult(account_id, network, AccountOutcome.FAILED, error=error))
            elif overdue:
                results.append(AccountResult(account_id, network, AccountOutcome.FAILED, error=_NOT_FOUND))
            else:
                # The job is done but Publer's listing does not show the post yet.
                results.append(AccountResult(account_id, network, AccountOutcome.PENDING))
        return PublicationState(tuple(results))

    def _post_job(self, job_id: str) -> _Job | None:
        """The create's job, from memory once finished; None when Publer no longer knows it."""
        with self._jobs_lock:
            cached = self._finished_jobs.get(job_id)
        if cached is not None:
            return cached
        try:
            job = self._read_job(job_id)
        except ProviderRejected as error:
            if error.status == 404:
                # How long Publer keeps jobs is undocumented; without it the posts still tell the outcome.
                log.info("Publer job %s is gone; following its posts only", job_id)
                return None
            raise
        if job.state != "working":
            with self._jobs_lock:
                self._finished_jobs[job_id] = job
                while len(self._finished_jobs) > _FINISHED_JOBS_KEPT:
                    self._finished_jobs.popitem(last=False)
        return job

    def _read_job(self, job_id: str) -> _Job:
        return _parse_job(self.request("GET", f"/job_status/{quote(job_id, safe='')}"))

    def _locate(
        self, reference: _Reference, request: SubmitRequest, *, skip: set[str]
    ) -> tuple[dict[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
        """(account id → its post, every listed post by id) for the accounts not in `skip`."""
        wanted = [i for i in dict.fromkeys(request.account_ids) if i not in skip]
        if not wanted:
            return {}, {}
        anchor = reference.anchor or request.publish_at
        posts = self._posts_around(wanted, anchor - _SEARCH_BEFORE, anchor + _SEARCH_AFTER)
        by_id = {_text(post.get("id")) or "": post for post in posts}
        found: dict[str, Mapping[str, Any]] = {}
        for post_id in reference.post_ids:
            post = by_id.get(post_id)
            account_id = _text(post.get("account_id")) if post is not None else None
            if post is not None and account_id in wanted:
                found[account_id] = post
        rest = [i for i in wanted if i not in found]
        found.update(
            _match(posts, request.text, rest, anchor - _SEARCH_BEFORE, anchor + _SEARCH_AFTER, anchor)
        )
        return found, by_id

    def _posts_around(
        self, account_ids: Sequence[str], earliest: datetime, latest: datetime
    ) -> list[Mapping[str, Any]]:
        """Every post of `account_ids` Publer lists for the days around [earliest, latest]."""
        # `from`/`to` are dates in the OpenAPI schema, datetimes in the prose (UNCONFIRMED), and may be read
        # in the workspace's time zone: dates a day wider on each side are right for every reading, and
        # the exact window is applied by matching. Pages are counted here from 0, never taken from the
        # echoed `page`, whose base is UNCONFIRMED (§12).
        params: dict[str, Any] = {
            "account_ids[]": list(account_ids),
            "state": "all",
            "from": (earliest - timedelta(days=1)).astimezone(UTC).date().isoformat(),
            "to": (latest + timedelta(days=1)).astimezone(UTC).date().isoformat(),
        }
        posts: dict[str, Mapping[str, Any]] = {}
        page = listed = 0
        while True:
            body = _unwrap(self.request("GET", "/posts", params={**params, "page": page}))
            rows = body.get("posts") if isinstance(body, Mapping) else None
            if not isinstance(rows, list):
                raise ProviderUnavailable(self.display_name, "answered the post list without posts")
            for row in rows:
                post_id = _text(row.get("id")) if isinstance(row, Mapping) else None
                if post_id is not None:
                    posts.setdefault(post_id, row)
            page += 1
            listed += len(rows)
            if not rows or not self._more_pages(body, page, listed, len(rows)):
                return list(posts.values())
            if page >= _MAX_PAGES:
                raise ProviderOutcomeUnknown(
                    self.display_name,
                    f"lists more than {_MAX_PAGES} pages of posts around that time for these accounts, "
                    "too many for Postgate to check",
                )

    @staticmethod
    def _more_pages(body: Mapping[str, Any], pages_read: int, listed: int, rows: int) -> bool:
        # The sources disagree on the list's shape, so both are read: the OpenAPI reference answers
        # {posts, total, page, per_page, total_pages}; the getting-started guide answers {posts, total}
        # only. Missing a page here would miss an earlier try and send the post again.
        total_pages = _integer(body.get("total_pages"))
        per_page = _integer(body.get("per_page"))
        if per_page and rows < per_page:
            return False  # a short page is the last, whatever the counts say
        if total_pages is not None:
            return pages_read < total_pages
        total = _integer(body.get("total"))
        if total is not None:
            return listed < total
        return bool(per_page)

    # -- reconciliation ---------------------------------------------------------------------------

    def find_submission(self, request: SubmitRequest, *, sent_at: datetime) -> SubmissionReceipt | None:
        earliest = min(request.publish_at, sent_at)
        # A scheduled post carries its publish time, an immediate one the time Publer handled it.
        anchor = max(request.publish_at, sent_at)
        low, high = earliest - _SEARCH_BEFORE, anchor + _SEARCH_AFTER
        posts = self._posts_around(request.account_ids, low, high)
        found = _match(posts, request.text, list(dict.fromkeys(request.account_ids)), low, high, anchor)
        if found:
            # One create is one job for every account, so posts on some accounts prove the earlier try
            # arrived; the others were refused inside that job or are still being created. Sending again
            # would double-post where it worked; fetch_state reports the missing accounts.
            ids = tuple(_text(found[i].get("id")) or "" for i in request.account_ids if i in found)
            times = [t for t in (_post_time(post) for post in found.values()) if t is not None]
            effective = min(times) if times else anchor
            return SubmissionReceipt(
                external_id=_Reference(None, ids, anchor).encode(), effective_time=effective
            )
        if self._clock.now() - sent_at < _STILL_PROCESSING:
            raise ProviderUnavailable(
                self.display_name, "may still be processing the earlier try; checking again shortly"
            )
        return None

    # -- cancel -----------------------------------------------------------------------------------

    def cancel(self, external_id: str, request: SubmitRequest) -> None:
        reference = _Reference.parse(external_id)
        failures = _Failures({}, ())
        if reference.job_id is not None:
            job = self._post_job(reference.job_id)
            if job is not None and job.state == "working":
                # The posts do not exist yet, so there is nothing to delete; for an immediate post the job
                # itself may publish it. Reported as "too late, not live": the caller may try again.
                raise ProviderTooLate(
                    self.display_name,
                    "Publer is still creating the post, so it cannot be withdrawn yet and may still go out; "
                    "try again in a minute or delete it in Publer",
                    live=False,
                )
            if job is not None and job.state == "failed":
                return  # the job created nothing
            if job is not None:
                failures = _attribute_failures(job.payload, request)
        found, _ = self._locate(reference, request, skip=set(failures.by_account))
        live = [i for i, post in found.items() if _is_published(post)]
        if live:
            raise ProviderTooLate(
                self.display_name,
                f"the post is already live on {_labels(request, live)}, so it cannot be withdrawn",
                live=True,
            )
        waiting: dict[str, str] = {}  # post id → account id
        for account_id, post in found.items():
            post_id = _text(post.get("id"))
            if post_id is not None and _post_state(post) != "failed":
                waiting[post_id] = account_id
        if not waiting:
            return
        answer = _unwrap(self.request("DELETE", "/posts", params={"post_ids[]": list(waiting)}))
        deleted = answer.get("deleted_ids") if isinstance(answer, Mapping) else None
        kept = [i for i in waiting if not isinstance(deleted, list) or i not in deleted]
        if kept:
            self._explain_kept(reference, request, {i: waiting[i] for i in kept})

    def _explain_kept(self, reference: _Reference, request: SubmitRequest, kept: Mapping[str, str]) -> None:
        """Publer left `kept` (post id → account id) in place: re-read to say why.

        That undeletable ids are simply missing from `deleted_ids` is UNCONFIRMED (§7); reading the posts
        again settles it either way.
        """
        _, listed = self._locate(reference, request, skip=set())
        now = self._clock.now()
        live, due, refused = [], [], []
        for post_id, account_id in kept.items():
            post = listed.get(post_id)
            if post is None:
                continue  # gone after all, e.g. a retried delete whose first try went through
            when = _post_time(post)
            if _is_published(post):
                live.append(account_id)
            elif when is not None and when <= now:
                due.append(account_id)
            else:
                refused.append(account_id)
        if live:
            raise ProviderTooLate(
                self.display_name,
                f"the post went live on {_labels(request, live)} before it could be withdrawn",
                live=True,
            )
        if due:
            # Publer cannot delete queued posts (§7); one whose time has come is being published.
            raise ProviderTooLate(
                self.display_name,
                f"Publer is already publishing the post for {_labels(request, due)}, so it may still go out",
                live=False,
            )
        if refused:
            raise ProviderRejected(
                self.display_name,
                f"Publer would not delete the post for {_labels(request, refused)}; remove it in Publer",
            )

    # -- errors -----------------------------------------------------------------------------------

    def error_message(self, response: httpx.Response, body: Any) -> tuple[str, str | None]:
        status = response.status_code
        text = _error_text(body)
        if status == 401:
            message = "the Publer API key was refused" + (f" ({_unsentence(text)})" if text else "")
        elif status == 403:
            message = f"{_sentence(text or 'Publer denied access')} {_SCOPES_HINT}"
        else:
            message = text or f"HTTP {status}"
        # Publer has no reason to echo the key, but an error text must never be where it leaks.
        return (message.replace(self._api_key, "[api key]") if self._api_key else message), None

    def classify_error(self, status: int, code: str | None) -> type[ProviderError] | None:  # noqa: ARG002
        # Publer's errors carry no codes (§9): the status is all there is to go on.
        if status in (401, 403):
            return ProviderAuthError
        if status in (400, 404, 413, 422):
            return ProviderRejected
        return None


# -- the create body --------------------------------------------------------------------------------


def _create_body(
    text: str,
    targets: Sequence[Account],
    media: Sequence[_Media],
    when: datetime | None,
    first_comment: str | None = None,
) -> dict[str, Any]:
    """One bulk post with a network block per distinct network of `targets` (§3), and the first comment
    as a post callback on every account entry (§4 "Post callbacks").
    """
    networks: dict[str, dict[str, Any]] = {}
    for account in targets:
        if account.network.value not in networks:
            block: dict[str, Any] = {"type": _post_type(account.network, media), "text": text}
            if media:
                block["media"] = [item.reference() for item in media]
            networks[account.network.value] = block
    accounts: list[dict[str, Any]] = []
    for account in targets:
        entry: dict[str, Any] = {"id": account.account_id}
        if when is not None:
            entry["scheduled_at"] = format_time(when)
        if first_comment is not None:
            # §4 "Post callbacks (per `accounts[]` entry)" covers every network, Instagram included; no
            # `delay` is sent, as Postgate wants none. The Instagram block's own `firstComment` (§4,
            # network-specific fields) is an alternative, not a requirement; sending both could post the
            # comment twice, so it is left out.
            entry["comments"] = [{"text": first_comment}]
        accounts.append(entry)
    return {"bulk": {"state": "scheduled", "posts": [{"networks": networks, "accounts": accounts}]}}


def _post_type(network: Network, media: Sequence[_Media]) -> str:
    kinds = [item.kind for item in media]
    if not kinds:
        return "status"
    if MediaKind.VIDEO in kinds:
        return "video"
    if kinds == [MediaKind.GIF]:
        return "gif"
    if len(kinds) == 1:
        return "photo"
    return "carousel" if network in _CAROUSEL_NETWORKS else "photo"


def format_time(value: datetime) -> str:
    """ISO 8601 with an explicit offset, as Publer requires (§3): `2026-03-01T14:00:00+00:00`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


# -- jobs -------------------------------------------------------------------------------------------


def _job_id(answer: Any) -> str | None:
    """The job id of a create or import answer: `{job_id}` or `{success, data: {job_id}}` (§3)."""
    if not isinstance(answer, Mapping):
        return None
    data = _unwrap(answer)
    nested = identifier(data.get("job_id")) if isinstance(data, Mapping) else None
    return identifier(answer.get("job_id")) or nested


def _parse_job(body: Any) -> _Job:
    """Accepts `{status, payload}`, `{data: {status, result: {status, payload}}}` and mixtures (§6)."""
    root = _unwrap(body) if isinstance(body, Mapping) else {}
    if not isinstance(root, Mapping):
        root = {}
    result = root.get("result")
    result = result if isinstance(result, Mapping) else {}
    status = (_text(root.get("status")) or _text(result.get("status")) or "").lower()
    payload = root["payload"] if "payload" in root else result.get("payload")
    if status in ("complete", "completed"):
        state = "complete"
    elif status == "failed":
        state = "failed"
    else:
        # `working`, and any status Publer adds later, mean "not finished yet".
        state = "working"
    message = None
    for source in (payload, result, root):
        if isinstance(source, Mapping):
            message = message or _error_text(source)
    if message is None and state == "failed":
        message = _joined(_failure_messages(payload)) or None
    return _Job(state, payload, message)


def _attribute_failures(payload: Any, request: SubmitRequest) -> _Failures:
    """Map `payload.failures` onto the request's accounts.

    Documented as `{}` when empty and a list of `{account_id, account_name, provider, message}` otherwise;
    an object keyed by account id is also possible (§6, UNCONFIRMED). A failure that names no account of
    the request is kept unattributed and explains accounts whose post cannot be found.
    """
    raw = payload.get("failures") if isinstance(payload, Mapping) else None
    entries: list[tuple[str | None, Any]] = []
    if isinstance(raw, Mapping):
        entries = [(str(key), value) for key, value in raw.items()]
    elif isinstance(raw, list):
        entries = [(None, value) for value in raw]
    by_account: dict[str, str] = {}
    unattributed: list[str] = []
    for key, value in entries:
        message = _failure_message(value)
        account_id = _failed_account(key, value, request)
        if account_id is None:
            unattributed.append(message)
        elif account_id in by_account:
            by_account[account_id] = f"{_sentence(by_account[account_id])} {message}"
        else:
            by_account[account_id] = message
    return _Failures(by_account, tuple(unattributed))


def _failed_account(key: str | None, value: Any, request: SubmitRequest) -> str | None:
    ids = list(dict.fromkeys(request.account_ids))
    details = value if isinstance(value, Mapping) else {}
    for candidate in (_text(details.get("account_id")), _text(details.get("id")), key):
        if candidate in ids:
            return candidate
    name, provider = _text(details.get("account_name")), _text(details.get("provider"))
    if name or provider:
        matches = [
            a.account_id
            for a in request.accounts
            if a.account_id in ids
            and (name is None or a.name == name)
            and (provider is None or a.network.value == provider.lower())
        ]
        if len(matches) == 1:
            return matches[0]
    return ids[0] if len(ids) == 1 else None


def _failure_message(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Mapping):
        text = _error_text(value) or _text(value.get("reason"))
        if text:
            return text
    if isinstance(value, list):
        text = _joined(m for m in (_failure_message(v) for v in value) if m != _NO_REASON)
        if text:
            return text
    return _NO_REASON


def _failure_messages(payload: Any) -> list[str]:
    raw = payload.get("failures") if isinstance(payload, Mapping) else None
    values = raw.values() if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    return [m for m in (_failure_message(v) for v in values) if m != _NO_REASON]


def _first_media(payload: Any) -> Mapping[str, Any] | None:
    """The imported media object: the payload is a list of media objects per real clients (§5b,
    UNCONFIRMED in the docs); a `{media: [...]}` object or a single media object is accepted too."""
    candidates: Any = payload
    if isinstance(payload, Mapping):
        candidates = payload.get("media", [payload])
    if not isinstance(candidates, list):
        return None
    return next((m for m in candidates if isinstance(m, Mapping) and _text(m.get("id"))), None)


# -- posts ------------------------------------------------------------------------------------------


def _match(
    posts: Iterable[Mapping[str, Any]],
    text: str,
    account_ids: Sequence[str],
    earliest: datetime,
    latest: datetime,
    anchor: datetime,
) -> dict[str, Mapping[str, Any]]:
    """Per account, the post with the submission's text whose time is in the window and nearest `anchor`.

    Publer returns no post ids for a create (§6), so text, account and time are what ties them together.
    Whitespace is normalised in case Publer trims or re-wraps the text.
    """
    wanted = _normalised(text)
    best: dict[str, tuple[float, Mapping[str, Any]]] = {}
    for post in posts:
        account_id = _text(post.get("account_id"))
        if account_id is None or account_id not in account_ids:
            continue
        if _normalised(post.get("text")) != wanted:
            continue
        when = _post_time(post)
        if when is not None and not earliest <= when <= latest:
            continue
        distance = abs((when - anchor).total_seconds()) if when is not None else math.inf
        if account_id not in best or distance < best[account_id][0]:
            best[account_id] = (distance, post)
    return {account_id: post for account_id, (_, post) in best.items()}


def _post_result(account_id: str, network: Network | None, post: Mapping[str, Any]) -> AccountResult:
    state = _post_state(post)
    if _is_published(post):
        # published_deleted / published_hidden were live too: the post went out.
        return AccountResult(
            account_id, network, AccountOutcome.PUBLISHED, url=web_url(post.get("post_link"))
        )
    if state == "failed":
        return AccountResult(account_id, network, AccountOutcome.FAILED, error=_post_error(post))
    if state == "scheduled_reauth":
        # Waiting for someone to reconnect the account in Publer has no end Postgate can see; reporting it
        # as failed tells the author now instead of leaving the post "publishing" indefinitely.
        return AccountResult(account_id, network, AccountOutcome.FAILED, error=_REAUTH)
    if state == "scheduled_declined":
        return AccountResult(
            account_id,
            network,
            AccountOutcome.FAILED,
            error="the post was declined in Publer's approval flow",
        )
    # scheduled, scheduled_pending/approved/locked, drafts, and states Publer adds later: not yet.
    return AccountResult(account_id, network, AccountOutcome.PENDING)


def _post_error(post: Mapping[str, Any]) -> str:
    # Which field carries a failed post's reason is undocumented (§6, UNCONFIRMED): try the likely ones.
    for key in ("error", "error_message", "failure_reason", "message"):
        value = post.get(key)
        text = _text(value) or (_error_text(value) if isinstance(value, Mapping) else None)
        if text:
            return f"Publishing failed. Publer said: {_sentence(text)}"
    return _FAILED_WITHOUT_REASON


def _post_state(post: Mapping[str, Any]) -> str:
    return (_text(post.get("state")) or "").lower()


def _is_published(post: Mapping[str, Any]) -> bool:
    return _post_state(post).startswith("published")


def _post_time(post: Mapping[str, Any]) -> datetime | None:
    for key in ("scheduled_at", "published_at", "created_at"):
        when = parse_time(post.get(key))
        if when is not None:
            return when
    return None


def _network(
    request: SubmitRequest, account_id: str, post: Mapping[str, Any] | None = None
) -> Network | None:
    account = request.account(account_id)
    if account is not None:
        return account.network
    provider = _text(post.get("network")) if post is not None else None
    return _NETWORKS.get(provider.lower()) if provider else None


def _labels(request: SubmitRequest, account_ids: Iterable[str]) -> str:
    return ", ".join(account.label if (account := request.account(i)) is not None else i for i in account_ids)


# -- error envelopes --------------------------------------------------------------------------------


def _error_text(body: Any) -> str | None:
    """Publer's `{errors: [...]}`, the 429's singular `{error: ...}` (§9), or a `message`."""
    if not isinstance(body, Mapping):
        return None
    errors = body.get("errors")
    if isinstance(errors, list):
        texts = [t for t in (_text(e) or _error_text(e) for e in errors) if t]
        if texts:
            return _joined(texts)
    error = body.get("error")
    if isinstance(error, Mapping):
        return _error_text(error)
    return _text(error) or _text(body.get("message"))


# -- small helpers ----------------------------------------------------------------------------------


def _unwrap(body: Any) -> Any:
    """`data` when Publer wrapped its answer in `{success, data}` (the OpenAPI variant), else the body."""
    if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping | list):
        return body["data"]
    return body


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _normalised(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _joined(texts: Iterable[str]) -> str:
    return " ".join(_sentence(t) for t in texts)


def _unsentence(text: str) -> str:
    """`text` without a final full stop, for embedding after a colon or in parentheses."""
    text = text.strip()
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text
