"""The App Home tab as a user sees it: the sections, the buttons each role gets, the schedule grouped by day
in the viewer's zone, how capped sections count the rest, and Slack's limits at the largest sizes.

Every tab is checked as the fake Slack checks `views.publish` and by slack_sdk's own validation.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.views import View

from bot.domain.model import PostStatus
from bot.domain.networks import Network
from bot.services.home import HomeData, HomeSection
from bot.services.outbox import Kind
from bot.services.snapshot import PostSnapshot, ResultView, TargetView
from bot.services.undelivered import Undelivered, UndeliveredMessage
from bot.slack.ids import Action
from bot.slack.views.home import build_home
from tests.fakes.slack_workspace import Workspace

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a Saturday
BERLIN = ZoneInfo("Europe/Berlin")
LINKEDIN = TargetView(
    key="publora:li-1", provider="publora", account_id="li-1", network=Network.LINKEDIN, name="Acme Inc"
)
X = TargetView(key="publora:x-1", provider="publora", account_id="x-1", network=Network.X, name="Acme on X")


def snapshot(post_id: int = 1, **changes: Any) -> PostSnapshot:
    """A post as the views get it; `changes` override any field."""
    post = PostSnapshot(
        id=post_id,
        status=PostStatus.PENDING_APPROVAL,
        version=2,
        author_id="U0ANA",
        author_tz="Europe/Berlin",
        text=f"Launch day {post_id}\nSecond line",
        targets=(LINKEDIN, X),
        requested_time=NOW + timedelta(days=1),
        publish_at=None,
        created_at=NOW - timedelta(hours=3),
        finished_at=None,
        required_approvals=2,
        approvals=(),
        rejected_by=None,
        rejection_reason=None,
        results=(),
        last_error=None,
        approval_channel_id="C0APPROVE",
        message_ts="1700000000.000100",
        permalink=f"https://fake.slack.test/archives/C0APPROVE/p{post_id}",
    )
    return replace(post, **changes)


def accepted(view: View) -> dict[str, Any]:
    """The view as Postgate sends it, after slack_sdk and the fake Slack both accepted it."""
    view.validate_json()
    payload: dict[str, Any] = view.to_dict()
    workspace = Workspace(
        team_id="T0POSTGATE", bot_user_id="U0BOT", bot_id="B0BOT", app_id="A0APP", root_url="http://127.0.0.1"
    )
    workspace.check_view(payload, (payload["type"],))
    return payload


def texts(payload: dict[str, Any]) -> str:
    """Every text a reader sees in the blocks, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return "\n".join(found)


def buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in payload["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory") or {}]
        found += [e for e in elements if e.get("type") == "button"]
    return found


def home(**changes: Any) -> HomeData:
    data = HomeData(
        user_id="U0BO",
        tz=BERLIN,
        now=NOW,
        awaiting_me=[],
        mine=[],
        schedule=[],
        recent=[],
        attention=[],
        is_admin=False,
    )
    return replace(data, **changes)


def test_an_empty_home_names_every_section_and_says_nothing_is_there() -> None:
    payload = accepted(build_home(home()))

    shown = texts(payload)
    assert payload["type"] == "home"
    for title in (
        "Waiting for your approval",
        "Your drafts",
        "Schedule",
        "Recently published",
        "Needs attention",
    ):
        assert title in shown
    assert "Nothing waits for you." in shown
    assert "Nothing is scheduled." in shown
    assert "`/post`" in shown


def test_admins_get_a_settings_button_and_everyone_a_refresh_button() -> None:
    member = [b["action_id"] for b in buttons(accepted(build_home(home(is_admin=False))))]
    admin = [b["action_id"] for b in buttons(accepted(build_home(home(is_admin=True))))]

    assert member == [Action.HOME_REFRESH]
    assert admin == [Action.HOME_REFRESH, Action.OPEN_SETTINGS]


def test_a_post_waiting_for_me_shows_author_first_line_and_the_three_decisions_on_its_version() -> None:
    post = snapshot(7, version=3, approvals=("U0CY",))
    payload = accepted(build_home(home(awaiting_me=[post])))

    shown = texts(payload)
    assert "*Waiting for your approval* (1)" in shown
    assert "<@U0ANA>" in shown and "“Launch day 7”" in shown and "Second line" not in shown
    assert "1 of 2 approvals" in shown
    assert "<!date^" in shown  # the requested time, in each reader's zone
    by_action = {b["action_id"]: b for b in buttons(payload) if b["action_id"] != Action.HOME_REFRESH}
    assert set(by_action) == {Action.APPROVE, Action.REQUEST_CHANGES, Action.REJECT}
    assert {b["value"] for b in by_action.values()} == {"7:3"}
    assert by_action[Action.APPROVE]["style"] == "primary" and by_action[Action.REJECT]["style"] == "danger"


