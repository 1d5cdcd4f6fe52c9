"""The three providers through the Slack flow, with Postgate as its own process in HTTP mode.

Fake Slack, Publora, Publer and Postoria all run over loopback. Each test drafts in the modal, approves
in the channel and reads what the thread, the root message and the provider ended up with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.harness import SIGNING_SECRET, AppProcess, button_ids, message_text
from tests.fakes.postoria import FakePostoria
from tests.fakes.publer import FakePubler
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_client import SlackClient

pytestmark = pytest.mark.e2e

AUTHOR, ANA, EVE = "U0AUTHOR", "U0ANA", "U0EVE"
APPROVALS, GENERAL = "C0APPROVALS", "C0GENERAL"
PUBLORA_KEY = "sk_test_0123456789.abcdef"
PUBLER_KEY = "publer-key-5c1f0e9d8b7a6f5e4d3c"
POSTORIA_KEY = "pst_live_fake_0123456789abcdef"
WEBHOOK_SECRET = "whsec-publora-3b9f1c2d"


def png_bytes() -> bytes:
    """A real 1×1 PNG, so anything that probes the bytes sees an image."""
    raw = b"\x00\xff\x00\x00"
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def mp4_bytes() -> bytes:
    """The start of an MP4 (an ftyp box) padded to a plausible size; the fakes check type and size only."""
    return struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00isomiso2" + b"\x00" * 4096


@dataclass
class Fakes:
    slack: FakeSlack
    publora: FakePublora
    publer: FakePubler
    postoria: FakePostoria


class World:
    def __init__(self, fakes: Fakes, env: dict[str, str], tmp_path: Path) -> None:
        self.fakes = fakes
        self.slack = fakes.slack
        self.env = env
        self.tmp_path = tmp_path
        self.app = self.start_app()
        self.client = SlackClient(app_url=self.app.events_url, signing_secret=SIGNING_SECRET, fake=self.slack)

    def start_app(self) -> AppProcess:
        return AppProcess(env=self.env, log_path=self.tmp_path / "postgate.log", cwd=self.tmp_path).start()

    def restart_app(self, *, kill: bool) -> None:
        import signal

        self.app.stop(signal.SIGKILL if kill else signal.SIGTERM)
        self.app = self.start_app()
        self.client.close()
        self.client = SlackClient(app_url=self.app.events_url, signing_secret=SIGNING_SECRET, fake=self.slack)

    def open_composer(self, user: str = AUTHOR) -> dict[str, Any]:
        before = {v["id"] for v in self.slack.views(user)}
        assert self.client.slash_command(user, "/post", "", channel_id=GENERAL).status_code == 200
        return self.slack.wait_for(
            lambda: next(
                (
                    v
                    for v in self.slack.views(user)
                    if v["callback_id"] == "postgate_compose"
                    and v["id"] not in before
                    and any(b.get("block_id") == "targets" for b in v["blocks"])
                ),
                None,
            )
        )

    @staticmethod
    def option(view: dict[str, Any], account_id: str) -> str:
        block = next(b for b in view["blocks"] if b.get("block_id") == "targets")
        for group in block["element"]["option_groups"]:
            for option in group["options"]:
                if option["value"].endswith("|" + account_id):
                    return str(option["value"])
        raise AssertionError(f"{account_id} not offered")

    def draft(self, text: str, account_ids: list[str], **inputs: Any) -> dict[str, Any]:
        """Draft through the modal and return the approval request it produced."""
        count = len(self.roots())
        view = self.open_composer()
        values: dict[str, Any] = {"text": text, "targets": [self.option(view, a) for a in account_ids]}
        values.setdefault("when", "on_approval")
        values.update(inputs)
        response = self.client.submit_view(AUTHOR, view["id"], values)
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text
        return self.slack.wait_for(lambda: self.roots()[count] if len(self.roots()) > count else None)

    def approve(self, root: dict[str, Any], user: str = ANA) -> None:
        self.client.click(user, channel_id=APPROVALS, message=root, action_id="postgate_approve")

    def roots(self) -> list[dict[str, Any]]:
        return self.slack.messages(APPROVALS)

    def replies(self, root: dict[str, Any]) -> list[str]:
        """The thread as read: each reply's text (Postgate's replies say everything in their text)."""
        return [m.get("text") or "" for m in self.slack.replies(APPROVALS, root["ts"])]

    def wait_for_reply(self, root: dict[str, Any], needle: str, timeout: float = 30.0) -> str:
        return self.slack.wait_for(
            lambda: next((r for r in self.replies(root) if needle in r), None), timeout=timeout
        )

    def root_now(self, root: dict[str, Any]) -> dict[str, Any]:
        return self.slack.message(APPROVALS, root["ts"])

    def upload(
        self, file_id: str, name: str, content: bytes, mimetype: str, *, duration_ms: int | None = None
    ) -> str:
        self.slack.add_file(file_id, name, content, mimetype=mimetype, user=AUTHOR, duration_ms=duration_ms)
        return file_id


def make_fakes(**overrides: Any) -> Fakes:
    slack = FakeSlack().start()
    for user, name, tz in [(AUTHOR, "alex", "Europe/Berlin"), (ANA, "ana", "UTC"), (EVE, "eve", "UTC")]:
        slack.add_user(user, name, tz=tz)
    slack.add_channel(APPROVALS, "social-approvals", members=[AUTHOR, ANA, EVE])
    slack.add_channel(GENERAL, "general", members=[AUTHOR, ANA, EVE])
    return Fakes(
        slack=slack,
        publora=FakePublora(api_key=PUBLORA_KEY, publish_delay=0.3, tick=0.05).start(),
        publer=FakePubler(api_key=PUBLER_KEY, **overrides.get("publer", {})).start(),
        postoria=FakePostoria(api_key=POSTORIA_KEY, **overrides.get("postoria", {})).start(),
    )


def app_env(fakes: Fakes, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": fakes.slack.bot_token,
        "SLACK_API_URL": fakes.slack.url,
        "DATABASE_URL": database_url,
        "POSTGATE_APPROVAL_CHANNEL": APPROVALS,
        "POSTGATE_APPROVERS": ANA,
        "PUBLORA_API_KEY": PUBLORA_KEY,
        "PUBLORA_BASE_URL": fakes.publora.url,
        "PUBLORA_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUBLER_API_KEY": PUBLER_KEY,
        "PUBLER_WORKSPACE_ID": fakes.publer.workspace_id,
        "PUBLER_BASE_URL": fakes.publer.url,
        "POSTORIA_API_KEY": POSTORIA_KEY,
        "POSTORIA_WORKSPACE_ID": str(fakes.postoria.workspace_id),
        "POSTORIA_BASE_URL": fakes.postoria.url,
        "POSTGATE_SWEEP_SECONDS": "2",
        # The daily digest would land among the approval requests these tests count.
        "POSTGATE_DIGEST_TIME": "off",
        "POSTGATE_FOLLOW_POLL_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture
def world_factory(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Builds a world on SQLite (or the given database URL) with fake overrides and extra settings."""
    built: list[World] = []

    def build(database_url: str | None = None, fakes: dict[str, Any] | None = None, **extra: str) -> World:
        all_fakes = make_fakes(**(fakes or {}))
        url = database_url or f"sqlite:///{tmp_path / 'postgate.db'}"
        world = World(all_fakes, app_env(all_fakes, url, **extra), tmp_path)
        built.append(world)
        return world

    yield build
    for world in built:
        world.app.stop()
        world.client.close()
        for fake in (world.fakes.publora, world.fakes.publer, world.fakes.postoria, world.fakes.slack):
            fake.stop()
        logs = world.app.logs()
        for secret in (
            world.slack.bot_token,
            SIGNING_SECRET,
            PUBLORA_KEY,
            PUBLER_KEY,
            POSTORIA_KEY,
            WEBHOOK_SECRET,
        ):
            assert secret not in logs, "a secret reached the logs"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'postgate.db'}"
        return
    admin = request.getfixturevalue("postgres_url")
    url, name = fresh_postgres_database(admin)
    yield url
    drop_postgres_database(admin, name)


