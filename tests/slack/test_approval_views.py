"""The approval message, its thread replies and the DMs, as approvers and authors read them.

Every message is also put through what the fake Slack checks on `chat.postMessage` / `chat.update`
(block limits, the fallback text) and through slack_sdk's own models.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block as SdkBlock

from bot.domain.model import MediaItem, PostStatus, Queue
from bot.domain.networks import Network
from bot.domain.policy import ApprovalRule, Progress, evaluate
from bot.services.snapshot import PostSnapshot, ResultView, TargetView
from bot.slack.ids import Action, Block
from bot.slack.views import approval
from bot.slack.views.format import quote, truncate
from tests.fakes.slack_workspace import POST_TEXT_MAX, UPDATE_TEXT_MAX, Workspace

AUTHOR, ANA, BO, CY = "U0AUTHOR", "U0ANA", "U0BO", "U0CY"
CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> <https://evil.example|click> & <@U0BOSS>"
X = TargetView(key="publora:1111", provider="publora", account_id="1111", network=Network.X, name="Acme on X")
LINKEDIN = TargetView(
    key="publer:li-1", provider="publer", account_id="li-1", network=Network.LINKEDIN, name="Acme Inc"
)
THREADS = TargetView(
    key="publora:th-1", provider="publora", account_id="th-1", network=Network.THREADS, name="acme"
)
BASE = PostSnapshot(
    id=7,
    status=PostStatus.PENDING_APPROVAL,
    version=2,
    author_id=AUTHOR,
    author_tz="Europe/Berlin",
    text="Launch day is Monday at 9.",
    targets=(X, LINKEDIN),
    requested_time=None,
    publish_at=None,
    created_at=CREATED,
    finished_at=None,
    required_approvals=2,
    approvals=(ANA,),
    rejected_by=None,
    rejection_reason=None,
    results=(),
    last_error=None,
    approval_channel_id="C0APPROVALS",
    message_ts="1763630000.000100",
    permalink="https://fake.slack.test/archives/C0APPROVALS/p1763630000000100",
)
WORKSPACE = Workspace(
    team_id="T0POSTGATE", bot_user_id="U0BOT", bot_id="B0BOT", app_id="A0APP", root_url="http://127.0.0.1"
)


def checked(message: dict[str, Any]) -> dict[str, Any]:
    """`message` as Slack accepts it, posted or updated; returned for further checks."""
    assert set(message) == {"text", "blocks"}
    for block in message["blocks"]:
        SdkBlock.parse(block).to_dict()  # type: ignore[union-attr]  # slack_sdk's validation
    content = WORKSPACE.check_content(message, text_max=POST_TEXT_MAX)  # raises ApiError on a problem
    assert content["warning"] is None and len(message["text"]) <= UPDATE_TEXT_MAX
    assert block_text_size(message) <= 12_000
    return message


def texts(message: dict[str, Any]) -> list[str]:
    """Every text a reader sees in the blocks, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return found


def visible(message: dict[str, Any]) -> str:
    return "\n".join(texts(message))


def block_text_size(message: dict[str, Any]) -> int:
    return sum(len(t) for t in texts(message))


def buttons(message: dict[str, Any], block_id: str | None = None) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions" and block_id in (None, block.get("block_id"))
        for element in block["elements"]
    ]


def labels(message: dict[str, Any], block_id: str | None = None) -> list[str]:
    return [b["text"]["text"] for b in buttons(message, block_id)]


def progress(rules: list[ApprovalRule], approvals: tuple[str, ...]) -> Progress:
    return evaluate(
        rules, approvals=approvals, author_id=AUTHOR, allow_self_approval=False, resolve=lambda r: r.users
    )


# The root message


def test_a_waiting_post_shows_its_progress_and_who_can_do_what() -> None:
    message = checked(approval.build_root_message(BASE))
    shown = visible(message)
    assert "*Post #7* from <@U0AUTHOR>\n⏳ *Waiting for approval* · 1 of 2 approvals: <@U0ANA>" in shown
    assert "> Launch day is Monday at 9." in shown
    assert "X · Acme on X" in shown and "LinkedIn · Acme Inc" in shown and "As soon as approved" in shown
    assert labels(message, Block.DECISION_ACTIONS) == ["Approve", "Request changes", "Reject"]
    assert labels(message, Block.POST_ACTIONS) == ["Edit", "Withdraw", "History"]
    decision = buttons(message, Block.DECISION_ACTIONS)
    assert [b.get("style") for b in decision] == ["primary", None, "danger"]
    assert {b["value"] for b in buttons(message)} == {"7:2"}
    assert "Post #7 · version 2 · drafted <!date^" in message["blocks"][-1]["elements"][0]["text"]
    assert message["text"] == "Post #7 from <@U0AUTHOR>: ⏳ Waiting for approval"


