"""Every message, modal and tab Postgate builds, fed text it did not write (drafts, comments, file and
account names, provider errors and links, queue names, history details) full of Slack's control sequences,
read as a Slack client renders it: the only pings, mentions, channels and links are the ones Postgate
means. The end-to-end version of this is `tests/e2e/test_untrusted_text.py`; here every builder and every
post status is covered, including links a provider answered with that are not web addresses."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.model import Account, MediaItem, PostStatus, Queue
from bot.domain.networks import Network
from bot.services.directory import ProviderAccounts
from bot.services.history import HistoryEntry
from bot.services.home import HomeData
from bot.services.posts import PostLists
from bot.services.snapshot import PostSnapshot, ResultView, TargetView
from bot.slack.views import approval
from bot.slack.views.compose import build_compose_modal
from bot.slack.views.digest import build_digest
from bot.slack.views.format import channel, link, mention
from bot.slack.views.history import build_history_modal
from bot.slack.views.home import build_home
from bot.slack.views.lists import build_list_message
from tests.fakes.slack_api import rendered_specials
from tests.slack.test_home_views import NOW, accepted, snapshot

HOSTILE = (
    "<!channel> <!here> <!everyone> <@U0ANA> <#C0GENERAL> <!subteam^S123> "
    "<https://evil.example|your bank> *bold* _it_ ~s~ `code` &lt;!channel&gt;"
)
AUTHOR, APPROVER = "U0AUTHOR", "U0BO"
PERMALINK = "https://fake.slack.test/archives/C0APPROVE/p1"
BAD_LINKS = ["javascript:alert(1)", "<!channel>", "https:evil.example", "data:text/html,<b>x</b>", ""]


def hostile_target(index: int) -> TargetView:
    return TargetView(
        key=f"publora:evil-{index}",
        provider="publora",
        account_id=f"evil-{index}",
        network=Network.X,
        name=HOSTILE,
    )


def hostile_post(status: PostStatus, **changes: Any) -> PostSnapshot:
    targets = tuple(hostile_target(i) for i in range(len(BAD_LINKS)))
    results = tuple(
        ResultView(target=t, status=state, url=url, error=f"Refused: {HOSTILE}")
        for t, url, state in zip(
            targets, BAD_LINKS, ["published", "failed", "cancelled", "published", "pending"], strict=True
        )
    )
    post = snapshot(
        1,
        status=status,
        author_id=AUTHOR,
        text=f"Launch {HOSTILE}\n---\n{HOSTILE}",
        targets=targets,
        approvals=(APPROVER,),
        rejected_by=APPROVER,
        rejection_reason=f"No: {HOSTILE}",
        changes_requested_by=APPROVER,
        changes_comment=f"Fix: {HOSTILE}",
        results=results,
        last_error=f"Provider said {HOSTILE}",
        media=(
            MediaItem(name=f"{HOSTILE}.png", mime_type="image/png", slack_file_id="F0EVIL"),
            MediaItem(name=HOSTILE, mime_type="image/png", url="javascript:alert(1)"),
        ),
        overrides=((Network.X, f"For X {HOSTILE}"),),
        first_comment=f"Comment {HOSTILE}",
        permalink=PERMALINK,
        publish_at=NOW + timedelta(hours=1),
        finished_at=NOW,
    )
    return replace(post, **changes)


def assert_only_intended_specials(surface: dict[str, Any]) -> None:
    for token in rendered_specials(surface):
        target = token.split("|", 1)[0]
        assert (
            target in (f"@{AUTHOR}", f"@{APPROVER}", "#C0APPROVE")
            or target.startswith("!date^")
            or ("|" in token and target == PERMALINK)
        ), f"renders <{token}>"


@pytest.mark.parametrize("status", list(PostStatus))
def test_the_approval_message_and_every_reply_and_dm_show_untrusted_text_as_text(status: PostStatus) -> None:
    post = hostile_post(status)
    older = replace(post, text="Launch plain", overrides=(), first_comment=None, media=(), targets=())
    messages = [
        approval.build_root_message(post),
        approval.build_rejected_reply(user_id=APPROVER, reason=HOSTILE),
        approval.build_changes_requested_reply(user_id=APPROVER, comment=HOSTILE),
        approval.build_author_changes_dm(post, user_id=APPROVER, comment=HOSTILE),
        approval.build_reminder_dm(post, final=True),
        approval.build_report_reply(post),
        approval.build_cancelled_reply(user_id=APPROVER, notes=[HOSTILE]),
        approval.build_cancel_too_late_reply(user_id=APPROVER, notes=[HOSTILE]),
        approval.build_needs_attention_reply(reason=HOSTILE),
        approval.build_author_confirmation(post),
        approval.build_author_update(post),
        approval.build_missed_reply(post),
        approval.build_edited_reply(user_id=AUTHOR, old=older, new=post),
        approval.build_edited_reply(user_id=AUTHOR, old=post, new=older),
    ]
    for message in messages:
        assert_only_intended_specials(message)
    assert "&lt;!channel&gt;" in messages[0]["blocks"][1]["text"]["text"]


def test_app_home_the_digest_the_history_and_the_lists_show_untrusted_text_as_text() -> None:
    posts = [hostile_post(s) for s in (PostStatus.PENDING_APPROVAL, PostStatus.PARTIALLY_PUBLISHED)]
    failed = hostile_post(PostStatus.FAILED)
    home = build_home(
        HomeData(
            user_id=APPROVER,
            tz=ZoneInfo("Europe/Berlin"),
            now=NOW,
            awaiting_me=posts[:1],
            mine=[hostile_post(PostStatus.CHANGES_REQUESTED)],
            schedule=[hostile_post(PostStatus.APPROVED, queue=Queue("postoria", "1", HOSTILE))],
            recent=posts[1:],
            attention=[failed],
            is_admin=True,
            notes=[HOSTILE],
        )
    )
    digest = build_digest(
        day_label=HOSTILE, pending=posts[:1], upcoming=posts, failed=[failed], counts={"pending": 1}
    )
    entries = [
        HistoryEntry(at=NOW, actor=actor, action=action, detail=HOSTILE, version=1)
        for actor in (AUTHOR, "postgate", HOSTILE)
        for action in ("created", "rejected", "reminded", "failed", "rescheduled", HOSTILE)
    ]
    history = build_history_modal(posts[0], entries)
    lists = build_list_message(
        PostLists(own_pending=posts, awaiting_me=posts, scheduled=posts, is_approver=True)
    )
    for surface in (accepted(home), digest, accepted(history), lists):
        assert_only_intended_specials(surface)


def test_the_composer_shows_provider_names_failures_and_warnings_as_text() -> None:
    account = Account("publora", "twitter-1", Network.X, HOSTILE, warning=HOSTILE)
    view = build_compose_modal(
        providers=[
            ProviderAccounts("publora", "Publora", accounts=(account,)),
            ProviderAccounts("publer", HOSTILE, failure=HOSTILE),
        ],
        tz=ZoneInfo("UTC"),
        now=NOW,
        text=HOSTILE,
        origin_channel="C" + "1" * 5000,
    )
    payload = accepted(view)
    assert_only_intended_specials(payload)
    assert len(payload["private_metadata"]) <= 3000


def test_links_are_only_made_to_web_pages_and_mentions_only_of_slack_ids() -> None:
    for url in BAD_LINKS:
        assert rendered_specials({"text": link(url, "view post")}) == []
    assert rendered_specials({"text": link("https://x.com/a/1?b=<!channel>|x", "<!here>")}) == [
        "https://x.com/a/1?b=%3C!channel%3E%7Cx|&lt;!here&gt;"
    ]
    assert rendered_specials({"text": mention("U0ANA> <!channel") + channel("C1|x> <!here")}) == []
    assert rendered_specials({"text": mention("U0ANA") + channel("C0APPROVE")}) == ["@U0ANA", "#C0APPROVE"]
