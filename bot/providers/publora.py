"""Publora as a publishing provider: its REST shapes mapped onto `bot.providers.base.Provider`.

This module owns everything Publora-specific: which connections become Postgate accounts, the
create-post body and `Idempotency-Key`, the media pipeline (public links imported by Publora, or files
uploaded into a draft that is scheduled afterwards), reading a post group back into per-account
outcomes (building links Publora leaves out and turning its error codes into advice), cancelling
safely, reading Publora's webhooks (signature check and event parsing, no HTTP), and parsing Publora's
several error envelopes. The contract it follows is `shared/providers/publora.md`; section numbers
below (§n) refer to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bot.domain.model import (
    Account,
    AccountOutcome,
    AccountResult,
    MediaKind,
    PublicationState,
    SubmissionReceipt,
)
from bot.domain.networks import Network
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderStartOver,
    ProviderTooLate,
    ProviderUnavailable,
)
from bot.providers.base import HttpProvider, MediaFile, RetryPolicy, SubmitRequest
from bot.providers.parsing import ID_MAX, identifier, parse_time, web_url
from bot.providers.parsing import format_utc_millis as format_time
from bot.providers.parsing import sentence as _sentence
from bot.providers.parsing import text as _text

log = logging.getLogger(__name__)

_GROUP_FINAL = {"published", "failed", "partially_published"}
_GROUP_NOT_STARTED = {"draft", "scheduled"}
_TARGET_IN_FLIGHT = {"pending", "processing"}
_TARGET_WAITING = {"draft", "scheduled", "pending", "processing"}

# §5a: the `type` of get-upload-url; anything else is refused before a draft is made.
_UPLOAD_TYPES = {
    MediaKind.IMAGE: "image",
    MediaKind.GIF: "image",
    MediaKind.VIDEO: "video",
    MediaKind.DOCUMENT: "document",
}
_MEDIA_WORDS = {
    MediaKind.IMAGE: "image",
    MediaKind.GIF: "GIF",
    MediaKind.VIDEO: "video",
    MediaKind.DOCUMENT: "document",
}
#: §3/§5b: create-post imports at most this many `mediaUrls`.
MAX_MEDIA_URLS = 10
# Media rows of get-post (§5) that name a file already attached by an earlier try of a submission.
_MEDIA_ATTACHED = {"ready", "uploading", "failed"}

# Advice shown before Publora's own text for the publish-time codes of §6. The list is open-ended:
# unknown codes fall back to Publora's message alone.
_PUBLISH_ADVICE = {
    "PLATFORM_AUTH_EXPIRED": "The connection to this account has expired; reconnect it in Publora.",
    "RATE_LIMITED": "The network is rate-limiting this account; posting again later should work.",
    "INVALID_CONTENT": "The network refused the text of the post.",
    "CONTENT_TOO_LARGE": "The post is too long or too large for this network.",
    "PLATFORM_SERVER_ERROR": "The network had a server error; posting again later may work.",
    "NETWORK_ERROR": "Publora could not reach the network; posting again later may work.",
    "TIMEOUT_ERROR": (
        "The network did not answer in time, so the post may still have gone out; "
        "check the account before posting again."
    ),
    "UNKNOWN_ERROR": "Publishing failed for a reason Publora could not identify.",
    "PLATFORM_VALIDATION_ERROR": "The network rejected the post's content or settings.",
    "X_REPLY_NOT_AUTHORIZED": "X does not allow this account to reply to that post.",
    "X_TARGET_REJECTED": "X refused the post.",
    "THREAD_PARTIALLY_PUBLISHED": (
        "Only part of the thread was published, so the post may be partly live; "
        "check the account before posting again."
    ),
    "PUBLISH_OUTCOME_UNKNOWN": (
        "Publora could not tell whether the post went out, so it may be partly live; "
        "check the account before posting again."
    ),
    "THREADS_INVALID_THREAD_PART": "Threads refused one part of the thread.",
    "THREADS_PERMISSION_REQUIRED": (
        "The Threads connection lacks permission to post replies; reconnect it in Publora and grant it."
    ),
}

_PLATFORM_NAMES = {network.value: network.display_name for network in Network}

# Postgate checks media-required networks before approval; should Publora still refuse, say what to do.
_MEDIA_ADVICE = {
    "MEDIA_REQUIRED": "Attach an image or video (YouTube: a video) to post there.",
    "VIDEO_REQUIRED": "Attach a video to post there.",
}


@dataclass(frozen=True)
class _Connection:
    """One usable row of `GET /platform-connections`, already mapped to Postgate's view."""

    account: Account
    token_status: str