def test_rules_show_one_line_each_and_the_list_line_stays_on_one_line() -> None:
    rules = [
        ApprovalRule(scope="network:linkedin", users=frozenset({ANA, CY}), required=2),
        ApprovalRule(scope="network:twitter", users=frozenset({BO}), required=1),
        ApprovalRule(scope="account:publora:th-1", users=frozenset({ANA, BO}), required=1),
    ]
    post = replace(BASE, targets=(X, LINKEDIN, THREADS), progress=progress(rules, (ANA, BO)))
    shown = visible(checked(approval.build_root_message(post)))
    assert "⏳ *Waiting for approval*\n• LinkedIn: 1 of 2 (<@U0ANA>)\n• X: ✅ 1 of 1 (<@U0BO>)" in shown
    assert "• Threads · acme: ✅ 1 of 1 (<@U0ANA>, <@U0BO>)" in shown
    line = approval.status_line(post)
    assert "\n" not in line and "LinkedIn: 1 of 2 (<@U0ANA>) · X: ✅ 1 of 1 (<@U0BO>)" in line


def test_a_rule_without_enough_approvers_says_it_cannot_be_approved() -> None:
    rules = [ApprovalRule(scope="*", users=frozenset({ANA, AUTHOR}), required=2)]
    post = replace(BASE, approvals=(), progress=progress(rules, ()))
    shown = visible(checked(approval.build_root_message(post)))
    assert (
        "0 of 2 approvals · ⚠️ cannot be approved: it needs 2 approvals and only 1 person may give them"
        in shown
    )
    assert "An admin can add approvers" in shown


def test_requested_changes_show_who_asked_and_what_to_change() -> None:
    post = replace(
        BASE,
        status=PostStatus.CHANGES_REQUESTED,
        changes_requested_by=BO,
        changes_comment="Say *Tuesday* " + HOSTILE,
    )
    message = checked(approval.build_root_message(post))
    shown = visible(message)
    assert "✏️ *Changes requested* by <@U0BO>" in shown
    assert "*What to change*\n> Say *Tuesday* &lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert labels(message) == ["Edit", "Withdraw", "History"]


@pytest.mark.parametrize(
    ("status", "headline", "decision", "post_actions"),
    [
        (
            PostStatus.PENDING_APPROVAL,
            "⏳ *Waiting for approval*",
            ["Approve", "Request changes", "Reject"],
            ["Edit", "Withdraw", "History"],
        ),
        (PostStatus.CHANGES_REQUESTED, "✏️ *Changes requested*", [], ["Edit", "Withdraw", "History"]),
        (
            PostStatus.APPROVED,
            "✅ *Approved* by <@U0ANA>",
            [],
            ["Publish now", "Reschedule", "Edit", "Cancel post", "History"],
        ),
        (PostStatus.SUBMITTED, "📤 *Handed to the provider", [], ["Cancel post", "History"]),
        (
            PostStatus.MISSED,
            "⌛ *Missed*: its time passed before it was approved",
            [],
            ["Pick a new time", "Edit", "Withdraw", "History"],
        ),
        (PostStatus.FAILED, "❌ *Failed to publish*", [], ["Retry", "Edit", "History"]),
        (PostStatus.NEEDS_ATTENTION, "🛑 *Needs a human*", [], ["Retry", "Edit", "History"]),
        (PostStatus.WITHDRAWN, "↩️ *Withdrawn* by the author", [], ["History"]),
        (PostStatus.REJECTED, "🚫 *Rejected*", [], ["History"]),
        (PostStatus.PUBLISHED, "🚀 *Published*", [], ["History"]),
        (PostStatus.PARTIALLY_PUBLISHED, "⚠️ *Partly published*", [], ["History"]),
        (PostStatus.CANCELLED, "🗑️ *Cancelled*", [], ["History"]),
    ],
)
def test_each_status_reads_plainly_and_offers_only_what_it_allows(
    status: PostStatus, headline: str, decision: list[str], post_actions: list[str]
) -> None:
    message = checked(approval.build_root_message(replace(BASE, status=status)))
    assert headline in visible(message)
    assert labels(message, Block.DECISION_ACTIONS) == decision
    assert labels(message, Block.POST_ACTIONS) == post_actions
    assert all(b["value"] == "7:2" for b in buttons(message))


