"""Provider keys entered in Slack: Fernet encryption and key rotation, the live provider set (a stored key
takes over from the environment's, another replica notices, removal falls back), the check of a typed key
against a fake Publer over HTTP, and a clear stop at start-up when POSTGATE_SECRET_KEY cannot read them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError
from sqlalchemy import text

from bot.cli import main as cli_main
from bot.db.engine import Database, make_engine
from bot.db.migrate import upgrade
from bot.errors import ConfigError, ProviderAuthError
from bot.providers.registry import Credentials, LiveProviders, Origin, environment_credentials
from bot.services.credentials import KeyCheckFailed, KeyRing, ProviderKeys, StoredCredentials
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.e2e.harness import free_port
from tests.fakes.publer import FakePubler

OLD_KEY = "publer-old-key-0000000000"
NEW_KEY = "publer-new-key-1111111111"
WORKSPACE = "61a7c2e4f9e8c3b2d1e0f9a8"
ADMIN = "U0ADMIN"


@pytest.fixture
def publer() -> Iterator[FakePubler]:
    fake = FakePubler(api_key=NEW_KEY, workspace_id=WORKSPACE).start()
    fake.add_account("linkedin", "Acme Inc")
    yield fake
    fake.stop()


def settings(publer: FakePubler, **extra: object) -> Settings:
    values: dict[str, object] = {
        "approval_channel": "C0APPROVALS",
        "approvers": ["U0ANA"],
        "publer_api_key": OLD_KEY,
        "publer_workspace_id": WORKSPACE,
        "publer_base_url": publer.url,
        "publora_api_key": "sk_publora_env_key_42",
        "secret_key": Fernet.generate_key().decode(),
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(
    db: Database, config: Settings, *, monotonic: Monotonic | None = None
) -> tuple[LiveProviders, ProviderKeys]:
    stored = StoredCredentials(db=db, keyring=KeyRing.from_setting(config.secret_key))
    live = LiveProviders(config, source=stored, monotonic=monotonic or Monotonic())
    keys = ProviderKeys(
        stored=stored,
        providers=live,
        environment=environment_credentials(config),
        clock=FakeClock(),
        check_seconds=2.0,
    )
    keys.start()
    return live, keys


def test_encryption_round_trip_keeps_nothing_readable() -> None:
    ring = KeyRing([Fernet.generate_key().decode()])
    entered = Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE)
    token = ring.encrypt(entered)
    assert NEW_KEY not in token and WORKSPACE not in token
    assert ring.decrypt(token) == entered
    assert NEW_KEY not in repr(entered)


def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    from_before = KeyRing([old]).encrypt(Credentials(api_key=OLD_KEY))
    rotated = KeyRing([new, old])
    assert rotated.decrypt(from_before).api_key == OLD_KEY
    fresh = rotated.encrypt(Credentials(api_key=NEW_KEY))
    assert KeyRing([new]).decrypt(fresh).api_key == NEW_KEY
    with pytest.raises(InvalidToken):
        KeyRing([old]).decrypt(fresh)


def test_a_key_entered_in_slack_takes_over_and_other_replicas_follow(
    db: Database, publer: FakePubler
) -> None:
    config = settings(publer)
    here, keys = replica(db, config)
    ticks = Monotonic()
    there, _ = replica(db, config, monotonic=ticks)
    publora_before = there["publora"]
    with pytest.raises(ProviderAuthError):
        here["publer"].list_accounts()  # the environment's key is the old one
    assert [s.origin for s in keys.statuses()] == [Origin.ENVIRONMENT, Origin.ENVIRONMENT, None]

    assert (
        keys.check("publer", Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE), user_id=ADMIN)
        == "1 account"
    )
    keys.save("publer", Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE), user_id=ADMIN)
    assert [a.name for a in here["publer"].list_accounts()] == ["Acme Inc"]
    status = next(s for s in keys.statuses() if s.provider == "publer")
    assert (status.origin, status.entered_by, status.in_environment) == (Origin.SLACK, ADMIN, True)

    # The other replica looks again once its few seconds are up, and rebuilds only Publer.
    ticks.now += 10
    assert [a.name for a in there["publer"].list_accounts()] == ["Acme Inc"]
    assert there["publora"] is publora_before

    assert keys.remove("publer", user_id=ADMIN)
    assert not keys.remove("publer", user_id=ADMIN)
    with pytest.raises(ProviderAuthError):
        here["publer"].list_accounts()
    assert next(s for s in keys.statuses() if s.provider == "publer").origin == Origin.ENVIRONMENT

    # Stored: Fernet tokens and who changed what, never the key.
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM provider_credential")).all()
        changes = connection.execute(text("SELECT provider, action, actor FROM provider_credential_change"))
        assert [tuple(c) for c in changes] == [("publer", "entered", ADMIN), ("publer", "removed", ADMIN)]
    assert rows and NEW_KEY not in str(rows)


def test_a_refused_or_unreachable_key_is_not_saved_and_never_echoed(db: Database, publer: FakePubler) -> None:
    _, keys = replica(db, settings(publer))
    wrong = "publer-wrong-key-2222222222"
    with pytest.raises(KeyCheckFailed) as refused:
        keys.check("publer", Credentials(api_key=wrong, workspace_id=WORKSPACE), user_id=ADMIN)
    assert "Publer refused this key" in refused.value.user_message

    echo = {"errors": [f"upstream failed for Authorization: Bearer-API {NEW_KEY}"]}
    publer.fail_next("accounts", status=500, body=echo)
    with pytest.raises(KeyCheckFailed) as failed:
        keys.check("publer", Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE), user_id=ADMIN)
    assert "could not be asked" in failed.value.user_message and "not saved" in failed.value.user_message
    assert NEW_KEY not in failed.value.user_message

    publer.fail_next("accounts", status=200, body=[], delay=3.0)
    with pytest.raises(KeyCheckFailed) as late:
        keys.check("publer", Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE), user_id=ADMIN)
    assert "did not answer within 2 seconds" in late.value.user_message
    assert all(s.origin != Origin.SLACK for s in keys.statuses())


def test_a_wrong_or_missing_secret_key_stops_start_up_with_a_clear_message(
    db: Database, publer: FakePubler
) -> None:
    config = settings(publer)
    _, keys = replica(db, config)
    keys.save("publer", Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE), user_id=ADMIN)

    other = settings(publer, secret_key=Fernet.generate_key().decode())
    with pytest.raises(ConfigError) as wrong:
        replica(db, other)
    message = str(wrong.value)
    assert "POSTGATE_SECRET_KEY cannot decrypt the Publer key entered in Slack by U0ADMIN" in message
    assert NEW_KEY not in message

    with pytest.raises(ConfigError) as missing:
        replica(db, settings(publer, secret_key=None))
    assert "POSTGATE_SECRET_KEY is not set" in str(missing.value)

    # Rotation: the new key first, the old one after it, reads what the old one stored, and moves it to
    # the new key at start-up, so the old key can be dropped afterwards.
    old = config.secret_key.get_secret_value() if config.secret_key else ""
    new = Fernet.generate_key().decode()
    live, _ = replica(db, settings(publer, secret_key=f"{new},{old}"))
    assert live.origin("publer") == Origin.SLACK
    live, _ = replica(db, settings(publer, secret_key=new))
    assert [a.name for a in live["publer"].list_accounts()] == ["Acme Inc"]


def test_postgate_run_with_the_wrong_secret_key_exits_with_the_reason(
    tmp_path: Path, publer: FakePubler
) -> None:
    url = f"sqlite:///{tmp_path / 'postgate.db'}"
    database = Database(make_engine(url))
    upgrade(database.engine)
    saved_with = KeyRing([Fernet.generate_key().decode()])
    StoredCredentials(db=database, keyring=saved_with).save(
        "publer", Credentials(api_key=NEW_KEY, workspace_id=WORKSPACE), actor=ADMIN, now=FakeClock().now()
    )
    database.dispose()
    wrong = Fernet.generate_key().decode()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-startup-test-token",
        "SLACK_SIGNING_SECRET": "startup-signing-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "DATABASE_URL": url,
        "PORT": str(free_port()),
        "POSTGATE_HOST": "127.0.0.1",
        "POSTGATE_APPROVAL_CHANNEL": "C0APPROVALS",
        "POSTGATE_APPROVERS": "U0ANA",
        "POSTGATE_SECRET_KEY": wrong,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "postgate: POSTGATE_SECRET_KEY cannot decrypt the Publer key entered in Slack" in done.stderr
    assert "Traceback" not in done.stderr
    assert wrong not in done.stderr and NEW_KEY not in done.stderr


def test_keygen_makes_a_key_the_settings_accept_and_a_bad_one_is_named_not_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert cli_main(["keygen"]) == 0
    made = capsys.readouterr().out.strip()
    assert Settings(_env_file=None, secret_key=made).secret_key is not None  # type: ignore[call-arg]

    bad = "not-a-fernet-key-but-secret"
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, secret_key=f"{made},{bad}")  # type: ignore[call-arg]
    assert "key 2 of 2 is not one" in str(refused.value.errors()[0]["msg"])

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POSTGATE_SECRET_KEY", bad)
    assert cli_main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "POSTGATE_SECRET_KEY must be Fernet keys" in err and bad not in err
