"""Configuration and the `postgate` command: clear messages for missing settings, secrets never shown,
`migrate` and `doctor` against the fake Slack and fake Publora."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from pydantic import ValidationError

from bot.db.migrate import alembic_config
from bot.settings import Settings
from tests.fakes.postoria import FakePostoria
from tests.fakes.publer import FakePubler
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tokens_are_secret_in_repr_and_approvers_split_from_a_list() -> None:
    settings = Settings(_env_file=None, slack_bot_token="xoxb-1-real-looking", approvers="U1, U2;U3")  # type: ignore[call-arg]
    assert "xoxb-1-real-looking" not in repr(settings) and "**********" in repr(settings)
    assert settings.approvers == ["U1", "U2", "U3"]


def test_placeholders_copied_from_env_example_are_refused() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None, slack_bot_token="xoxb-your-bot-token")  # type: ignore[call-arg]


def test_the_default_database_is_a_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(_env_file=None).database_url == f"sqlite:///{tmp_path / 'postgate.db'}"  # type: ignore[call-arg]


def test_run_without_settings_stops_with_one_message_naming_them(tmp_path: Path) -> None:
    result = run_cli("run", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "POSTGATE_APPROVAL_CHANNEL",
        "POSTGATE_APPROVERS",
        "PUBLORA_API_KEY",
    ):
        assert name in result.stderr


def test_settings_come_from_a_dot_env_file_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv-123\nPOSTGATE_APPROVERS=U1\n")
    result = run_cli("run", env={}, cwd=tmp_path)
    assert "SLACK_BOT_TOKEN" not in result.stderr and "POSTGATE_APPROVERS" not in result.stderr
    assert "xoxb-from-dotenv-123" not in result.stderr


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakePublora]]:
    slack = FakeSlack().start()
    slack.add_user("U0ANA", "ana")
    slack.add_channel("C0APPROVALS", "approvals", members=["U0ANA"])
    publora = FakePublora().start()
    publora.add_connection("linkedin", "abc", username="acme", token_status="expired")
    yield slack, publora
    publora.stop()
    slack.stop()


def doctor_env(slack: FakeSlack, publora: FakePublora, tmp_path: Path) -> dict[str, str]:
    """The settings `postgate doctor` needs, pointed at the fakes, with Publora as the provider."""
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "signing-secret-xyz",
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "POSTGATE_APPROVAL_CHANNEL": "C0APPROVALS",
        "POSTGATE_APPROVERS": "U0ANA",
        "PUBLORA_API_KEY": "sk_test_0123456789.abcdef",
        "PUBLORA_BASE_URL": publora.url,
    }


HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_migrate_then_doctor_reports_everything_in_plain_words(
    tmp_path: Path, fakes: tuple[FakeSlack, FakePublora]
) -> None:
    slack, publora = fakes
    env = doctor_env(slack, publora, tmp_path)
    before = run_cli("doctor", env=env, cwd=tmp_path)
    assert before.returncode == 1 and "not migrated; run `postgate migrate`" in before.stdout
    migrated = run_cli("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0 and f"revision {HEAD}" in migrated.stdout
    good = run_cli("doctor", env=env, cwd=tmp_path)
    assert good.returncode == 0, good.stdout
    assert "bot token works" in good.stdout and "approval channel #approvals exists" in good.stdout
    assert "1 expired" in good.stdout and "reconnect it in Publora" in good.stdout
    bad = run_cli(
        "doctor",
        env={**env, "PUBLORA_API_KEY": "sk_wrong.key", "SLACK_BOT_TOKEN": "xoxb-wrong"},
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert "Slack refused the bot token: invalid_auth" in bad.stdout and "Invalid API key" in bad.stdout
    assert "sk_wrong.key" not in bad.stdout + bad.stderr and "xoxb-wrong" not in bad.stdout + bad.stderr


def test_doctor_says_what_publoras_connection_test_cannot_check_and_which_permissions_are_missing(
    tmp_path: Path, fakes: tuple[FakeSlack, FakePublora]
) -> None:
    slack, publora = fakes
    publora.add_connection("telegram", "-1001234567890", username="acme_bot")  # a bot: tested
    publora.add_connection("telegram", "1234567890", username="acme_news")  # MTProto: Publora's test fails
    publora.add_connection("threads", "2222", username="acme", permissions=["threads_basic"])
    publora.add_connection("threads", "3333", username="acme_too")  # every permission granted
    env = doctor_env(slack, publora, tmp_path)
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    report = run_cli("doctor", env=env, cwd=tmp_path)
    publora_line = next(line for line in report.stdout.splitlines() if "Publora:" in line)

    assert "Telegram · @acme_news: not testable (a Telegram MTProto connection" in publora_line
    assert "failed its connection test" not in publora_line
    assert (
        "Threads · @acme lacks the threads_manage_replies permission: first comments on Threads will fail"
        in publora_line
    )
    assert "@acme_too lacks" not in publora_line
    tested = {r["path"].rsplit("/", 1)[-1] for r in publora.requests("test-connection")}
    assert tested == {"telegram--1001234567890", "threads-2222", "threads-3333"}


def test_doctor_checks_every_configured_provider(
    tmp_path: Path, fakes: tuple[FakeSlack, FakePublora]
) -> None:
    slack, publora = fakes
    publora.add_connection("twitter", "1111", username="acme")  # a working one, tested by Publora
    publer, postoria = FakePubler(api_key="publer-key-123456").start(), FakePostoria().start()
    try:
        publer.add_account("linkedin", "Acme Inc")
        publer.add_account("twitter", "Old X", status="disconnected")
        postoria.add_account("x", "@acme")
        env = {
            **doctor_env(slack, publora, tmp_path),
            "PUBLER_API_KEY": publer.api_key,
            "PUBLER_WORKSPACE_ID": publer.workspace_id,
            "PUBLER_BASE_URL": publer.url,
            "POSTORIA_API_KEY": postoria.api_key,
            "POSTORIA_WORKSPACE_ID": str(postoria.workspace_id),
            "POSTORIA_BASE_URL": postoria.url,
        }
        assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
        report = run_cli("doctor", env=env, cwd=tmp_path)
        lines = report.stdout.splitlines()
        publora_line = next(line for line in lines if "Publora:" in line)
        assert "2 connected accounts" in publora_line and "1 expired" in publora_line
        assert len(publora.requests("test-connection")) == 1  # the expired one is not tested again
        assert any("Publer:" in line and "2 accounts" in line for line in lines), report.stdout
        assert any(
            "FAIL" in line and "Publer: X · Old X" in line and "reconnect it in Publer" in line
            for line in lines
        ), report.stdout
        assert report.returncode == 1
        assert any("Postoria:" in line and "1 " in line for line in lines), report.stdout

        wrong = run_cli(
            "doctor",
            env={**env, "POSTORIA_WORKSPACE_ID": "999999", "PUBLER_API_KEY": "wrong-key"},
            cwd=tmp_path,
        )
        assert wrong.returncode == 1
        assert "999999" in wrong.stdout and "Publer" in wrong.stdout
        assert "wrong-key" not in wrong.stdout + wrong.stderr
    finally:
        publer.stop()
        postoria.stop()


def test_doctor_names_the_publer_workspaces_the_key_reaches_when_the_configured_one_is_wrong(
    tmp_path: Path, fakes: tuple[FakeSlack, FakePublora]
) -> None:
    slack, publora = fakes
    publer = FakePubler(api_key="publer-key-123456", list_shape="quickstart").start()
    try:
        client = publer.add_workspace("Client Workspace")
        env = {
            **doctor_env(slack, publora, tmp_path),
            "PUBLER_API_KEY": publer.api_key,
            "PUBLER_WORKSPACE_ID": "5f8d7a62c9e77e001f36e3a1",  # not one of the key's
            "PUBLER_BASE_URL": publer.url,
        }
        assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
        report = run_cli("doctor", env=env, cwd=tmp_path)

        assert report.returncode == 1
        line = next(line for line in report.stdout.splitlines() if "PUBLER_WORKSPACE_ID" in line)
        assert "FAIL" in line and "5f8d7a62c9e77e001f36e3a1 is not a workspace this key reaches" in line
        assert f"Marketing Team ({publer.workspace_id})" in line and f"Client Workspace ({client})" in line
        assert publer.api_key not in report.stdout + report.stderr
    finally:
        publer.stop()