def test_risky_buttons_ask_first_and_say_what_happens() -> None:
    def confirm(status: PostStatus, action: Action) -> str:
        message = approval.build_root_message(replace(BASE, status=status))
        button = next(b for b in buttons(message) if b["action_id"] == action)
        return str(button["confirm"]["text"]["text"])

    assert "Editing sends it back for approval" in confirm(PostStatus.APPROVED, Action.EDIT)
    assert "Check the accounts at the provider first" in confirm(PostStatus.NEEDS_ATTENTION, Action.RETRY)
    assert "publishes it twice" in confirm(PostStatus.NEEDS_ATTENTION, Action.RETRY)
    assert "again" in confirm(PostStatus.FAILED, Action.RETRY)
    assert "will not be published" in confirm(PostStatus.PENDING_APPROVAL, Action.WITHDRAW)
    assert "right away" in confirm(PostStatus.APPROVED, Action.PUBLISH_NOW)
    assert "withdraws it from the provider" in confirm(PostStatus.SUBMITTED, Action.CANCEL)
    pending = approval.build_root_message(BASE)
    assert "confirm" not in next(b for b in buttons(pending) if b["action_id"] == Action.EDIT)
    assert next(b for b in buttons(pending) if b["action_id"] == Action.APPROVE).get("confirm") is None


def test_each_network_shows_its_length_and_any_text_of_its_own() -> None:
    thread = "First part\n---\nSecond part\n---\nThird"
    post = replace(
        BASE,
        text=thread,
        targets=(X, LINKEDIN, THREADS),
        overrides=((Network.THREADS, "Only for Threads " + HOSTILE),),
    )
    shown = visible(checked(approval.build_root_message(post)))
    # X through Publora is a thread; LinkedIn through Publer gets the parts joined into one post.
    assert "*X* · thread of 3: 10/280 · 11/280 · 5/280" in shown
    assert "*LinkedIn* · the thread joined into one post · 30/3,000\n> First part\n>\n> Second part" in shown
    assert "*Threads* · own text · " in shown and "> Only for Threads &lt;!channel&gt;" in shown


def test_a_network_reached_through_two_providers_names_them_when_they_differ() -> None:
    x_on_publer = TargetView(
        key="publer:x-2", provider="publer", account_id="x-2", network=Network.X, name="Acme 2"
    )
    post = replace(BASE, text="One\n---\nTwo", targets=(X, x_on_publer))
    shown = visible(checked(approval.build_root_message(post)))
    assert "*X* (publora) · thread of 2: 3/280 · 3/280" in shown
    assert "*X* (publer) · the thread joined into one post · 8/280\n> One\n>\n> Two" in shown


def test_a_text_too_long_for_a_network_is_flagged() -> None:
    post = replace(BASE, text="word " * 70)
    shown = visible(checked(approval.build_root_message(post)))
    assert "*X* · ⚠️ 350/280" in shown and "*LinkedIn* · 350/3,000" in shown


def test_first_comment_media_results_and_errors_are_shown_escaped() -> None:
    post = replace(
        BASE,
        status=PostStatus.PARTIALLY_PUBLISHED,
        first_comment="More at " + HOSTILE,
        media=(
            MediaItem(name="hero<1>.png", mime_type="image/png", slack_file_id="F1"),
            MediaItem(name="clip.mp4", mime_type="video/mp4", url="https://cdn.example/a|b>c.mp4"),
        ),
        results=(
            ResultView(target=X, status="published", url="https://x.com/i/web/status/1", error=None),
            ResultView(target=LINKEDIN, status="failed", url=None, error="Token expired " + HOSTILE),
        ),
    )
    message = checked(approval.build_root_message(post))
    shown = visible(message)
    assert "*First comment*\n> More at &lt;!channel&gt;" in shown
    assert (
        "hero&lt;1&gt;.png (image)" in shown
        and "<https://cdn.example/a%7Cb%3Ec.mp4|clip.mp4> (video)" in shown
    )
    assert "✅ X · Acme on X: <https://x.com/i/web/status/1|view post>" in shown
    assert "❌ LinkedIn · Acme Inc: Token expired &lt;!channel&gt;" in shown
    assert "<!channel>" not in shown and "<@U0BOSS>" not in shown