def test_one_post_with_an_image_goes_to_all_three_providers(
    world_factory: Callable[..., World], database_url: str
) -> None:
    world = world_factory(database_url)
    publora_x = world.fakes.publora.add_connection(
        "twitter", "1111", username="acme", display_name="Acme on X"
    )
    publer_li = world.fakes.publer.add_account("linkedin", "Acme Inc")
    postoria_bsky = str(world.fakes.postoria.add_account("bluesky", "acme.bsky.social")["id"])
    world.fakes.postoria.add_queue("Weekday slots", next_slot=datetime.now(UTC) + timedelta(days=1))

    view = world.open_composer()
    groups = next(b for b in view["blocks"] if b.get("block_id") == "targets")["element"]["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Publora", "Publer", "Postoria"]
    labels = str(groups)
    assert (
        "X · Acme on X" in labels
        and "LinkedIn · Acme Inc" in labels
        and "Bluesky · acme.bsky.social" in labels
    )
    when = next(b for b in view["blocks"] if b.get("block_id") == "when")
    assert "Add to a Postoria queue" in str(when)
    assert "Weekday slots" in str(next(b for b in view["blocks"] if b.get("block_id") == "queue"))

    image = world.upload("F0IMAGE1", "launch.png", png_bytes(), "image/png")
    root = world.draft("Launch day!", [publora_x, publer_li, postoria_bsky], media_files=[image])
    assert "launch.png" in message_text(root) and "(image)" in message_text(root)
    world.approve(root)
    report = world.wait_for_reply(root, "Published.")
    assert report.count("view post") == 3
    assert "X · Acme on X" in report and "LinkedIn · Acme Inc" in report and "Bluesky" in report

    # Each provider got its own submission, with the image through its own media flow.
    assert len(world.fakes.publora.requests("create-post")) == 1
    [put] = world.fakes.publora.storage_puts()
    assert put["contentType"] == "image/png" and put["size"] == len(png_bytes())
    assert [m["size"] for m in world.fakes.publer.media()] == [len(png_bytes())]
    [stored] = world.fakes.postoria.storage_puts()
    assert stored["size"] == len(png_bytes())
    assert len(world.fakes.publora.published()) == len(world.fakes.publer.published()) == 1
    assert len(world.fakes.postoria.published()) == 1
    assert "Published" in message_text(world.root_now(root))
    assert sum("Published." in r for r in world.replies(root)) == 1


