"""Secrets stay secret, end to end: an admin enters a Publer key in Slack's settings modal, Postgate checks it
with Publer, stores it encrypted and publishes with it; then every secret the test used is looked for in the
app's log, in every column of every table, and in everything Postgate sent to Slack, and found nowhere.

Postgate runs as its own process in HTTP mode against the fake Slack, Publora, Publer and Postoria (the
world of `test_providers`), on SQLite and on PostgreSQL. Error paths are provoked on purpose, so the search
means something: a mistyped key Publer refuses with a 401 that repeats it, and answers (500 and 401) whose
bodies echo the Authorization header back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, create_engine, select

from tests.e2e.harness import SIGNING_SECRET, message_text
from tests.e2e.test_providers import (
    ANA,
    POSTORIA_KEY,
    PUBLER_KEY,
    PUBLORA_KEY,
    WEBHOOK_SECRET,
    World,
    app_env,
    make_fakes,
)

pytestmark = pytest.mark.e2e

ADMIN = "U0ROOT"
#: Publer now accepts only this key; the environment's (PUBLER_KEY) is an old, revoked one.
ENTERED_KEY = "publer-entered-in-slack-7d1e9c3b5a"
MISTYPED_KEY = "publer-mistyped-key-4f2a8e6c0b91"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    fakes = make_fakes()
    fakes.publer.api_key = ENTERED_KEY
    fakes.slack.add_user(ADMIN, "root", is_admin=True)
    # Rotation in progress: the first key encrypts, the second only decrypts.
    secret_keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    env = app_env(fakes, database_url, POSTGATE_SECRET_KEY=",".join(secret_keys))
    world = World(fakes, env, tmp_path)
    yield world
    world.app.stop()
    world.client.close()
    for fake in (fakes.publora, fakes.publer, fakes.postoria, fakes.slack):
        fake.stop()


def open_settings(world: World) -> dict[str, Any]:
    world.client.app_home_opened(ADMIN)
    home = world.slack.wait_for(
        lambda: next((v for v in world.slack.views(ADMIN) if v["type"] == "home"), None)
    )
    world.client.click_in_view(ADMIN, view_id=home["id"], action_id="postgate_open_settings")
    return settings_showing(world, "Provider keys")


def settings_showing(world: World, needle: str) -> dict[str, Any]:
    return world.slack.wait_for(
        lambda: next(
            (
                v
                for v in world.slack.views(ADMIN)
                if v["callback_id"] == "postgate_settings" and needle in message_text(v)
            ),
            None,
        )
    )


def key_modal(world: World, settings: dict[str, Any], provider: str) -> dict[str, Any]:
    world.client.click_in_view(ADMIN, view_id=settings["id"], action_id="postgate_enter_key", value=provider)
    return world.slack.wait_for(
        lambda: next(
            (v for v in world.slack.views(ADMIN) if v["callback_id"] == "postgate_settings_key"), None
        )
    )


def composer_text(world: World) -> str:
    view = world.open_composer()
    world.slack.close_view(view["id"])
    return str(view["blocks"])


def database_dump(url: str) -> str:
    """Every value of every column of every table, as text."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        parts = []
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    parts.append(f"{table.name}: {row!r}")
        return "\n".join(parts)
    finally:
        engine.dispose()


