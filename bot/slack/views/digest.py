"""The daily digest in the approval channel: what waits for approval, what goes out in the next 24 hours,
and what failed, each post linked to its approval thread. One message, within Slack's 50 blocks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.services.snapshot import PostSnapshot
from bot.slack.views.approval import when_text
from bot.slack.views.format import escape, mention, slack_date, truncate
from bot.slack.views.home import error_text, first_line, fitting, post_link, post_time

#: Posts listed per section; the rest are counted. Keeps the message well under Slack's aggregate limits.
DIGEST_CAP = 10
SECTION_TEXT_MAX = 3000
HEADER_MAX = 150

PENDING = "pending"
UPCOMING = "upcoming"
FAILED = "failed"


def _pending_line(post: PostSnapshot) -> str:
    return (
        f"• {post_link(post)} “{first_line(post.text, 60)}” from {mention(post.author_id)} · "
        f"{len(post.approvals)} of {post.required_approvals} approvals · {when_text(post)}"
    )


def _upcoming_line(post: PostSnapshot) -> str:
    moment = post_time(post)
    when = slack_date(moment, style="{date_short_pretty} at {time}") if moment else when_text(post)
    return f"• {when} · {post_link(post)} “{first_line(post.text, 60)}” from {mention(post.author_id)}"


def _failed_line(post: PostSnapshot) -> str:
    author = mention(post.author_id)
    return f"• {post_link(post)} “{first_line(post.text, 60)}” from {author}: {error_text(post)}"


def _section(
    title: str, posts: Sequence[PostSnapshot], total: int, line: Callable[[PostSnapshot], str], empty: str
) -> list[Block]:
    total = max(total, len(posts))
    heading = f"*{title} ({total})*\n"
    if not posts:
        return [SectionBlock(text=MarkdownTextObject(text=f"{heading}_{empty}_"))]
    shown = fitting([line(p) for p in posts[:DIGEST_CAP]], SECTION_TEXT_MAX - len(heading))
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=heading + "\n".join(shown)))]
    if total > len(shown):
        more = f"and {total - len(shown):,} more — use `/post list`"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    return blocks


def build_digest(
    *,
    day_label: str,
    pending: list[PostSnapshot],
    upcoming: list[PostSnapshot],
    failed: list[PostSnapshot],
    counts: dict[str, int],
) -> dict[str, Any]:
    """The digest message. `counts` holds each list's total under "pending", "upcoming" and "failed"."""
    title = truncate(f"☀️ Postgate daily digest · {day_label}", HEADER_MAX)
    totals = {
        PENDING: max(counts.get(PENDING, 0), len(pending)),
        UPCOMING: max(counts.get(UPCOMING, 0), len(upcoming)),
        FAILED: max(counts.get(FAILED, 0), len(failed)),
    }
    blocks: list[Block] = [HeaderBlock(text=title)]
    blocks += _section("Waiting for approval", pending, totals[PENDING], _pending_line, "Nothing waiting.")
    blocks.append(DividerBlock())
    blocks += _section(
        "Scheduled in the next 24 hours", upcoming, totals[UPCOMING], _upcoming_line, "Nothing scheduled."
    )
    blocks.append(DividerBlock())
    blocks += _section("Failed or needing attention", failed, totals[FAILED], _failed_line, "Nothing failed.")
    # The header is plain text; the fallback is mrkdwn, so the label is escaped there.
    fallback = (
        f"{escape(title)}: {totals[PENDING]} waiting for approval, "
        f"{totals[UPCOMING]} scheduled in the next 24 hours, {totals[FAILED]} failed or needing attention"
    )
    return {"text": fallback, "blocks": [b.to_dict() for b in blocks]}
