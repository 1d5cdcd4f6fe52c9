"""`postgate run` in Socket Mode, as its own process: it opens one WebSocket to (fake) Slack through
`apps.connections.open`, answers slash commands over it, keeps /healthz on $PORT, and stops on SIGTERM.
A wrong app token stops start-up with one clear line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import AppProcess
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_client import SlackClient

pytestmark = pytest.mark.e2e

AUTHOR, ANA = "U0AUTHOR", "U0ANA"
APPROVALS, GENERAL = "C0APPROVALS", "C0GENERAL"
PUBLORA_KEY = "sk_test_0123456789.abcdef"


@dataclass
class World:
    slack: FakeSlack
    publora: FakePublora
    tmp_path: Path

    def app(self, **env: str) -> AppProcess:
        app = AppProcess(
            env={
                "SLACK_BOT_TOKEN": self.slack.bot_token,
                "SLACK_APP_TOKEN": self.slack.app_token,
                "SLACK_API_URL": self.slack.url,
                "DATABASE_URL": f"sqlite:///{self.tmp_path / 'postgate.db'}",
                "POSTGATE_APPROVAL_CHANNEL": APPROVALS,
                "POSTGATE_APPROVERS": ANA,
                "POSTGATE_DIGEST_TIME": "off",
                "PUBLORA_API_KEY": PUBLORA_KEY,
                "PUBLORA_BASE_URL": self.publora.url,
                **env,
            },
            log_path=self.tmp_path / "postgate.log",
            cwd=self.tmp_path,
        )
        del app.env["SLACK_SIGNING_SECRET"]  # Socket Mode needs no signing secret
        return app


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    slack = FakeSlack().start()
    slack.add_user(AUTHOR, "alex")
    slack.add_user(ANA, "ana", tz="America/New_York")
    slack.add_channel(APPROVALS, "social-approvals", members=[AUTHOR, ANA])
    slack.add_channel(GENERAL, "general", members=[AUTHOR, ANA])
    publora = FakePublora().start()
    publora.add_connection("twitter", "1111", username="acme", display_name="Acme on X")
    try:
        yield World(slack, publora, tmp_path)
    finally:
        publora.stop()
        slack.stop()


def test_serves_slack_over_socket_mode_and_stops_on_sigterm(world: World) -> None:
    slack = world.slack
    app = world.app().start()
    try:
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
        opens = slack.calls("apps.connections.open")
        assert [c["ok"] for c in opens] == [True]
        server = slack.socket_mode
        assert (server.connections(), server.accepted()) == (1, 1)
        # No HTTP entry point for Slack in Socket Mode.
        assert httpx.post(app.events_url, content=b"command=%2Fpost").status_code == 404

        forms = SlackClient(app_url=app.events_url, signing_secret="unused in Socket Mode", fake=slack)
        help_id = server.send_envelope(
            "slash_commands", forms.slash_command_form(AUTHOR, "/post", "help", channel_id=GENERAL)
        )
        ack = server.wait_for_ack(help_id, timeout=5)
        assert "/post list" in ack["payload"]["text"]

        form = forms.slash_command_form(AUTHOR, "/post", "", channel_id=GENERAL)
        compose_id = server.send_envelope("slash_commands", form)
        assert not server.wait_for_ack(compose_id, timeout=5).get("payload")
        view = slack.wait_for(
            lambda: next((v for v in slack.views(AUTHOR) if v["callback_id"] == "postgate_compose"), None)
        )
        assert view["type"] == "modal"
        opened = slack.calls("views.open")
        assert [(c["params"]["trigger_id"], c["ok"]) for c in opened] == [(form["trigger_id"], True)]
        assert server.connections() == 1  # still the one connection
    finally:
        code = app.stop()
    assert code == 0, app.logs()
    slack.socket_mode.wait_for_connections(0)
    logs = app.logs()
    for secret in (slack.bot_token, slack.app_token, PUBLORA_KEY):
        assert secret not in logs, "a secret reached the logs"


def test_a_wrong_app_token_stops_start_up_with_one_clear_line(world: World) -> None:
    wrong = "xapp-1-A0POSTGATE-not-the-right-one"
    app = world.app(SLACK_APP_TOKEN=wrong)
    finished = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=app.env,
        cwd=app.cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 2, output
    mentions = [line for line in output.splitlines() if "SLACK_APP_TOKEN" in line]
    assert len(mentions) == 1 and mentions[0].startswith("postgate: "), output
    assert wrong not in output
    assert [c["error"] for c in world.slack.calls("apps.connections.open")] == ["invalid_auth"]
    assert world.slack.socket_mode.accepted() == 0


def test_a_refused_websocket_stops_start_up(world: World) -> None:
    world.slack.socket_mode.refuse_handshakes = True
    app = world.app()
    try:
        with pytest.raises(AssertionError, match="postgate exited with 2"):
            app.start(timeout=20)
    finally:
        app.stop()
    assert world.slack.socket_mode.accepted() == 0