def test_my_drafts_offer_edit_only_when_changes_were_asked_or_the_time_was_missed() -> None:
    pending = snapshot(1)
    changes = snapshot(
        2,
        status=PostStatus.CHANGES_REQUESTED,
        changes_requested_by="U0CY",
        changes_comment="Shorter, <!here>",
    )
    missed = snapshot(3, status=PostStatus.MISSED)
    payload = accepted(build_home(home(mine=[pending, changes, missed])))

    per_post: dict[str, list[str]] = {}
    for button in buttons(payload):
        per_post.setdefault(button.get("value", ""), []).append(button["action_id"])
    assert per_post["1:2"] == [Action.HISTORY]
    assert per_post["2:2"] == [Action.EDIT, Action.HISTORY]
    assert per_post["3:2"] == [Action.EDIT, Action.HISTORY]
    shown = texts(payload)
    assert "Changes requested" in shown and "<@U0CY>" in shown
    assert "Shorter, &lt;!here&gt;" in shown and "<!here>" not in shown


def test_the_schedule_is_grouped_by_day_in_the_viewers_zone_across_midnight() -> None:
    late_evening = datetime(2026, 11, 21, 22, 30, tzinfo=UTC)  # 23:30 in Berlin, 14:30 in Los Angeles
    posts = [
        snapshot(1, status=PostStatus.APPROVED, publish_at=datetime(2026, 11, 21, 22, 45, tzinfo=UTC)),
        snapshot(2, status=PostStatus.APPROVED, publish_at=datetime(2026, 11, 21, 23, 15, tzinfo=UTC)),
        snapshot(3, status=PostStatus.SUBMITTED, publish_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC)),
    ]

    berlin = accepted(build_home(home(now=late_evening, schedule=posts)))
    los_angeles = accepted(
        build_home(home(now=late_evening, tz=ZoneInfo("America/Los_Angeles"), schedule=posts))
    )

    def day_of(payload: dict[str, Any], post_id: int) -> str:
        section: str = next(
            b["text"]["text"]
            for b in payload["blocks"]
            if f"|#{post_id}>" in b.get("text", {}).get("text", "")
        )
        return section.splitlines()[0].strip("*")

    assert (day_of(berlin, 1), day_of(berlin, 2), day_of(berlin, 3)) == ("Today", "Tomorrow", "Tue 24 Nov")
    assert (day_of(los_angeles, 1), day_of(los_angeles, 2)) == ("Today", "Today")
    # 23:15 UTC as a token: each reader's Slack shows it on their own clock.
    assert "<!date^1795302900^{time}|2026-11-21 23:15 UTC>" in texts(berlin)


def test_recently_published_links_each_account_and_says_what_failed() -> None:
    post = snapshot(
        4,
        status=PostStatus.PARTIALLY_PUBLISHED,
        finished_at=NOW - timedelta(hours=1),
        results=(
            ResultView(
                target=LINKEDIN, status="published", url="https://linkedin.example/p/1?a=1&b=2", error=None
            ),
            ResultView(target=X, status="failed", url=None, error="duplicate"),
        ),
    )
    shown = texts(accepted(build_home(home(recent=[post]))))

    assert "LinkedIn · Acme Inc: <https://linkedin.example/p/1?a=1&amp;b=2|view post>" in shown
    assert "❌ X · Acme on X: failed" in shown
    assert "partly published" in shown


def test_a_provider_link_that_is_not_a_web_address_is_not_linked() -> None:
    post = snapshot(
        5,
        status=PostStatus.PUBLISHED,
        results=(ResultView(target=X, status="published", url="javascript:alert(1)", error=None),),
    )
    shown = texts(accepted(build_home(home(recent=[post]))))

    assert "javascript:" not in shown
    assert "X · Acme on X: live" in shown


def test_needs_attention_shows_the_error_with_retry_behind_a_confirmation_and_edit() -> None:
    failed = snapshot(8, status=PostStatus.FAILED, last_error="Token expired <!channel>")
    unknown = snapshot(9, status=PostStatus.NEEDS_ATTENTION, last_error="No answer from Publora")
    payload = accepted(build_home(home(attention=[failed, unknown])))

    shown = texts(payload)
    assert "Token expired &lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "No answer from Publora" in shown
    retries = [b for b in buttons(payload) if b["action_id"] == Action.RETRY]
    edits = [b for b in buttons(payload) if b["action_id"] == Action.EDIT]
    assert [b["value"] for b in retries] == ["8:2", "9:2"]
    assert [b["value"] for b in edits] == ["8:2", "9:2"]
    assert all("confirm" in b for b in retries)
    assert "twice" in retries[1]["confirm"]["text"]["text"]  # a post of unknown fate may already be out