def _largest(status: PostStatus) -> PostSnapshot:
    every_network = tuple(
        TargetView(
            key=f"publora:{network.value}-{i}",
            provider="publora" if i % 2 else "publer",
            account_id=f"{network.value}-{i}",
            network=network,
            name=f"<Account {i}> " + "n" * 80,
        )
        for i, network in enumerate(list(Network) * 4)
    )
    ten_part_thread = "\n---\n".join("漢🚀 " * 90 for _ in range(10))
    rules = [
        ApprovalRule(
            scope=f"network:{network.value}", users=frozenset(f"U{i:08d}" for i in range(30)), required=5
        )
        for network in Network
    ]
    return replace(
        BASE,
        status=status,
        text=ten_part_thread[:3000],
        targets=every_network,
        overrides=tuple(
            (network, ("字&<" * 1000)[:3000])
            for network in Network
            if network not in (Network.X, Network.THREADS)
        ),
        first_comment="💬<&>" * 600,
        media=tuple(
            MediaItem(
                name="n" * 200 + f"{i}.mp4",
                mime_type="video/mp4",
                url=f"https://cdn.example/{'p' * 300}/{i}.mp4",
            )
            for i in range(10)
        ),
        approvals=tuple(f"U{i:08d}" for i in range(30)),
        progress=progress(rules, tuple(f"U{i:08d}" for i in range(3))),
        changes_requested_by=BO,
        changes_comment="✏️<&>" * 500,
        rejected_by=BO,
        rejection_reason="r&" * 1000,
        results=tuple(
            ResultView(target=t, status="failed", url="https://x.com/" + "u" * 500, error="e<" * 400)
            for t in every_network
        ),
        last_error="&" * 2000,
        requested_time=CREATED + timedelta(days=1),
        publish_at=CREATED + timedelta(days=1),
        queue=Queue(provider="postoria", queue_id="q", name="<q>" * 100),
    )


@pytest.mark.parametrize("status", list(PostStatus))
def test_the_largest_post_fits_one_slack_message_in_every_status(status: PostStatus) -> None:
    message = checked(approval.build_root_message(_largest(status)))
    shown = visible(message)
    # Threads goes through Publora, which cannot post Threads chains right now; X only through Publer:
    # both get one long post.
    assert (
        "Threads via Publora: the parts are joined into one post (Publora cannot post Threads chains" in shown
    )
    assert "*X* · the thread joined into one post · ⚠️ 4,508/280" in shown
    assert len(message["blocks"]) <= 50
    assert all(len(t) <= 3000 for t in texts(message))
    assert "Post #7" in shown and "<!channel>" not in shown


def test_a_long_text_of_short_lines_is_shown_whole_across_sections() -> None:
    text = "\n".join(f"line {i:04d}" for i in range(300))  # 2,999 characters, doubled by quote marks
    shown = visible(checked(approval.build_root_message(replace(BASE, text=text))))
    assert "> line 0000" in shown and "> line 0299" in shown


# Thread replies and DMs


def test_changes_requested_reply_and_the_author_dm_with_an_edit_button() -> None:
    reply = checked(approval.build_changes_requested_reply(user_id=BO, comment="Shorter " + HOSTILE))
    assert "✏️ <@U0BO> asked for changes:\n> Shorter &lt;!channel&gt;" in visible(reply)

    dm = checked(approval.build_author_changes_dm(BASE, user_id=BO, comment="Shorter"))
    shown = visible(dm)
    assert "asked for changes to your post #7" in shown and f"<{BASE.permalink}|thread>" in shown
    assert [(b["action_id"], b["value"]) for b in buttons(dm)] == [(Action.EDIT, "7:2")]


