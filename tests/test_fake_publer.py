"""FakePubler keeps the contract's rules (shared/providers/publer.md), checked with a raw HTTP client."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.publer import TOO_SOON, FakePubler, iso

KEY = "publer-test-key-0123456789abcdef"
WORKSPACE = "61a7c2e4f9e8c3b2d1e0f9a8"


@pytest.fixture
def fake() -> Iterator[FakePubler]:
    with FakePubler(job_delay=0.02, publish_delay=0.05, tick=0.01) as server:
        yield server


@pytest.fixture
def api(fake: FakePubler) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer-API {KEY}", "Publer-Workspace-Id": WORKSPACE}
    with httpx.Client(base_url=fake.url, headers=headers, timeout=5) as client:
        yield client


def bulk(accounts: list[dict[str, Any]], **networks: dict[str, Any]) -> dict[str, Any]:
    blocks = networks or {"twitter": {"type": "status", "text": "Hello"}}
    return {"bulk": {"state": "scheduled", "posts": [{"networks": blocks, "accounts": accounts}]}}


def finished_job(fake: FakePubler, api: httpx.Client, job_id: str) -> dict[str, Any]:
    fake.wait_for(lambda: fake.jobs()[job_id]["status"] != "working", timeout=5)
    body: dict[str, Any] = api.get(f"/job_status/{job_id}").json()
    return body


def test_auth_needs_the_bearer_api_key_and_the_workspace_header(fake: FakePubler) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", fake.url)
    plain_bearer = httpx.get(f"{fake.url}/accounts", headers={"Authorization": f"Bearer {KEY}"})
    assert plain_bearer.status_code == 401
    assert plain_bearer.json() == {"errors": ["Unauthorized: the API key is missing or invalid"]}
    key_only = {"Authorization": f"Bearer-API {KEY}"}
    missing = httpx.get(f"{fake.url}/accounts", headers=key_only)
    assert (missing.status_code, missing.json()) == (403, {"errors": ["Missing Publer-Workspace-Id header"]})
    other = httpx.get(f"{fake.url}/accounts", headers={**key_only, "Publer-Workspace-Id": "0" * 24})
    assert other.status_code == 403
    # The user and the workspace list need no workspace header (§1).
    me = httpx.get(f"{fake.url}/users/me", headers=key_only)
    assert me.status_code == 200 and me.json()["name"] == "Ervin Torra"
    [workspace] = httpx.get(f"{fake.url}/workspaces", headers=key_only).json()
    assert workspace["id"] == WORKSPACE


def test_accounts_are_a_top_level_array(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    pin = fake.add_account("pinterest", "Acme boards")
    rows = api.get("/accounts").json()
    assert [(r["id"], r["provider"], r["type"]) for r in rows] == [
        (x, "twitter", "profile"),
        (pin, "pinterest", "business"),
    ]
    assert re.fullmatch(r"[0-9a-f]{24}", x)


def test_immediate_create_runs_a_job_and_publishes_one_post_per_account(
    fake: FakePubler, api: httpx.Client
) -> None:
    x = fake.add_account("twitter", "Acme")
    li = fake.add_account("linkedin", "Acme Inc")
    body = bulk(
        [{"id": x}, {"id": li}],
        twitter={"type": "status", "text": "Hello"},
        linkedin={"type": "status", "text": "Hello"},
    )

    answer = api.post("/posts/schedule/publish", json=body)

    assert answer.status_code == 200 and set(answer.json()) == {"job_id"}
    job_id = answer.json()["job_id"]
    assert api.get(f"/job_status/{job_id}").json() == {"status": "working"}
    assert finished_job(fake, api, job_id) == {"status": "complete", "payload": {"failures": {}}}
    fake.wait_for(lambda: len(fake.published()) == 2, timeout=5)
    posts = {p["account_id"]: p for p in fake.posts()}
    assert set(posts) == {x, li}
    assert posts[x]["state"] == "published_posted"
    assert posts[x]["post_link"] == f"https://twitter.example/{posts[x]['id']}"
    assert posts[li]["network"] == "linkedin"
    assert sorted(fake.jobs()[job_id]["post_ids"]) == sorted(p["id"] for p in posts.values())


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"comments": {"text": "Hi"}}, "comments must be an array"),
        ({"comments": [{"language": "en"}]}, "Each comment needs a text"),
        ({"comments": [{"text": " "}]}, "A comment needs a text or media"),
        (
            {"comments": [{"text": "Hi", "delay": {"duration": 5, "unit": "Second"}}]},
            "comment delay needs a duration and a unit (Minute, Hour, Day or Week)",
        ),
        (
            {"comments": [{"text": "Hi", "media": {"type": "pdf", "path": "https://cdn.example/a.pdf"}}]},
            "comment media needs a type (photo, video or gif) and a path",
        ),
    ],
)
def test_malformed_comment_callbacks_are_refused(
    fake: FakePubler, api: httpx.Client, entry: dict[str, Any], error: str
) -> None:
    x = fake.add_account("twitter", "Acme")
    answer = api.post("/posts/schedule/publish", json=bulk([{"id": x, **entry}]))
    assert (answer.status_code, answer.json()) == (400, {"errors": [error]})
    assert fake.jobs() == {}


def upload_photo(api: httpx.Client) -> str:
    answer = api.post("/media", files={"file": ("a.png", b"\x89PNG" + b"\x00" * 16, "image/png")})
    media_id: str = answer.json()["id"]
    return media_id


def test_comments_go_out_once_each_post_is_published(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    ig = fake.add_account("instagram", "acme")
    failing = fake.add_account("linkedin", "Acme Inc")
    fake.fail_account(failing, "Token expired", at="publish")
    photo = {"id": upload_photo(api), "type": "photo"}
    later = {"text": "Later", "delay": {"duration": 1, "unit": "Hour"}}
    body = bulk(
        [
            {"id": x, "comments": [{"text": "More", "language": "en"}, later]},
            {"id": ig, "comments": [{"text": "Tags"}]},
            {"id": failing, "comments": [{"text": "Never"}]},
        ],
        twitter={"type": "status", "text": "Hello"},
        instagram={"type": "photo", "text": "Hello", "media": [photo], "firstComment": "#launch"},
        linkedin={"type": "status", "text": "Hello"},
    )

    job_id = api.post("/posts/schedule/publish", json=body).json()["job_id"]
    finished_job(fake, api, job_id)
    fake.wait_for(lambda: all(p["state"] != "scheduled" for p in fake.posts()), timeout=5)

    stored = {
        row["account_id"]: (row["comments"], row["firstComment"]) for row in fake.first_comments().values()
    }
    assert stored == {
        x: ([{"text": "More", "language": "en"}, later], None),
        ig: ([{"text": "Tags"}], "#launch"),
        failing: ([{"text": "Never"}], None),
    }
    # Undelayed ones right after publishing (Instagram's block comment too); nothing under a failed post.
    assert sorted((c["account_id"], c["text"]) for c in fake.posted_comments()) == sorted(
        [(x, "More"), (ig, "#launch"), (ig, "Tags")]
    )
    assert "comments" not in fake.posts()[0]  # GET /posts shows no callbacks


def test_instagram_first_comment_must_be_text(fake: FakePubler, api: httpx.Client) -> None:
    ig = fake.add_account("instagram", "acme")
    body = bulk([{"id": ig}], instagram={"type": "photo", "text": "Hi", "firstComment": ["#a"]})
    answer = api.post("/posts/schedule/publish", json=body)
    assert (answer.status_code, answer.json()) == (
        400,
        {"errors": ["instagram.firstComment must be a string"]},
    )


def test_data_envelope_and_completed_spelling() -> None:
    with FakePubler(
        envelope="data", job_status_spelling="completed", create_status=202, job_delay=0.01, tick=0.01
    ) as fake:
        x = fake.add_account("twitter", "Acme")
        headers = {"Authorization": f"Bearer-API {KEY}", "Publer-Workspace-Id": WORKSPACE}
        with httpx.Client(base_url=fake.url, headers=headers) as api:
            answer = api.post("/posts/schedule/publish", json=bulk([{"id": x}]))
            assert answer.status_code == 202
            assert answer.json()["success"] is True
            job_id = answer.json()["data"]["job_id"]
            status = finished_job(fake, api, job_id)
    assert status["success"] is True
    assert status["data"]["status"] == "completed"
    assert status["data"]["result"]["payload"] == {"failures": {}}


def test_job_failures_name_the_accounts_and_create_no_post(fake: FakePubler, api: httpx.Client) -> None:
    good = fake.add_account("twitter", "Good")
    refused = fake.add_account("twitter", "Refused")
    soon = fake.add_account("twitter", "Too soon")
    fake.fail_account(refused, "Daily limit reached", at="job")
    later = iso(datetime.now(UTC) + timedelta(hours=1))
    accounts = [
        {"id": good, "scheduled_at": later},
        {"id": refused, "scheduled_at": later},
        {"id": soon, "scheduled_at": iso(datetime.now(UTC) + timedelta(seconds=20))},
        {"id": "f" * 24, "scheduled_at": later},
    ]

    job_id = api.post("/posts/schedule", json=bulk(accounts)).json()["job_id"]

    status = finished_job(fake, api, job_id)
    assert status["status"] == "complete"
    assert [(f["account_id"], f["message"]) for f in status["payload"]["failures"]] == [
        (refused, "Daily limit reached"),
        (soon, TOO_SOON),
        ("f" * 24, "Account not found"),
    ]
    assert status["payload"]["failures"][0]["account_name"] == "Refused"
    assert [(p["account_id"], p["state"]) for p in fake.posts()] == [(good, "scheduled")]


def test_a_scheduled_create_needs_a_time_with_a_zone(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    missing = api.post("/posts/schedule", json=bulk([{"id": x}]))
    naive = api.post("/posts/schedule", json=bulk([{"id": x, "scheduled_at": "2031-01-01T10:00:00"}]))
    assert missing.status_code == 400 and missing.json() == {
        "errors": ["scheduled_at is required for scheduled posts"]
    }
    assert naive.status_code == 400
    assert fake.jobs() == {}


def test_failure_at_publish_time_leaves_a_failed_post(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    fake.fail_account(x, "Token expired", at="publish")
    job_id = api.post("/posts/schedule/publish", json=bulk([{"id": x}])).json()["job_id"]

    assert finished_job(fake, api, job_id)["payload"] == {"failures": {}}
    fake.wait_for(lambda: fake.posts()[0]["state"] == "failed", timeout=5)
    assert fake.posts()[0]["error"] == "Token expired"
    assert fake.published() == []


def test_whole_job_failure(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    fake.fail_next_job("Workspace is locked")
    job_id = api.post("/posts/schedule/publish", json=bulk([{"id": x}])).json()["job_id"]
    assert finished_job(fake, api, job_id) == {
        "status": "failed",
        "payload": {"error": "Workspace is locked"},
    }
    assert fake.posts() == []


def test_posts_listing_filters_and_pages(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    li = fake.add_account("linkedin", "Acme")
    base = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    for n in range(45):
        fake.add_post(x, f"post {n}", scheduled_at=base + timedelta(minutes=n))
    fake.add_post(li, "other account", scheduled_at=base)
    fake.add_post(x, "failed one", scheduled_at=base, state="failed")
    fake.add_post(x, "next week", scheduled_at=base + timedelta(days=7))
    window = {"from": "2031-05-01", "to": "2031-05-01", "account_ids[]": [x]}

    pages = [api.get("/posts", params={**window, "page": page}).json() for page in range(3)]

    assert [len(p["posts"]) for p in pages] == [20, 20, 6]
    assert {(p["total"], p["per_page"], p["total_pages"]) for p in pages} == {(46, 20, 3)}
    assert pages[0]["posts"][0]["text"] == "post 44"  # newest first
    failed = api.get("/posts", params={**window, "state": "failed"}).json()["posts"]
    assert [p["text"] for p in failed] == ["failed one"]
    several = api.get("/posts", params={"state[]": ["failed", "published"], "account_ids[]": [x]}).json()
    assert several["total"] == 1
    precise = {"from": "2031-05-01T12:00:00Z", "to": "2031-05-01T12:02:00Z", "account_ids[]": [x]}
    assert api.get("/posts", params=precise).json()["total"] == 4
    assert api.get("/posts", params={"from": "2031-05-01"}).status_code == 400
    assert api.get("/posts", params={"state": "nonsense"}).status_code == 400


def test_delete_keeps_published_and_queued_posts() -> None:
    with FakePubler(job_delay=0.01, publish_delay=30, tick=0.01) as slow:
        x = slow.add_account("twitter", "Acme")
        future = slow.add_post(x, "later", scheduled_at=datetime.now(UTC) + timedelta(hours=1))
        live = slow.add_post(
            x, "live", scheduled_at=datetime.now(UTC) - timedelta(hours=1), state="published_posted"
        )
        queued = slow.add_post(x, "due now", scheduled_at=datetime.now(UTC) - timedelta(seconds=1))
        slow.wait_for(lambda: slow._meta[queued].queued is not None, timeout=5)
        headers = {"Authorization": f"Bearer-API {KEY}", "Publer-Workspace-Id": WORKSPACE}

        answer = httpx.delete(
            f"{slow.url}/posts", params={"post_ids[]": [future, live, queued, "0" * 24]}, headers=headers
        )

        assert answer.json() == {"deleted_ids": [future]}
        assert sorted(p["id"] for p in slow.posts()) == sorted([live, queued])
        assert httpx.delete(f"{slow.url}/posts", headers=headers).status_code == 400


def test_rate_limit_answers_429_with_reset_and_no_retry_after() -> None:
    with FakePubler(rate_limit=(3, 60.0)) as fake:
        headers = {"Authorization": f"Bearer-API {KEY}"}
        answers = [httpx.get(f"{fake.url}/users/me", headers=headers) for _ in range(4)]
        # Even a refused key counts: the budget is per user, for every request (§10).
        assert httpx.get(f"{fake.url}/users/me").status_code == 429

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
    limited = answers[-1]
    assert limited.json() == {"error": "Rate limit exceeded. Retry later."}
    assert "Retry-After" not in limited.headers
    assert 55 < int(limited.headers["X-RateLimit-Reset"]) - time.time() <= 61
    assert fake.rate_limited == 2


def test_media_upload_and_size_limit() -> None:
    with FakePubler(max_upload_bytes=100) as fake:
        headers = {"Authorization": f"Bearer-API {KEY}", "Publer-Workspace-Id": WORKSPACE}
        ok = httpx.post(
            f"{fake.url}/media",
            files={"file": ("photo.png", b"\x89PNG\r\n" + b"\x00" * 50, "image/png")},
            data={"direct_upload": "true"},
            headers=headers,
        )
        big = httpx.post(
            f"{fake.url}/media", files={"file": ("big.mp4", b"0" * 101, "video/mp4")}, headers=headers
        )
        stored = fake.media()
        form = fake.requests("media")[0]["form"]

    assert ok.status_code == 200
    assert ok.json()["type"] == "photo" and ok.json()["name"] == "photo.png"
    assert (big.status_code, big.json()) == (
        413,
        {"errors": ["File is too large. The maximum size is 200 MB"]},
    )
    assert [(m["name"], m["mime"], m["size"], m["direct_upload"]) for m in stored] == [
        ("photo.png", "image/png", 56, True)
    ]
    assert form == {
        "file": {"filename": "photo.png", "content_type": "image/png", "size": 56},
        "direct_upload": "true",
    }


def test_media_from_url_is_an_async_job(fake: FakePubler, api: httpx.Client) -> None:
    fake.fail_media_url("https://example.com/broken.jpg", "404 from the remote server")
    good = api.post("/media/from-url", json={"media": [{"url": "https://example.com/a.jpg", "name": "a"}]})
    bad = api.post(
        "/media/from-url", json={"media": [{"url": "https://example.com/broken.jpg", "name": "b"}]}
    )

    done = finished_job(fake, api, good.json()["job_id"])
    failed = finished_job(fake, api, bad.json()["job_id"])

    assert done["status"] == "complete"
    [media] = done["payload"]
    assert media["type"] == "photo" and media["id"] in {m["id"] for m in fake.media()}
    assert failed == {
        "status": "failed",
        "payload": {
            "failures": [{"url": "https://example.com/broken.jpg", "message": "404 from the remote server"}]
        },
    }
    assert api.post("/media/from-url", json={"media": [{"url": "x"}]}).status_code == 400


def test_fault_injection(fake: FakePubler, api: httpx.Client) -> None:
    x = fake.add_account("twitter", "Acme")
    fake.fail_next("posts/schedule/publish", status=502, after_processing=True)
    lost = api.post("/posts/schedule/publish", json=bulk([{"id": x}]))
    assert (lost.status_code, lost.json()) == (502, {"errors": ["Bad Gateway"]})
    assert len(fake.jobs()) == 1  # the work was done before the failure was answered

    fake.fail_next("posts", method="DELETE", status=500, raw_body=b"<html>oops</html>")
    assert api.get("/posts").status_code == 200  # only DELETE is affected
    assert api.delete("/posts", params={"post_ids[]": ["1"]}).text == "<html>oops</html>"

    fake.set_down(True)
    assert api.get("/accounts").status_code == 503
    fake.set_down(False)
    assert api.get("/accounts").status_code == 200
    assert [r["endpoint"] for r in fake.requests()][-2:] == ["accounts", "accounts"]


def test_stop_ends_every_thread() -> None:
    before = set(threading.enumerate())
    fake = FakePubler().start()
    fake.stop()
    leftover = [t for t in threading.enumerate() if t not in before and t.name.startswith("fake-publer")]
    assert leftover == []