@pytest.mark.parametrize("provider", ["publora", "publer", "postoria"])
def test_a_video_post_partly_fails_and_the_thread_says_where(
    world_factory: Callable[..., World], provider: str
) -> None:
    world = world_factory()
    fakes = world.fakes
    if provider == "publora":
        good = fakes.publora.add_connection(
            "linkedin", "Tz9W5i6ZYG", username="acme-inc", display_name="Acme Inc"
        )
        bad = fakes.publora.add_connection(
            "facebook", "5550001", username="acmepage", display_name="Acme Page"
        )
        fakes.publora.fail_account(bad, code="PLATFORM_AUTH_EXPIRED", message="Error validating access token")
    elif provider == "publer":
        good = fakes.publer.add_account("linkedin", "Acme Inc")
        bad = fakes.publer.add_account("facebook", "Acme Page", account_type="page")
        fakes.publer.fail_account(bad, "The page token is no longer valid", at="publish")
    else:
        good = str(fakes.postoria.add_account("linkedin", "Acme Inc")["id"])
        bad = str(fakes.postoria.add_account("facebook", "Acme Page")["id"])
        fakes.postoria.fail_account(bad, "Facebook rejected the video: unsupported codec")

    video = world.upload("F0VIDEO1", "teaser.mp4", mp4_bytes(), "video/mp4")
    root = world.draft("Our teaser is out", [good, bad], media_files=[video])
    assert "teaser.mp4" in message_text(root) and "(video)" in message_text(root)
    world.approve(root)
    report = world.wait_for_reply(root, "Published on some accounts only.")
    lines = report.splitlines()
    ok_line = next(line for line in lines if "Acme Inc" in line)
    failed_line = next(line for line in lines if "Acme Page" in line)
    assert ok_line.startswith("✅") and "view post" in ok_line
    assert failed_line.startswith("❌")
    reason = {
        "publora": "reconnect it in Publora",
        "publer": "The page token is no longer valid",
        "postoria": "unsupported codec",
    }[provider]
    assert reason in failed_line
    assert "Partly published" in message_text(world.root_now(root))
    author_dms = world.slack.dms(AUTHOR)
    world.slack.wait_for(lambda: any("some accounts" in m["text"] for m in world.slack.dms(AUTHOR)))
    assert author_dms is not None