def test_a_key_entered_in_slack_publishes_and_no_secret_leaks_anywhere(
    world: World, database_url: str
) -> None:
    w, fakes = world, world.fakes
    acme = fakes.publora.add_connection("twitter", "1111", username="acme", display_name="Acme on X")
    linkedin = fakes.publer.add_account("linkedin", "Acme Inc")
    answers: list[str] = []

    # The environment's Publer key is refused, by an answer that repeats it: the composer says so, without it.
    fakes.publer.fail_next(
        "accounts", status=401, body={"errors": [f"Unauthorized: Authorization: Bearer-API {PUBLER_KEY}"]}
    )
    # Publora fails once with its key in the body; the retry works.
    fakes.publora.fail_next(
        "platform-connections", status=500, body={"error": f"proxy error, x-publora-key: {PUBLORA_KEY}"}
    )
    before = composer_text(w)
    assert "Acme on X" in before and "the Publer API key was refused" in before
    assert "Authorization: Bearer-API " in before and PUBLER_KEY not in before  # echoed, blanked

    # Admin: Home → Settings → Provider keys.
    settings = open_settings(w)
    assert "*Publer* · key from the environment" in message_text(settings)

    # A mistyped key: Publer refuses it (and echoes it); the error shows on the field.
    modal = key_modal(w, settings, "publer")
    assert [b["block_id"] for b in modal["blocks"] if b["type"] == "input"] == ["key_api"]  # the key first
    fakes.publer.fail_next(
        "workspaces",
        status=401,
        body={"errors": [f"Invalid API key {MISTYPED_KEY} (Bearer-API {MISTYPED_KEY})"]},
    )
    refused = w.client.submit_view(ADMIN, modal["id"], {"key_api": MISTYPED_KEY})
    answers.append(refused.text)
    assert "Publer refused this key" in refused.json()["errors"]["key_api"]

    # The right key: the modal now offers the workspaces it reaches, and still holds the key as typed.
    client_workspace = fakes.publer.add_workspace("Client Workspace")
    listed = w.client.submit_view(ADMIN, modal["id"], {"key_api": ENTERED_KEY})
    answers.append(listed.text)
    assert listed.json()["response_action"] == "update" and ENTERED_KEY not in listed.text
    picker = next(b for b in w.slack.view(modal["id"])["blocks"] if b.get("block_id") == "key_workspace")
    assert [o["text"]["text"] for o in picker["element"]["options"]] == [
        f"Marketing Team ({fakes.publer.workspace_id})",
        f"Client Workspace ({client_workspace})",
    ]
    assert picker["element"]["initial_option"]["value"] == fakes.publer.workspace_id  # the one in use
    kept = w.slack.view(modal["id"])["state"]["values"]["key_api"]["postgate_key_api"]["value"]
    assert kept == ENTERED_KEY  # Slack keeps the pasted key: same block and action ids

    # Picked, while Publer fails with the Authorization header in its body: not saved, said inline.
    fakes.publer.fail_next(
        "accounts",
        status=500,
        body={"errors": [f"upstream error; request had Authorization: Bearer-API {ENTERED_KEY}"]},
    )
    unchecked = w.client.submit_view(ADMIN, modal["id"], {"key_workspace": fakes.publer.workspace_id})
    answers.append(unchecked.text)
    assert "could not be asked whether this key works" in unchecked.json()["errors"]["key_api"]

    # Again, with Publer answering: checked, saved, the modal closes and the settings say who entered it.
    saved = w.client.submit_view(ADMIN, modal["id"])
    answers.append(saved.text)
    assert saved.status_code == 200 and saved.content in (b"", b"{}"), saved.text
    settings = settings_showing(w, f"*Publer* · key entered in Slack by <@{ADMIN}>")

    # The composer lists Publer's accounts now, and a post publishes through Publer with the entered key.
    fakes.publer.fail_next(
        "job_status", status=500, body={"errors": [f"gateway: Authorization: Bearer-API {ENTERED_KEY}"]}
    )
    root = w.draft("Published with the key from Slack", [linkedin, acme])
    w.approve(root, ANA)
    report = w.wait_for_reply(root, "Published.")
    assert "LinkedIn · Acme Inc" in report
    creates = fakes.publer.requests("posts/schedule") + fakes.publer.requests("posts/schedule/publish")
    assert [c["headers"]["authorization"] for c in creates] == [f"Bearer-API {ENTERED_KEY}"]

    # Removing it falls back to the environment's key (which Publer refuses).
    w.client.click_in_view(ADMIN, view_id=settings["id"], action_id="postgate_remove_key", value="publer")
    settings_showing(w, "*Publer* · key from the environment")
    assert "the Publer API key was refused" in composer_text(w)

    w.app.stop()
    logs = w.app.logs()
    assert f"the Publer key was entered in Slack by {ADMIN}" in logs
    assert f"the Publer key entered in Slack was removed by {ADMIN}" in logs
    dump = database_dump(database_url)
    assert "provider_credential: ('publer', None" in dump  # removed: the row stays, without a token
    assert f"'publer', 'entered', '{ADMIN}'" in dump and f"'publer', 'removed', '{ADMIN}'" in dump
    sent_to_slack = "\n".join(
        [repr(w.slack.calls()), repr(w.slack.ephemerals()), repr(w.slack.views()), *answers]
    )
    assert f"<@{ADMIN}>" in sent_to_slack  # the search looks at what admins saw

    secrets = {
        "Slack bot token": w.slack.bot_token,
        "Slack signing secret": SIGNING_SECRET,
        "Publora key": PUBLORA_KEY,
        "Publora webhook secret": WEBHOOK_SECRET,
        "Publer key (environment)": PUBLER_KEY,
        "Postoria key": POSTORIA_KEY,
        "Publer key entered in Slack": ENTERED_KEY,
        "Publer key mistyped in Slack": MISTYPED_KEY,
        **{f"POSTGATE_SECRET_KEY {n}": k for n, k in enumerate(w.env["POSTGATE_SECRET_KEY"].split(","))},
    }
    places = {"the log": logs, "the database": dump, "Slack": sent_to_slack}
    leaks = [
        f"{name} in {place}"
        for name, secret in secrets.items()
        for place, text in places.items()
        if secret in text
    ]
    assert leaks == []
