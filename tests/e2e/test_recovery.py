"""Recovery, end to end with Postgate as its own process: a Slack outage while posts go out, and Postgate
stopped past its posts' due time. Both wait out real minutes, so both are marked `soak`."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.harness import SIGNING_SECRET, message_text
from tests.e2e.test_providers import AUTHOR, World, world_factory
from tests.fakes.slack_client import SlackClient

pytestmark = [pytest.mark.e2e, pytest.mark.soak, pytest.mark.timeout(600)]

__all__ = ["world_factory"]  # the fixture, used by name below

OUTAGE_SECONDS = 60


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    url, name = fresh_postgres_database(postgres_url)
    yield url
    drop_postgres_database(postgres_url, name)


def accounts(world: World) -> list[str]:
    return [
        world.fakes.publora.add_connection("twitter", "777", username="acme", display_name="Acme on X"),
        world.fakes.publer.add_account("linkedin", "Acme Inc"),
        str(world.fakes.postoria.add_account("bluesky", "acme.bsky.social")["id"]),
    ]


def published_count(world: World, marker: str) -> int:
    fakes = world.fakes
    texts = (
        [r["content"] for r in fakes.publora.published()]
        + [r["text"] for r in fakes.publer.published()]
        + [r["caption"] for r in fakes.postoria.published()]
    )
    return sum(marker in (t or "") for t in texts)


def count_replies(world: World, root: dict[str, object], needle: str) -> int:
    return sum(needle in r for r in world.replies(root))


def author_dms_about(world: World, needle: str) -> int:
    return sum(needle in (m.get("text") or "") for m in world.slack.dms(AUTHOR))


@pytest.mark.postgres
def test_reports_held_up_by_a_slack_outage_arrive_once_after_it(
    postgres_db: str, world_factory: Callable[..., World]
) -> None:
    world = world_factory(postgres_db)
    targets = accounts(world)
    roots = [world.draft(f"Outage post {n} [outage-{n}]", [account]) for n, account in enumerate(targets)]
    dms_before = len(world.slack.dms(AUTHOR))

    world.slack.set_outage(True)
    down_at = time.monotonic()
    for root in roots:
        world.approve(root)
    # Publishing needs no Slack: every post goes live while Slack is still down…
    world.slack.wait_for(
        lambda: all(published_count(world, f"[outage-{n}]") == 1 for n in range(len(roots))), timeout=40
    )
    # …and nothing reached Slack meanwhile: no thread reply, no DM, the roots unchanged.
    assert all(len(world.replies(root)) == 0 for root in roots)
    assert len(world.slack.dms(AUTHOR)) == dms_before
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    world.slack.set_outage(False)

    for root in roots:
        world.wait_for_reply(root, "🚀 Published.", timeout=150)
        world.slack.wait_for(lambda root=root: "Published" in message_text(world.root_now(root)), timeout=60)
    world.slack.wait_for(lambda: author_dms_about(world, "Published") == len(roots), timeout=60)
    time.sleep(5)  # anything posted twice would show by now
    for n, root in enumerate(roots):
        assert count_replies(world, root, "🚀 Published.") == 1
        assert count_replies(world, root, "approved this post") == 1
        assert published_count(world, f"[outage-{n}]") == 1
    assert author_dms_about(world, "Published") == len(roots)
    assert author_dms_about(world, "was approved") == len(roots)


def test_posts_due_while_postgate_was_stopped_go_out_once_with_a_lateness_note(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory()
    targets = accounts(world)
    # The composer asks for at least a minute ahead.
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=70)
    roots = [
        world.draft(f"Late post {n} [late-{n}]", [account], when="at_time", publish_at=int(due.timestamp()))
        for n, account in enumerate(targets)
    ]
    for root in roots:
        world.approve(root)
        world.slack.wait_for(lambda root=root: "Approved" in message_text(world.root_now(root)))
    world.app.stop(signal.SIGTERM)

    # Down until well past the due time (a post counts as late a minute after it).
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 75)
    assert all(published_count(world, f"[late-{n}]") == 0 for n in range(len(roots)))
    restart(world)

    for root in roots:
        world.wait_for_reply(root, "🚀 Published.", timeout=60)
    # A second restart finds nothing left to do.
    world.app.stop(signal.SIGTERM)
    restart(world)
    time.sleep(5)
    for n, root in enumerate(roots):
        notes = [r for r in world.replies(root) if "while Postgate was not running" in r]
        assert len(notes) == 1, world.replies(root)
        assert "late" in notes[0]
        assert count_replies(world, root, "🚀 Published.") == 1
        assert published_count(world, f"[late-{n}]") == 1


def restart(world: World) -> None:
    world.app = world.start_app()
    world.client.close()
    world.client = SlackClient(app_url=world.app.events_url, signing_secret=SIGNING_SECRET, fake=world.slack)