def test_a_rate_limit_storm_on_publer_reaches_no_one(world_factory: Callable[..., World]) -> None:
    """30 posts due at once against Publer's limit (scaled: 20 requests per 2 s instead of 100 per 120 s)."""
    world = world_factory(
        fakes={"publer": {"rate_limit": (20, 2.0), "job_delay": 0.2, "publish_delay": 0.3}},
        PUBLER_RATE_LIMIT="20/2s",
    )
    account = world.fakes.publer.add_account("twitter", "@acme")
    roots = [world.draft(f"Storm post {n}", [account]) for n in range(30)]
    for root in roots:
        world.approve(root)
    for root in roots:
        world.wait_for_reply(root, "Published.", timeout=120)
    assert world.fakes.publer.rate_limited == 0
    creates = world.fakes.publer.requests("posts/schedule/publish") + world.fakes.publer.requests(
        "posts/schedule"
    )
    assert len(creates) == 30
    published = world.fakes.publer.published()
    assert sorted(p["text"] for p in published) == sorted(f"Storm post {n}" for n in range(30))
    for root in roots:
        replies = world.replies(root)
        assert sum("Published." in r for r in replies) == 1
        assert not any("rate" in r.lower() for r in replies)


@pytest.mark.parametrize("provider", ["publer", "postoria"])
def test_a_crash_between_sending_and_recording_publishes_once(
    world_factory: Callable[..., World], provider: str
) -> None:
    """Postgate is killed while the provider holds the create's answer; after a restart it looks before
    sending again, finds the post, and follows it to the end."""
    world = world_factory(POSTGATE_DISPATCH_LEASE_SECONDS="3", POSTGATE_PROVIDER_TIMEOUT="20")
    fakes = world.fakes
    if provider == "publer":
        account = fakes.publer.add_account("twitter", "@acme")
        endpoint, fake = "posts/schedule/publish", fakes.publer
        fake.fail_next(endpoint, status=200, after_processing=True, delay=15.0)
    else:
        account = str(fakes.postoria.add_account("x", "@acme")["id"])
        endpoint, fake = "create-post", fakes.postoria
        fake.fail_next(endpoint, status=201, after_processing=True, delay=15.0)
    root = world.draft("Sent once, whatever happens", [account])
    world.approve(root)
    fake.wait_for(lambda: fake.requests(endpoint), timeout=15)
    world.restart_app(kill=True)

    report = world.wait_for_reply(root, "Published.", timeout=60)
    assert "view post" in report
    assert len(fake.requests(endpoint)) == 1
    assert len(fake.published()) == 1
    assert sum("Published." in r for r in world.replies(root)) == 1
    assert not any("A human needs to check" in r for r in world.replies(root))


