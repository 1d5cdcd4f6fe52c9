"""SIGTERM stops Postgate within its deadline even with a provider call hanging: it takes no new work,
hands the post back, and flushes what Slack is owed; the next start finishes the post, once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import AppProcess
from tests.e2e.test_workflow import ANA, World, world_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def test_sigterm_mid_submission_stops_in_time_and_the_restart_publishes_once(
    world_factory: Callable[..., World],  # noqa: F811
    tmp_path: Path,
) -> None:
    world = world_factory({"POSTGATE_SHUTDOWN_SECONDS": "3"})
    # Publora stores the post, then takes 15 s to answer: the submission is in flight at SIGTERM.
    world.publora.fail_next("create-post", status=500, after_processing=True, delay=15)
    root = world.draft("In flight at shutdown", [world.x])
    world.click(ANA, root, "postgate_approve")
    world.publora.wait_for(lambda: world.publora.groups(), timeout=10)
    started = time.monotonic()
    assert world.app.stop(signal.SIGTERM, timeout=15) == 0
    assert time.monotonic() - started < 6
    assert "handed back for reconciliation" in world.app.logs()
    # The approval reply owed before the stop was flushed on the way out.
    assert any("approved this post" in r for r in world.replies(root))

    env = world.app.same_app_env()
    again = AppProcess(env=env, log_path=tmp_path / "restart.log", cwd=tmp_path).start()
    try:
        world.wait_reply(root, "Published.", timeout=30)
        time.sleep(1.5)  # a second report or submission would show up by now
        assert len(world.publora.groups()) == 1
        assert sum("Published." in r for r in world.replies(root)) == 1
    finally:
        again.stop()