class PubloraProvider(HttpProvider):
    """Publishes posts, with their images and videos, through Publora (https://api.publora.com/api/v1)."""

    name = "publora"
    display_name = "Publora"
    idempotent_submit = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_id: str | None = None,
    ) -> None:
        headers = {"x-publora-key": api_key, "Accept": "application/json"}
        if user_id:
            headers["x-publora-user-id"] = user_id
        client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )
        super().__init__(client=client, retry=retry, sleep=sleep, secrets=(api_key,))
        self._api_key = api_key
        # Presigned storage URLs get the bytes and nothing else: a client without the default headers,
        # so the API key can never travel to the storage host (pitfall 6).
        self._storage = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=5.0), transport=transport, follow_redirects=False
        )

    def __repr__(self) -> str:
        # Only the address: a repr ends up in logs and tracebacks, and the key must never go there.
        return f"PubloraProvider(base_url={str(self._client.base_url)!r})"

    def close(self) -> None:
        self._client.close()
        self._storage.close()

    def __enter__(self) -> PubloraProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- accounts ---------------------------------------------------------------------------------

    def list_accounts(self) -> list[Account]:
        return [connection.account for connection in self._connections()]

    def check_credentials(self) -> str:
        connections = self._connections()
        if not connections:
            return "The API key works, but no accounts are connected; connect one in the Publora dashboard."
        count = len(connections)
        summary = f"{count} connected account{'' if count == 1 else 's'}"
        details = []
        for status, word in (("expired", "expired"), ("expiring_soon", "expiring soon")):
            labels = [c.account.label for c in connections if c.token_status == status]
            if labels:
                pronoun = "it" if len(labels) == 1 else "them"
                details.append(f"{len(labels)} {word}: {', '.join(labels)} — reconnect {pronoun} in Publora")
        for connection in connections:
            label = connection.account.label
            if connection.token_status == "expired":
                continue  # already named above; testing it again adds nothing
            if _is_mtproto(connection.account):
                # Publora's test-connection answers "Invalid bot connection" for every Telegram MTProto
                # connection, which publishes all the same: its test only knows bot connections.
                details.append(
                    f"{label}: not testable (a Telegram MTProto connection; Publora tests bots only)"
                )
                continue
            problem, missing = self._test_connection(connection.account.account_id)
            if problem:
                details.append(f"{label} failed its connection test: {problem}")
            for permission, consequence in _NEEDED_PERMISSIONS.get(connection.account.network, ()):
                if permission in missing:
                    details.append(
                        f"{label} lacks the {permission} permission: {consequence}; "
                        "reconnect it in Publora and grant it"
                    )
        return f"{summary} ({'; '.join(details)})" if details else summary

    def _test_connection(self, platform_id: str) -> tuple[str | None, frozenset[str]]:
        """Publora's own check of one connection: (what is wrong or None, the needed permissions it
        lacks among those `_NEEDED_PERMISSIONS` names)."""
        try:
            answer = self.request("POST", f"/test-connection/{_segment(platform_id)}")
        except ProviderError as error:
            return f"the test could not run ({error.message})", frozenset()
        if not isinstance(answer, Mapping):
            return None, frozenset()
        # The documented answer is {status: "ok"|"error", message, permissions, tokenExpiresIn}, with
        # HTTP 200 even when the test fails. Booleans (success/ok/valid) are still read, though no source
        # shows them, since an answer without a status word must not pass as broken.
        verdict = None
        if isinstance(answer.get("status"), str):
            verdict = answer["status"].lower() in ("ok", "valid", "success", "connected")
        if verdict is None:
            verdict = next(
                (answer[k] for k in ("success", "ok", "valid") if isinstance(answer.get(k), bool)), None
            )
        missing = _missing_permissions(answer.get("permissions"))
        if verdict is not False:
            return None, missing
        return _text(answer.get("error")) or _text(answer.get("message")) or "no reason given", missing

    def _connections(self) -> list[_Connection]:
        body = self.request("GET", "/platform-connections")
        rows = body.get("connections") if isinstance(body, Mapping) else None
        if not isinstance(rows, list):
            raise ProviderUnavailable(self.display_name, "answered without a list of connections")
        connections = []
        for row in rows:
            connection = _parse_connection(row)
            if connection is not None:
                connections.append(connection)
        return connections

    # -- submit -----------------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> SubmissionReceipt:
        _check_media(self.display_name, request.media)
        files = [media for media in request.media if media.path is not None]
        urls = [media.url for media in request.media if media.path is None and media.url]
        if files:
            return self._submit_with_uploads(request, files, urls)
        # Text only, or only public links Publora imports itself (§5b): one create does it all.
        body = self._post_body(request, urls)
        body["scheduledTime"] = format_time(request.publish_at)
        answer = self.request(
            "POST",
            "/create-post",
            json=body,
            headers={"Idempotency-Key": request.idempotency_key},
            retry_safe=True,
        )
        return SubmissionReceipt(
            external_id=self._group_id(answer),
            effective_time=parse_time(answer.get("scheduledTime")),
            notes=tuple(_warning_texts(answer.get("warnings"))),
        )

    @staticmethod
    def _post_body(request: SubmitRequest, urls: Sequence[str]) -> dict[str, Any]:
        # Every body must be byte-for-byte the same function of `request` on every attempt: Publora
        # answers 422 IDEMPOTENCY_KEY_CONFLICT when a reused key arrives with a different body, so
        # nothing here may depend on the current time.
        body: dict[str, Any] = {"content": request.text, "platforms": list(request.account_ids)}
        if urls:
            body["mediaUrls"] = list(urls)
        comment = request.comment_to_send
        if comment is not None:
            # §4: only the plural form (never beside the legacy `firstComment`), and no `platforms`, so
            # every target whose network takes comments gets it; Publora skips the others with a warning.
            # It rides on the create, drafts included: update-post patches (§7), so scheduling a draft
            # keeps the comment without sending it a second time.
            body["firstComments"] = [{"text": comment, "delaySeconds": 0}]
        return body

    def _group_id(self, answer: Any) -> str:
        group_id = answer.get("postGroupId") if isinstance(answer, Mapping) else None
        if not isinstance(group_id, str) or not group_id or len(group_id) > ID_MAX:
            # A 200 without an id may still have stored the post; the key lets a later retry find out.
            raise ProviderOutcomeUnknown(
                self.display_name, "accepted the post but did not say its postGroupId"
            )
        return group_id

    def _submit_with_uploads(
        self, request: SubmitRequest, files: Sequence[MediaFile], urls: Sequence[str]
    ) -> SubmissionReceipt:
        """§5a: a draft, each file uploaded into it, then the draft scheduled (pitfall 6).

        Uploading into a scheduled group would demote it to a draft that silently never publishes, so
        the group stays a draft until every file is in. Public links ride along on the draft (they are
        imported first, so in the post they come before the uploaded files).
        """
        answer = self.request(
            "POST",
            "/create-post",
            json=self._post_body(request, urls),
            headers={"Idempotency-Key": f"{request.idempotency_key}:draft"},
            retry_safe=True,
        )
        group_id = self._group_id(answer)
        notes = list(_warning_texts(answer.get("warnings")))
        try:
            group = self._get_group(group_id)
            if (_text(group.get("status")) or "draft").lower() == "draft":
                self._attach_files(group_id, group, files)
                scheduled = self._schedule_draft(group_id, request)
            else:
                scheduled = None
        except ProviderError as error:
            if not error.retryable:
                # Nothing will come back for this draft: a retry of a refused submission is not made.
                self._discard_draft(group_id)
            raise
        if scheduled is None:
            # An earlier try of this submission got as far as scheduling; its answer was lost. Its files
            # were all in then, but the group may have lost them since (an edit in Publora's dashboard),
            # and a receipt now would report a text-only post as published.
            missing = _missing_files(group, files)
            if missing:
                raise self._without_media(group_id, group, missing, request)
            return SubmissionReceipt(group_id, parse_time(group.get("scheduledTime")), tuple(notes))
        summary = scheduled.get("postGroup")
        effective = parse_time(scheduled.get("scheduledTime"))
        if effective is None and isinstance(summary, Mapping):
            effective = parse_time(summary.get("scheduledTime"))
        notes.extend(_warning_texts(scheduled.get("warnings")))
        return SubmissionReceipt(group_id, effective, tuple(notes))

    def _without_media(
        self,
        group_id: str,
        group: Mapping[str, Any],
        missing: Sequence[MediaFile],
        request: SubmitRequest,
    ) -> ProviderError:
        """The error for a group past draft that lacks `missing`, after taking it back if it can be.

        Files cannot be uploaded into a scheduled group (it would silently turn into a draft), so one that
        has not started is withdrawn exactly as a cancel does (paused, then deleted) and the post starts
        over under a fresh key; one that has started or is live is left for a person to judge.
        """
        names = ", ".join(f"{_media_word(media)} {media.name}" for media in missing)
        start_over = ProviderStartOver(
            self.display_name,
            f"Publora held this post without its {names}, so Postgate withdrew it there; "
            "it is sent afresh with its media on the next try",
            code="MEDIA_LOST",
        )
        refusal = self._too_late(group)
        if refusal is None:
            try:
                self.cancel(group_id, request)
            except ProviderTooLate as late:
                refusal = late
            else:
                return start_over
        elif (_text(group.get("status")) or "").lower() == "failed":
            # Every target failed, so nothing is out: the group's records can go and the post start over.
            self._discard_draft(group_id)
            return start_over
        if refusal.live:
            what = "already published this post"
        else:
            what = "started publishing this post"
        return ProviderRejected(
            self.display_name,
            f"Publora {what} without its {names}; check the accounts, and delete the post there if it "
            "should not stay up",
            code="MEDIA_LOST",
        )

    def _attach_files(self, group_id: str, group: Mapping[str, Any], files: Sequence[MediaFile]) -> None:
        # get-upload-url has no idempotency key, so retries stay idempotent here instead: an earlier try
        # of this submission left its files in the draft's media list under the file name we sent, and
        # such a file is not uploaded again (only replaced when its bytes never arrived or failed).
        unclaimed = [
            entry
            for entry in _list(group.get("media"))
            if isinstance(entry, Mapping) and (_text(entry.get("status")) or "").lower() in _MEDIA_ATTACHED
        ]
        for media in files:
            entry = _take_entry(unclaimed, media.name)
            try:
                if entry is not None and self._keep_existing(entry):
                    continue
                self._upload(group_id, media)
            except ProviderRejected as error:
                raise ProviderRejected(
                    self.display_name,
                    f"Publora could not take the {_media_word(media)} {media.name}: {error.message}",
                    status=error.status,
                    code=error.code,
                ) from None

    def _keep_existing(self, entry: Mapping[str, Any]) -> bool:
        """Whether a file an earlier try attached is usable; an unusable one is removed for a new upload."""
        media_id = _text(entry.get("mediaId"))
        status = (_text(entry.get("status")) or "").lower()
        if status == "ready":
            return True
        if media_id is None:
            return False
        if status == "uploading" and self._complete_existing(media_id):
            return True
        try:
            self.request("DELETE", f"/media/{_segment(media_id)}")
        except ProviderRejected as error:
            if error.status != 404:  # 404: already gone, which is what we wanted
                raise
        return False

    def _complete_existing(self, media_id: str) -> bool:
        try:
            answer = self.request("POST", f"/complete-media/{_segment(media_id)}")
        except ProviderRejected:
            return False  # PROBE_FAILED and friends: the earlier try's bytes never arrived (or are bad)
        return _media_status(answer)[0] == "ready"

    def _upload(self, group_id: str, media: MediaFile) -> None:
        kind = _UPLOAD_TYPES[media.kind]
        # Not retry-safe: a lost answer would leave a second media row. The next try of the whole
        # submission finds the row by its file name instead (see `_attach_files`).
        answer = self.request(
            "POST",
            "/get-upload-url",
            json={
                "fileName": media.name,
                "contentType": media.mime_type,
                "type": kind,
                "postGroupId": group_id,
            },
            retry_safe=False,
        )
        upload_url = _text(answer.get("uploadUrl")) if isinstance(answer, Mapping) else None
        media_id = _text(answer.get("mediaId")) if isinstance(answer, Mapping) else None
        if upload_url is None or media_id is None:
            raise ProviderUnavailable(self.display_name, "answered get-upload-url without an upload address")
        self._put_bytes(media, upload_url)
        # complete-media probes the bytes now (503 PROBE_* answers are retried like any retry-safe 5xx),
        # so a bad file is named here rather than by a vaguer MEDIA_NOT_READY at scheduling.
        status, reason = _media_status(self.request("POST", f"/complete-media/{_segment(media_id)}"))
        if status == "ready":
            return
        if status == "failed":
            raise ProviderRejected(self.display_name, reason or "Publora's check of the file failed")
        raise ProviderUnavailable(self.display_name, f"the file is still being checked (status {status!r})")

    def _put_bytes(self, media: MediaFile, upload_url: str) -> None:
        """PUT the file to its presigned URL, streamed, with exactly the declared Content-Type (§5a).

        The URL itself is a credential for an hour, so it never appears in messages either.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                with media.open() as stream:
                    # A file object gives httpx its length: S3 refuses chunked uploads without one.
                    response = self._storage.put(
                        upload_url, content=stream, headers={"Content-Type": media.mime_type}
                    )
            except OSError as error:
                raise ProviderRejected(
                    self.display_name, f"the downloaded file could not be read ({error.strerror or error})"
                ) from None
            except httpx.HTTPError as error:
                failure: ProviderError = ProviderUnavailable(
                    self.display_name, f"the upload to Publora's storage failed ({type(error).__name__})"
                )
            else:
                if response.is_success:
                    return
                status = response.status_code
                reason = _storage_error(response)
                if status < 500 and status not in (408, 429):
                    raise ProviderRejected(
                        self.display_name, f"Publora's storage refused the upload (HTTP {status}{reason})"
                    )
                failure = ProviderUnavailable(
                    self.display_name, f"Publora's storage failed (HTTP {status}{reason})", status=status
                )
            # The same bytes to the same presigned key: repeating the PUT is harmless.
            if attempt >= self._retry.attempts:
                raise failure
            delay = self._retry.delay(attempt)
            log.warning(
                "Publora upload of %s failed (%s); retrying in %.1fs", media.name, failure.message, delay
            )
            self._sleep(delay)

    def _schedule_draft(self, group_id: str, request: SubmitRequest) -> Mapping[str, Any]:
        # Both status and a time (§7: status alone re-validates a stale stored time).
        try:
            answer = self.request(
                "PUT",
                f"/update-post/{_segment(group_id)}",
                json={"status": "scheduled", "scheduledTime": format_time(request.publish_at)},
                headers={"Idempotency-Key": f"{request.idempotency_key}:schedule"},
                retry_safe=True,
            )
        except ProviderRejected as error:
            if error.code != "MEDIA_NOT_READY":
                raise
            # Whether Publora records a 4xx answer under the key is UNCONFIRMED (§3 says only "response
            # recorded"); if it does, later tries replay this until the key expires. complete-media
            # above makes every file ready first, so this is a race rather than the normal path.
            raise ProviderUnavailable(
                self.display_name,
                "Publora is still processing the media; scheduling again shortly should work",
                status=error.status,
                code=error.code,
            ) from None
        if not isinstance(answer, Mapping):
            raise ProviderOutcomeUnknown(self.display_name, "answered update-post without a body")
        return answer

    def _discard_draft(self, group_id: str) -> None:
        try:
            self.request("DELETE", f"/delete-post/{_segment(group_id)}")
        except ProviderError as error:
            # Best effort: the submission's own error is what the user needs to see.
            log.warning("Publora draft %s could not be deleted: %s", group_id, error.message)

    # -- state ------------------------------------------------------------------------------------

    def read_state(self, external_id: str, request: SubmitRequest) -> PublicationState:
        accounts = request.accounts
        group = self._get_group(external_id)
        group_status = _text(group.get("status")) or ""
        submitted = [p for p in _list(group.get("platforms")) if isinstance(p, str)]
        by_id = {account.account_id: account for account in accounts}
        logs: list[Mapping[str, Any]] | None = None

        results: list[AccountResult] = []
        seen: set[str] = set()
        for post in _list(group.get("posts")):
            if not isinstance(post, Mapping):
                continue
            platform = (_text(post.get("platform")) or "").lower()
            account_id = _target_id(platform, _text(post.get("platformId")) or "", submitted)
            if account_id in seen:
                continue
            seen.add(account_id)
            account = by_id.get(account_id)
            status = (_text(post.get("status")) or "").lower()
            network = Network.parse(platform) if platform else None
            outcome = _outcome(status)
            url = _post_url(platform, post, account) if outcome is not AccountOutcome.PENDING else None
            error = None
            if outcome is AccountOutcome.FAILED:
                code, message = _post_error(post)
                if not message:
                    if logs is None:
                        logs = self._logs(external_id)
                    log_code, message = _latest_failure(logs, post)
                    code = code or log_code
                error = failure_text(code, message)
            results.append(AccountResult(account_id, network, outcome, url=url, error=error))

        # Targets Publora listed or we submitted but that have no post row (yet).
        for account_id in [*submitted, *by_id]:
            if account_id in seen:
                continue
            seen.add(account_id)
            account = by_id.get(account_id)
            network = account.network if account else Network.parse(account_id.partition("-")[0])
            if group_status in _GROUP_FINAL:
                results.append(
                    AccountResult(
                        account_id,
                        network,
                        AccountOutcome.FAILED,
                        error="Publora finished the post but reported nothing for this account.",
                    )
                )
            else:
                results.append(AccountResult(account_id, network, AccountOutcome.PENDING))
        return PublicationState(tuple(results))

    def _get_group(self, external_id: str) -> Mapping[str, Any]:
        # Malformed ids make Publora answer 500 (§6); the base class treats that as any retry-safe 5xx.
        body = self.request("GET", f"/get-post/{_segment(external_id)}")
        if not isinstance(body, Mapping):
            raise ProviderUnavailable(self.display_name, "answered get-post without a post group")
        return body

    def _logs(self, external_id: str) -> list[Mapping[str, Any]]:
        try:
            body = self.request("GET", f"/post-logs/{_segment(external_id)}")
        except ProviderError as error:
            # The logs only refine an error text; losing them must not hide the state we already have.
            log.warning("Publora post-logs for %s unavailable: %s", external_id, error.message)
            return []
        rows = body.get("logs") if isinstance(body, Mapping) else None
        return [row for row in _list(rows) if isinstance(row, Mapping)]

    # -- cancel -----------------------------------------------------------------------------------

    def cancel(self, external_id: str, request: SubmitRequest) -> None:
        # Re-read first: near the scheduled time Publora may already be publishing, and deleting then
        # does not stop the in-flight work (§7).
        try:
            group = self._get_group(external_id)
        except ProviderRejected as error:
            if error.status == 404:
                log.info("Publora post group %s is already gone; nothing to cancel", external_id)
                return
            raise
        too_late = self._too_late(group)
        if too_late is not None:
            raise too_late
        # §7 suggests `update-post {status: "draft"}` to pause, and that alone would leave a draft anyone
        # could schedule again from the dashboard; a cancelled post is final in Postgate, so it is
        # deleted. The pause still comes first: it is the one call that refuses (409) once publishing
        # has started, whereas a delete then succeeds and the post goes out anyway. Once paused, the
        # scheduler can no longer pick the group between our re-read and the delete.
        try:
            self.request(
                "PUT",
                f"/update-post/{_segment(external_id)}",
                json={"status": "draft"},
                headers={"Idempotency-Key": f"{request.idempotency_key}:cancel"},
                retry_safe=True,
            )
        except ProviderRejected as error:
            if error.status == 404:
                return
            if error.code == "POST_PUBLISH_IN_PROGRESS":
                raise _publishing_started(self.display_name) from None
            if error.code == "POST_NOT_EDITABLE":
                # It finished between our read and the pause; read again to say how.
                refusal = self._too_late(self._get_group(external_id))
                raise refusal or _publishing_started(self.display_name) from None
            raise
        try:
            self.request("DELETE", f"/delete-post/{_segment(external_id)}")
        except ProviderError as error:
            if error.status == 404:
                return  # a retried delete whose first attempt went through
            # The group is a paused draft now and cannot publish: the cancel itself holds.
            log.warning(
                "Publora post group %s was paused but not deleted (%s); it stays as a draft in Publora",
                external_id,
                error.message,
            )

    def _too_late(self, group: Mapping[str, Any]) -> ProviderTooLate | None:
        """The refusal a cancel of `group` deserves, or None while Publora has not started on it."""
        status = (_text(group.get("status")) or "").lower()
        targets = {
            (_text(post.get("status")) or "").lower()
            for post in _list(group.get("posts"))
            if isinstance(post, Mapping)
        }
        if status in ("published", "partially_published") or "published" in targets:
            return ProviderTooLate(
                self.display_name,
                "the post is already live; deleting it in Publora would only remove Publora's records, "
                "not the published post",
                live=True,
            )
        if status == "failed":
            return ProviderTooLate(
                self.display_name,
                "publishing already finished and failed; nothing is left to cancel",
                live=False,
            )
        if status not in _GROUP_NOT_STARTED or targets & (_TARGET_IN_FLIGHT | {"failed"}):
            return _publishing_started(self.display_name)
        return None

    # -- errors -----------------------------------------------------------------------------------

    def error_message(self, response: httpx.Response, body: Any) -> tuple[str, str | None]:
        message, code = _describe_error(response, body)
        return self._scrub(message), code

    def classify_error(self, status: int, code: str | None) -> type[ProviderError] | None:
        if status == 401 or code == "INVALID_USER_ID":
            return ProviderAuthError
        if status == 409 and code in (
            "IDEMPOTENCY_IN_FLIGHT",
            "POST_GROUP_VERSION_CONFLICT",
            "MEDIA_FILE_RACE",
        ):
            # The same request may go again once the other one settles (§9 retry guidance, §5a).
            return ProviderUnavailable
        return None

    def _scrub(self, text: str) -> str:
        # Publora has no reason to echo the key, but an error text must never be the place it leaks.
        return text.replace(self._api_key, "[api key]") if self._api_key else text


# -- connections ------------------------------------------------------------------------------------


# Permissions a connection needs for what Postgate sends, by network, with what fails without them
# (publora.md §4: Threads replies need `threads_manage_replies`; first comments are replies).
_NEEDED_PERMISSIONS: dict[Network, tuple[tuple[str, str], ...]] = {
    Network.THREADS: (("threads_manage_replies", "first comments on Threads will fail"),),
}


def _missing_permissions(permissions: Any) -> frozenset[str]:
    """The needed permissions a test-connection answer does not grant. Its `permissions` is documented
    without a shape: a list of granted names and a mapping of name to granted are both read; an absent
    or unreadable value says nothing is missing."""
    if isinstance(permissions, list):
        granted = {p for p in permissions if isinstance(p, str)}
    elif isinstance(permissions, Mapping):
        granted = {k for k, v in permissions.items() if v is True or v == "granted"}
    else:
        return frozenset()
    needed = {name for pairs in _NEEDED_PERMISSIONS.values() for name, _ in pairs}
    return frozenset(needed - granted)


def _is_mtproto(account: Account) -> bool:
    # A Telegram bot connection stores the channel's negative chat id (telegram--100…); an MTProto
    # connection stores the channel's positive id (telegram-123…): Publora's docs/platforms/telegram.md.
    return account.network is Network.TELEGRAM and not account.account_id.partition("-")[2].startswith("-")


def _parse_connection(row: Any) -> _Connection | None:
    if not isinstance(row, Mapping):
        return None
    platform_id = identifier(row.get("platformId"))
    if not platform_id or "-" not in platform_id:
        return None
    platform, _, raw_id = platform_id.partition("-")
    network = Network(platform) if platform in _PLATFORM_NAMES else None
    if network is None or not raw_id:
        return None  # e.g. pinterest: connect-only, never a target (§2)
    username = _text(row.get("username"))
    if username and not username.startswith("@") and " " not in username:
        username = f"@{username}"
    name = _text(row.get("displayName")) or username or raw_id
    token_status = (_text(row.get("tokenStatus")) or "unknown").lower()
    warning = None
    if token_status == "expired":
        warning = "The connection has expired; reconnect it in Publora before posting."
    elif token_status == "expiring_soon":
        left = _text(row.get("tokenExpiresIn"))
        when = f"in {left}" if left and left != "expired" else "soon"
        warning = f"The connection expires {when}; reconnect it in Publora to keep posting."
    account = Account(
        provider=PubloraProvider.name,
        account_id=platform_id,
        network=network,
        name=name,
        profile_url=web_url(row.get("profileUrl")),
        warning=warning,
    )
    return _Connection(account, token_status)


# -- post groups ------------------------------------------------------------------------------------


def _target_id(platform: str, raw_id: str, submitted: Sequence[str]) -> str:
    """The `platforms[]` id of a get-post row.

    Rows carry the raw account id (`123`, not `twitter-123`, §6). Should a row ever carry the
    prefixed form instead, it is recognised by being one of the ids the group was created with.
    """
    prefixed = f"{platform}-{raw_id}"
    if prefixed in submitted or raw_id not in submitted:
        return prefixed
    return raw_id


def _outcome(status: str) -> AccountOutcome:
    if status == "published":
        return AccountOutcome.PUBLISHED
    if status == "failed":
        return AccountOutcome.FAILED
    # draft/scheduled/pending/processing, and any status Publora adds later, are "not yet".
    return AccountOutcome.PENDING


def _post_error(post: Mapping[str, Any]) -> tuple[str | None, str | None]:
    error = post.get("error")
    if isinstance(error, Mapping):
        message = _text(error.get("message")) or _text(error.get("platformError"))
        return _text(error.get("code")), message
    if isinstance(error, str):
        return None, error.strip() or None
    return None, None


def _latest_failure(
    logs: Sequence[Mapping[str, Any]], post: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """(code, message) of the newest `publish_failed` log entry that belongs to `post`."""
    post_id = _text(post.get("_id"))
    platform = _text(post.get("platform"))

    def belongs(entry: Mapping[str, Any]) -> bool:
        entry_post = _text(entry.get("postId"))
        if entry_post and post_id:
            return entry_post == post_id
        entry_platform = _text(entry.get("platform"))
        return not entry_platform or not platform or entry_platform.lower() == platform.lower()

    failures = [e for e in logs if _text(e.get("event")) == "publish_failed" and belongs(e)]
    # Logs come oldest first; sort anyway in case that ever changes (a stable sort keeps ties in order).
    failures.sort(key=lambda e: _text(e.get("createdAt")) or "")
    for entry in reversed(failures):
        # The `error` key is a string in the documented example; accept an object too.
        raw = entry.get("error")
        message = _text(raw.get("message")) if isinstance(raw, Mapping) else _text(raw)
        metadata = entry.get("metadata")
        code = _text(metadata.get("errorCode")) if isinstance(metadata, Mapping) else None
        if isinstance(raw, Mapping):
            code = code or _text(raw.get("code"))
        if message or code:
            return code, message
    return None, None


def failure_text(code: str | None, message: str | None) -> str:
    """One plain sentence (or two) for a failed account: advice for known codes, then Publora's words."""
    advice = _PUBLISH_ADVICE.get(code or "")
    message = message.strip() if message else None
    if advice and message:
        return f"{advice} Publora said: {_sentence(message)}"
    if advice:
        return advice
    if message:
        return f"Publishing failed. Publora said: {_sentence(message)}"
    if code:
        return f"Publishing failed ({code}); Publora gave no further details."
    return "Publishing failed; Publora gave no reason."