def _sign(body: bytes) -> str:
    return hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_publora_webhooks_report_at_once_and_forged_ones_are_refused(
    world_factory: Callable[..., World],
) -> None:
    # Polling every 10 minutes: a report within seconds can only come from the webhook.
    world = world_factory(POSTGATE_FOLLOW_POLL_SECONDS="600")
    publora = world.fakes.publora
    x = publora.add_connection("twitter", "1111", username="acme", display_name="Acme on X")
    webhook_url = f"{world.app.url}/webhooks/publora"

    # Forged, unsigned and malformed deliveries are refused and change nothing.
    forged = json.dumps({"version": "1", "event": "post.published", "data": {"postGroupId": "x"}}).encode()
    for headers in ({"X-Publora-Signature": "00" * 32}, {}):
        answer = httpx.post(
            webhook_url, content=forged, headers={"Content-Type": "application/json", **headers}
        )
        assert answer.status_code == 401
    assert (
        httpx.post(
            webhook_url, content=b"not json", headers={"X-Publora-Signature": _sign(b"not json")}
        ).status_code
        == 400
    )

    root = world.draft("Webhook-fast", [x])
    publora.set_webhook(webhook_url, WEBHOOK_SECRET)
    world.approve(root)
    report = world.wait_for_reply(root, "Published.", timeout=20)
    assert "x.com/i/web/status/" in report
    deliveries = publora.webhook_deliveries()
    assert deliveries and all(d["status"] == 200 for d in deliveries)

    # A badly signed copy of a real event is refused; the post and its single report stay as they were.
    [group_id] = publora.groups()
    status = publora.send_webhook(
        "post.failed",
        {"postGroupId": group_id, "platform": "twitter", "error": {"code": "X", "message": "no"}},
        signature="deadbeef",
    )
    assert status == 401
    assert sum("Published." in r for r in world.replies(root)) == 1
    assert "Published" in message_text(world.root_now(root))


def test_cancelling_a_queued_postoria_post_withdraws_it(world_factory: Callable[..., World]) -> None:
    world = world_factory()
    postoria = world.fakes.postoria
    account = str(postoria.add_account("linkedin", "Acme Inc")["id"])
    queue = postoria.add_queue("Weekday slots", next_slot=datetime.now(UTC) + timedelta(days=1))["id"]
    view = world.open_composer()
    queue_block = next(b for b in view["blocks"] if b.get("block_id") == "queue")
    option = queue_block["element"]["option_groups"][0]["options"][0]["value"]
    assert option.endswith(f"|{queue}")
    world.slack.close_view(view["id"])
    root = world.draft("Queued for tomorrow", [account], when="queue", queue=option)
    assert "queue “Weekday slots”" in message_text(root)
    world.approve(root)
    submitted = world.slack.wait_for(
        lambda: (
            (m := world.root_now(root))
            and "postgate_cancel" in button_ids(m)
            and "Handed to the provider" in message_text(m)
            and m
        )
    )
    [created] = postoria.requests("create-post")
    assert created["json"]["publish_mode"] == "queue" and created["json"]["queue_id"] == queue

    # Someone who is neither the author nor an approver cannot cancel it.
    world.client.click(EVE, channel_id=APPROVALS, message=submitted, action_id="postgate_cancel")
    refusal = world.slack.wait_for(lambda: world.slack.ephemerals(user=EVE))
    assert "Only the author or an approver" in refusal[0]["text"]

    world.client.click(AUTHOR, channel_id=APPROVALS, message=submitted, action_id="postgate_cancel")
    world.wait_for_reply(root, "cancelled this post")
    assert "Cancelled" in message_text(world.root_now(root))
    assert postoria.requests("delete-post") and postoria.posts() == {}
    told = world.slack.wait_for(lambda: world.slack.ephemerals(user=AUTHOR))
    assert "Withdrawn from Postoria" in told[-1]["text"]


