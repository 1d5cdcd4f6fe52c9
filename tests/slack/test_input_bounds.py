"""Every input has a bound on the server too, not only in the modal: a signed request carrying a value
larger than Slack itself lets anyone send is refused before anything reads it (400, or 413 past the body
limit), and the parsers drop or refuse such values when they arrive another way (Socket Mode).

The HTTP layer is exercised as WSGI, the way waitress calls it; the Bolt app behind it is a stand-in that
records what reached it."""

from __future__ import annotations

import io
import json
import time
import urllib.parse
from typing import Any

import pytest

from bot.slack.views.compose import COMMENT_MAX, build_reject_modal, build_request_changes_modal
from bot.slack.views.forms import (
    INPUT_MAX,
    decode_account,
    parse_button_value,
    parse_compose,
    parse_reject,
    view_metadata,
)
from bot.web import MAX_BODY, WebApp
from tests.fakes.slack_client import sign

SECRET = "bounds-signing-secret-0123"


class App:
    """WebApp in front of a stand-in for Bolt that answers 200 and keeps what it was given."""

    def __init__(self) -> None:
        self.reached: list[bytes] = []
        self.web = WebApp(health=lambda: {"ok": True}, slack_handler=self._bolt, signing_secret=SECRET)

    def _bolt(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.reached.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    def post(self, body: bytes) -> int:
        stamp = str(int(time.time()))
        environ = {
            "PATH_INFO": "/slack/events",
            "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "HTTP_X_SLACK_REQUEST_TIMESTAMP": stamp,
            "HTTP_X_SLACK_SIGNATURE": sign(SECRET, int(stamp), body),
        }
        statuses: list[str] = []
        self.web(environ, lambda status, headers: statuses.append(status))
        return int(statuses[0].split()[0])

    def interaction(self, payload: dict[str, Any]) -> int:
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}).encode())


def submission(view: dict[str, Any], values: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": "U0BO", "team_id": "T0POSTGATE"},
        "team": {"id": "T0POSTGATE"},
        "view": view | {"state": {"values": values}} | changes,
    }


def typed(block: str, action: str, text: str) -> dict[str, Any]:
    return {block: {action: {"type": "plain_text_input", "value": text}}}


REJECT = build_reject_modal(post_id=7, version=2).to_dict()


@pytest.fixture
def app() -> App:
    return App()


def test_values_slack_could_send_reach_the_app(app: App) -> None:
    values = typed("reject_reason", "postgate_reject_reason", "r" * 3000)
    assert app.interaction(submission(REJECT, values)) == 200
    # Slash command text is never stored, only prefilled (cut) into the composer: it is not checked.
    command = urllib.parse.urlencode(
        {
            "command": "/post",
            "text": "t" * 20_000,
            "user_id": "U0BO",
            "team_id": "T0POSTGATE",
            "channel_id": "C0GENERAL",
            "trigger_id": "1.2.abc",
        }
    )
    assert app.post(command.encode()) == 200
    assert len(app.reached) == 2


@pytest.mark.parametrize(
    ("what", "payload"),
    [
        ("a modal input", submission(REJECT, typed("reject_reason", "postgate_reject_reason", "r" * 3001))),
        (
            "private_metadata",
            submission(REJECT, {}, private_metadata=json.dumps({"post_id": 7, "x": "m" * 3000})),
        ),
        (
            "an option",
            submission(
                REJECT,
                {
                    "targets": {
                        "postgate_targets": {
                            "type": "multi_static_select",
                            "selected_options": [
                                {
                                    "text": {"type": "plain_text", "text": "X · acme"},
                                    "value": "publora|twitter|" + "1" * 140,
                                }
                            ],
                        }
                    }
                },
            ),
        ),
        (
            "a button value",
            {
                "type": "block_actions",
                "user": {"id": "U0BO"},
                "actions": [{"action_id": "a", "value": "1" * 2001}],
            },
        ),
        (
            "a picked option in an action",
            {
                "type": "block_actions",
                "user": {"id": "U0BO"},
                "actions": [
                    {"action_id": "a", "selected_option": {"text": {"text": "x" * 76}, "value": "v"}}
                ],
            },
        ),
    ],
)
def test_a_value_larger_than_slack_allows_is_refused_before_the_app_reads_it(
    app: App, what: str, payload: dict[str, Any]
) -> None:
    assert app.interaction(payload) == 400, what
    assert app.reached == []


def test_a_body_over_the_limit_is_refused_unread(app: App) -> None:
    values = typed("reject_reason", "postgate_reject_reason", "r" * MAX_BODY)
    assert app.interaction(submission(REJECT, values)) == 413
    assert app.reached == []


def test_the_modals_carry_their_bounds() -> None:
    for modal, block in (
        (REJECT, "reject_reason"),
        (build_request_changes_modal(post_id=7, version=2).to_dict(), "changes_comment"),
    ):
        element = next(b for b in modal["blocks"] if b.get("block_id") == block)["element"]
        assert element["max_length"] == COMMENT_MAX <= INPUT_MAX


def test_the_parsers_drop_what_no_real_modal_holds() -> None:
    # private_metadata beyond Slack's 3,000 characters was never Postgate's.
    padded = json.dumps({"post_id": 7, "version": 2, "pad": "p" * 3000})
    assert view_metadata({"private_metadata": padded}) == {}
    assert parse_reject({"private_metadata": padded})[:2] == (None, None)
    # Ids no database row can have.
    assert parse_reject({"private_metadata": json.dumps({"post_id": 2**40, "version": -1})})[:2] == (
        None,
        None,
    )
    assert parse_button_value("99999999999:1") is None and parse_button_value("7:99999999999") is None
    assert parse_button_value("7:2") == (7, 2)
    # Options longer than Slack's are not options Postgate offered.
    assert decode_account("publora|twitter|" + "1" * 200, "X · acme") is None
    assert decode_account("publora|twitter|1", "X · " + "a" * 80) is None
    assert decode_account("publora|twitter|1", "X · acme") is not None


def test_the_composer_refuses_over_long_links_and_keeps_file_names_short() -> None:
    view = {
        "state": {
            "values": {
                "text": {"postgate_text": {"value": "Hello"}},
                "media_urls": {"postgate_media_urls": {"value": "https://example.com/a.png\n" * 200}},
                "media_files": {
                    "postgate_media_files": {
                        "files": [{"id": "F0A", "name": "n" * 5000 + ".png", "size": 10}]
                    }
                },
            }
        }
    }
    form = parse_compose(view)
    assert form.url_problems and "the most is 3,000" in form.url_problems[0]
    assert [m for m in form.draft.media if m.url] == []
    [file] = form.draft.media
    assert len(file.name) <= 255