def _post_url(platform: str, post: Mapping[str, Any], account: Account | None) -> str | None:
    """The published post's web address: Publora's permalink, one built from the network's post id, or
    the account's profile; never anything but an http(s) link."""
    return web_url(_any_post_url(platform, post, account))


def _any_post_url(platform: str, post: Mapping[str, Any], account: Account | None) -> str | None:
    permalink = web_url(post.get("permalink"))
    if permalink:
        return permalink
    posted_id = _text(post.get("postedId"))
    profile = account.profile_url if account else None
    if not posted_id:
        return profile
    # Link templates are our own derivation (§6, UNCONFIRMED by Publora); where an id alone cannot
    # name the post, the account's profile is the honest fallback.
    if platform == "twitter":
        return f"https://x.com/i/web/status/{posted_id}"
    if platform == "linkedin":
        return f"https://www.linkedin.com/feed/update/{posted_id}"
    if platform == "youtube":
        return f"https://www.youtube.com/watch?v={quote(posted_id, safe='')}"
    if platform == "facebook":
        return f"https://www.facebook.com/{posted_id}"
    if platform == "bluesky":
        return _bluesky_url(posted_id) or profile
    if platform == "telegram":
        channel = _telegram_channel(account)
        return f"https://t.me/{channel}/{posted_id}" if channel else profile
    return profile