def test_a_cancel_that_comes_too_late_says_so(world_factory: Callable[..., World]) -> None:
    world = world_factory(fakes={"postoria": {"publish_delay": 30.0}})
    postoria = world.fakes.postoria
    account = str(postoria.add_account("linkedin", "Acme Inc")["id"])
    root = world.draft("Going out right now", [account])
    world.approve(root)
    submitted = world.slack.wait_for(
        lambda: (m := world.root_now(root)) and "postgate_cancel" in button_ids(m) and m
    )
    postoria.wait_for(lambda: any(p["status"] == "in_progress" for p in postoria.posts().values()))
    world.client.click(ANA, channel_id=APPROVALS, message=submitted, action_id="postgate_cancel")
    reply = world.wait_for_reply(root, "could not be stopped everywhere")
    assert "Postoria" in reply and "may still go out" in reply
    assert "Cancelled" not in message_text(world.root_now(root))
    assert postoria.posts()  # still there: nothing was pretended


def test_a_scheduled_post_with_a_media_link_goes_out_at_its_time(world_factory: Callable[..., World]) -> None:
    world = world_factory()
    fakes = world.fakes
    x = fakes.publora.add_connection("twitter", "1111", username="acme", display_name="Acme on X")
    linkedin = fakes.publer.add_account("linkedin", "Acme Inc")
    bluesky = str(fakes.postoria.add_account("bluesky", "acme.bsky.social")["id"])
    link = "https://cdn.example.com/media/launch.jpg"
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=70)
    root = world.draft(
        "Scheduled with a picture",
        [x, linkedin, bluesky],
        when="at_time",
        publish_at=int(due.timestamp()),
        media_urls=link,
    )
    assert "launch.jpg" in message_text(root)
    world.approve(root)
    world.wait_for_reply(root, "approved this post")
    assert f"<!date^{int(due.timestamp())}^" in message_text(world.root_now(root))

    # Nothing reaches a provider before the time.
    while datetime.now(UTC) < due - timedelta(seconds=3):
        assert not fakes.publora.requests("create-post")
        assert not fakes.publer.requests("posts/schedule") and not fakes.publer.requests(
            "posts/schedule/publish"
        )
        assert not fakes.postoria.requests("create-post")
        time.sleep(1)

    report = world.wait_for_reply(root, "Published.", timeout=60)
    assert report.count("view post") == 3
    [created] = fakes.publora.requests("create-post")
    assert created["json"]["mediaUrls"] == [link]
    assert [m["url"] for m in fakes.publer.requests("media/from-url")[0]["json"]["media"]] == [link]
    assert fakes.postoria.requests("import-media")[0]["json"]["url"] == link


def test_media_rules_are_checked_in_the_modal(world_factory: Callable[..., World]) -> None:
    world = world_factory()
    instagram = world.fakes.publer.add_account("instagram", "Acme Shop", account_type="business")
    youtube = str(world.fakes.postoria.add_account("youtube", "Acme TV")["id"])
    view = world.open_composer()
    targets = [world.option(view, instagram), world.option(view, youtube)]
    response = world.client.submit_view(AUTHOR, view["id"], {"text": "Look!", "targets": targets})
    errors = response.json()["errors"]
    assert "Instagram needs an image or a video." in errors["media_files"]
    assert "YouTube needs a video." in errors["media_files"]

    pdf = world.upload("F0PDF", "deck.pdf", b"%PDF-1.4 tiny", "application/pdf")
    response = world.client.submit_view(
        AUTHOR,
        view["id"],
        {
            "text": "Look!",
            "targets": targets,
            "media_files": [pdf],
            "media_urls": "http://insecure.example/a.jpg",
        },
    )
    errors = response.json()["errors"]
    assert "deck.pdf is not a file Postgate can post" in errors["media_files"]
    assert "is not an https:// link" in errors["media_urls"]
    assert world.roots() == []  # nothing reached approval


