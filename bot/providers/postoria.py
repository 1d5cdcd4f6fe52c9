"""Postoria as a publishing provider: its REST shapes mapped onto `bot.providers.base.Provider`.

This module owns everything Postoria-specific: which social accounts become Postgate accounts, the
media pipeline (pre-signed upload or URL import, then polling until the file is usable), the create-post
body for the three publish modes, reading `results[]` back into per-account outcomes, finding an earlier
try again (Postoria has no idempotency key), cancelling safely, and parsing the `{error:{…}}` envelope.
The contract it follows is `shared/providers/postoria.md`; section numbers below (§n) refer to it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import IO, Any
from urllib.parse import quote

import httpx

from bot.clock import Clock, SystemClock, as_utc
from bot.domain.model import (
    Account,
    AccountOutcome,
    AccountResult,
    PublicationState,
    Queue,
    SubmissionReceipt,
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
from bot.providers.base import HttpProvider, MediaFile, RetryPolicy, SubmitRequest
from bot.providers.parsing import ID_MAX, parse_time, web_url
from bot.providers.parsing import format_utc_millis as format_time
from bot.providers.parsing import sentence as _sentence
from bot.providers.parsing import text as _text
from bot.providers.ratelimit import Limiter

log = logging.getLogger(__name__)

# §2 `network` values Postgate can publish to, including the spellings the official clients tolerate.
# Postoria also connects google_business_profile, pinterest, reddit and tumblr; Postgate has no Network
# for them, so those accounts are never offered as targets.
_NETWORKS = {
    "x": Network.X,
    "facebook": Network.FACEBOOK,
    "instagram": Network.INSTAGRAM,
    "linkedin": Network.LINKEDIN,
    "linked_in": Network.LINKEDIN,
    "threads": Network.THREADS,
    "youtube": Network.YOUTUBE,
    "you_tube": Network.YOUTUBE,
    "tiktok": Network.TIKTOK,
    "tik_tok": Network.TIKTOK,
    "telegram": Network.TELEGRAM,
    "bluesky": Network.BLUESKY,
}

# §5a: the upload types Postoria accepts, with the file extensions the official n8n node pairs them with.
_UPLOAD_EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
    "video/mp4": (".mp4",),
    "video/quicktime": (".mov",),
    "application/pdf": (".pdf",),
}
_UPLOAD_CHUNK = 256 * 1024

# Media polling starts at `media_poll_interval` and backs off to this many times it: the n8n node's flat
# 5 s polling costs 60 of the 300 requests per 5 minutes for every file being processed (§10).
_POLL_BACKOFF = 1.5
_POLL_MAX_FACTOR = 6

# The window find_submission searches, around the earlier try's send time and publish time.
_FIND_BEFORE = timedelta(minutes=15)
_FIND_AFTER = timedelta(hours=1)
_LIST_LIMIT = 100

_SYSTEM_CLOCK = SystemClock()


class PostoriaProvider(HttpProvider):
    """Publishes posts, with images and videos, through Postoria (https://api.postoria.io/v1)."""

    name = "postoria"
    display_name = "Postoria"
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
        clock: Clock = _SYSTEM_CLOCK,
        media_poll_interval: float = 5.0,
        media_wait: float = 600.0,
    ) -> None:
        client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )
        super().__init__(client=client, retry=retry, sleep=sleep, limiter=limiter, secrets=(api_key,))
        self._api_key = api_key
        self._workspace_id = workspace_id
        self._workspace = f"/workspaces/{quote(workspace_id, safe='')}"
        self._clock = clock
        self._media_poll_interval = media_poll_interval
        self._media_wait = media_wait

    def __repr__(self) -> str:
        # Only the address and workspace: a repr ends up in logs and tracebacks, and the key must not.
        return (
            f"PostoriaProvider(base_url={str(self._client.base_url)!r}, workspace_id={self._workspace_id!r})"
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PostoriaProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- accounts and queues ----------------------------------------------------------------------

    def list_accounts(self) -> list[Account]:
        return self._social_accounts()[0]

    def _social_accounts(self) -> tuple[list[Account], list[str]]:
        """(usable accounts, network names of the accounts Postgate cannot publish to)."""
        rows, complete = self._list_all(f"{self._workspace}/social-accounts", {"limit": _LIST_LIMIT})
        if not complete:
            log.warning("Postoria's social account list did not page to its end; showing what it gave")
        accounts: list[Account] = []
        unsupported: list[str] = []
        seen: set[str] = set()
        for row in rows:
            account_id = _id_text(row.get("id"))
            network_name = (_text(row.get("network")) or "").lower()
            if account_id is None or len(account_id) > ID_MAX or account_id in seen:
                continue  # a page served twice by a confused cursor lists its accounts twice
            seen.add(account_id)
            network = _NETWORKS.get(network_name)
            if network is None:
                unsupported.append(network_name or "unknown")
                continue
            accounts.append(
                Account(
                    provider=self.name,
                    account_id=account_id,
                    network=network,
                    name=_text(row.get("name")) or f"Postoria account {account_id}",
                    profile_url=web_url(row.get("url")),
                )
            )
        return accounts, unsupported

    def list_queues(self) -> list[Queue]:
        rows, _ = self._list_all(f"{self._workspace}/queues", {"limit": _LIST_LIMIT})
        queues = []
        for row in rows:
            queue_id = _id_text(row.get("id"))
            if queue_id is None:
                continue
            queues.append(
                Queue(
                    provider=self.name,
                    queue_id=queue_id,
                    name=_text(row.get("name")) or f"Queue {queue_id}",
                    paused=row.get("is_paused") is True,
                )
            )
        return queues

    def check_credentials(self) -> str:
        # GET /workspaces is the credential test the official n8n node uses (§1).
        workspaces, _ = self._list_all("/workspaces", {})
        workspace = next((w for w in workspaces if _id_text(w.get("id")) == self._workspace_id), None)
        if workspace is None:
            names = [_text(w.get("name")) or f"#{_id_text(w.get('id'))}" for w in workspaces]
            visible = ", ".join(names) if names else "no workspaces at all"
            raise ProviderAuthError(
                self.display_name,
                f"workspace {self._workspace_id} is not reachable with this key; the key can see: {visible}",
            )
        label = f"workspace {_text(workspace.get('name')) or self._workspace_id} ({self._workspace_id})"
        accounts, unsupported = self._social_accounts()
        extra = ""
        if unsupported:
            extra = (
                f" (plus {len(unsupported)} on networks Postgate cannot publish to: "
                f"{', '.join(sorted({n.replace('_', ' ') for n in unsupported}))})"
            )
        if not accounts:
            return (
                f"The key reaches {label}, but it has no social accounts Postgate can publish to{extra}; "
                "connect one in Postoria."
            )
        count = len(accounts)
        # The protocol asks for expired connections by name; Postoria does not expose that (§2).
        return (
            f"The key reaches {label} with {count} social account{'' if count == 1 else 's'}{extra}; "
            "Postoria does not report connection health, so an expired connection shows up only as a "
            "failed post."
        )

    # -- submit -----------------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> SubmissionReceipt:
        account_ids = [_int_id(a, "account") for a in request.account_ids]
        body: dict[str, Any] = {
            "social_account_ids": account_ids,
            "caption": request.text,
            "media_ids": self._prepare_media(request.media),
        }
        if request.comment_to_send is not None:
            # §3/§4: one top-level comment for every selected account. `comment_delay` is optional (§3)
            # and left out; Postoria does not document its default.
            body["first_comment"] = request.comment_to_send
        if request.queue_id is not None:
            body["publish_mode"] = "queue"
            body["queue_id"] = _int_id(request.queue_id, "queue")
        elif request.immediate:
            body["publish_mode"] = "publish_now"
        else:
            body["publish_mode"] = "schedule"
            body["scheduled_time"] = format_time(request.publish_at)
        # No idempotency key exists (§3): once the create may have arrived it must never be sent again;
        # the dispatcher settles such a try with find_submission.
        answer = self.request("POST", f"{self._workspace}/posts", json=body, retry_safe=False)
        post_id = _id_text(answer.get("id")) if isinstance(answer, Mapping) else None
        if post_id is None or len(post_id) > ID_MAX:
            raise ProviderOutcomeUnknown(self.display_name, "accepted the post but did not say its id")
        return SubmissionReceipt(external_id=post_id, effective_time=parse_time(answer.get("date")))

    def _prepare_media(self, media: tuple[MediaFile, ...]) -> list[int]:
        """Upload or import every file and wait until Postoria can use it; returns the media ids."""
        try:
            return [self._prepare_one(item) for item in media]
        except ProviderOutcomeUnknown as error:
            # Nothing here creates a post, so a lost answer only leaves an unused media item behind:
            # the whole submission may safely run again.
            raise ProviderUnavailable(
                self.display_name, f"{error.message} while preparing the media; no post was created"
            ) from None

    def _prepare_one(self, item: MediaFile) -> int:
        if item.url is not None:
            # §5b; only public HTTPS URLs are accepted, and Postoria says so in its 400.
            media = self._media_request("POST", f"{self._workspace}/media/imports", {"url": item.url})
        else:
            media = self._upload(item)
        return self._wait_until_usable(media, item.name)

    def _upload(self, item: MediaFile) -> Mapping[str, Any]:
        content_type = item.mime_type.lower()
        if content_type not in _UPLOAD_EXTENSIONS:
            raise ProviderRejected(
                self.display_name,
                f"Postoria does not take {item.mime_type} files ({item.name}); it takes JPEG, PNG, WebP and "
                "GIF images, MP4 and MOV videos, and PDF documents",
            )
        # Re-creating an upload slot is harmless (an unused slot expires), so these calls may be retried.
        created = self._media_request(
            "POST",
            f"{self._workspace}/media/uploads",
            {"name": _upload_name(item.name, content_type), "content_type": content_type},
        )
        upload = created.get("upload")
        upload_url = _text(upload.get("url")) if isinstance(upload, Mapping) else None
        if upload_url is None:
            raise ProviderUnavailable(self.display_name, f"gave no upload address for {item.name}")
        self._put_file(upload_url, item, content_type)
        media_id = _int_id(_id_text(created.get("id")) or "", "media")
        return self._media_request("POST", f"{self._workspace}/media/{media_id}/complete", {})

    def _put_file(self, url: str, item: MediaFile, content_type: str) -> None:
        """PUT the bytes to the signed storage URL.

        Built as a bare `httpx.Request` and sent through the same client, so none of the client's headers
        (the Authorization key above all) reach the storage host, yet the transport is shared. It goes to
        storage, not to the API, so it takes no slot of the API's rate limit. The declared Content-Type is
        part of what the URL was signed for, and Content-Length is set because storage refuses chunked
        uploads.
        """
        if item.path is None:
            raise ValueError(f"{item.name} has no downloaded bytes to upload")
        size = item.path.stat().st_size
        with item.open() as stream:
            upload = httpx.Request(
                "PUT",
                url,
                headers={"Content-Type": content_type, "Content-Length": str(size)},
                content=_chunks(stream),
                extensions={"timeout": self._client.timeout.as_dict()},
            )
            try:
                response = self._client.send(upload)
            except httpx.HTTPError as error:
                raise ProviderUnavailable(
                    self.display_name,
                    f"the upload of {item.name} failed ({type(error).__name__}); no post was created",
                ) from None
        if response.is_success:
            return
        text = f"its file storage answered HTTP {response.status_code} to the upload of {item.name}"
        if response.status_code >= 500:
            raise ProviderUnavailable(self.display_name, text, status=response.status_code)
        raise ProviderRejected(self.display_name, text, status=response.status_code)

    def _media_request(self, method: str, path: str, body: Mapping[str, Any] | None) -> Mapping[str, Any]:
        answer = self.request(method, path, json=body)
        if not isinstance(answer, Mapping) or _id_text(answer.get("id")) is None:
            raise ProviderUnavailable(self.display_name, "answered a media request without a media object")
        return answer

    def _wait_until_usable(self, media: Mapping[str, Any], label: str) -> int:
        """Poll the media item until it is `ready` with a `file_id`, or failed, or `media_wait` passed."""
        media_id = _int_id(_id_text(media.get("id")) or "", "media")
        started = self._clock.now()
        pause = self._media_poll_interval
        while True:
            status = (_text(media.get("status")) or "").lower()
            # `ready` alone is not enough: the file is usable only once `file_id` is set too (§5).
            if status == "ready" and _id_text(media.get("file_id")) is not None:
                return media_id
            if status == "failed":
                reason = _text(media.get("error_message")) or _text(media.get("error_code"))
                raise ProviderRejected(
                    self.display_name,
                    f"Postoria could not process {label}: {reason or 'it gave no reason'}",
                    code=_text(media.get("error_code")),
                )
            waited = (self._clock.now() - started).total_seconds()
            if waited >= self._media_wait:
                raise ProviderUnavailable(
                    self.display_name,
                    f"Postoria was still processing {label} after {self._media_wait:g} s; "
                    "trying again later may work",
                )
            self._sleep(min(pause, self._media_wait - waited))
            pause = min(pause * _POLL_BACKOFF, self._media_poll_interval * _POLL_MAX_FACTOR)
            media = self._media_request("GET", f"{self._workspace}/media/{media_id}", None)

    # -- state ------------------------------------------------------------------------------------

    def read_state(self, external_id: str, request: SubmitRequest) -> PublicationState:
        post = self._read_post(external_id)
        if post is None:
            return _all_failed(request, "the post no longer exists in Postoria (deleted there?)")
        status = (_text(post.get("status")) or "").lower()
        results = _results_by_account(post)
        outcomes = []
        for account_id in request.account_ids:
            account = request.account(account_id)
            network = account.network if account else None
            link, error = results.get(account_id, (None, None))
            if link is not None:
                # Any link means Postoria published it; only a web address is kept to show.
                outcomes.append(
                    AccountResult(account_id, network, AccountOutcome.PUBLISHED, url=web_url(link))
                )
            elif error is not None:
                outcomes.append(
                    AccountResult(
                        account_id, network, AccountOutcome.FAILED, error=f"Postoria said: {_sentence(error)}"
                    )
                )
            elif status == "posted":
                outcomes.append(
                    AccountResult(
                        account_id,
                        network,
                        AccountOutcome.FAILED,
                        error="Postoria finished the post but reported nothing for this account.",
                    )
                )
            elif status == "failed":
                # §6 lists no `failed` post status (UNCONFIRMED); should one appear, an account without a
                # link did not go out.
                outcomes.append(
                    AccountResult(
                        account_id,
                        network,
                        AccountOutcome.FAILED,
                        error="Postoria marked the post failed without a reason for this account.",
                    )
                )
            else:
                # draft/scheduled/queued/in_progress, and statuses Postoria may add: not yet.
                outcomes.append(AccountResult(account_id, network, AccountOutcome.PENDING))
        return PublicationState(tuple(outcomes))

    def _read_post(self, external_id: str) -> Mapping[str, Any] | None:
        """The Post object, or None when Postoria answers 404."""
        try:
            post = self.request("GET", self._post_path(external_id))
        except ProviderRejected as error:
            if error.status == 404:
                return None
            raise
        if not isinstance(post, Mapping):
            raise ProviderUnavailable(self.display_name, "answered without a post object")
        return post

    def _post_path(self, external_id: str) -> str:
        return f"{self._workspace}/posts/{quote(external_id, safe='')}"

    # -- finding an earlier try -------------------------------------------------------------------

    def find_submission(self, request: SubmitRequest, *, sent_at: datetime) -> SubmissionReceipt | None:
        # Postoria stores the post synchronously: once a create has returned, the record exists (§3). So
        # when the earlier try's post is absent from the list, that try was not stored and sending again
        # cannot duplicate it.
        earliest = min(as_utc(request.publish_at), as_utc(sent_at)) - _FIND_BEFORE
        base = {"account_ids": [_int_id(a, "account") for a in request.account_ids], "limit": _LIST_LIMIT}
        path = f"{self._workspace}/posts"
        window = {**base, "date_from": format_time(earliest)}
        if request.queue_id is None:
            window["date_to"] = format_time(max(as_utc(request.publish_at), as_utc(sent_at)) + _FIND_AFTER)
        # A queued post's date is the queue's next slot, which only Postoria knows: no upper bound then.
        rows, complete = self._list_all(path, window)
        match, unsure = _find_match(rows, request, earliest)
        if match is None:
            # UNCONFIRMED (§6): whether publish_now posts are listed with a `date` inside that window. The
            # newest posts of these accounts, unfiltered by date, cover that case.
            recent, _ = self._list_all(path, base, max_pages=1)
            match, unsure_recent = _find_match(recent, request, earliest)
            unsure = unsure or unsure_recent
        if match is not None:
            return SubmissionReceipt(external_id=match[0], effective_time=parse_time(match[1].get("date")))
        if unsure:
            raise ProviderOutcomeUnknown(
                self.display_name,
                "lists a post for these accounts at that time but without its text, so it cannot tell "
                "whether the earlier try created it",
            )
        if not complete:
            raise ProviderOutcomeUnknown(
                self.display_name,
                "could not read its whole post list, so it cannot tell whether the earlier try created "
                "the post",
            )
        return None

    # -- cancel -----------------------------------------------------------------------------------

    def cancel(self, external_id: str, request: SubmitRequest) -> None:
        # Re-read first: near the publish time Postoria may already be publishing, and a delete then does
        # not stop the in-flight work (README pitfall 10).
        post = self._read_post(external_id)
        if post is None:
            log.info("Postoria post %s is already gone; nothing to cancel", external_id)
            return
        status = (_text(post.get("status")) or "").lower()
        results = _results_by_account(post)
        if any(link is not None for link, _ in results.values()):
            raise ProviderTooLate(
                self.display_name,
                "the post is already live; deleting it in Postoria would not remove it from the networks",
                live=True,
            )
        failed_everywhere = all(results.get(a, (None, None))[1] is not None for a in request.account_ids)
        if status in ("posted", "failed") and request.account_ids and failed_everywhere:
            raise ProviderRejected(
                self.display_name, "publishing already finished and failed; nothing is left to cancel"
            )
        if status == "posted":
            raise ProviderTooLate(
                self.display_name,
                "Postoria already published the post; deleting it there would not remove it from the "
                "networks",
                live=True,
            )
        if status == "in_progress":
            raise ProviderTooLate(
                self.display_name, "Postoria is publishing it right now; it may still go out", live=False
            )
        try:
            self.request("DELETE", self._post_path(external_id), retry_safe=False)
        except ProviderRejected as error:
            if error.status == 404:
                return  # deleted in the meantime
            raise
        except ProviderOutcomeUnknown:
            # A timeout or 5xx on the delete: whether the post is gone settles it.
            if self._read_post(external_id) is not None:
                raise ProviderUnavailable(
                    self.display_name, "did not confirm the delete and still has the post"
                ) from None

    # -- errors -----------------------------------------------------------------------------------

    def error_message(self, response: httpx.Response, body: Any) -> tuple[str, str | None]:
        status = response.status_code
        envelope = body.get("error") if isinstance(body, Mapping) else None
        code: str | None = None
        message: str | None = None
        param: str | None = None
        if isinstance(envelope, Mapping):
            code = _text(envelope.get("code"))
            message = _text(envelope.get("message"))
            param = _text(envelope.get("param"))
            request_id = _text(envelope.get("request_id"))
            if request_id:
                log.debug("Postoria answered HTTP %s (%s), request id %s", status, code, request_id)
        elif isinstance(envelope, str):
            message = _text(envelope)
        text = message or f"answered HTTP {status} {response.reason_phrase}".rstrip()
        if param and param not in text:
            text = f"{text} (field {param})"
        if status == 403:
            text = f"the Postoria plan or key does not allow this: {text}"
        return self._scrub(text), code

    def classify_error(self, status: int, code: str | None) -> type[ProviderError] | None:
        if status in (401, 403) or code == "invalid_api_key":
            return ProviderAuthError
        if status in (400, 404, 422):
            return ProviderRejected
        # 429 and 5xx: the base class (Retry-After / X-RateLimit-Reset when sent; §10 leaves them open).
        return None

    def _scrub(self, text: str) -> str:
        # Postoria has no reason to echo the key, but an error text must never be the place it leaks.
        return text.replace(self._api_key, "[api key]") if self._api_key else text

    # -- pagination -------------------------------------------------------------------------------

    def _list_all(
        self, path: str, params: Mapping[str, Any], *, max_pages: int | None = None
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Every `data[]` row of a cursor-paginated list (§12), and whether the list was read to its end.

        A cursor Postoria already gave (or `has_more` without a cursor) ends the loop as incomplete
        rather than looping forever.
        """
        rows: list[Mapping[str, Any]] = []
        used: set[str] = set()
        query = dict(params)
        pages = 0
        while True:
            body = self.request("GET", path, params=query)
            data = body.get("data") if isinstance(body, Mapping) else None
            if not isinstance(data, list):
                raise ProviderUnavailable(self.display_name, f"answered {path} without a data list")
            rows.extend(row for row in data if isinstance(row, Mapping))
            pages += 1
            pagination = body.get("pagination")
            if not isinstance(pagination, Mapping) or pagination.get("has_more") is not True:
                return rows, True
            cursor = _id_text(pagination.get("next_cursor"))
            if max_pages is not None and pages >= max_pages:
                return rows, False
            if cursor is None or cursor in used:
                log.warning(
                    "Postoria's pagination of %s did not advance; stopping after %d pages", path, pages
                )
                return rows, False
            used.add(cursor)
            query["cursor"] = cursor


# -- posts ------------------------------------------------------------------------------------------


def _results_by_account(post: Mapping[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    """account id → (link_to_post, error) from `results[]`; whether results exist before publishing is
    UNCONFIRMED (§6), so an empty list is normal."""
    found: dict[str, tuple[str | None, str | None]] = {}
    results = post.get("results")
    for row in results if isinstance(results, list) else []:
        if not isinstance(row, Mapping):
            continue
        account_id = _id_text(row.get("account_id"))
        if account_id is not None:
            found[account_id] = (_text(row.get("link_to_post")), _text(row.get("error")))
    return found


def _all_failed(request: SubmitRequest, error: str) -> PublicationState:
    results = []
    for account_id in request.account_ids:
        account = request.account(account_id)
        network = account.network if account else None
        results.append(AccountResult(account_id, network, AccountOutcome.FAILED, error=error))
    return PublicationState(tuple(results))


def _find_match(
    posts: list[Mapping[str, Any]], request: SubmitRequest, earliest: datetime
) -> tuple[tuple[str, Mapping[str, Any]] | None, bool]:
    """((id, post) of the listed post that is `request`'s earlier try, or None; whether a candidate
    without any caption to compare was seen).

    The earlier try has the same caption (whitespace-normalised) and accounts, and is dated no earlier
    than it could have been.
    """
    caption = _normalise(request.text)
    wanted_ids = set(request.account_ids)
    wanted_networks = (
        {a.network for a in request.accounts}
        if request.accounts and {a.account_id for a in request.accounts} >= wanted_ids
        else None
    )
    captionless = False
    for post in posts:
        post_id = _id_text(post.get("id"))
        if post_id is None:
            continue
        date = parse_time(post.get("date"))
        if date is not None and date < earliest:
            continue  # an older post with the same text is not this try
        # The list's account filter may match posts sharing any one account; compare the full set with
        # what the post shows: results[] account ids, or else the networks it carries content for.
        listed_ids = set(_results_by_account(post))
        if listed_ids and listed_ids != wanted_ids:
            continue
        post_networks = {network for key, network in _NETWORKS.items() if isinstance(post.get(key), Mapping)}
        if not listed_ids and wanted_networks and post_networks and post_networks != wanted_networks:
            continue
        captions = _captions(post)
        if not captions:
            captionless = True
        elif caption in captions:
            return (post_id, post), captionless
    return None, captionless


def _captions(post: Mapping[str, Any]) -> set[str]:
    """Every caption a Post shows: a top-level `caption` if present, and the per-network blocks' (§6)."""
    blocks: list[Any] = [post, *(post.get(key) for key in _NETWORKS)]
    return {
        _normalise(block["caption"])
        for block in blocks
        if isinstance(block, Mapping) and isinstance(block.get("caption"), str)
    }


# -- small helpers ----------------------------------------------------------------------------------


def _upload_name(name: str, content_type: str) -> str:
    """A bare file name whose extension matches `content_type` (the n8n node's rule, §5a)."""
    bare = PurePath(name.replace("\\", "/")).name.strip() or "upload"
    extensions = _UPLOAD_EXTENSIONS[content_type]
    return bare if bare.lower().endswith(extensions) else f"{bare}{extensions[0]}"


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(_UPLOAD_CHUNK):
        yield chunk


def _int_id(value: str, what: str) -> int:
    """Postoria ids are integers (§1); anything else cannot be one of its ids."""
    if not re.fullmatch(r"\d+", value.strip()):
        raise ProviderRejected(PostoriaProvider.display_name, f"{value!r} is not a Postoria {what} id")
    return int(value)


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _text(value)


def _normalise(text: str) -> str:
    return " ".join(text.split())
