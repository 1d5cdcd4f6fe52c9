"""Slack redelivers an Events API event when it thinks the answer was lost (X-Slack-Retry-Num): the
redelivery is acknowledged and the work is not done twice."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.e2e.test_workflow import ANA, World, world_factory  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def test_a_redelivered_event_is_acknowledged_and_skipped(world_factory: Callable[..., World]) -> None:  # noqa: F811
    world = world_factory()
    slack, client = world.slack, world.client
    event = {"type": "app_home_opened", "user": ANA, "channel": "D0ANA", "tab": "home"}
    assert client.event(event).status_code == 200
    slack.wait_for(lambda: slack.calls("views.publish"))
    first = client.last_event_id
    for retry in (1, 2, 3):
        response = client.event(event, retry_num=retry, event_id=first)
        assert response.status_code == 200
    time.sleep(1.0)  # give a wrongly processed redelivery time to show up
    assert len(slack.calls("views.publish")) == 1
    # A new event (a new event_id) is handled as usual.
    client.event(event)
    slack.wait_for(lambda: len(slack.calls("views.publish")) == 2)
