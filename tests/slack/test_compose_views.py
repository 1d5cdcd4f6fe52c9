"""The modals as an author or approver sees them, and what their submissions parse back to.

Every view is also checked as the fake Slack checks `views.open` (limits, initial options among the
options, unique block ids), and submissions are built the way Slack builds them from the view.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.views import View

from bot.domain.model import Account, Draft, MediaItem, Queue
from bot.domain.networks import Network
from bot.domain.rules import DraftField
from bot.services.directory import ProviderAccounts
from bot.slack.ids import Action, Block, ViewId
from bot.slack.views.compose import (
    build_compose_modal,
    build_reject_modal,
    build_request_changes_modal,
    build_reschedule_modal,
)
from bot.slack.views.forms import (
    errors_for_slack,
    parse_button_value,
    parse_compose,
    parse_reject,
    parse_request_changes,
    parse_reschedule,
)
from tests.fakes.slack_client import SlackClient
from tests.fakes.slack_limits import input_blocks
from tests.fakes.slack_workspace import Workspace

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
X = Account(provider="publora", account_id="1111", network=Network.X, name="Acme on X")
LINKEDIN = Account(provider="publora", account_id="Tz9W5i6ZYG", network=Network.LINKEDIN, name="Acme Inc")
THREADS = Account(provider="postoria", account_id="th-1", network=Network.THREADS, name="acme.threads")
LAUNCH_QUEUE = Queue(provider="postoria", queue_id="q1", name="Weekdays")
PROVIDERS = (
    ProviderAccounts(provider="publora", display_name="Publora", accounts=(X, LINKEDIN)),
    ProviderAccounts(
        provider="postoria", display_name="Postoria", accounts=(THREADS,), queues=(LAUNCH_QUEUE,)
    ),
)


def opened(view: View) -> dict[str, Any]:
    """The view as `views.open` sends it, after the fake Slack accepted it."""
    payload: dict[str, Any] = view.to_dict()  # slack_sdk's own validation
    workspace = Workspace(
        team_id="T0POSTGATE", bot_user_id="U0BOT", bot_id="B0BOT", app_id="A0APP", root_url="http://127.0.0.1"
    )
    workspace.check_view(payload, ("modal",))
    block_ids = [b["block_id"] for b in payload["blocks"] if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    return payload


def submitted(view: dict[str, Any], typed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The view_submission `view` Slack sends when the user submits without touching anything but `typed`
    (block id → the element's state, e.g. {"value": "…"})."""
    values = {}
    for block in input_blocks(view):
        element = block["element"]
        state = SlackClient._initial_state(element)
        state.update((typed or {}).get(block["block_id"], {}))
        values[block["block_id"]] = {element["action_id"]: state}
    return view | {"state": {"values": values}}


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def hints(view: dict[str, Any]) -> str:
    return " ".join(b.get("hint", {}).get("text", "") for b in view["blocks"])


def test_new_post_modal_offers_every_input_empty_and_explains_threads() -> None:
    view = opened(
        build_compose_modal(providers=PROVIDERS, tz=BERLIN, now=NOW, networks=(Network.X, Network.LINKEDIN))
    )

    assert view["title"]["text"] == "New post" and view["submit"]["text"] == "Send for approval"
    text_hint = block(view, Block.TEXT)["hint"]["text"]
    assert "X 280" in text_hint and "LinkedIn 3,000" in text_hint
    assert "Split a thread for X or Threads with a line of ---" in text_hint
    x_override = block(view, "override_twitter")
    assert x_override["optional"] and x_override["element"]["action_id"] == Action.OVERRIDE_X
    assert x_override["label"]["text"] == "Text for X only" and "280" in x_override["hint"]["text"]
    linkedin = block(view, "override_linkedin")
    assert linkedin["element"]["action_id"] == Action.OVERRIDE_OTHER and "3,000" in linkedin["hint"]["text"]
    assert block(view, Block.FIRST_COMMENT)["optional"]
    assert json.loads(view["private_metadata"]) == {"origin_channel": None, "tz": "Europe/Berlin"}

    form = parse_compose(submitted(view, {Block.TEXT: {"value": "Hello"}}))
    assert form.draft.overrides == () and form.draft.first_comment is None and form.post_id is None