def _bluesky_url(posted_id: str) -> str | None:
    # at://did:plc:xyz/app.bsky.feed.post/3k... → https://bsky.app/profile/did:plc:xyz/post/3k...
    if not posted_id.startswith("at://"):
        return None
    parts = posted_id[len("at://") :].split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post" or not parts[0] or not parts[2]:
        return None
    return f"https://bsky.app/profile/{parts[0]}/post/{parts[2]}"


def _telegram_channel(account: Account | None) -> str | None:
    """The public channel username, from the profile URL (t.me/<name>) or an "@name" account name."""
    if account is None:
        return None
    if account.profile_url:
        parts = urlsplit(account.profile_url)
        if parts.hostname in ("t.me", "telegram.me"):
            name = parts.path.strip("/").split("/")[0]
            if name and not name.startswith("+"):
                return name
    if account.name.startswith("@") and len(account.name) > 1 and " " not in account.name:
        return account.name[1:]
    return None


def _publishing_started(provider: str) -> ProviderTooLate:
    return ProviderTooLate(
        provider,
        "publishing already started, so the post can no longer be cancelled; "
        "it may still go out — check the accounts",
        live=False,
        code="POST_PUBLISH_IN_PROGRESS",
    )


# -- media ------------------------------------------------------------------------------------------


