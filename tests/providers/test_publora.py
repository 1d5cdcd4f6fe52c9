"""PubloraProvider against FakePublora over loopback HTTP: accounts, submit, media, state, cancel,
failures, and the pure webhook helpers (signature check and event parsing)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.model import Account, AccountOutcome
from bot.domain.networks import Network
from bot.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTooLate,
    ProviderUnavailable,
)
from bot.providers.base import MediaFile, RetryPolicy, SubmitRequest
from bot.providers.publora import (
    PubloraProvider,
    PubloraWebhookEvent,
    parse_webhook,
    verify_webhook_signature,
)
from tests.fakes.publora import FakePublora, WebhookInbox

KEY = "sk_1712345678901.deadbeefcafebabe0123456789abcdef"
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
def fake() -> Iterator[FakePublora]:
    with FakePublora(api_key=KEY, publish_delay=0.1, tick=0.02) as server:
        yield server


def make_provider(fake: FakePublora, **overrides: Any) -> PubloraProvider:
    options: dict[str, Any] = {"api_key": KEY, "base_url": fake.url, "retry": FAST, "sleep": lambda _: None}
    options.update(overrides)
    return PubloraProvider(**options)


@pytest.fixture
def provider(fake: FakePublora) -> Iterator[PubloraProvider]:
    with make_provider(fake) as client:
        yield client


def request(
    *account_ids: str,
    text: str = "Hello from Postgate",
    key: str = "sub-1",
    at: datetime | None = None,
    accounts: Sequence[Account] = (),
    media: Sequence[MediaFile] = (),
    first_comment: str | None = None,
) -> SubmitRequest:
    when = at or datetime.now(UTC) + timedelta(seconds=1)
    return SubmitRequest(
        text=text,
        account_ids=account_ids,
        publish_at=when,
        idempotency_key=key,
        accounts=tuple(accounts),
        media=tuple(media),
        first_comment=first_comment,
    )


def assert_no_secret(error: BaseException, caplog: pytest.LogCaptureFixture | None = None) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)
    if isinstance(error, ProviderError):
        assert KEY not in error.message
    if caplog is not None:
        assert KEY not in caplog.text


# -- accounts ---------------------------------------------------------------------------------------


def test_accounts_carry_network_name_profile_and_token_warnings(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "123456789", username="acme")
    li = fake.add_connection(
        "linkedin",
        "Tz9W5i6ZYG",
        username="Acme Inc",
        display_name="Acme",
        token_status="expired",
        profile_url="https://www.linkedin.com/company/acme",
    )
    bsky = fake.add_connection(
        "bluesky", "did:plc:abc123", username="acme.bsky.social", token_status="expiring_soon"
    )
    tg = fake.add_connection("telegram", "-1001234567890", username=None, display_name="Acme news")
    fake.add_connection("pinterest", "55", username="acme")

    accounts = {a.account_id: a for a in provider.list_accounts()}

    assert list(accounts) == [x, li, bsky, tg]  # pinterest is connect-only
    assert tg == "telegram--1001234567890"
    assert accounts[x].network is Network.X and accounts[x].name == "@acme" and accounts[x].warning is None
    assert accounts[x].provider == "publora"
    assert accounts[li].name == "Acme"
    assert accounts[li].profile_url == "https://www.linkedin.com/company/acme"
    assert accounts[li].warning == "The connection has expired; reconnect it in Publora before posting."
    assert accounts[bsky].network is Network.BLUESKY
    assert "expires in 6d 23h" in (accounts[bsky].warning or "")
    assert accounts[tg].name == "Acme news"
    assert fake.requests("platform-connections")[0]["headers"]["x-publora-key"] == KEY


def test_check_credentials_counts_accounts_and_names_expired_ones(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    fake.add_connection("twitter", "1", username="acme")
    fake.add_connection("linkedin", "2", username="acme", display_name="Acme", token_status="expired")
    fake.add_connection("bluesky", "did:plc:x", username="acme.bsky.social")
    fake.add_connection("pinterest", "3", username="acme")

    assert (
        provider.check_credentials()
        == "3 connected accounts (1 expired: LinkedIn · Acme — reconnect it in Publora)"
    )


def test_check_credentials_with_no_accounts(provider: PubloraProvider) -> None:
    assert "no accounts are connected" in provider.check_credentials()


@pytest.mark.parametrize(
    ("key", "expected"), [("sk_wrong.0000", "Invalid API key"), ("", "API key is required")]
)
def test_bad_key_is_an_auth_error_without_the_key(
    fake: FakePublora, key: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_provider(fake, api_key=key) as client, pytest.raises(ProviderAuthError) as caught:
        client.check_credentials()
    assert caught.value.message == expected
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert len(fake.requests("platform-connections")) == 1  # never retried
    if key:
        assert key not in str(caught.value) and key not in caplog.text
    assert_no_secret(caught.value, caplog)


def test_workspace_user_header(fake: FakePublora) -> None:
    user = "65f8a1b2c3d4e5f6a7b8c9d0"
    fake.add_managed_user(user)
    with make_provider(fake, user_id=user) as client:
        assert client.list_accounts() == []
    assert fake.requests()[-1]["headers"]["x-publora-user-id"] == user
    with (
        make_provider(fake, user_id="not-an-object-id") as client,
        pytest.raises(ProviderAuthError) as caught,
    ):
        client.list_accounts()
    assert caught.value.message == "Invalid x-publora-user-id"


# -- submit -----------------------------------------------------------------------------------------


def test_submit_sends_key_idempotency_key_and_utc_millisecond_time(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    when = datetime(2031, 3, 1, 15, 0, 0, 123456, tzinfo=UTC)

    receipt = provider.submit(request(x, li, at=when, key="post-7-v1"))

    [sent] = fake.requests("create-post")
    assert sent["method"] == "POST"
    assert sent["headers"]["x-publora-key"] == KEY
    assert sent["headers"]["Idempotency-Key"] == "post-7-v1"
    assert sent["json"] == {
        "content": "Hello from Postgate",
        "platforms": [x, li],
        "scheduledTime": "2031-03-01T15:00:00.123Z",
    }
    assert re.fullmatch(r"[0-9a-f]{24}", receipt.external_id)
    assert receipt.effective_time == datetime(2031, 3, 1, 15, 0, 0, 123000, tzinfo=UTC)
    assert receipt.notes == ()
    assert fake.groups()[receipt.external_id]["status"] == "scheduled"


def test_submit_reports_a_coerced_time_as_a_note(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    asked = datetime.now(UTC) - timedelta(seconds=30)

    receipt = provider.submit(request(x, at=asked))

    assert receipt.effective_time is not None and receipt.effective_time > asked
    [note] = receipt.notes
    assert "was in the past and was changed to server time" in note


def test_submit_retries_a_500_with_the_same_key_and_creates_one_group(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=500)

    receipt = provider.submit(request(x, key="k-500"))

    sent = fake.requests("create-post")
    assert len(sent) == 2
    assert {r["headers"]["idempotency-key"] for r in sent} == {"k-500"}
    assert list(fake.groups()) == [receipt.external_id]


def test_answer_lost_after_the_post_was_stored_replays_the_same_group(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=502, after_processing=True)

    receipt = provider.submit(request(x, key="k-lost"))

    assert len(fake.requests("create-post")) == 2
    assert list(fake.groups()) == [receipt.external_id]


def test_timeout_after_receipt_then_retry_still_creates_one_group(fake: FakePublora) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", after_processing=True, delay=1.0)

    with make_provider(fake, timeout=0.25) as client:
        receipt = client.submit(request(x, key="k-timeout"))

    assert len(fake.requests("create-post")) == 2
    assert list(fake.groups()) == [receipt.external_id]


def test_in_flight_409_is_retried(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next(
        "create-post",
        status=409,
        body={
            "error": "A request with this Idempotency-Key is still being processed",
            "code": "IDEMPOTENCY_IN_FLIGHT",
        },
    )

    receipt = provider.submit(request(x, key="k-409"))

    assert len(fake.requests("create-post")) == 2
    assert list(fake.groups()) == [receipt.external_id]


def test_a_key_reused_with_another_body_is_rejected(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    when = datetime.now(UTC) + timedelta(hours=1)
    first = provider.submit(request(x, key="k-same", at=when))

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, key="k-same", at=when, text="Edited text"))

    assert caught.value.code == "IDEMPOTENCY_KEY_CONFLICT" and caught.value.status == 422
    assert not caught.value.retryable
    assert "already used for a different post" in caught.value.message
    assert list(fake.groups()) == [first.external_id]
    # The very same submission again is answered from the idempotency store.
    assert provider.submit(request(x, key="k-same", at=when)).external_id == first.external_id


def test_validation_errors_are_rejected_with_every_message(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    bsky = fake.add_connection("bluesky", "did:plc:abc", username="acme.bsky.social")
    ig = fake.add_connection("instagram", "17841400000000001", username="acme")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(bsky, ig, text="x" * 301))

    message = caught.value.message
    assert "Content exceeds Bluesky's 300 character limit (301 characters)." in message
    assert "Instagram posts require media." in message
    assert caught.value.code == "CONTENT_TOO_LONG"
    assert not caught.value.retryable
    assert len(fake.requests("create-post")) == 1
    assert fake.groups() == {}


def test_an_unknown_account_names_the_id(fake: FakePublora, provider: PubloraProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request("twitter-404"))
    assert caught.value.code == "INVALID_PLATFORM_CONNECTION"
    assert "twitter-404" in caught.value.message


def test_a_time_long_past_is_rejected_with_publoras_clock(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, at=datetime.now(UTC) - timedelta(minutes=10)))
    assert caught.value.code == "SCHEDULED_TIME_IN_PAST"
    assert "more than 5 minutes in the past (Publora's clock: " in caught.value.message


def test_plan_limit_uses_the_readable_message(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    fake.set_post_limit(1, plan_name="Pro")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, li))

    assert caught.value.status == 403 and caught.value.code == "POST_LIMIT_REACHED"
    assert caught.value.message.startswith(
        "Monthly post limit reached. Your Pro plan allows 1 platform posts per month."
    )
    assert not isinstance(caught.value, ProviderAuthError)


def test_documented_limit_error_body(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next(
        "create-post",
        status=403,
        body={
            "error": "Post limit reached",
            "code": "POST_LIMIT_REACHED",
            "metric": "posts.platform_monthly",
            "message": "Monthly post limit reached. Your Pro plan allows 100 platform posts per month.",
            "limit": 100,
            "used": 100,
            "requested": 2,
            "remaining": 0,
            "periodStart": "2026-03-01T00:00:00.000Z",
            "periodEnd": "2026-04-01T00:00:00.000Z",
            "planName": "Pro",
        },
    )
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x))
    assert caught.value.message == (
        "Monthly post limit reached. Your Pro plan allows 100 platform posts per month. "
        "The limit resets at 2026-04-01T00:00:00.000Z."
    )


def test_api_access_disabled_is_an_auth_error(fake: FakePublora, provider: PubloraProvider) -> None:
    fake.fail_next(
        "platform-connections", status=403, body={"error": "API access is not enabled for this account"}
    )
    with pytest.raises(ProviderAuthError, match="API access is not enabled"):
        provider.list_accounts()


# -- media ------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(255, -1, -1)) * 64


def media_file(tmp_path: Path, name: str, mime_type: str, data: bytes) -> MediaFile:
    path = tmp_path / name
    path.write_bytes(data)
    return MediaFile(name=name, mime_type=mime_type, path=path, size=len(data))


def link(name: str, mime_type: str = "image/jpeg") -> MediaFile:
    return MediaFile(name=name, mime_type=mime_type, url=f"https://cdn.example.com/{name}")


def test_an_image_goes_up_through_a_draft_that_is_then_scheduled(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    when = datetime(2031, 3, 1, 15, 0, tzinfo=UTC)
    photo = media_file(tmp_path, "launch photo.png", "image/png", PNG)

    receipt = provider.submit(request(x, at=when, key="k-img", media=[photo, link("logo.jpg")]))

    [draft] = fake.requests("create-post")
    assert draft["json"] == {
        "content": "Hello from Postgate",
        "platforms": [x],
        "mediaUrls": ["https://cdn.example.com/logo.jpg"],
    }
    assert draft["headers"]["Idempotency-Key"] == "k-img:draft"
    [asked] = fake.requests("get-upload-url")
    assert asked["json"] == {
        "fileName": "launch photo.png",
        "contentType": "image/png",
        "type": "image",
        "postGroupId": receipt.external_id,
    }
    [put] = fake.storage_puts()
    assert (put["status"], put["contentType"], put["size"]) == (200, "image/png", len(PNG))
    assert "x-publora-key" not in put["headers"]
    assert KEY not in str(dict(put["headers"]))
    [schedule] = fake.requests("update-post")
    assert schedule["json"] == {"status": "scheduled", "scheduledTime": "2031-03-01T15:00:00.000Z"}
    assert schedule["headers"]["Idempotency-Key"] == "k-img:schedule"
    assert receipt.effective_time == when
    group = fake.groups()[receipt.external_id]
    assert group["status"] == "scheduled" and group["mediaUrls"] == ["https://cdn.example.com/logo.jpg"]
    [row] = fake.media(receipt.external_id)
    assert (row["sourceFileName"], row["fileName"], row["type"], row["status"], row["size"]) == (
        "launch photo.png",
        "launch_photo.png",
        "image",
        "ready",
        len(PNG),
    )
    assert httpx.get(row["url"]).content == PNG  # the very bytes arrived


def test_a_video_for_youtube(fake: FakePublora, provider: PubloraProvider, tmp_path: Path) -> None:
    yt = fake.add_connection("youtube", "UCabc", username="Acme")
    video = media_file(tmp_path, "launch.mp4", "video/mp4", MP4)

    receipt = provider.submit(request(yt, media=[video], at=datetime.now(UTC) + timedelta(hours=1)))

    assert fake.requests("get-upload-url")[0]["json"]["type"] == "video"
    assert [(r["type"], r["mimeType"], r["status"]) for r in fake.media(receipt.external_id)] == [
        ("video", "video/mp4", "ready")
    ]
    assert fake.groups()[receipt.external_id]["status"] == "scheduled"


def test_links_only_go_in_one_create_as_media_urls(fake: FakePublora, provider: PubloraProvider) -> None:
    ig = fake.add_connection("instagram", "1784", username="acme")
    when = datetime(2031, 3, 1, 15, 0, tzinfo=UTC)

    receipt = provider.submit(request(ig, at=when, key="k-urls", media=[link("a.jpg"), link("b.jpg")]))

    [sent] = fake.requests("create-post")
    assert sent["json"] == {
        "content": "Hello from Postgate",
        "platforms": [ig],
        "mediaUrls": ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"],
        "scheduledTime": "2031-03-01T15:00:00.000Z",
    }
    assert sent["headers"]["Idempotency-Key"] == "k-urls"
    assert fake.requests("get-upload-url") == [] and fake.requests("update-post") == []
    assert fake.groups()[receipt.external_id]["status"] == "scheduled"


def test_a_retried_submission_attaches_the_file_once(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, key="k-retry", media=[media_file(tmp_path, "photo.png", "image/png", PNG)])
    # Scheduling happens, but every answer is lost: the whole submission fails and is tried again.
    fake.fail_next("update-post", status=502, after_processing=True, times=FAST.attempts)
    with pytest.raises(ProviderUnavailable):
        provider.submit(sent)

    receipt = provider.submit(sent)

    assert list(fake.groups()) == [receipt.external_id]
    assert fake.groups()[receipt.external_id]["status"] == "scheduled"
    assert [r["status"] for r in fake.media(receipt.external_id)] == ["ready"]
    assert len(fake.requests("get-upload-url")) == 1 and len(fake.storage_puts()) == 1


def test_a_retry_adds_only_the_missing_one_of_two_same_named_files(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = media_file(tmp_path / "a", "image.png", "image/png", PNG)
    second = media_file(tmp_path / "b", "image.png", "image/png", PNG[:100])
    # An earlier try made the draft and got the first of the two files in before it stopped.
    with httpx.Client(base_url=fake.url, headers={"x-publora-key": KEY}) as api:
        draft = api.post(
            "/create-post",
            json={"content": "Hello from Postgate", "platforms": [x]},
            headers={"Idempotency-Key": "k-twins:draft"},
        ).json()["postGroupId"]
        upload = api.post(
            "/get-upload-url",
            json={"fileName": "image.png", "contentType": "image/png", "postGroupId": draft},
        ).json()
        httpx.put(upload["uploadUrl"], content=PNG, headers={"Content-Type": "image/png"})

    receipt = provider.submit(request(x, key="k-twins", media=[first, second]))

    assert receipt.external_id == draft
    assert sorted(r["size"] for r in fake.media(draft)) == [100, len(PNG)]
    assert [r["status"] for r in fake.media(draft)] == ["ready", "ready"]
    assert len(fake.requests("get-upload-url")) == 2  # the earlier try's and the missing file's


def test_a_lost_upload_address_is_replaced_not_doubled(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, key="k-lost-url", media=[media_file(tmp_path, "photo.png", "image/png", PNG)])
    # Publora made the media row, but the answer with the upload address never arrived.
    fake.fail_next("get-upload-url", status=502, after_processing=True)
    with pytest.raises(ProviderOutcomeUnknown):
        provider.submit(sent)
    [group_id] = fake.groups()
    assert [r["status"] for r in fake.media(group_id)] == ["uploading"]

    receipt = provider.submit(sent)

    assert receipt.external_id == group_id
    assert [(r["status"], r["size"]) for r in fake.media(group_id)] == [("ready", len(PNG))]
    assert len(fake.requests("get-upload-url")) == 2
    assert [r["method"] for r in fake.requests("media")] == ["DELETE"]
    assert fake.groups()[group_id]["status"] == "scheduled"


def scheduled_then_photo_lost(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path, key: str, ahead: timedelta
) -> tuple[SubmitRequest, str]:
    """An earlier try got the post scheduled with its photo launch.png, but its answers were lost; the photo
    has since gone from the group (edited in Publora's dashboard), so it would go out as text only."""
    x = fake.add_connection("twitter", "1", username="acme")
    photo = media_file(tmp_path, "launch.png", "image/png", PNG)
    sent = request(x, key=key, media=[photo], at=datetime.now(UTC) + ahead)
    fake.fail_next("update-post", status=502, after_processing=True, times=FAST.attempts)
    with pytest.raises(ProviderUnavailable):
        provider.submit(sent)
    [group_id] = fake.groups()
    fake.remove_media(group_id)
    return sent, group_id


def test_a_scheduled_group_that_lost_its_file_is_taken_back_and_started_afresh(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    sent, _ = scheduled_then_photo_lost(fake, provider, tmp_path, "k-no-media", timedelta(hours=1))

    with pytest.raises(ProviderError) as caught:
        provider.submit(sent)

    assert caught.value.retryable and caught.value.code == "MEDIA_LOST"
    assert "launch.png" in caught.value.message and "fresh" in caught.value.message
    assert fake.groups() == {}  # paused, then deleted: it cannot go out without its photo
    assert fake.published() == []


def test_a_group_already_published_without_its_file_fails_in_plain_words(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    sent, group_id = scheduled_then_photo_lost(fake, provider, tmp_path, "k-gone-out", timedelta(seconds=1))
    fake.wait_for(lambda: fake.groups()[group_id]["status"] == "published")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(sent)

    assert not caught.value.retryable
    assert caught.value.message == (
        "Publora already published this post without its image launch.png; "
        "check the accounts, and delete the post there if it should not stay up"
    )
    assert list(fake.groups()) == [group_id]  # a live post is left for a person to judge


def test_a_busy_probe_is_retried(fake: FakePublora, provider: PubloraProvider, tmp_path: Path) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next(
        "complete-media",
        status=503,
        body={"error": "Could not download the file for probing", "code": "PROBE_DOWNLOAD_FAILED"},
    )

    receipt = provider.submit(request(x, media=[media_file(tmp_path, "photo.png", "image/png", PNG)]))

    assert len(fake.requests("complete-media")) == 2
    assert fake.groups()[receipt.external_id]["status"] == "scheduled"


def test_a_file_publora_cannot_take_deletes_the_draft(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next(
        "complete-media", status=400, body={"error": "Could not read video metadata", "code": "PROBE_FAILED"}
    )

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, media=[media_file(tmp_path, "launch.mp4", "video/mp4", MP4)]))

    assert (
        caught.value.message == "Publora could not take the video launch.mp4: Could not read video metadata"
    )
    assert caught.value.code == "PROBE_FAILED" and not caught.value.retryable
    assert fake.groups() == {}  # no orphan draft
    assert len(fake.requests("delete-post")) == 1


def test_storage_refusing_the_upload_is_named(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    refusal = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    fake.fail_next("s3", status=403, raw_body=refusal)

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, media=[media_file(tmp_path, "photo.png", "image/png", PNG)]))

    assert caught.value.message == (
        "Publora could not take the image photo.png: "
        "Publora's storage refused the upload (HTTP 403: AccessDenied)"
    )
    assert fake.storage_url not in caught.value.message
    assert fake.groups() == {}


def test_storage_hiccups_are_retried(fake: FakePublora, provider: PubloraProvider, tmp_path: Path) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("s3", status=503, times=2)

    receipt = provider.submit(request(x, media=[media_file(tmp_path, "photo.png", "image/png", PNG)]))

    assert len(fake.requests("s3")) == 3
    assert [r["status"] for r in fake.media(receipt.external_id)] == ["ready"]


def test_media_not_ready_at_scheduling_keeps_the_draft_for_a_retry(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, key="k-not-ready", media=[media_file(tmp_path, "photo.png", "image/png", PNG)])
    fake.fail_next("update-post", status=400, body={"error": "Media is not ready", "code": "MEDIA_NOT_READY"})

    with pytest.raises(ProviderUnavailable) as caught:
        provider.submit(sent)

    assert caught.value.retryable and caught.value.code == "MEDIA_NOT_READY"
    assert "still processing the media" in caught.value.message
    [group_id] = fake.groups()
    assert fake.groups()[group_id]["status"] == "draft"
    assert provider.submit(sent).external_id == group_id
    assert fake.groups()[group_id]["status"] == "scheduled"
    assert len(fake.requests("get-upload-url")) == 1


def test_a_media_required_refusal_says_what_to_attach(fake: FakePublora, provider: PubloraProvider) -> None:
    tiktok = fake.add_connection("tiktok", "7", username="acme")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(tiktok))

    assert caught.value.code == "MEDIA_REQUIRED"
    assert caught.value.message == (
        "the post did not pass Publora's checks: TikTok posts require media. "
        "Attach an image or video (YouTube: a video) to post there."
    )