def test_capped_sections_say_how_many_more_there_are() -> None:
    many = [snapshot(i) for i in range(1, 21)]
    payload = accepted(build_home(home(awaiting_me=many, counts={HomeSection.AWAITING_ME: 320})))

    shown = texts(payload)
    assert "*Waiting for your approval* (320)" in shown
    assert "and 312 more — use `/post list`" in shown


def test_the_notes_are_shown_under_the_buttons() -> None:
    note = "Slack user groups are not available on this plan; approvers are the people listed."
    shown = texts(accepted(build_home(home(notes=[note]))))

    assert note in shown


def test_a_thousand_posts_in_every_section_with_the_longest_texts_stay_within_slack_limits() -> None:
    results = tuple(
        ResultView(
            target=replace(LINKEDIN, name="N" * 200, key=f"publora:{i}"),
            status="published" if i % 2 else "failed",
            url="https://example.com/" + "p" * 950,
            error="E" * 5000,
        )
        for i in range(60)
    )
    worst_texts = ["&" * 3000, "😀" * 3000, "<!channel> " * 300, "x" * 3000]
    posts = [
        snapshot(
            i,
            text=worst_texts[i % len(worst_texts)],
            last_error="<" * 5000,
            results=results,
            changes_comment="&" * 3000,
            changes_requested_by="U0CY",
            approvals=tuple(f"U{n:08d}" for n in range(10)),
            permalink="https://fake.slack.test/archives/C0APPROVE/p" + "1" * 400,
        )
        for i in range(1, 1001)
    ]
    statuses = {
        "awaiting_me": PostStatus.PENDING_APPROVAL,
        "mine": PostStatus.CHANGES_REQUESTED,
        "schedule": PostStatus.APPROVED,
        "recent": PostStatus.PUBLISHED,
        "attention": PostStatus.NEEDS_ATTENTION,
    }
    lists = {key: [replace(p, status=status) for p in posts] for key, status in statuses.items()}
    data = home(
        is_admin=True,
        notes=["A note " * 1000, "Another"],
        counts=dict.fromkeys(statuses, 1_000_000),
        undelivered=Undelivered(
            total=1_000_000,
            latest=[
                UndeliveredMessage(
                    id=i,
                    kind=list(Kind)[i % len(Kind)],
                    given_up_at=NOW,
                    attempts=40,
                    reason="<" * 5000,
                    post_id=i,
                    post_text=worst_texts[i % len(worst_texts)],
                    permalink="https://fake.slack.test/archives/C0APPROVE/p" + "1" * 400,
                    recipient="U0ANA",
                    text="<@U0ANA> " * 500,
                )
                for i in range(1, 100)
            ],
        ),
        **lists,
    )

    payload = accepted(build_home(data))

    assert len(payload["blocks"]) <= 100
    assert len(json.dumps(payload)) < 250_000
    shown = texts(payload)
    assert shown.count("and 999,9") == 6  # every section says how many it left out
    assert "more accounts" in shown and "more that day" in shown
    assert "1,000,000 Slack messages could not be delivered" in shown and "and 999,995 more" in shown


def test_admins_see_the_messages_postgate_could_not_deliver_and_others_do_not() -> None:
    undelivered = Undelivered(
        total=1,
        latest=[
            UndeliveredMessage(
                id=17,
                kind=Kind.DM,
                given_up_at=NOW,
                attempts=1,
                reason="Slack said: user_not_found (that person is not in the workspace) <!channel>",
                post_id=7,
                post_text="Launch day\nSecond line",
                permalink="https://fake.slack.test/archives/C0APPROVE/p7",
                recipient="U0ANA",
                text="✅ Your post #7 was approved.\nMore",
            )
        ],
    )
    admin = texts(accepted(build_home(home(is_admin=True, undelivered=undelivered))))
    member = texts(accepted(build_home(home(is_admin=False, undelivered=undelivered))))

    assert "1 Slack message could not be delivered" in admin
    assert "`17` <https://fake.slack.test/archives/C0APPROVE/p7|#7> “Launch day”" in admin
    assert "DM to <@U0ANA>: ✅ Your post #7 was approved." in admin and "More" not in admin
    assert "that person is not in the workspace) &lt;!channel&gt;" in admin  # the reason is escaped
    assert "could not be delivered" not in member