def _check_media(provider: str, media: Sequence[MediaFile]) -> None:
    """Refuse, before anything is created, media Publora cannot take at all."""
    for item in media:
        if item.kind not in _UPLOAD_TYPES:
            raise ProviderRejected(
                provider,
                f"Publora could not take the file {item.name}: it takes images, videos and PDF documents, "
                f"not {item.mime_type}",
            )
    urls = [item for item in media if item.path is None and item.url]
    if len(urls) > MAX_MEDIA_URLS:
        raise ProviderRejected(
            provider,
            f"Publora imports at most {MAX_MEDIA_URLS} media links per post; this post has {len(urls)}",
        )


def _missing_files(group: Mapping[str, Any], files: Sequence[MediaFile]) -> list[MediaFile]:
    """The post's files that `group` does not hold as a ready media row (§5: get-post's `media[]`)."""
    ready = [
        entry
        for entry in _list(group.get("media"))
        if isinstance(entry, Mapping) and (_text(entry.get("status")) or "").lower() == "ready"
    ]
    return [media for media in files if _take_entry(ready, media.name) is None]


def _take_entry(entries: list[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    """Remove and return the first media row for the file `name` (one row per file, even for two files
    of the same name). Publora sanitises `fileName` (§5a), so the name as sent is `sourceFileName`; both
    are compared in case a server keeps it in `fileName`.
    """
    for index, entry in enumerate(entries):
        if name in (_text(entry.get("sourceFileName")), _text(entry.get("fileName"))):
            return entries.pop(index)
    return None


def _media_word(media: MediaFile) -> str:
    return _MEDIA_WORDS.get(media.kind, "file")


def _media_status(answer: Any) -> tuple[str, str | None]:
    """(status, failureReason) of the `mediaFile` in a complete-media answer."""
    media_file = answer.get("mediaFile") if isinstance(answer, Mapping) else None
    if not isinstance(media_file, Mapping):
        return "unknown", None
    status = (_text(media_file.get("status")) or "unknown").lower()
    return status, _text(media_file.get("failureReason"))


def _storage_error(response: httpx.Response) -> str:
    """`: <Code>` from an S3-style XML error body, or nothing."""
    match = re.search(r"<Code>([A-Za-z]{1,64})</Code>", response.text[:2000])
    return f": {match[1]}" if match else ""


# -- webhooks ---------------------------------------------------------------------------------------

# Events whose `data` carries one target's final outcome (§8); Publora sends one per target.
_OUTCOME_EVENTS = {"post.published": AccountOutcome.PUBLISHED, "post.failed": AccountOutcome.FAILED}


@dataclass(frozen=True)
class PubloraWebhookEvent:
    """One webhook delivery, read (§8).

    `outcome` is set for post.published and post.failed only; other events (post.scheduled,
    post.demoted, token.expiring, anything added later) come back with `outcome` None so the caller can
    log and ignore them. `account_id` is the `platforms[]` id ("twitter-123") when the event names both
    platform and platformId; post.failed names only the platform (§8), so `network` is there to match
    it against the group's targets. Webhooks are one attempt without retries: polling stays the backstop.
    """

    event: str
    post_group_id: str | None
    account_id: str | None = None
    outcome: AccountOutcome | None = None
    url: str | None = None
    error: str | None = None
    network: Network | None = None


def verify_webhook_signature(secret: str, raw_body: bytes, signature: str | None) -> bool:
    """Whether `signature` (the X-Publora-Signature header) is the HMAC-SHA256 of `raw_body` under `secret`.

    Computed over the exact bytes received, never over re-serialised JSON (§8). The contract documents
    plain hex; upper-case hex and a "sha256=" prefix are accepted too, as other senders write it so.
    """
    if not secret or not signature:
        return False
    candidate = signature.strip()
    if candidate[:7].lower() == "sha256=":
        candidate = candidate[7:].strip()
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    # Bytes, so a non-ASCII header cannot make compare_digest raise; the comparison is constant-time.
    return hmac.compare_digest(expected.encode(), candidate.lower().encode())


def parse_webhook(raw_body: bytes) -> PubloraWebhookEvent | None:
    """The event in a webhook body, or None when the body is not a Publora envelope. Never raises."""
    try:
        envelope = json.loads(raw_body)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(envelope, Mapping):
        return None
    event = _text(envelope.get("event"))
    data = envelope.get("data")
    if event is None or not isinstance(data, Mapping):
        return None
    platform = (_text(data.get("platform")) or "").lower()
    raw_id = _text(data.get("platformId"))
    account_id = None
    if platform and raw_id:
        # The documented example carries the raw id (as get-post rows do); whether every event does is
        # UNCONFIRMED (token.expiring is not sent yet), so an already prefixed id is kept as it is.
        account_id = raw_id if raw_id.startswith(f"{platform}-") else f"{platform}-{raw_id}"
    outcome = _OUTCOME_EVENTS.get(event)
    url = error = None
    if outcome is AccountOutcome.PUBLISHED:
        url = _post_url(platform, data, None)
    elif outcome is AccountOutcome.FAILED:
        error = failure_text(*_post_error(data))
    return PubloraWebhookEvent(
        event=event,
        post_group_id=_text(data.get("postGroupId")),
        account_id=account_id,
        outcome=outcome,
        url=url,
        error=error,
        network=Network.parse(platform) if platform else None,
    )


# -- error envelopes --------------------------------------------------------------------------------


def _describe_error(response: httpx.Response, body: Any) -> tuple[str, str | None]:
    """(readable message, code) from any of Publora's envelopes (§9)."""
    status = response.status_code
    if not isinstance(body, Mapping):
        return f"answered HTTP {status} {response.reason_phrase}".rstrip(), None
    error = _text(body.get("error"))
    message = _text(body.get("message"))
    code = _text(body.get("code"))

    validation = body.get("validation")
    if isinstance(validation, Mapping):
        items = _list(validation.get("errors"))
        problems = [text for text in (_validation_text(item) for item in items) if text]
        codes = [_text(item.get("code")) for item in items if isinstance(item, Mapping)]
        first_code = next((c for c in codes if c), None)
        if problems:
            return "the post did not pass Publora's checks: " + " ".join(problems), code or first_code
        return "the post did not pass Publora's checks", code or first_code or "VALIDATION_FAILED"

    if status == 403 and (code or "metric" in body or "limit" in body):
        # LimitExceededError: `message` is the readable sentence, `error` only a title.
        text = message or error or "a Publora plan limit was reached"
        extra = _limit_details(body)
        return _sentence(text) + (f" {extra}" if extra else ""), code or "LIMIT_EXCEEDED"

    text = error or message or f"answered HTTP {status} {response.reason_phrase}".rstrip()
    if code == "SCHEDULED_TIME_IN_PAST":
        server_time = _text(body.get("serverTime"))
        if server_time:
            # Naming Publora's clock lets a reader spot skew between our clock and theirs.
            return (
                f"the publish time is more than 5 minutes in the past (Publora's clock: {server_time}); "
                "choose a new time.",
                code,
            )
        return f"the publish time is more than 5 minutes in the past; choose a new time. {text}", code
    if code == "FIRST_COMMENT_TOO_LONG":
        return _comment_too_long(body) or f"the first comment is too long. {text}", code
    if code == "IDEMPOTENCY_KEY_CONFLICT":
        return f"this submission's key was already used for a different post. {text}", code
    if code == "IDEMPOTENCY_IN_FLIGHT":
        return f"an earlier attempt of this submission is still being processed. {text}", code
    invalid = [p for p in _list(body.get("invalidPlatforms")) if isinstance(p, str)]
    if invalid and not all(p in text for p in invalid):
        text = f"{_sentence(text)} Not usable: {', '.join(invalid)}."
    media = [r for r in _list(body.get("mediaResults")) if isinstance(r, Mapping) and r.get("ok") is False]
    if media:
        reasons = [_text(r.get("error")) or _text(r.get("code")) or "unknown" for r in media]
        text = f"{_sentence(text)} {' '.join(_sentence(r) for r in reasons)}"
    if status == 400 and text == "Invalid x-publora-user-id":
        code = code or "INVALID_USER_ID"
    return text, code


def _comment_too_long(body: Mapping[str, Any]) -> str | None:
    """§3's FIRST_COMMENT_TOO_LONG details (`platform`, `limit`, `count`, `unit`) as a sentence."""
    platform, limit, count = _text(body.get("platform")), body.get("limit"), body.get("count")
    if platform is None or not isinstance(limit, int) or not isinstance(count, int):
        return None
    where = _PLATFORM_NAMES.get(platform.lower(), platform)
    unit = _text(body.get("unit")) or "characters"
    return f"the first comment is too long for {where}: {count:,} {unit}, where {limit:,} is the most."


def _validation_text(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return _sentence(item) if isinstance(item, str) and item.strip() else None
    message = _text(item.get("message")) or _text(item.get("code"))
    if not message:
        return None
    platform = _text(item.get("platform"))
    where = _PLATFORM_NAMES.get(platform.lower(), platform) if platform else None
    text = _sentence(message)
    if where and where.lower() not in message.lower():
        text = f"{where}: {text}"
    advice = _MEDIA_ADVICE.get(_text(item.get("code")) or "")
    return f"{text} {advice}" if advice else text


def _limit_details(body: Mapping[str, Any]) -> str:
    parts = []
    horizon = _text(body.get("maxScheduledDate"))
    if horizon:
        parts.append(f"The latest allowed date is {horizon}.")
    disallowed = [p for p in _list(body.get("disallowedPlatforms")) if isinstance(p, str)]
    if disallowed:
        parts.append(f"Not available on this plan: {', '.join(disallowed)}.")
    period_end = _text(body.get("periodEnd"))
    if body.get("remaining") == 0 and period_end:
        parts.append(f"The limit resets at {period_end}.")
    return " ".join(parts)


def _warning_texts(warnings: Any) -> Iterable[str]:
    for warning in _list(warnings):
        if isinstance(warning, str) and warning.strip():
            yield warning.strip()
        elif isinstance(warning, Mapping):
            text = _text(warning.get("message")) or _text(warning.get("code"))
            if text:
                yield text


# -- small helpers ----------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return quote(value, safe="")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