def test_reminders_let_the_approver_decide_from_the_dm() -> None:
    due = CREATED + timedelta(hours=5)
    post = replace(BASE, text="Launch " + HOSTILE, publish_at=due, requested_time=due)
    first = checked(approval.build_reminder_dm(post, final=False))
    assert first["text"] == "⏰ Post #7 by <@U0AUTHOR> waits for your approval."
    assert "> Launch &lt;!channel&gt;" in visible(first) and f"<{BASE.permalink}|thread>" in visible(first)
    assert [(b["action_id"], b["value"]) for b in buttons(first)] == [
        (Action.APPROVE, "7:2"),
        (Action.REQUEST_CHANGES, "7:2"),
        (Action.REJECT, "7:2"),
    ]
    final = checked(approval.build_reminder_dm(post, final=True))
    assert final["text"].startswith(
        f"⏰ Post #7 by <@U0AUTHOR> waits for your approval and is due <!date^{int(due.timestamp())}^"
    )


def test_a_missed_post_tells_the_thread_and_offers_the_author_a_new_time() -> None:
    due = CREATED + timedelta(hours=1)
    post = replace(BASE, status=PostStatus.MISSED, requested_time=due, publish_at=due)
    reply = checked(approval.build_missed_reply(post))
    assert "was not approved by then, so it was not published" in visible(reply)
    dm = checked(approval.build_author_missed_dm(post))
    assert "Your post #7 was due" in visible(dm)
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons(dm)] == [
        ("Pick a new time", Action.RESCHEDULE, "7:2")
    ]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (PostStatus.CHANGES_REQUESTED, "<@U0BO> asked for changes to your post #7"),
        (PostStatus.MISSED, "Your post #7 was due"),
        (PostStatus.WITHDRAWN, "Your post #7 was withdrawn"),
        (PostStatus.APPROVED, "Your post #7 was approved"),
        (PostStatus.REJECTED, "Your post #7 was rejected by <@U0BO>"),
        (PostStatus.CANCELLED, "Your post #7 was cancelled"),
        (PostStatus.PUBLISHED, "Your post #7"),
    ],
)
def test_the_author_hears_about_every_outcome(status: PostStatus, words: str) -> None:
    post = replace(
        BASE,
        status=status,
        changes_requested_by=BO,
        changes_comment="Fix it",
        rejected_by=BO,
        rejection_reason="No",
    )
    assert words in visible(checked(approval.build_author_update(post)))


def test_short_replies_name_who_did_what() -> None:
    when = CREATED + timedelta(days=3)
    assert "↩️ <@U0ANA> withdrew this post" in visible(checked(approval.build_withdrawn_reply(user_id=ANA)))
    moved = visible(checked(approval.build_rescheduled_reply(user_id=ANA, when=when)))
    assert f"<@U0ANA> moved this post to <!date^{int(when.timestamp())}^" in moved
    assert "publish this post now" in visible(checked(approval.build_publish_now_reply(user_id=ANA)))
    assert "try publishing this post again" in visible(checked(approval.build_retry_reply(user_id=ANA)))


def test_every_reply_and_dm_fits_slack_at_the_largest_sizes() -> None:
    post = _largest(PostStatus.CHANGES_REQUESTED)
    comment = "c<&>" * 500
    notes = ["n<" * 500] * 10
    messages = [
        approval.build_changes_requested_reply(user_id=BO, comment=comment),
        approval.build_author_changes_dm(post, user_id=BO, comment=comment),
        approval.build_rejected_reply(user_id=BO, reason=comment),
        approval.build_reminder_dm(post, final=True),
        approval.build_missed_reply(post),
        approval.build_author_missed_dm(post),
        approval.build_cancelled_reply(user_id=BO, notes=notes),
        approval.build_cancel_too_late_reply(user_id=BO, notes=notes),
        approval.build_needs_attention_reply(reason=comment),
        approval.build_edited_reply(user_id=AUTHOR, old=replace(post, text="a " * 1500, version=1), new=post),
    ]
    messages += [approval.build_author_update(replace(post, status=s)) for s in PostStatus]
    messages += [approval.build_report_reply(replace(post, status=s)) for s in PostStatus]
    for message in messages:
        checked(message)
        assert "<!channel>" not in visible(message)


# The edit reply


