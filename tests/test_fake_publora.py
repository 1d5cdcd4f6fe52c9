"""FakePublora keeps the contract's rules (shared/providers/publora.md), checked with a raw HTTP client."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.publora import FakePublora, WebhookInbox, iso

KEY = "sk_test_0123456789.abcdef"
#: Networks that take a text-only post, for tests that need several targets at once.
PLATFORMS_TEXT_ONLY = ("twitter", "linkedin", "bluesky", "mastodon", "facebook")


@pytest.fixture
def fake() -> Iterator[FakePublora]:
    with FakePublora(publish_delay=0.1, tick=0.02) as server:
        yield server


@pytest.fixture
def api(fake: FakePublora) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"x-publora-key": KEY}, timeout=5) as client:
        yield client


def soon(seconds: float = 3600) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def create(api: httpx.Client, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/create-post", json=body, headers=headers)


def test_url_and_auth(fake: FakePublora, api: httpx.Client) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", fake.url)
    missing = httpx.get(f"{fake.url}/platform-connections")
    assert (missing.status_code, missing.json()) == (401, {"error": "API key is required"})
    wrong = httpx.get(f"{fake.url}/platform-connections", headers={"x-publora-key": "sk_nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Invalid API key"})
    assert fake.requests("platform-connections")[1]["headers"]["X-Publora-Key"] == "sk_nope"
    bad_user = api.get("/platform-connections", headers={"x-publora-user-id": "nope"})
    assert (bad_user.status_code, bad_user.json()) == (400, {"error": "Invalid x-publora-user-id"})


def test_connections_listing(fake: FakePublora, api: httpx.Client) -> None:
    fake.add_connection(
        "linkedin", "Tz9", username="John Doe", display_name="John", token_status="expiring_soon"
    )
    body = api.get("/platform-connections").json()
    assert body["success"] is True
    [row] = body["connections"]
    assert row["platformId"] == "linkedin-Tz9"
    assert row["tokenStatus"] == "expiring_soon" and row["tokenExpiresIn"] == "6d 23h"
    assert {"profileUrl", "accessTokenExpiresAt", "lastSuccessfulPost", "lastError"} <= set(row)


ONE = ["twitter-1"]
UNKNOWN_SETTING = "Unknown platformSettings path: bluesky"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"platforms": ONE}, "Content is required"),
        ({"content": "   ", "platforms": ONE}, "Content is required"),
        ({"content": "hi"}, "Platforms are required"),
        ({"content": "hi", "platforms": []}, "At least one platform is required"),
        ({"content": "hi", "platforms": "twitter-1"}, "Invalid platforms JSON format"),
        ({"content": "hi", "platforms": {"a": 1}}, "Platforms must be an array"),
        ({"content": "hi", "platforms": ["Twitter-1"]}, "Invalid platform ID format: Twitter-1"),
        ({"content": "hi", "platforms": ["twitter-1/2"]}, "Invalid platform ID format: twitter-1/2"),
        ({"content": "hi", "platforms": ONE * 2}, "Platforms must not contain duplicates"),
        ({"content": "hi", "platforms": ONE, "scheduledTime": "tomorrow"}, "Invalid scheduled time format"),
        (
            {"content": "hi", "platforms": ONE, "scheduledTime": "2031-01-01T10:00"},
            "Invalid scheduled time format",
        ),
        ({"content": "hi", "platforms": ONE, "platformSettings": {"bluesky": {}}}, UNKNOWN_SETTING),
    ],
)
def test_create_rejects_bad_requests(
    fake: FakePublora, api: httpx.Client, body: dict[str, Any], error: str
) -> None:
    fake.add_connection("twitter", "1", username="acme")
    answer = create(api, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert fake.groups() == {}


def test_create_unknown_connection(api: httpx.Client) -> None:
    answer = create(api, {"content": "hi", "platforms": ["twitter-9"], "scheduledTime": soon()})
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_PLATFORM_CONNECTION"
    assert answer.json()["invalidPlatforms"] == ["twitter-9"]


def test_create_schedules_or_drafts(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    when = soon()
    scheduled = create(api, {"content": "hi", "platforms": [x], "scheduledTime": when})
    assert scheduled.status_code == 200
    body = scheduled.json()
    assert set(body) == {"success", "postGroupId", "scheduledTime"}  # no empty warnings
    assert re.fullmatch(r"[0-9a-f]{24}", body["postGroupId"]) and body["scheduledTime"] == when

    draft = create(api, {"content": "x" * 5000, "platforms": [x]}).json()  # drafts skip validation
    assert draft["scheduledTime"] is None
    assert fake.groups()[draft["postGroupId"]]["status"] == "draft"


def test_past_times_are_coerced_or_refused(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    asked = iso(datetime.now(UTC) - timedelta(minutes=2))
    coerced = create(api, {"content": "hi", "platforms": [x], "scheduledTime": asked}).json()
    [warning] = coerced["warnings"]
    assert warning["code"] == "SCHEDULED_TIME_COERCED" and warning["requested"] == asked
    assert coerced["scheduledTime"] == warning["effective"] > asked

    late = create(
        api,
        {"content": "hi", "platforms": [x], "scheduledTime": iso(datetime.now(UTC) - timedelta(minutes=6))},
    )
    assert late.status_code == 400
    assert late.json()["code"] == "SCHEDULED_TIME_IN_PAST"
    assert (
        late.json()["error"]
        == f"Scheduled time is in the past. Server time is {late.json()['serverTime']} UTC."
    )


def test_scheduling_validates_text_limits_and_media(fake: FakePublora, api: httpx.Client) -> None:
    li = fake.add_connection("linkedin", "2", username="acme")
    tiktok = fake.add_connection("tiktok", "3", username="acme")
    answer = create(api, {"content": "x" * 3001, "platforms": [li, tiktok], "scheduledTime": soon()})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "Validation failed"
    codes = [(e["code"], e["platform"]) for e in body["validation"]["errors"]]
    assert codes == [
        ("CONTENT_TOO_LONG", "linkedin"),
        ("MEDIA_REQUIRED", "tiktok"),
        ("CONTENT_TOO_LONG", "tiktok"),
    ]
    assert body["validation"]["summary"] == {
        "errorCount": 3,
        "warningCount": 0,
        "affectedPlatforms": ["linkedin", "tiktok"],
    }


def test_long_x_text_becomes_a_thread(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    group_id = create(api, {"content": "word " * 100, "platforms": [x], "scheduledTime": soon()}).json()[
        "postGroupId"
    ]
    [post] = api.get(f"/get-post/{group_id}").json()["posts"]
    assert post["isThread"] is True
    assert all(len(part["content"]) <= 280 for part in post["threadParts"])
    assert post["threadParts"][0]["content"].endswith("(1/2)")


def test_a_threads_chain_is_refused_as_publora_says_and_an_x_chain_is_not(
    fake: FakePublora, api: httpx.Client
) -> None:
    # Publora's own text: multi-post chains on Threads are temporarily unavailable; single posts work.
    threads = fake.add_connection("threads", "5", username="acme")
    x = fake.add_connection("twitter", "6", username="acme")
    chain = "First part\n---\nSecond part"
    refused = create(api, {"content": chain, "platforms": [threads], "scheduledTime": soon()})
    assert refused.status_code == 400
    [error] = refused.json()["validation"]["errors"]
    assert (error["code"], error["platform"]) == ("THREADS_CHAINS_UNAVAILABLE", "threads")
    assert create(
        api, {"content": "First part\n\nSecond part", "platforms": [threads], "scheduledTime": soon()}
    ).is_success
    assert create(api, {"content": chain, "platforms": [x], "scheduledTime": soon()}).is_success


def test_idempotency_replays_and_conflicts(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    when = soon()
    first = create(api, {"content": "hi", "platforms": [x], "scheduledTime": when}, key="k1")
    again = create(
        api, {"scheduledTime": when, "platforms": [x], "content": "hi"}, key="k1"
    )  # key order irrelevant
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    conflict = create(api, {"content": "other", "platforms": [x], "scheduledTime": when}, key="k1")
    assert conflict.status_code == 422 and conflict.json()["code"] == "IDEMPOTENCY_KEY_CONFLICT"
    refused = create(api, {"content": "", "platforms": [x]}, key="k2")
    assert (
        create(api, {"content": "", "platforms": [x]}, key="k2").json() == refused.json()
    )  # errors replay too
    assert len(fake.groups()) == 1


def test_idempotency_in_flight(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fake.set_processing_delay("create-post", 0.4)
    body = {"content": "hi", "platforms": [x], "scheduledTime": soon()}
    answers: list[httpx.Response] = []
    first = threading.Thread(target=lambda: answers.append(create(api, body, key="k")))
    first.start()
    fake.wait_for(lambda: fake.requests("create-post"), timeout=2)
    second = create(api, body, key="k")
    first.join(timeout=5)
    assert second.status_code == 409 and second.json()["code"] == "IDEMPOTENCY_IN_FLIGHT"
    assert answers[0].status_code == 200
    assert len(fake.groups()) == 1


def test_get_post_errors(api: httpx.Client) -> None:
    malformed = api.get("/get-post/123")
    assert (malformed.status_code, malformed.json()) == (500, {"error": "Failed to fetch post group"})
    unknown = api.get("/get-post/0123456789abcdef01234567")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Post group not found"})
    assert api.get("/post-logs/xyz").json() == {"error": "Failed to get post logs"}


def test_scheduler_publishes_and_logs(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    bsky = fake.add_connection("bluesky", "did:plc:abc", username="acme.bsky.social")
    tg = fake.add_connection("telegram", "-100123", username="acmenews")
    fake.fail_account(tg, message="Bot was kicked")
    group_id = create(
        api, {"content": "hi", "platforms": [x, li, bsky, tg], "scheduledTime": iso(datetime.now(UTC))}
    ).json()["postGroupId"]

    fake.wait_for(
        lambda: api.get(f"/get-post/{group_id}").json()["status"] == "partially_published", timeout=5
    )

    group = api.get(f"/get-post/{group_id}").json()
    posts = {p["platform"]: p for p in group["posts"]}
    assert posts["telegram"]["platformId"] == "-100123"  # raw id, no prefix
    assert re.fullmatch(r"1\d{18}", posts["twitter"]["postedId"])
    assert re.fullmatch(r"urn:li:share:\d{19}", posts["linkedin"]["postedId"])
    assert re.fullmatch(r"at://did:plc:abc/app\.bsky\.feed\.post/[a-z2-7]{13}", posts["bluesky"]["postedId"])
    assert all(p["permalink"] is None for p in posts.values())
    assert "error" not in posts["twitter"]
    assert posts["telegram"]["status"] == "failed" and posts["telegram"]["postedId"] is None
    assert posts["telegram"]["error"]["code"] == "PLATFORM_AUTH_EXPIRED"
    assert posts["telegram"]["error"]["message"] == "Bot was kicked"
    assert sorted(p["platformId"] for p in fake.published()) == sorted([x, li, bsky])
    assert len(fake.published(x)) == 1

    logs = api.get(f"/post-logs/{group_id}").json()["logs"]
    events = [entry["event"] for entry in logs if entry.get("platform") == "telegram"]
    assert events == ["processing", "publish_attempted", "publish_failed"]
    [failed] = [entry for entry in logs if entry["event"] == "publish_failed"]
    assert failed["error"] == "Bot was kicked" and failed["metadata"]["errorCode"] == "PLATFORM_AUTH_EXPIRED"
    assert "postId" not in logs[0]  # the group-level "scheduled" entry has no post


# -- first comments (§4) ----------------------------------------------------------------------------

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, 25 bytes


def due_now() -> str:
    return iso(datetime.now(UTC))


def post_with(api: httpx.Client, platforms: list[str], **comments: Any) -> httpx.Response:
    return create(api, {"content": "hi", "platforms": platforms, "scheduledTime": soon(), **comments})


@pytest.mark.parametrize(
    ("comments", "error"),
    [
        (
            {"firstComments": [{"text": "a"}], "firstComment": {"text": "b"}},
            "Send firstComments or the legacy firstComment, not both",
        ),
        ({"firstComments": {"text": "a"}}, "firstComments must be an array"),
        ({"firstComments": [{"text": str(n)} for n in range(4)]}, "At most 3 first comments are allowed"),
        ({"firstComments": [{"text": "  "}]}, "firstComments[0].text is required"),
        ({"firstComment": {"platforms": ["twitter"]}}, "firstComment.text is required"),
        (
            {"firstComments": [{"text": "a"}, {"text": "b", "delaySeconds": 86_401}]},
            "firstComments[1].delaySeconds must be a whole number from 0 to 86400",
        ),
        (
            {"firstComments": [{"text": "a", "delaySeconds": -1}]},
            "firstComments[0].delaySeconds must be a whole number from 0 to 86400",
        ),
        (
            {"firstComments": [{"text": "a", "platforms": []}]},
            "firstComments[0].platforms must be a non-empty array of platform types",
        ),
    ],
)
def test_malformed_first_comments_are_refused(
    fake: FakePublora, api: httpx.Client, comments: dict[str, Any], error: str
) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    answer = post_with(api, [x], **comments)
    assert (answer.status_code, answer.json()) == (400, {"error": error, "code": "FIRST_COMMENT_INVALID"})
    assert fake.groups() == {}


def test_first_comment_platforms_are_types_not_connection_ids(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    answer = post_with(api, [x], firstComments=[{"text": "a", "platforms": [x]}])
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "FIRST_COMMENT_PLATFORM_UNKNOWN" and "twitter" in body["allowed"]
    assert fake.groups() == {}


LINK = " https://example.com/" + "a" * 40  # Mastodon counts it as 1 + 23 characters


@pytest.mark.parametrize(
    ("platform", "too_long", "fits", "limit", "count", "unit"),
    [
        ("twitter", "x" * 281, "x" * 280, 280, 281, "characters"),
        ("linkedin", "x" * 1251, "x" * 1250, 1250, 1251, "characters"),
        ("threads", "é" * 501, "é" * 500, 500, 501, "code points"),
        ("bluesky", "x" * 301, "x" * 300, 300, 301, "graphemes"),
        ("bluesky", FAMILY * 121, FAMILY * 120, 3000, 3025, "bytes"),  # few graphemes, too many bytes
        ("mastodon", "x" * 478 + LINK, "x" * 476 + LINK, 500, 502, "characters"),
    ],
)
def test_first_comments_too_long_for_a_target_name_it(
    fake: FakePublora,
    api: httpx.Client,
    platform: str,
    too_long: str,
    fits: str,
    limit: int,
    count: int,
    unit: str,
) -> None:
    target = fake.add_connection(platform, "1", username="acme")
    answer = post_with(api, [target], firstComments=[{"text": too_long}])
    assert answer.status_code == 400
    body = answer.json()
    assert (body["code"], body["platform"], body["limit"], body["count"], body["unit"]) == (
        "FIRST_COMMENT_TOO_LONG",
        platform,
        limit,
        count,
        unit,
    )
    assert post_with(api, [target], firstComments=[{"text": fits}]).status_code == 200


def test_first_comment_limits_follow_the_targets(fake: FakePublora, api: httpx.Client) -> None:
    premium = fake.add_connection("twitter", "1", username="acme", subscription_type="Premium")
    basic = fake.add_connection("twitter", "2", username="acme")
    li = fake.add_connection("linkedin", "3", username="acme")
    long_comment = [{"text": "x" * 1000}]
    # X allows 25,000 only when every X target is Premium; LinkedIn keeps its own 1,250.
    assert post_with(api, [premium, li], firstComments=long_comment).status_code == 200
    assert post_with(api, [premium, basic], firstComments=long_comment).json()["platform"] == "twitter"
    # A comment meant for LinkedIn only is not held to X's limit.
    only_li = [{"text": "x" * 1000, "platforms": ["linkedin"]}]
    assert post_with(api, [basic, li], firstComments=only_li).status_code == 200
    assert post_with(api, [premium], firstComments=[{"text": "x" * 25_001}]).json()["limit"] == 25_000


def test_first_comment_warnings(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    fb = fake.add_connection("facebook", "2", username="acme")
    answer = post_with(
        api,
        [x, fb],
        firstComments=[{"text": "for everyone"}, {"text": "for threads", "platforms": ["threads"]}],
    )
    assert answer.status_code == 200
    assert [(w["code"], w["platforms"]) for w in answer.json()["warnings"]] == [
        ("FIRST_COMMENT_UNSUPPORTED_PLATFORMS", ["facebook"]),
        ("FIRST_COMMENT_PLATFORM_NOT_TARGETED", ["threads"]),
    ]
    assert answer.json()["warnings"][0]["message"] == (
        "First comments are not supported on Facebook; they will be skipped there."
    )


def test_first_comments_go_out_after_publishing(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    li = fake.add_connection("linkedin", "2", username="acme")
    fb = fake.add_connection("facebook", "3", username="acme")
    tg = fake.add_connection("telegram", "4", username="acme")
    fake.fail_account(li, message="Token expired")
    comments = [
        {"text": "first", "delaySeconds": 0},
        {"text": "later", "delaySeconds": 1},
        {"text": "only on linkedin", "platforms": ["linkedin"]},
    ]
    group_id = create(
        api,
        {
            "content": "hi",
            "platforms": [x, li, fb, tg],
            "scheduledTime": due_now(),
            "firstComments": comments,
        },
    ).json()["postGroupId"]
    assert fake.groups()[group_id]["firstComments"] == comments  # kept as it arrived

    fake.wait_for(lambda: fake.groups()[group_id]["status"] == "partially_published", timeout=5)
    posts = {p["platform"]: p for p in api.get(f"/get-post/{group_id}").json()["posts"]}
    result = posts["twitter"]["firstCommentResult"]
    assert result["status"] == "posted" and re.fullmatch(r"1\d{18}", result["commentId"])
    assert result["postedAt"] == result["attemptedAt"] and result["error"] is None
    assert posts["facebook"]["firstCommentResult"]["status"] == "skipped"
    assert posts["linkedin"]["firstCommentResult"] is None  # the post failed: nothing to comment on
    assert [c["text"] for c in fake.posted_comments(group_id)] == ["first"]

    fake.wait_for(lambda: len(fake.posted_comments(group_id)) == 2, timeout=5)
    assert [(c["platformId"], c["text"]) for c in fake.posted_comments()] == [(x, "first"), (x, "later")]


def test_the_legacy_form_is_kept_and_shown_on_get_post(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    legacy = {"text": "single", "platforms": ["twitter"]}
    group_id = create(
        api, {"content": "hi", "platforms": [x], "scheduledTime": due_now(), "firstComment": legacy}
    ).json()["postGroupId"]
    assert api.get(f"/get-post/{group_id}").json()["firstComment"] == legacy
    fake.wait_for(lambda: fake.posted_comments(group_id), timeout=5)
    assert [c["text"] for c in fake.posted_comments(group_id)] == ["single"]


def test_update_post_sets_replaces_and_clears_first_comments(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    group_id = create(api, {"content": "hi", "platforms": [x], "firstComment": {"text": "old"}}).json()[
        "postGroupId"
    ]

    replaced = api.put(f"/update-post/{group_id}", json={"firstComments": [{"text": "new"}]})
    assert replaced.status_code == 200
    group = fake.groups()[group_id]
    assert (group["firstComments"], group["firstComment"]) == ([{"text": "new"}], None)
    too_long = api.put(f"/update-post/{group_id}", json={"firstComments": [{"text": "x" * 281}]})
    assert too_long.json()["code"] == "FIRST_COMMENT_TOO_LONG"
    assert fake.groups()[group_id]["firstComments"] == [{"text": "new"}]  # a refusal changes nothing
    # A status change alone leaves the comment as it was.
    api.put(f"/update-post/{group_id}", json={"status": "scheduled", "scheduledTime": soon()})
    assert fake.groups()[group_id]["firstComments"] == [{"text": "new"}]

    cleared = api.put(f"/update-post/{group_id}", json={"firstComments": None})
    assert cleared.status_code == 200
    group = fake.groups()[group_id]
    assert (group["firstComments"], group["firstComment"]) == (None, None)


def test_list_posts_pages(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    for n in range(3):
        create(api, {"content": f"post {n}", "platforms": [x], "scheduledTime": soon(3600 + n)})
    page = api.get("/list-posts", params={"page": 2, "limit": 2}).json()
    assert [p["content"] for p in page["posts"]] == ["post 0"]  # newest first
    assert page["pagination"] == {
        "page": 2,
        "limit": 2,
        "totalItems": 3,
        "totalPages": 2,
        "hasNextPage": False,
        "hasPrevPage": True,
    }
    assert page["posts"][0]["platforms"] == [{"platformId": x, "platform": "twitter", "status": "scheduled"}]
    assert api.get("/list-posts", params={"status": "nope"}).status_code == 400


def test_update_and_delete(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    group_id = create(api, {"content": "hi", "platforms": [x]}).json()["postGroupId"]
    assert api.put(f"/update-post/{group_id}", json={}).status_code == 400
    when = soon()
    updated = api.put(
        f"/update-post/{group_id}", json={"status": "scheduled", "scheduledTime": when, "content": "new"}
    )
    assert updated.json()["postGroup"] == {
        "_id": group_id,
        "status": "scheduled",
        "content": "new",
        "platforms": [x],
        "scheduledTime": when,
    }
    paused = api.put(f"/update-post/{group_id}", json={"status": "draft"}).json()
    assert paused["postGroup"]["status"] == "draft" and paused["scheduledTime"] == when
    assert api.delete(f"/delete-post/{group_id}").json() == {"success": True}
    assert api.delete(f"/delete-post/{group_id}").status_code == 404
    assert api.put("/update-post/bad", json={"status": "draft"}).json() == {"error": "Failed to update post"}


def test_update_refuses_published_and_in_progress() -> None:
    with (
        FakePublora(publish_delay=30, tick=0.02) as slow,
        httpx.Client(base_url=slow.url, headers={"x-publora-key": KEY}, timeout=5) as api,
    ):
        x = slow.add_connection("twitter", "1", username="acme")
        group_id = create(
            api, {"content": "hi", "platforms": [x], "scheduledTime": iso(datetime.now(UTC))}
        ).json()["postGroupId"]
        slow.wait_for(lambda: slow.groups()[group_id]["posts"][0]["status"] == "pending", timeout=5)
        busy = api.put(f"/update-post/{group_id}", json={"status": "draft"})
        assert busy.status_code == 409 and busy.json()["code"] == "POST_PUBLISH_IN_PROGRESS"
        # Deleting does not stop the in-flight publish (§7).
        assert api.delete(f"/delete-post/{group_id}").status_code == 200
        slow.publish_delay = 0
        slow.wait_for(slow.published, timeout=5)

    with (
        FakePublora(publish_delay=0, tick=0.02) as fast,
        httpx.Client(base_url=fast.url, headers={"x-publora-key": KEY}, timeout=5) as api,
    ):
        x = fast.add_connection("twitter", "1", username="acme")
        group_id = create(
            api, {"content": "hi", "platforms": [x], "scheduledTime": iso(datetime.now(UTC))}
        ).json()["postGroupId"]
        fast.wait_for(lambda: fast.groups()[group_id]["status"] == "published", timeout=5)
        done = api.put(f"/update-post/{group_id}", json={"content": "late"})
        assert done.status_code == 400
        assert done.json() == {
            "error": "Cannot update post: post is currently in published status",
            "code": "POST_NOT_EDITABLE",
        }


def test_fault_injection(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    body = {"content": "hi", "platforms": [x], "scheduledTime": soon()}
    fake.fail_next("create-post", status=500, after_processing=True)
    lost = create(api, body, key="k")
    assert (lost.status_code, lost.json()) == (500, {"error": "Failed to create post group"})
    [group_id] = fake.groups()  # stored although the answer failed
    replay = create(api, body, key="k")
    assert (replay.status_code, replay.json()["postGroupId"]) == (200, group_id)
    fake.fail_next("get-post", status=429)
    limited = api.get("/get-post/0123456789abcdef01234567")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    fake.set_down(True)
    assert api.get("/platform-connections").status_code == 503
    fake.set_down(False)
    assert api.get("/platform-connections").status_code == 200
    with pytest.raises(httpx.ReadTimeout):
        fake.fail_next("platform-connections", delay=1.0)
        api.get("/platform-connections", timeout=0.2)


def test_wait_for_is_bounded(fake: FakePublora) -> None:
    with pytest.raises(AssertionError, match="still false"):
        fake.wait_for(lambda: False, timeout=0.05)
    assert fake.wait_for(lambda f: f is fake, timeout=0.05) is True


# -- media (§5a) ------------------------------------------------------------------------------------


def draft(api: httpx.Client, platform_id: str) -> str:
    group_id: str = create(api, {"content": "hi", "platforms": [platform_id]}).json()["postGroupId"]
    return group_id


def upload_url(api: httpx.Client, group_id: str, name: str = "photo.jpg", mime: str = "image/jpeg") -> Any:
    return api.post("/get-upload-url", json={"fileName": name, "contentType": mime, "postGroupId": group_id})


REQUIRED = "fileName, contentType and postGroupId are required"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"contentType": "image/png", "postGroupId": "GROUP"}, REQUIRED),
        ({"fileName": "a.png", "postGroupId": "GROUP"}, REQUIRED),
        ({"fileName": "a.png", "contentType": "image/png"}, REQUIRED),
        (
            {"fileName": "a.txt", "contentType": "text/plain", "postGroupId": "GROUP"},
            "contentType must be an image/*, video/* or application/pdf type",
        ),
        (
            {"fileName": "a.png", "contentType": "image/png", "type": "gif", "postGroupId": "GROUP"},
            "type must be one of: image, video, document",
        ),
    ],
)
def test_upload_url_rejects_bad_requests(
    fake: FakePublora, api: httpx.Client, body: dict[str, Any], error: str
) -> None:
    group_id = draft(api, fake.add_connection("twitter", "1", username="acme"))
    sent = {k: group_id if v == "GROUP" else v for k, v in body.items()}
    answer = api.post("/get-upload-url", json=sent)
    assert (answer.status_code, answer.json()["error"]) == (400, error)
    assert fake.media(group_id) == []


def test_upload_url_gives_a_storage_address_and_a_media_row(fake: FakePublora, api: httpx.Client) -> None:
    group_id = draft(api, fake.add_connection("twitter", "1", username="acme"))

    answer = upload_url(api, group_id, name="my photo (1).jpg")

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"success", "uploadUrl", "fileUrl", "mediaId"}  # a draft is not demoted
    assert body["uploadUrl"].startswith(f"{fake.storage_url}/")
    assert re.fullmatch(r"[0-9a-f]{24}", body["mediaId"])
    [row] = api.get(f"/get-post/{group_id}").json()["media"]
    assert row == {
        "mediaId": body["mediaId"],
        "sourceFileName": "my photo (1).jpg",
        "fileName": "my_photo_1.jpg",
        "type": "image",
        "mimeType": "image/jpeg",
        "status": "uploading",
        "failureReason": None,
        "url": body["fileUrl"],
    }
    assert upload_url(api, "0123456789abcdef01234567").status_code == 404


def test_storage_put_wants_the_declared_type_and_no_api_key(fake: FakePublora, api: httpx.Client) -> None:
    group_id = draft(api, fake.add_connection("twitter", "1", username="acme"))
    target = upload_url(api, group_id).json()["uploadUrl"]
    data = b"\xff\xd8\xff" + b"jpeg" * 100

    wrong_type = httpx.put(target, content=data, headers={"Content-Type": "image/png"})
    with_key = httpx.put(target, content=data, headers={"Content-Type": "image/jpeg", "x-publora-key": KEY})
    chunked = httpx.put(target, content=iter([data]), headers={"Content-Type": "image/jpeg"})
    unknown = httpx.put(f"{fake.storage_url}/nope", content=data, headers={"Content-Type": "image/jpeg"})
    assert fake.media(group_id)[0]["size"] is None  # nothing stored by the refused PUTs
    stored = httpx.put(target, content=data, headers={"Content-Type": "image/jpeg"})

    assert wrong_type.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in wrong_type.content
    assert with_key.status_code == 400
    assert chunked.status_code == 411 and b"MissingContentLength" in chunked.content
    assert unknown.status_code == 403
    assert stored.status_code == 200 and stored.headers["ETag"]
    assert [p["status"] for p in fake.storage_puts()] == [403, 400, 411, 403, 200]
    assert fake.storage_puts()[-1]["contentType"] == "image/jpeg"
    assert httpx.get(target).content == data
    assert fake.requests("create-post")[0]["headers"]["x-publora-key"] == KEY  # the API still wants it


def test_complete_media_probes_the_bytes(fake: FakePublora, api: httpx.Client) -> None:
    group_id = draft(api, fake.add_connection("twitter", "1", username="acme"))
    upload = upload_url(api, group_id, name="clip.mp4", mime="video/mp4").json()

    empty = api.post(f"/complete-media/{upload['mediaId']}")
    assert empty.status_code == 400 and empty.json()["code"] == "PROBE_FAILED"
    assert fake.media(group_id)[0]["status"] == "failed"
    httpx.put(upload["uploadUrl"], content=b"\x00" * 64, headers={"Content-Type": "video/mp4"})
    done = api.post(f"/complete-media/{upload['mediaId']}")

    assert done.status_code == 200
    media_file = done.json()["mediaFile"]
    assert (media_file["_id"], media_file["type"], media_file["status"]) == (
        upload["mediaId"],
        "video",
        "ready",
    )
    assert media_file["metadata"] == {"size": 64}
    assert api.post("/complete-media/123").json()["code"] == "INVALID_MEDIA_FILE_ID"
    missing = api.post("/complete-media/0123456789abcdef01234567")
    assert missing.status_code == 404 and missing.json()["code"] == "MEDIA_FILE_NOT_FOUND"
    events = [entry["event"] for entry in fake.logs(group_id)]
    assert events == ["media_finalize_failed", "media_finalize_succeeded"]


def test_scheduling_needs_ready_media(fake: FakePublora, api: httpx.Client) -> None:
    ig = fake.add_connection("instagram", "1784", username="acme")
    group_id = draft(api, ig)
    schedule = {"status": "scheduled", "scheduledTime": soon()}

    required = api.put(f"/update-post/{group_id}", json=schedule).json()
    assert required["validation"]["errors"][0]["code"] == "MEDIA_REQUIRED"
    upload = upload_url(api, group_id).json()
    not_ready = api.put(f"/update-post/{group_id}", json=schedule)
    assert not_ready.status_code == 400 and not_ready.json()["code"] == "MEDIA_NOT_READY"
    # Bytes that arrived without complete-media are probed when the post is scheduled.
    httpx.put(upload["uploadUrl"], content=b"jpeg", headers={"Content-Type": "image/jpeg"})
    scheduled = api.put(f"/update-post/{group_id}", json=schedule)

    assert scheduled.status_code == 200 and scheduled.json()["postGroup"]["status"] == "scheduled"
    assert fake.media(group_id)[0]["status"] == "ready"


def test_youtube_needs_a_video(fake: FakePublora, api: httpx.Client) -> None:
    group_id = draft(api, fake.add_connection("youtube", "UCabc", username="Acme"))
    upload = upload_url(api, group_id).json()
    httpx.put(upload["uploadUrl"], content=b"jpeg", headers={"Content-Type": "image/jpeg"})
    answer = api.put(f"/update-post/{group_id}", json={"status": "scheduled", "scheduledTime": soon()})
    assert [e["code"] for e in answer.json()["validation"]["errors"]] == ["VIDEO_REQUIRED"]


def test_media_on_a_scheduled_post_demotes_it(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    group_id = create(api, {"content": "hi", "platforms": [x], "scheduledTime": soon()}).json()["postGroupId"]

    attached = upload_url(api, group_id).json()

    assert attached["postGroupDemoted"] is True and "schedule it again" in attached["message"]
    assert fake.groups()[group_id]["status"] == "draft"
    assert {p["status"] for p in fake.groups()[group_id]["posts"]} == {"draft"}


def test_delete_media(fake: FakePublora, api: httpx.Client) -> None:
    group_id = draft(api, fake.add_connection("twitter", "1", username="acme"))
    media_id = upload_url(api, group_id).json()["mediaId"]
    assert api.delete(f"/media/{media_id}").json() == {"success": True}
    assert fake.media(group_id) == []
    assert api.delete(f"/media/{media_id}").status_code == 404
    assert api.delete("/media/nope").json() == {"error": "Invalid mediaId"}


def test_deleting_a_post_removes_its_media(fake: FakePublora, api: httpx.Client) -> None:
    group_id = draft(api, fake.add_connection("twitter", "1", username="acme"))
    upload = upload_url(api, group_id).json()
    httpx.put(upload["uploadUrl"], content=b"jpeg", headers={"Content-Type": "image/jpeg"})
    api.delete(f"/delete-post/{group_id}")
    assert httpx.get(upload["uploadUrl"]).status_code == 404


# -- webhooks (§8) ----------------------------------------------------------------------------------

SECRET = "whsec_test"


def test_webhooks_are_signed_per_target(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    tg = fake.add_connection("telegram", "-100123", username="acmenews")
    fake.fail_account(tg, message="Bot was kicked")
    with WebhookInbox() as inbox:
        fake.set_webhook(inbox.url, SECRET)
        group_id = create(
            api, {"content": "hi", "platforms": [x, tg], "scheduledTime": iso(datetime.now(UTC))}
        ).json()["postGroupId"]
        fake.wait_for(lambda: len(inbox.received()) == 2, timeout=5)

    by_event = {}
    for delivery in inbox.received():
        raw, headers = delivery["raw"], delivery["headers"]
        assert headers["X-Publora-Signature"] == hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["Content-Type"] == "application/json"
        body = json.loads(raw)
        assert headers["X-Publora-Event"] == body["event"] and body["version"] == "1"
        by_event[body["event"]] = body["data"]
    [posted] = fake.published(x)
    assert by_event["post.published"] == {
        "postId": posted["postId"],
        "postGroupId": group_id,
        "platform": "twitter",
        "platformId": "1",
        "postedId": posted["postedId"],
        "permalink": None,
        "publishedAt": posted["publishedAt"],
    }
    failed = by_event["post.failed"]
    assert set(failed) == {"postId", "postGroupId", "platform", "error", "failedAt"}
    assert failed["error"] == {"code": "PLATFORM_AUTH_EXPIRED", "message": "Bot was kicked"}
    deliveries = fake.webhook_deliveries()
    assert [d["status"] for d in deliveries] == [200, 200]
    assert [d["raw"] for d in deliveries] == [d["raw"] for d in inbox.received()]  # the bytes sent = signed


def test_only_subscribed_events_are_sent(fake: FakePublora, api: httpx.Client) -> None:
    x = fake.add_connection("twitter", "1", username="acme")
    with WebhookInbox() as inbox:
        fake.set_webhook(inbox.url, SECRET, events=("post.scheduled", "post.demoted"))
        group_id = create(api, {"content": "hi", "platforms": [x], "scheduledTime": soon()}).json()[
            "postGroupId"
        ]
        media_id = upload_url(api, group_id).json()["mediaId"]
        fake.wait_for(lambda: len(inbox.received()) == 2, timeout=5)
    events = [json.loads(d["raw"]) for d in inbox.received()]
    assert [e["event"] for e in events] == ["post.scheduled", "post.demoted"]
    assert events[0]["data"]["platforms"] == [x]
    assert events[1]["data"] == {
        "postGroupId": group_id,
        "reason": "media_changed",
        "changeType": "attach",
        "mediaFileId": media_id,
    }


def test_failing_webhooks_are_counted_and_switched_off(fake: FakePublora, api: httpx.Client) -> None:
    ids = [fake.add_connection(p, str(n), username="acme") for n, p in enumerate(PLATFORMS_TEXT_ONLY)]
    with WebhookInbox(status=500) as inbox:
        fake.set_webhook(inbox.url, SECRET)
        create(api, {"content": "hi", "platforms": ids, "scheduledTime": iso(datetime.now(UTC))})
        fake.wait_for(lambda: len(fake.webhook_deliveries()) == 5, timeout=5)
        hook = fake.webhook()
        assert hook is not None and (hook["isActive"], hook["failureCount"]) == (False, 5)
        create(api, {"content": "again", "platforms": ids[:1], "scheduledTime": iso(datetime.now(UTC))})
        fake.wait_for(lambda: len(fake.published()) == 6, timeout=5)
    assert len(fake.webhook_deliveries()) == 5  # one attempt each, none after switching off
    assert {d["status"] for d in fake.webhook_deliveries()} == {500}


def test_an_unreachable_webhook_is_a_counted_failure(fake: FakePublora, api: httpx.Client) -> None:
    with WebhookInbox() as gone:
        url = gone.url
    x = fake.add_connection("twitter", "1", username="acme")
    fake.set_webhook(url, SECRET)
    create(api, {"content": "hi", "platforms": [x], "scheduledTime": iso(datetime.now(UTC))})
    [delivery] = fake.wait_for(fake.webhook_deliveries, timeout=5)
    assert delivery["status"] is None and delivery["error"] == "ConnectError"
    assert fake.webhook() == {
        "url": url,
        "events": ["post.published", "post.failed"],
        "isActive": True,
        "failureCount": 1,
        "lastTriggeredAt": fake.webhook_deliveries()[0]["body"]["timestamp"],
    }


def test_send_webhook_delivers_hand_made_events(fake: FakePublora) -> None:
    data = {"postGroupId": "507f1f77bcf86cd799439011", "platform": "twitter", "error": {"code": "X"}}
    with pytest.raises(RuntimeError, match="set_webhook first"):
        fake.send_webhook("post.failed", data)
    with WebhookInbox(status=204) as inbox:
        fake.set_webhook(inbox.url, SECRET)
        assert fake.send_webhook("post.failed", data) == 204
        assert fake.send_webhook("post.failed", data, secret="other") == 204
        inbox.status = 401
        assert fake.send_webhook("post.failed", data, signature="sha256=forged") == 401
        first, other, forged = inbox.received()
    assert (
        first["headers"]["X-Publora-Signature"]
        == hmac.new(SECRET.encode(), first["raw"], hashlib.sha256).hexdigest()
    )
    assert (
        other["headers"]["X-Publora-Signature"]
        == hmac.new(b"other", other["raw"], hashlib.sha256).hexdigest()
    )
    assert forged["headers"]["X-Publora-Signature"] == "sha256=forged"
    assert json.loads(forged["raw"])["data"] == data
    assert [d["status"] for d in fake.webhook_deliveries()] == [204, 204, 401]
    hook = fake.webhook()
    assert hook is not None and hook["failureCount"] == 0  # hand-made sends do not count
