"""`/post list` and `/post help`. The App Home tab is `bot.slack.views.home`."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.services.posts import PostLists
from bot.services.snapshot import PostSnapshot
from bot.slack.views.approval import status_line, when_text
from bot.slack.views.home import first_line, post_link, within

HELP_TEXT = (
    "*Postgate* drafts social posts, gets them approved here in Slack, and publishes them on time.\n"
    "• `/post` opens the composer (`/post some text` starts it with that text).\n"
    "• `/post list` shows your drafts, what waits for your approval, and what is scheduled next.\n"
    "• `/post export` sends you the full history as a CSV file.\n"
    "• `/post help` shows this.\n"
    "• On any message: ⋯ → *Draft a post from this*. The Home tab shows your queue and the schedule.\n"
    "Drafts go to the approval channel; approvers approve, request changes or reject in the message, and "
    "the thread records every decision, every edit and the published links."
)


def build_help_message() -> dict[str, Any]:
    return {"text": HELP_TEXT, "blocks": [SectionBlock(text=MarkdownTextObject(text=HELP_TEXT)).to_dict()]}


def _line(post: PostSnapshot) -> str:
    return f"• {post_link(post)} “{first_line(post.text)}” · {when_text(post)} · {status_line(post)}"


def _section(title: str, posts: list[PostSnapshot], empty: str) -> list[Block]:
    heading = f"*{title}*\n"
    lines = [_line(p) for p in posts]
    body = within(lines, 3000 - len(heading), more=lambda n: f"…and {n} more") if posts else f"_{empty}_"
    return [SectionBlock(text=MarkdownTextObject(text=heading + body))]


def _list_blocks(lists: PostLists) -> list[Block]:
    blocks: list[Block] = []
    blocks += _section("Your drafts waiting for approval", lists.own_pending, "None.")
    if lists.is_approver:
        blocks += _section("Waiting for your approval", lists.awaiting_me, "Nothing waits for you.")
    blocks += _section("Scheduled next", lists.scheduled, "Nothing is scheduled.")
    return blocks


def build_list_message(lists: PostLists) -> dict[str, Any]:
    blocks = _list_blocks(lists)
    counts = f"{len(lists.own_pending)} drafts pending, {len(lists.scheduled)} scheduled"
    return {"text": f"Postgate: {counts}", "blocks": [b.to_dict() for b in blocks]}