def test_edit_modal_is_prefilled_and_round_trips_to_the_same_draft() -> None:
    at = NOW + timedelta(days=2)
    draft = Draft(
        text="Launch day! <!channel>\n---\nPart two",
        targets=(X, LINKEDIN),
        publish_at=at,
        media=(
            MediaItem(name="hero.png", mime_type="image/png", size=2048, slack_file_id="F0HERO"),
            MediaItem(name="clip.mp4", mime_type="video/mp4", url="https://cdn.example/clip.mp4"),
        ),
        overrides=((Network.X, "Short one for X"), (Network.LINKEDIN, "A longer one for LinkedIn")),
        first_comment="Link in comments: https://acme.example",
    )
    view = opened(
        build_compose_modal(
            providers=PROVIDERS,
            tz=BERLIN,
            now=NOW,
            draft=draft,
            post_id=7,
            version=3,
            origin_channel="C0GENERAL",
            networks=(Network.X, Network.LINKEDIN),
        )
    )

    assert view["title"]["text"] == "Edit post #7" and view["submit"]["text"] == "Send for approval"
    assert json.loads(view["private_metadata"])["post_id"] == 7
    assert block(view, Block.TEXT)["element"]["initial_value"] == draft.text
    selected = block(view, Block.TARGETS)["element"]["initial_options"]
    assert [o["text"]["text"] for o in selected] == ["X · Acme on X", "LinkedIn · Acme Inc"]
    assert block(view, Block.WHEN)["element"]["initial_option"]["value"] == "at_time"
    assert block(view, Block.PUBLISH_AT)["element"]["initial_date_time"] == int(at.timestamp())
    assert block(view, Block.MEDIA_URLS)["element"]["initial_value"] == "https://cdn.example/clip.mp4"
    kept = block(view, "media_kept")["elements"][0]["text"]
    assert "hero.png" in kept and "unless you choose new files" in kept
    assert block(view, "override_twitter")["element"]["initial_value"] == "Short one for X"
    assert block(view, Block.FIRST_COMMENT)["element"]["initial_value"] == draft.first_comment

    form = parse_compose(submitted(view))
    assert form.draft == draft
    assert (form.post_id, form.version, form.origin_channel) == (7, 3, "C0GENERAL")
    assert form.wants_time and not form.wants_queue


def test_an_edit_with_new_files_replaces_the_kept_ones() -> None:
    draft = Draft(
        text="Hi",
        targets=(X,),
        publish_at=None,
        media=(MediaItem(name="old.png", mime_type="image/png", size=10, slack_file_id="F0OLD"),),
    )
    view = opened(
        build_compose_modal(providers=PROVIDERS, tz=BERLIN, now=NOW, draft=draft, post_id=1, version=1)
    )
    new_file = {"id": "F0NEW", "name": "new.jpg", "mimetype": "image/jpeg", "size": 20}
    form = parse_compose(submitted(view, {Block.MEDIA_FILES: {"files": [new_file]}}))
    assert [m.slack_file_id for m in form.draft.media] == ["F0NEW"]


def test_a_queued_draft_reopens_with_its_queue_picked() -> None:
    draft = Draft(text="Queued", targets=(THREADS,), publish_at=None, queue=LAUNCH_QUEUE)
    view = opened(
        build_compose_modal(providers=PROVIDERS, tz=BERLIN, now=NOW, draft=draft, post_id=2, version=1)
    )
    assert block(view, Block.WHEN)["element"]["initial_option"]["value"] == "queue"
    assert block(view, Block.QUEUE)["element"]["initial_option"]["text"]["text"] == "Weekdays"
    assert parse_compose(submitted(view)).draft == draft


def test_an_account_the_provider_no_longer_lists_stays_selected_in_an_edit() -> None:
    gone = Account(provider="publora", account_id="9999", network=Network.BLUESKY, name="acme.bsky.social")
    failing = (ProviderAccounts(provider="publora", display_name="Publora", failure="timed out"),)
    draft = Draft(text="Hi", targets=(gone,), publish_at=None)
    view = opened(
        build_compose_modal(providers=failing, tz=BERLIN, now=NOW, draft=draft, post_id=4, version=2)
    )
    selected = block(view, Block.TARGETS)["element"]["initial_options"]
    assert [o["text"]["text"] for o in selected] == ["Bluesky · acme.bsky.social"]
    assert "did not answer" in block(view, "targets_notes")["elements"][0]["text"]
    assert parse_compose(submitted(view)).draft.targets == (gone,)


def test_an_override_for_a_network_not_offered_any_more_stays_editable() -> None:
    draft = Draft(text="Hi", targets=(X,), publish_at=None, overrides=((Network.BLUESKY, "For Bluesky"),))
    view = opened(
        build_compose_modal(providers=PROVIDERS, tz=BERLIN, now=NOW, draft=draft, networks=(Network.X,))
    )
    assert block(view, "override_bluesky")["element"]["initial_value"] == "For Bluesky"
    assert parse_compose(submitted(view)).draft.overrides == ((Network.BLUESKY, "For Bluesky"),)


def test_empty_overrides_are_ignored_and_errors_land_on_the_filled_ones() -> None:
    networks = (Network.X, Network.LINKEDIN, Network.THREADS)
    view = opened(build_compose_modal(providers=PROVIDERS, tz=BERLIN, now=NOW, networks=networks))
    form = parse_compose(
        submitted(
            view,
            {
                Block.TEXT: {"value": "Main"},
                "override_twitter": {"value": "   "},
                "override_threads": {"value": "Threads text"},
                Block.FIRST_COMMENT: {"value": "\n"},
            },
        )
    )
    assert form.draft.overrides == ((Network.THREADS, "Threads text"),)
    assert form.draft.first_comment is None
    assert form.override_blocks == ("override_threads",)

    errors = {DraftField.TEXT: "Write the text.", DraftField.OVERRIDES: "Too long for X."}
    shown = errors_for_slack(errors, has_targets_input=True, override_blocks=form.override_blocks)
    assert shown == {"text": "Write the text.", "override_threads": "Too long for X."}
    assert errors_for_slack({DraftField.OVERRIDES: "Too long."}, has_targets_input=True) == {
        "text": "Too long."
    }
    first = errors_for_slack({DraftField.FIRST_COMMENT: "Too long for X."}, has_targets_input=True)
    assert first == {Block.FIRST_COMMENT: "Too long for X."}


