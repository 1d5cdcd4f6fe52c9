"""FakePostoria keeps the contract's rules (shared/providers/postoria.md), checked with a raw HTTP client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.postoria import FakePostoria, iso

KEY = "pst_live_fake_0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakePostoria]:
    with FakePostoria(publish_delay=0.05, media_delay=0.05, tick=0.01) as server:
        yield server


@pytest.fixture
def api(fake: FakePostoria) -> Iterator[httpx.Client]:
    base = f"{fake.url}/workspaces/{fake.workspace_id}"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as client:
        yield client


def ready_media(fake: FakePostoria, api: httpx.Client) -> int:
    media = api.post("/media/imports", json={"url": "https://cdn.example/a.png"}).json()
    fake.wait_for(lambda: fake.media()[media["id"]]["status"] == "ready", timeout=5)
    return int(media["id"])


def test_auth_and_workspaces(fake: FakePostoria) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", fake.url)
    for headers in ({}, {"Authorization": "Bearer pst_live_wrong"}, {"Authorization": KEY}):
        answer = httpx.get(f"{fake.url}/workspaces", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"
        assert set(answer.json()["error"]) == {"code", "message", "param", "details", "request_id"}
    other = fake.add_workspace("Side project")
    answer = httpx.get(f"{fake.url}/workspaces", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert [(w["id"], w["name"]) for w in answer["data"]] == [
        (fake.workspace_id, "Acme"),
        (other, "Side project"),
    ]
    assert answer["pagination"] == {"has_more": False, "next_cursor": None}
    missing = httpx.get(f"{fake.url}/workspaces/999/queues", headers={"Authorization": f"Bearer {KEY}"})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "workspace_id"


def test_social_accounts_page_with_cursors() -> None:
    with FakePostoria(page_size=2) as small:
        names = [small.add_account("x", f"Account {n}")["name"] for n in range(5)]
        base = f"{small.url}/workspaces/{small.workspace_id}/social-accounts"
        seen, cursor, pages = [], None, 0
        with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as client:
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                body = client.get(base, params=params).json()
                seen += [row["name"] for row in body["data"]]
                pages += 1
                if not body["pagination"]["has_more"]:
                    assert body["pagination"]["next_cursor"] is None
                    break
                cursor = body["pagination"]["next_cursor"]
            bad = client.get(base, params={"cursor": "nonsense"})
        assert seen == names and pages == 3
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "cursor"


def test_queues_listing(fake: FakePostoria, api: httpx.Client) -> None:
    queue = fake.add_queue("Weekday slots", paused=True)
    assert api.get("/queues").json()["data"] == [
        {"id": queue["id"], "name": "Weekday slots", "is_paused": True}
    ]


def test_upload_flow_with_the_signed_storage_url(fake: FakePostoria, api: httpx.Client) -> None:
    created = api.post("/media/uploads", json={"name": "photo.png", "content_type": "image/png"}).json()
    assert created["status"] == "waiting_for_upload" and created["file_id"] is None
    url = created["upload"]["url"]
    assert url.startswith(fake.url.removesuffix("/v1") + "/storage/")

    with_key = httpx.put(
        url, content=b"png", headers={"Content-Type": "image/png", "Authorization": "Bearer x"}
    )
    wrong_type = httpx.put(url, content=b"png", headers={"Content-Type": "image/jpeg"})
    assert (with_key.status_code, wrong_type.status_code) == (400, 403)
    assert httpx.put(url, content=b"\x89PNG", headers={"Content-Type": "image/png"}).status_code == 200

    completed = api.post(f"/media/{created['id']}/complete", json={}).json()
    assert completed["status"] == "processing"
    fake.wait_for(lambda: fake.media()[created["id"]]["status"] == "ready", timeout=5)
    media = api.get(f"/media/{created['id']}").json()
    assert media["status"] == "ready" and media["file_id"]
    assert [p["body"] for p in fake.storage_puts()] == [b"png", b"png", b"\x89PNG"]
    assert fake.requests("storage")[0]["headers"]["Authorization"] == "Bearer x"


def test_upload_rules_and_completing_without_bytes(api: httpx.Client) -> None:
    bad_type = api.post("/media/uploads", json={"name": "a.bmp", "content_type": "image/bmp"})
    bad_name = api.post("/media/uploads", json={"name": "dir/a.png", "content_type": "image/png"})
    wrong_ext = api.post("/media/uploads", json={"name": "a.jpg", "content_type": "image/png"})
    assert [r.json()["error"]["param"] for r in (bad_type, bad_name, wrong_ext)] == [
        "content_type",
        "name",
        "name",
    ]
    created = api.post("/media/uploads", json={"name": "a.png", "content_type": "image/png"}).json()
    completed = api.post(f"/media/{created['id']}/complete").json()
    assert completed["status"] == "failed" and completed["error_code"] == "upload_missing"


def test_imports_need_https_and_can_fail(fake: FakePostoria, api: httpx.Client) -> None:
    plain = api.post("/media/imports", json={"url": "http://cdn.example/a.png"})
    assert plain.status_code == 400 and plain.json()["error"]["param"] == "url"
    fake.fail_media_url("https://cdn.example/broken.png", code="unsupported_file", message="Not an image")
    media = api.post("/media/imports", json={"url": "https://cdn.example/broken.png"}).json()
    assert media["status"] == "processing"
    fake.wait_for(lambda: fake.media()[media["id"]]["status"] == "failed", timeout=5)
    assert api.get(f"/media/{media['id']}").json() == {
        "id": media["id"],
        "status": "failed",
        "file_id": None,
        "error_code": "unsupported_file",
        "error_message": "Not an image",
    }


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"publish_mode": "draft"}, "publish_mode"),
        ({"social_account_ids": []}, "social_account_ids"),
        ({"social_account_ids": [424242]}, "social_account_ids"),
        ({"social_account_ids": ["1"]}, "social_account_ids"),
        ({"publish_mode": "schedule"}, "scheduled_time"),
        ({"publish_mode": "schedule", "scheduled_time": "2030-01-01T09:00:00"}, "scheduled_time"),
        ({"publish_mode": "queue", "queue_id": 424242}, "queue_id"),
        ({"media_ids": [424242]}, "media_ids"),
        ({"media_ids": "processing"}, "media_ids"),
        ({"first_comment": ["Hi"]}, "first_comment"),
        ({"first_comment": "Hi", "comment_delay": 121}, "comment_delay"),
        ({"first_comment": "Hi", "comment_delay": -1}, "comment_delay"),
        ({"first_comment": "Hi", "comment_delay": "5"}, "comment_delay"),
    ],
)
def test_create_validation_names_the_field(
    fake: FakePostoria, api: httpx.Client, change: dict[str, Any], param: str
) -> None:
    x = fake.add_account("x", "Acme on X")
    if change.get("media_ids") == "processing":
        change = {
            "media_ids": [api.post("/media/imports", json={"url": "https://cdn.example/a.png"}).json()["id"]]
        }
    body = {"publish_mode": "publish_now", "social_account_ids": [x["id"]], "caption": "Hi", **change}
    answer = api.post("/posts", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    assert fake.posts() == {}


def test_publish_now_ends_posted_with_links_and_per_account_errors(
    fake: FakePostoria, api: httpx.Client
) -> None:
    x = fake.add_account("x", "Acme on X")
    ig = fake.add_account("instagram", "Acme on Instagram")
    fake.fail_account(ig["id"], "Instagram requires an image or video")
    media_id = ready_media(fake, api)

    created = api.post(
        "/posts",
        json={
            "publish_mode": "publish_now",
            "social_account_ids": [x["id"], ig["id"]],
            "caption": "Launch",
            "media_ids": [media_id],
        },
    )
    assert created.status_code == 201
    post = created.json()
    assert post["status"] == "in_progress" and post["results"] == []
    assert post["x"]["caption"] == "Launch" and len(post["x"]["files"]) == 1

    fake.wait_for(lambda: fake.posts()[post["id"]]["status"] == "posted", timeout=5)
    final = api.get(f"/posts/{post['id']}").json()
    assert final["results"] == [
        {"account_id": x["id"], "link_to_post": f"https://x.example/{post['id']}-{x['id']}", "error": None},
        {"account_id": ig["id"], "link_to_post": None, "error": "Instagram requires an image or video"},
    ]
    assert [p["account_id"] for p in fake.published()] == [x["id"]]


def test_the_first_comment_goes_under_each_published_account_after_its_delay(
    fake: FakePostoria, api: httpx.Client
) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme")
    failing = fake.add_account("bluesky", "acme.bsky.social")
    fake.fail_account(failing["id"], "Session expired")
    accounts = [x["id"], li["id"], failing["id"]]

    at_once = api.post(
        "/posts",
        json={
            "publish_mode": "publish_now",
            "social_account_ids": accounts,
            "caption": "Hi",
            "first_comment": "More",
        },
    ).json()
    later = api.post(
        "/posts",
        json={
            "publish_mode": "publish_now",
            "social_account_ids": [x["id"]],
            "caption": "Hi again",
            "first_comment": "Much later",
            "comment_delay": 120,
        },
    ).json()

    assert "first_comment" not in at_once  # the Post object of §6 does not show it
    assert fake.first_comments() == {
        at_once["id"]: {"first_comment": "More", "comment_delay": None},
        later["id"]: {"first_comment": "Much later", "comment_delay": 120},
    }
    fake.wait_for(lambda: all(p["status"] == "posted" for p in fake.posts().values()), timeout=5)
    # No delay: right after publishing, on every account that published; two hours: not yet.
    assert [(c["post_id"], c["account_id"], c["text"]) for c in fake.posted_comments()] == [
        (at_once["id"], x["id"], "More"),
        (at_once["id"], li["id"], "More"),
    ]
    assert fake.posted_comments(li["id"])[0]["network"] == "linkedin"


def test_schedule_and_queue_modes(fake: FakePostoria, api: httpx.Client) -> None:
    x = fake.add_account("x", "Acme on X")
    slot = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)
    queue = fake.add_queue("Mornings", next_slot=slot, slot_every=timedelta(days=1))
    when = "2031-05-01T10:30:00.000Z"
    scheduled = api.post(
        "/posts",
        json={
            "publish_mode": "schedule",
            "social_account_ids": [x["id"]],
            "caption": "A",
            "scheduled_time": when,
        },
    ).json()
    assert (scheduled["status"], scheduled["date"]) == ("scheduled", "2031-05-01T10:30:00Z")
    queued = [
        api.post(
            "/posts", json={"publish_mode": "queue", "queue_id": queue["id"], "social_account_ids": [x["id"]]}
        ).json()
        for _ in range(2)
    ]
    assert [(q["status"], q["date"], q["queue_id"]) for q in queued] == [
        ("queued", "2031-05-04T09:00:00Z", queue["id"]),
        ("queued", "2031-05-05T09:00:00Z", queue["id"]),
    ]
    past = api.post(
        "/posts",
        json={
            "publish_mode": "schedule",
            "social_account_ids": [x["id"]],
            "scheduled_time": iso(datetime.now(UTC) - timedelta(hours=1)),
        },
    )
    assert past.status_code == 422 and past.json()["error"]["param"] == "scheduled_time"


def test_post_list_filters_and_cursor(fake: FakePostoria, api: httpx.Client) -> None:
    x = fake.add_account("x", "Acme on X")
    li = fake.add_account("linkedin", "Acme on LinkedIn")
    ids = []
    for day, account in ((1, x), (2, li), (3, x), (4, x)):
        body = {
            "publish_mode": "schedule",
            "social_account_ids": [account["id"]],
            "scheduled_time": f"2031-06-0{day}T09:00:00Z",
        }
        ids.append(api.post("/posts", json=body).json()["id"])

    def listed(**params: Any) -> list[int]:
        return [p["id"] for p in api.get("/posts", params=params).json()["data"]]

    assert listed(account_ids=[li["id"]]) == [ids[1]]
    assert listed(account_ids=[x["id"], li["id"]]) == ids[::-1]  # newest first
    assert listed(date_from="2031-06-02T09:00:00Z", date_to="2031-06-04T09:00:00Z") == [ids[2], ids[1]]
    assert listed(status="posted") == []
    first = api.get("/posts", params={"limit": 3}).json()
    assert first["pagination"]["has_more"] is True
    rest = api.get("/posts", params={"limit": 3, "cursor": first["pagination"]["next_cursor"]}).json()
    assert [p["id"] for p in first["data"] + rest["data"]] == ids[::-1]
    assert rest["pagination"] == {"has_more": False, "next_cursor": None}
    assert api.get("/posts", params={"limit": 101}).json()["error"]["param"] == "limit"


def test_delete_answers_204_then_404(fake: FakePostoria, api: httpx.Client) -> None:
    x = fake.add_account("x", "Acme on X")
    post = api.post(
        "/posts",
        json={
            "publish_mode": "schedule",
            "social_account_ids": [x["id"]],
            "scheduled_time": "2031-01-01T00:00:00Z",
        },
    ).json()
    deleted = api.delete(f"/posts/{post['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.get(f"/posts/{post['id']}").status_code == 404
    assert api.delete(f"/posts/{post['id']}").status_code == 404
    assert fake.posts() == {}


@pytest.mark.parametrize("headers", [True, False])
def test_rate_limit_window(headers: bool) -> None:
    with FakePostoria(rate_limit=(3, 60.0), rate_headers=headers) as limited:
        auth = {"Authorization": f"Bearer {KEY}"}
        answers = [httpx.get(f"{limited.url}/workspaces", headers=auth) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[3].json()["error"]["code"] == "rate_limited"
        assert ("Retry-After" in answers[3].headers) is headers
        if headers:
            assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
        assert limited.rate_limited == 1


def test_fail_next_after_processing_and_down(fake: FakePostoria, api: httpx.Client) -> None:
    x = fake.add_account("x", "Acme on X")
    fake.fail_next("create-post", status=502, after_processing=True)
    lost = api.post(
        "/posts", json={"publish_mode": "publish_now", "social_account_ids": [x["id"]], "caption": "Hi"}
    )
    assert lost.status_code == 502 and lost.json()["error"]["code"] == "bad_gateway"
    assert len(fake.posts()) == 1  # stored although the answer was an error
    fake.fail_next("get-post", status=200, raw_body=b"{not json")
    post_id = next(iter(fake.posts()))
    assert api.get(f"/posts/{post_id}").content == b"{not json"
    fake.set_down(True)
    assert api.get("/queues").status_code == 503
    fake.set_down(False)
    assert api.get("/queues").status_code == 200
    assert [r["endpoint"] for r in fake.requests()][-3:] == ["get-post", "queues", "queues"]