def test_media_publora_cannot_take_is_refused_before_anything_is_sent(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    notes = media_file(tmp_path, "notes.txt", "text/plain", b"hello")
    with pytest.raises(ProviderRejected, match=r"could not take the file notes\.txt: .* not text/plain"):
        provider.submit(request(x, media=[notes]))
    with pytest.raises(ProviderRejected, match="at most 10 media links per post; this post has 11"):
        provider.submit(request(x, media=[link(f"{n}.jpg") for n in range(11)]))
    assert fake.requests() == []


# -- first comments ---------------------------------------------------------------------------------

COMMENT = "Sign up for the webinar: https://example.com/webinar"


def test_a_first_comment_goes_under_every_target_that_takes_comments(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    ig = fake.add_connection("instagram", "3", username="acme")
    when = datetime(2031, 3, 1, 15, 0, tzinfo=UTC)

    receipt = provider.submit(
        request(x, li, ig, at=when, key="k-comment", media=[link("a.jpg")], first_comment=COMMENT)
    )

    [sent] = fake.requests("create-post")
    assert sent["json"] == {
        "content": "Hello from Postgate",
        "platforms": [x, li, ig],
        "mediaUrls": ["https://cdn.example.com/a.jpg"],
        # No `platforms`: every target that takes comments; never the legacy `firstComment` beside it.
        "firstComments": [{"text": COMMENT, "delaySeconds": 0}],
        "scheduledTime": "2031-03-01T15:00:00.000Z",
    }
    group = fake.groups()[receipt.external_id]
    assert (group["firstComments"], group["firstComment"]) == ([{"text": COMMENT, "delaySeconds": 0}], None)
    # Publora skips Instagram and says so; the sentence reaches the person who scheduled the post.
    assert receipt.notes == ("First comments are not supported on Instagram; they will be skipped there.",)


def test_the_comment_is_posted_once_each_target_is_published(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    bsky = fake.add_connection("bluesky", "did:plc:abc", username="acme.bsky.social")

    receipt = provider.submit(request(x, bsky, at=datetime.now(UTC), first_comment=COMMENT))
    wait_final(fake, receipt.external_id)

    comments = fake.wait_for(lambda: len(fake.posted_comments()) == 2 and fake.posted_comments())
    assert sorted((c["platformId"], c["text"]) for c in comments) == [(bsky, COMMENT), (x, COMMENT)]
    assert fake.groups()[receipt.external_id]["status"] == "published"


def test_with_an_uploaded_file_the_comment_rides_on_the_draft_and_is_not_sent_again(
    fake: FakePublora, provider: PubloraProvider, tmp_path: Path
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    when = datetime(2031, 3, 1, 15, 0, tzinfo=UTC)
    photo = media_file(tmp_path, "photo.png", "image/png", PNG)

    receipt = provider.submit(request(x, at=when, key="k-img", media=[photo], first_comment=COMMENT))

    [draft] = fake.requests("create-post")
    assert draft["json"]["firstComments"] == [{"text": COMMENT, "delaySeconds": 0}]
    assert "scheduledTime" not in draft["json"]
    [schedule] = fake.requests("update-post")
    # update-post patches, so the draft's comment stays without being sent a second time.
    assert schedule["json"] == {"status": "scheduled", "scheduledTime": "2031-03-01T15:00:00.000Z"}
    group = fake.groups()[receipt.external_id]
    assert group["status"] == "scheduled"
    assert group["firstComments"] == [{"text": COMMENT, "delaySeconds": 0}]


def test_a_retried_create_sends_the_same_comment_under_the_same_key(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=502, after_processing=True)

    receipt = provider.submit(request(x, key="k-retry", first_comment=COMMENT))

    first, second = fake.requests("create-post")
    assert first["json"] == second["json"]
    assert first["json"]["firstComments"] == [{"text": COMMENT, "delaySeconds": 0}]
    assert {first["headers"]["idempotency-key"], second["headers"]["idempotency-key"]} == {"k-retry"}
    assert list(fake.groups()) == [receipt.external_id]  # replayed, not a second post


def test_a_comment_too_long_for_a_target_is_refused_with_the_limit(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")

    with pytest.raises(ProviderRejected) as caught:
        provider.submit(request(x, li, first_comment="y" * 281))

    assert caught.value.code == "FIRST_COMMENT_TOO_LONG" and caught.value.status == 400
    assert (
        caught.value.message == "the first comment is too long for X: 281 characters, where 280 is the most."
    )
    assert not caught.value.retryable
    assert fake.groups() == {}


@pytest.mark.parametrize("comment", [None, "", "  \n "])
def test_without_a_comment_no_comment_field_is_sent(
    fake: FakePublora, provider: PubloraProvider, comment: str | None
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")

    receipt = provider.submit(request(x, at=datetime.now(UTC), first_comment=comment))

    [sent] = fake.requests("create-post")
    assert not {"firstComments", "firstComment"} & set(sent["json"])
    wait_final(fake, receipt.external_id)
    assert fake.posted_comments() == []


# -- state ------------------------------------------------------------------------------------------


def wait_final(fake: FakePublora, group_id: str) -> None:
    fake.wait_for(lambda: fake.groups()[group_id]["status"] not in ("draft", "scheduled"), timeout=5)


def test_state_after_publishing_builds_links_and_explains_failures(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "123456789", username="acme")
    li = fake.add_connection("linkedin", "Tz9W5i6ZYG", username="Acme", display_name="Acme")
    bsky = fake.add_connection("bluesky", "did:plc:abc123", username="acme.bsky.social")
    threads = fake.add_connection(
        "threads", "1784", username="acme", profile_url="https://www.threads.net/@acme"
    )
    fb = fake.add_connection("facebook", "999", username="Acme page")
    fake.fail_account(fb, code="PLATFORM_AUTH_EXPIRED", message="Error validating access token")
    sent = request(x, li, bsky, threads, fb, at=datetime.now(UTC), accounts=provider.list_accounts())
    receipt = provider.submit(sent)

    pending = provider.fetch_state(receipt.external_id, sent)
    assert not pending.done and {r.outcome for r in pending.results} == {AccountOutcome.PENDING}

    wait_final(fake, receipt.external_id)
    state = provider.fetch_state(receipt.external_id, sent)

    assert state.done
    results = {r.account_id: r for r in state.results}
    assert list(results) == [x, li, bsky, threads, fb]
    posted = {p["platformId"]: p["postedId"] for p in fake.published()}
    assert results[x].outcome is AccountOutcome.PUBLISHED and results[x].network is Network.X
    assert results[x].url == f"https://x.com/i/web/status/{posted[x]}"
    assert re.fullmatch(r"https://www\.linkedin\.com/feed/update/urn:li:share:\d+", results[li].url or "")
    assert re.fullmatch(
        r"https://bsky\.app/profile/did:plc:abc123/post/[a-z2-7]{13}", results[bsky].url or ""
    )
    assert results[threads].url == "https://www.threads.net/@acme"  # the id alone cannot name the post
    assert results[fb].outcome is AccountOutcome.FAILED and results[fb].url is None
    assert results[fb].error == (
        "The connection to this account has expired; reconnect it in Publora. "
        "Publora said: Error validating access token."
    )
    assert fake.groups()[receipt.external_id]["status"] == "partially_published"
    # Reading the state again never publishes again.
    provider.fetch_state(receipt.external_id, sent)
    assert sorted(p["platformId"] for p in fake.published()) == sorted([x, li, bsky, threads])
    assert fake.requests("post-logs") == []


def test_every_account_failing(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_account(x, code="RATE_LIMITED", message="Too Many Requests", retryable=True)
    receipt = provider.submit(request(x, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)

    [result] = provider.fetch_state(receipt.external_id, request()).results

    assert result.outcome is AccountOutcome.FAILED
    assert result.error is not None and result.error.startswith("The network is rate-limiting this account")
    assert fake.groups()[receipt.external_id]["status"] == "failed"


def test_partial_thread_says_it_may_be_live(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_account(x, code="THREAD_PARTIALLY_PUBLISHED", message="Part 2 of 2 failed")
    receipt = provider.submit(request(x, text="First part\n---\nSecond part", at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)

    [result] = provider.fetch_state(receipt.external_id, request()).results

    assert result.outcome is AccountOutcome.FAILED
    assert result.error is not None
    assert "may be partly live; check the account before posting again" in result.error
    assert result.error.endswith("Publora said: Part 2 of 2 failed.")
    assert result.url is not None and result.url.startswith("https://x.com/i/web/status/")


def test_missing_error_falls_back_to_the_post_logs(fake: FakePublora, provider: PubloraProvider) -> None:
    li = fake.add_connection("linkedin", "2", username="acme")
    fake.fail_account(li, code="PLATFORM_SERVER_ERROR", message="LinkedIn answered 502", omit_post_error=True)
    receipt = provider.submit(request(li, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)
    assert "error" not in fake.groups()[receipt.external_id]["posts"][0]

    [result] = provider.fetch_state(receipt.external_id, request()).results

    assert result.error == (
        "The network had a server error; posting again later may work. Publora said: LinkedIn answered 502."
    )
    assert len(fake.requests("post-logs")) == 1


def test_logs_that_cannot_be_read_still_give_a_sentence(fake: FakePublora, provider: PubloraProvider) -> None:
    li = fake.add_connection("linkedin", "2", username="acme")
    fake.fail_account(li, code="NEW_CODE", message="Something odd", omit_post_error=True)
    receipt = provider.submit(request(li, at=datetime.now(UTC)))
    wait_final(fake, receipt.external_id)
    fake.fail_next("post-logs", status=500, times=3)

    [result] = provider.fetch_state(receipt.external_id, request()).results

    assert result.outcome is AccountOutcome.FAILED
    assert result.error == "Publishing failed; Publora gave no reason."


def test_a_group_still_scheduled_is_pending(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, at=datetime.now(UTC) + timedelta(hours=2), accounts=provider.list_accounts())
    receipt = provider.submit(sent)

    state = provider.fetch_state(receipt.external_id, sent)

    assert [(r.account_id, r.outcome, r.url, r.error) for r in state.results] == [
        (x, AccountOutcome.PENDING, None, None)
    ]
    assert not state.done


# -- cancel -----------------------------------------------------------------------------------------


def test_cancel_pauses_then_deletes_a_scheduled_post(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, at=datetime.now(UTC) + timedelta(hours=1), key="k-cancel")
    receipt = provider.submit(sent)

    provider.cancel(receipt.external_id, sent)

    assert fake.groups() == {}
    [pause] = fake.requests("update-post")
    assert pause["json"] == {"status": "draft"}
    assert pause["headers"]["Idempotency-Key"] == "k-cancel:cancel"
    assert [r["method"] for r in fake.requests("delete-post")] == ["DELETE"]
    provider.cancel(receipt.external_id, sent)  # already gone: nothing to do
    assert len(fake.requests("delete-post")) == 1


def test_cancel_refuses_once_publishing_started() -> None:
    with FakePublora(api_key=KEY, publish_delay=30, tick=0.02) as slow, make_provider(slow) as client:
        x = slow.add_connection("twitter", "1", username="acme")
        sent = request(x, at=datetime.now(UTC))
        receipt = client.submit(sent)
        slow.wait_for(
            lambda: slow.groups()[receipt.external_id]["posts"][0]["status"] == "pending", timeout=5
        )

        with pytest.raises(ProviderTooLate, match="publishing already started") as caught:
            client.cancel(receipt.external_id, sent)

        assert caught.value.live is False
        assert "it may still go out" in caught.value.message
        assert slow.requests("update-post") == [] and slow.requests("delete-post") == []


def test_cancel_refuses_a_published_post_as_live(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, at=datetime.now(UTC))
    receipt = provider.submit(sent)
    wait_final(fake, receipt.external_id)

    with pytest.raises(ProviderTooLate) as caught:
        provider.cancel(receipt.external_id, sent)

    assert caught.value.live is True
    assert caught.value.message == (
        "the post is already live; deleting it in Publora would only remove Publora's records, "
        "not the published post"
    )
    assert fake.requests("delete-post") == []
    assert fake.groups()[receipt.external_id]["status"] == "published"


def test_cancel_of_a_failed_post_says_nothing_is_left(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_account(x)
    sent = request(x, at=datetime.now(UTC))
    receipt = provider.submit(sent)
    wait_final(fake, receipt.external_id)

    with pytest.raises(ProviderTooLate) as caught:
        provider.cancel(receipt.external_id, sent)

    assert caught.value.live is False
    assert caught.value.message == "publishing already finished and failed; nothing is left to cancel"
    assert not caught.value.retryable


def test_cancel_losing_the_race_to_the_scheduler(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, at=datetime.now(UTC) + timedelta(hours=1))
    receipt = provider.submit(sent)
    # Publishing starts between the re-read and the pause: the pause is refused, nothing is deleted.
    fake.fail_next(
        "update-post",
        status=409,
        body={"error": "Post is already being published", "code": "POST_PUBLISH_IN_PROGRESS"},
    )

    with pytest.raises(ProviderTooLate, match="publishing already started") as caught:
        provider.cancel(receipt.external_id, sent)

    assert caught.value.live is False and not caught.value.retryable
    assert fake.requests("delete-post") == []
    assert receipt.external_id in fake.groups()


def test_cancel_when_the_post_went_live_after_the_re_read(
    fake: FakePublora, provider: PubloraProvider
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    sent = request(x, at=datetime.now(UTC))
    receipt = provider.submit(sent)
    wait_final(fake, receipt.external_id)
    # The re-read still saw it scheduled; by the time of the pause Publora had published it.
    stale = {
        "success": True,
        "postGroupId": receipt.external_id,
        "status": "scheduled",
        "platforms": [x],
        "posts": [{"platform": "twitter", "platformId": "1", "status": "scheduled"}],
        "media": [],
    }
    fake.fail_next("get-post", status=200, body=stale)

    with pytest.raises(ProviderTooLate) as caught:
        provider.cancel(receipt.external_id, sent)

    assert caught.value.live is True
    assert caught.value.message.startswith("the post is already live")
    assert fake.requests("update-post")[0]["json"] == {"status": "draft"}
    assert fake.requests("delete-post") == []


# -- failure battery --------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("case", "expected", "retryable"),
    [
        ("500", ProviderUnavailable, True),
        ("502 html", ProviderUnavailable, True),
        ("503 down", ProviderUnavailable, True),
        ("429", ProviderRateLimited, True),
        ("refused", ProviderUnavailable, True),
        ("bad json", ProviderOutcomeUnknown, True),
        ("timeout", ProviderOutcomeUnknown, True),
        ("malformed id", ProviderUnavailable, True),
        ("404", ProviderRejected, False),
        ("401", ProviderAuthError, False),
    ],
)
def test_failure_battery(
    fake: FakePublora,
    case: str,
    expected: type[ProviderError],
    retryable: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    options: dict[str, Any] = {"sleep": sleeps.append, "timeout": 0.25}
    group_id = "0123456789abcdef01234567"
    call = "accounts"
    if case == "500":
        fake.fail_next("platform-connections", status=500, times=3)
    elif case == "502 html":
        fake.fail_next("platform-connections", status=502, raw_body=b"<html>Bad Gateway</html>", times=3)
    elif case == "503 down":
        fake.set_down(True)
    elif case == "429":
        fake.fail_next("platform-connections", status=429, times=3)
        # The policy caps a server's Retry-After at 4 × max_delay; leave room for the 1 s asked.
        options["retry"] = RetryPolicy(attempts=3, base_delay=0.001, max_delay=1.0)
    elif case == "refused":
        options["base_url"] = f"http://127.0.0.1:{closed_port()}/api/v1"
    elif case == "bad json":
        fake.fail_next("platform-connections", status=200, raw_body=b'{"connections": [', times=3)
    elif case == "timeout":
        fake.fail_next("platform-connections", delay=1.0, times=3)
    elif case == "malformed id":
        group_id, call = "not-an-id", "state"
    elif case == "404":
        call = "state"
    elif case == "401":
        options["api_key"] = "sk_other.0000"

    with make_provider(fake, **options) as client, pytest.raises(ProviderError) as caught:
        if call == "accounts":
            client.list_accounts()
        else:
            client.fetch_state(group_id, request())

    error = caught.value
    assert type(error) is expected, error
    assert error.retryable is retryable
    assert str(error).startswith("Publora: ")
    assert_no_secret(error, caplog)
    assert len(sleeps) == (FAST.attempts - 1 if retryable else 0)
    if case == "429":
        assert isinstance(error, ProviderRateLimited) and error.retry_after == 1.0
        assert sleeps == [1.0, 1.0]
    if case == "502 html":
        assert error.message == "answered HTTP 502 Bad Gateway"
    if case == "malformed id":
        assert error.message == "Failed to fetch post group"
    if case == "404":
        assert error.message == "Post group not found"


def test_the_key_never_shows_in_logs_or_errors_of_a_whole_flow(
    fake: FakePublora, provider: PubloraProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    x = fake.add_connection("twitter", "1", username="acme")
    fake.fail_next("create-post", status=500, body={"error": f"boom while checking {KEY}"}, times=3)
    with pytest.raises(ProviderUnavailable) as caught:
        provider.submit(request(x))
    assert "[api key]" in caught.value.message
    assert_no_secret(caught.value, caplog)
    assert "PubloraProvider(base_url=" in repr(provider) and KEY not in repr(provider)


# -- webhooks ---------------------------------------------------------------------------------------

SECRET = "whsec_0123456789abcdef"


def sign(raw: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def envelope(event: str, data: dict[str, Any]) -> bytes:
    body = {"version": "1", "event": event, "timestamp": "2026-02-22T14:30:00.000Z", "data": data}
    return json.dumps(body).encode()


PUBLISHED = envelope(
    "post.published",
    {
        "postId": "663a1b2c3d4e5f6a7b8c9d01",
        "postGroupId": "507f1f77bcf86cd799439011",
        "platform": "twitter",
        "platformId": "123456789",
        "postedId": "1234567890123456789",
        "permalink": None,
        "publishedAt": "2026-02-22T14:30:00.000Z",
    },
)


@pytest.mark.parametrize(
    ("signature", "valid"),
    [
        (sign(PUBLISHED), True),
        (sign(PUBLISHED).upper(), True),
        (f"sha256={sign(PUBLISHED)}", True),
        (f"SHA256={sign(PUBLISHED).upper()}", True),
        (sign(PUBLISHED, "whsec_other"), False),
        (sign(PUBLISHED + b" "), False),
        (sign(PUBLISHED)[:-1], False),
        ("", False),
        (None, False),
        ("sha256=", False),
        ("é" * 64, False),
    ],
)
def test_webhook_signature(signature: str | None, valid: bool) -> None:
    assert verify_webhook_signature(SECRET, PUBLISHED, signature) is valid


def test_webhook_signature_covers_the_exact_bytes() -> None:
    signature = sign(PUBLISHED)
    reserialised = json.dumps(json.loads(PUBLISHED), separators=(",", ":")).encode()
    assert reserialised != PUBLISHED
    assert not verify_webhook_signature(SECRET, reserialised, signature)
    assert not verify_webhook_signature(SECRET, PUBLISHED.replace(b"123456789", b"987654321"), signature)
    assert not verify_webhook_signature("", PUBLISHED, sign(PUBLISHED, ""))


def test_parse_a_published_event_builds_the_link() -> None:
    event = parse_webhook(PUBLISHED)

    assert event == PubloraWebhookEvent(
        event="post.published",
        post_group_id="507f1f77bcf86cd799439011",
        account_id="twitter-123456789",
        outcome=AccountOutcome.PUBLISHED,
        url="https://x.com/i/web/status/1234567890123456789",
        error=None,
        network=Network.X,
    )


def test_parse_a_failed_event_gives_plain_words() -> None:
    raw = envelope(
        "post.failed",
        {
            "postId": "663a1b2c3d4e5f6a7b8c9d03",
            "postGroupId": "507f1f77bcf86cd799439011",
            "platform": "linkedin",
            "error": {"code": "PLATFORM_AUTH_EXPIRED", "message": "Error validating access token"},
            "failedAt": "2026-02-22T14:30:00.000Z",
        },
    )

    event = parse_webhook(raw)

    assert event is not None and event.outcome is AccountOutcome.FAILED
    assert event.network is Network.LINKEDIN and event.account_id is None  # §8 names no platformId here
    assert event.error == (
        "The connection to this account has expired; reconnect it in Publora. "
        "Publora said: Error validating access token."
    )
    assert event.url is None


def test_parse_other_events_without_an_outcome() -> None:
    demoted = parse_webhook(
        envelope(
            "post.demoted",
            {
                "postGroupId": "507f1f77bcf86cd799439011",
                "reason": "media_changed",
                "changeType": "attach",
                "mediaFileId": "65f8a1b2c3d4e5f6a7b8c9d0",
            },
        )
    )
    assert demoted == PubloraWebhookEvent(event="post.demoted", post_group_id="507f1f77bcf86cd799439011")
    expiring = parse_webhook(
        envelope("token.expiring", {"platform": "bluesky", "platformId": "bluesky-did:plc:abc"})
    )
    assert expiring is not None and expiring.outcome is None
    assert expiring.account_id == "bluesky-did:plc:abc"  # an already prefixed id is kept


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"post.published"',
        b'{"event": "post.published"}',
        b'{"event": "post.published", "data": []}',
        b'{"event": 7, "data": {}}',
        b"[" * 100_000,
    ],
)
def test_parse_garbage_gives_none(raw: bytes) -> None:
    assert parse_webhook(raw) is None


def test_webhooks_from_the_fake_verify_and_parse(fake: FakePublora, provider: PubloraProvider) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    bsky = fake.add_connection("bluesky", "did:plc:abc", username="acme.bsky.social")
    fake.fail_account(bsky, code="RATE_LIMITED", message="Too Many Requests", retryable=True)
    with WebhookInbox() as inbox:
        fake.set_webhook(inbox.url, SECRET)
        receipt = provider.submit(request(x, bsky, at=datetime.now(UTC)))
        fake.wait_for(lambda: len(inbox.received()) == 2, timeout=5)

    events = {}
    for delivery in inbox.received():
        assert verify_webhook_signature(SECRET, delivery["raw"], delivery["headers"]["X-Publora-Signature"])
        event = parse_webhook(delivery["raw"])
        assert event is not None and event.post_group_id == receipt.external_id
        events[event.event] = event
    [posted] = fake.published(x)
    assert events["post.published"].account_id == x
    assert events["post.published"].url == f"https://x.com/i/web/status/{posted['postedId']}"
    assert events["post.failed"].network is Network.BLUESKY
    assert (events["post.failed"].error or "").startswith("The network is rate-limiting this account")
