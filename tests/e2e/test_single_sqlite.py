"""On SQLite only one process may dispatch: a second one on the same file says so, answers Slack, and
takes over only when the first stops. (PostgreSQL replicas share the work safely instead.)"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import SIGNING_SECRET, AppProcess
from tests.e2e.test_workflow import ANA, World, world_factory  # noqa: F401 - the fixture
from tests.fakes.slack_client import SlackClient

pytestmark = pytest.mark.e2e


def test_a_second_process_on_one_sqlite_file_waits_to_dispatch(
    world_factory: Callable[..., World],  # noqa: F811
    tmp_path: Path,
) -> None:
    world = world_factory()
    env = world.app.same_app_env()
    second = AppProcess(env=env, log_path=tmp_path / "second.log", cwd=tmp_path).start()
    client = SlackClient(app_url=second.events_url, signing_secret=SIGNING_SECRET, fake=world.slack)
    try:
        world.slack.wait_for(lambda: "already dispatching from this SQLite database" in second.logs())
        assert "already dispatching" not in world.app.logs()

        # Slack may reach either process; the one dispatcher publishes, once.
        root = world.draft("Through the second process", [world.x])
        client.click(ANA, channel_id="C0APPROVALS", message=root, action_id="postgate_approve")
        world.wait_reply(root, "Published.", timeout=25)
        assert len(world.publora.requests("create-post")) == 1

        # The dispatcher dies without a word; the other process takes over.
        world.app.stop(signal.SIGKILL)
        world.slack.wait_for(lambda: "now dispatches" in second.logs(), timeout=15)
        later = _draft_via(world, client, "After the take-over")
        client.click(ANA, channel_id="C0APPROVALS", message=later, action_id="postgate_approve")
        world.wait_reply(later, "Published.", timeout=25)
        assert len(world.publora.requests("create-post")) == 2
    finally:
        second.stop()
        client.close()


def _draft_via(world: World, client: SlackClient, text: str) -> dict:
    client.slash_command("U0AUTHOR", "/post", "", channel_id="C0GENERAL")
    view = world.composer("U0AUTHOR")
    client.submit_view("U0AUTHOR", view["id"], {"text": text, "targets": [world.option(view, world.x)]})
    return world.root_with(text)