def test_an_edit_shows_the_changed_words_and_every_other_change() -> None:
    at = CREATED + timedelta(days=2)
    old = replace(
        BASE,
        version=2,
        media=(MediaItem(name="old.png", mime_type="image/png", slack_file_id="F0OLD"),),
        overrides=((Network.X, "Short for X"),),
    )
    new = replace(
        BASE,
        version=3,
        text="Launch day is Tuesday at 9. Bring *snacks* <!here>",
        targets=(X, THREADS),
        requested_time=at,
        media=(MediaItem(name="new.png", mime_type="image/png", slack_file_id="F0NEW"),),
        overrides=((Network.LINKEDIN, "Longer for LinkedIn"),),
        first_comment="Link: https://acme.example",
    )
    message = checked(approval.build_edited_reply(user_id=AUTHOR, old=old, new=new))
    shown = visible(message)
    assert message["text"] == (
        "✏️ <@U0AUTHOR> edited the post (version 2 → 3). Earlier approvals no longer count."
    )
    # Slack has no escape for `*`: inside a marked span it becomes a look-alike so the bold holds.
    assert "> Launch day is ~Monday~ *Tuesday* at 9. *Bring ∗snacks∗ &lt;!here&gt;*" in shown
    assert "➕ Accounts added: Threads · acme" in shown
    assert "➖ Accounts removed: LinkedIn · Acme Inc" in shown
    assert f"🕒 When: as soon as approved → <!date^{int(at.timestamp())}^" in shown
    assert "📎 Media: added new.png; removed old.png" in shown
    assert "📝 X uses the post text again" in shown
    assert "📝 LinkedIn now has its own text: “Longer for LinkedIn”" in shown
    assert "💬 First comment added: “Link: https://acme.example”" in shown


def test_an_edit_of_a_long_text_shows_each_changed_passage_with_context() -> None:
    words = [f"w{i}" for i in range(400)]
    edited = list(words)
    edited[10], edited[300] = "CHANGED", "ALSO"
    shown = visible(
        checked(
            approval.build_edited_reply(
                user_id=AUTHOR,
                old=replace(BASE, text=" ".join(words)),
                new=replace(BASE, text=" ".join(edited)),
            )
        )
    )
    assert "~w10~ *CHANGED*" in shown and "~w300~ *ALSO*" in shown
    assert "w150" not in shown  # unchanged passages are left out
    assert "…" in shown


def test_edits_that_only_reflow_or_rewrite_everything_are_said_plainly() -> None:
    spacing = approval.build_edited_reply(
        user_id=AUTHOR, old=BASE, new=replace(BASE, text="Launch day is\nMonday at 9.")
    )
    assert "only spacing or line breaks changed" in visible(checked(spacing))
    rewrite = approval.build_edited_reply(
        user_id=AUTHOR, old=BASE, new=replace(BASE, text="Completely different words here now")
    )
    assert "rewritten. It now reads:\n> Completely different words here now" in visible(checked(rewrite))
    nothing = approval.build_edited_reply(user_id=AUTHOR, old=BASE, new=replace(BASE, version=3))
    assert "Nothing visible changed." in visible(checked(nothing))


def test_an_edit_changing_everywhere_stays_within_ten_sections() -> None:
    # 3,000 characters that escaping makes five times longer, half of the words changed.
    old_text = " ".join("&" * 7 + f"{i:03d}" for i in range(300))[:3000]
    new_text = " ".join("&" * 7 + f"{i:03d}" if i % 2 else "<" * 7 + f"{i:03d}" for i in range(300))[:3000]
    message = checked(
        approval.build_edited_reply(
            user_id=AUTHOR, old=replace(BASE, text=old_text), new=replace(BASE, text=new_text)
        )
    )
    shown = visible(message)
    assert len(message["blocks"]) <= 10 and all(len(t) <= 3000 for t in texts(message))
    assert f"~{'&amp;' * 7}000~ *{'&lt;' * 7}000*" in shown
    assert re.search(r"…and \d+ more changes\.$", shown)


# Text helpers


def test_quotes_and_cuts_never_exceed_the_limit_nor_break_a_token() -> None:
    many_lines = "a\n" * 2000
    assert len(quote(many_lines, limit=3000)) <= 3000
    assert len(quote("&" * 3000, limit=100)) <= 100 and not re.search(
        r"&(?!amp;)", quote("&" * 3000, limit=100)
    )
    date = "<!date^1763630000^{date_short_pretty}|2025-11-20>"
    assert truncate("x" * 50 + date, 60) == "x" * 50 + "…"
    assert truncate("ok", 2) == "ok"