def test_each_providers_media_limits_are_checked_in_the_modal(world_factory: Callable[..., World]) -> None:
    world = world_factory()
    bluesky = world.fakes.publora.add_connection("bluesky", "4242", username="acme.bsky.social")
    instagram = world.fakes.publora.add_connection("instagram", "4343", username="acmeshop")
    view = world.open_composer()
    targets = [world.option(view, bluesky), world.option(view, instagram)]
    # Publora's quick reference: Bluesky "4 × 1MB"; Instagram "JPEG only", video "90s / 300MB".
    photo = world.upload("F0BIG", "launch.png", b"\x89PNG" + b"\0" * 1_500_000, "image/png")
    response = world.client.submit_view(
        AUTHOR, view["id"], {"text": "Look!", "targets": targets, "media_files": [photo]}
    )
    errors = response.json()["errors"]["media_files"]
    assert "Bluesky takes images up to 1 MB; launch.png is 1.5 MB." in errors
    assert "Instagram takes JPEG images only; launch.png is PNG." in errors

    clip = world.upload("F0CLIP", "teaser.mp4", b"\0\0\0\x18ftypmp42", "video/mp4", duration_ms=125_000)
    response = world.client.submit_view(
        AUTHOR, view["id"], {"text": "Look!", "targets": targets, "media_files": [clip]}
    )
    assert response.json()["errors"] == {
        "media_files": "Instagram via Publora takes videos up to 1 min 30 s; teaser.mp4 is 2 min 5 s."
    }
    assert world.roots() == []

    # A video Slack has not measured yet goes through, and the approvers are told its length is unknown.
    fresh = world.upload("F0NEW", "fresh.mp4", b"\0\0\0\x18ftypmp42", "video/mp4")
    response = world.client.submit_view(
        AUTHOR, view["id"], {"text": "Look!", "targets": targets, "media_files": [fresh]}
    )
    assert response.status_code == 200 and not response.content
    [root] = world.slack.wait_for(lambda: world.roots() or None)
    assert (
        "The length of fresh.mp4 could not be checked; Instagram via Publora takes videos up to 1 min 30 s."
        in str(root["blocks"])
    )


def test_a_threads_chain_via_publora_is_checked_in_the_modal_as_the_one_post_it_becomes(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory()
    threads = world.fakes.publora.add_connection("threads", "7777", username="acme")
    view = world.open_composer()
    # Each part fits Threads' 500, but Publora joins them into one post (it cannot post Threads chains).
    chain = "\n---\n".join(["a" * 300, "b" * 300])
    response = world.client.submit_view(
        AUTHOR, view["id"], {"text": chain, "targets": [world.option(view, threads)]}
    )
    errors = response.json()["errors"]
    assert (
        "Threads allows 500 (102 too many; Publora joins the parts into one post, as it cannot post "
        "Threads chains right now)" in errors["text"]
    )
    assert world.roots() == [] and world.fakes.publora.requests("create-post") == []


def test_a_disconnected_publer_account_is_marked_in_the_composer_and_refused(
    world_factory: Callable[..., World],
) -> None:
    # Publer's getting-started guide lists accounts as {"accounts": [...]} with a `status` ("active").
    world = world_factory(fakes={"publer": {"list_shape": "quickstart"}})
    active = world.fakes.publer.add_account("linkedin", "Acme Inc", status="active")
    gone = world.fakes.publer.add_account("twitter", "Acme on X", status="disconnected")

    view = world.open_composer()
    block = next(b for b in view["blocks"] if b.get("block_id") == "targets")
    labels = {o["value"]: o["text"]["text"] for g in block["element"]["option_groups"] for o in g["options"]}
    assert labels[world.option(view, active)] == "LinkedIn · Acme Inc"
    assert labels[world.option(view, gone)] == "X · Acme on X ⚠️"
    assert "reconnect it in Publer" in str(view["blocks"])

    values = {"text": "Launch day", "targets": [world.option(view, gone)], "when": "on_approval"}
    refused = world.client.submit_view(AUTHOR, view["id"], values)
    assert refused.status_code == 200
    assert "reconnect it in Publer" in refused.json()["errors"]["targets"]
    assert world.roots() == []

    root = world.draft("Launch day", [active])
    assert "Acme Inc" in message_text(root)