def test_the_largest_edit_modal_stays_within_slack_limits() -> None:
    many = tuple(
        Account(provider="publora", account_id=f"acc-{i}", network=network, name=f"Account {i} " + "n" * 60)
        for i, network in enumerate(list(Network) * 12)
    )
    files = tuple(
        MediaItem(name="f" * 250 + f"{i}.png", mime_type="image/png", size=1000, slack_file_id=f"F{i:010d}")
        for i in range(10)
    )
    urls = tuple(
        MediaItem(name=f"{i}.mp4", mime_type="video/mp4", url=f"https://cdn.example/{i}.mp4")
        for i in range(10)
    )
    draft = Draft(
        text="🚀漢" * 1500,
        targets=many[:40],
        publish_at=NOW + timedelta(hours=3),
        media=files + urls,
        overrides=tuple((network, "字" * 3000) for network in Network),
        first_comment="c" * 3000,
    )
    providers = (ProviderAccounts(provider="publora", display_name="Publora", accounts=many),)
    view = opened(
        build_compose_modal(
            providers=providers,
            tz=BERLIN,
            now=NOW,
            draft=draft,
            post_id=123456,
            version=99,
            networks=tuple(Network),
        )
    )
    assert len(view["blocks"]) <= 100 and len(view["private_metadata"]) <= 3000
    form = parse_compose(submitted(view))
    # File names may be shortened to fit the metadata; the files themselves are kept by id.
    assert [m.slack_file_id for m in form.draft.media[:10]] == [f.slack_file_id for f in files]
    assert form.draft.text == draft.text and form.draft.overrides == draft.overrides
    # Long account names are cut in the option labels the names are read back from; the keys are whole.
    assert [a.key for a in form.draft.targets] == [a.key for a in draft.targets]


def test_request_changes_modal_asks_for_a_comment_and_names_the_post() -> None:
    view = opened(build_request_changes_modal(post_id=7, version=3))
    assert view["callback_id"] == ViewId.REQUEST_CHANGES and view["title"]["text"] == "Changes to post #7"
    comment = block(view, Block.CHANGES_COMMENT)
    assert not comment.get("optional") and comment["element"]["max_length"] == 2000
    assert "author will see" in comment["label"]["text"]
    answer = submitted(view, {Block.CHANGES_COMMENT: {"value": "  Shorter, please  "}})
    assert parse_request_changes(answer) == (7, 3, "Shorter, please")


def test_reschedule_modal_starts_from_the_current_time_while_it_is_ahead() -> None:
    later = NOW + timedelta(days=1)
    view = opened(build_reschedule_modal(post_id=7, version=3, current=later, tz=BERLIN, now=NOW))
    picker = block(view, Block.NEW_TIME)
    assert view["callback_id"] == ViewId.RESCHEDULE and picker["element"]["initial_date_time"] == int(
        later.timestamp()
    )
    assert "Europe/Berlin" in picker["hint"]["text"]
    assert parse_reschedule(submitted(view)) == (7, 3, later)

    missed = opened(
        build_reschedule_modal(post_id=7, version=3, current=NOW - timedelta(hours=1), tz=BERLIN, now=NOW)
    )
    start = datetime.fromtimestamp(block(missed, Block.NEW_TIME)["element"]["initial_date_time"], UTC)
    assert start > NOW + timedelta(minutes=30)
    assert parse_reschedule(submitted(missed, {Block.NEW_TIME: {"selected_date_time": None}})) == (7, 3, None)


def test_reject_modal_carries_the_version_the_approver_saw() -> None:
    view = opened(build_reject_modal(post_id=7, version=3))
    answer = submitted(view, {Block.REJECT_REASON: {"value": "Wrong date"}})
    assert parse_reject(answer) == (7, 3, "Wrong date")
    old_modal = submitted(opened(build_reject_modal(post_id=7)), {Block.REJECT_REASON: {"value": " No "}})
    assert parse_reject(old_modal) == (7, None, "No")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("7:3", (7, 3)),
        ("7", (7, None)),
        ("", None),
        ("7:", None),
        ("x:3", None),
        ("-1:2", None),
        ("7:3:1", None),
        (" 7:3", None),
        (None, None),
        ("9" * 40, None),
    ],
)
def test_button_values_name_a_post_and_its_version(value: Any, parsed: tuple[int, int | None] | None) -> None:
    assert parse_button_value(value) == parsed
