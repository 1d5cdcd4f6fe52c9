"""The post history modal: every recorded event of one post, oldest first, as sentences a person reads.

The audit trail can outgrow a modal (100 blocks, 250 kB); then the newest entries are shown and the modal
points to `/post export` for the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from slack_sdk.models.blocks import Block, ContextBlock, DividerBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.services.history import HistoryEntry
from bot.services.snapshot import PostSnapshot
from bot.slack.ids import ViewId
from bot.slack.views.approval import status_line
from bot.slack.views.format import mention, slack_date, truncate
from bot.slack.views.home import escaped, first_line, post_link

#: The actor the audit trail records for Postgate's own steps (`bot.db.repo.SYSTEM_ACTOR`).
SYSTEM_ACTOR = "postgate"
SECTION_TEXT_MAX = 3000
DETAIL_MAX = 600
MAX_BLOCKS = 100
#: Entry text allowed in one modal, counted as JSON bytes (Slack refuses views over 250 kB).
TEXT_BUDGET = 150_000

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_VERSION_DETAIL = re.compile(r"^version (\d+)$")


def _detail(entry: HistoryEntry) -> str:
    return escaped(entry.detail, DETAIL_MAX) if entry.detail else ""


def _with(prefix: str, entry: HistoryEntry, *, separator: str = ": ") -> str:
    detail = _detail(entry)
    return f"{prefix}{separator}{detail}" if detail else prefix


def _version(entry: HistoryEntry) -> str:
    number = entry.version
    if number is None and entry.detail:
        # Edits record their new version as the detail ("version 3").
        match = _VERSION_DETAIL.match(entry.detail)
        number = int(match[1]) if match else None
    return f" (version {number})" if number is not None else ""


def _moment(entry: HistoryEntry, *, prefix: str = "") -> str:
    """A detail holding an ISO time (after `prefix`) as a `<!date>` token; any other detail as text."""
    raw = (entry.detail or "").removeprefix(prefix)
    try:
        return slack_date(datetime.fromisoformat(raw))
    except ValueError:
        return _detail(entry)


def _people(entry: HistoryEntry) -> str:
    """A detail listing Slack user ids as mentions; any other detail as text."""
    names = [n.strip() for n in (entry.detail or "").split(",")]
    if names and all(_SLACK_USER.match(n) for n in names):
        return ", ".join(mention(n) for n in names)
    return _detail(entry)


_SENTENCES: dict[str, Callable[[HistoryEntry], str]] = {
    "created": lambda e: f"created the post{_version(e)}",
    "edited": lambda e: f"edited{_version(e)}",
    "approval_recorded": lambda e: f"approved{_version(e)}",
    "approved": lambda e: f"gave the approval that completed it{_version(e)}; the post is approved",
    "rejected": lambda e: _with("rejected it", e, separator=". Reason: "),
    "reject": lambda e: _with("rejected it", e, separator=". Reason: "),
    "changes_requested": lambda e: _with(f"asked for changes{_version(e)}", e),
    "withdrawn": lambda e: _with("withdrew the post", e),
    "rescheduled": lambda e: (
        f"moved the publishing time to {_moment(e)}" if e.detail else "moved the publishing time"
    ),
    "publish_now": lambda _: "asked to publish it now",
    "retried": lambda e: _with("asked to publish it again", e),
    "missed": lambda e: (
        "marked it missed: its time"
        + (f" ({_moment(e, prefix='due ')})" if e.detail else "")
        + " came before it was approved, so it was not published"
    ),
    "reminded": lambda e: f"reminded the approvers: {_people(e)}" if e.detail else "reminded the approvers",
    "submitted": lambda e: _with("handed it to the provider", e),
    "handed_to_provider": lambda e: _with("handed it to the provider", e),
    "found_earlier_submission": lambda e: _with(
        "found that the provider already had it from an earlier try (not sent twice)", e
    ),
    "retry_scheduled": lambda e: _with("will try again shortly", e, separator=". Last error: "),
    "published": lambda e: _with("published it", e),
    "partially_published": lambda e: _with("published it on some accounts only", e),
    "failed": lambda e: _with("could not publish it", e),
    "cancelled": lambda e: _with("cancelled the post", e),
    "cancel_too_late": lambda e: _with("asked to cancel it, too late for some accounts", e),
    "needs_attention": lambda e: _with("stopped: a human needs to check it", e),
    "provider_webhook": lambda e: _with("heard from the provider", e),
}


def actor_text(actor: str) -> str:
    if actor == SYSTEM_ACTOR:
        return "Postgate"
    if _SLACK_USER.match(actor):
        return mention(actor)
    return escaped(actor, 60)


def entry_sentence(entry: HistoryEntry) -> str:
    """What happened, as a sentence whose subject is the actor; unknown actions show by their name."""
    sentence = _SENTENCES.get(entry.action)
    if sentence is not None:
        return sentence(entry)
    return _with(f"{escaped(entry.action, 60)}{_version(entry)}", entry)


def entry_line(entry: HistoryEntry) -> str:
    return f"{slack_date(entry.at)} · {actor_text(entry.actor)} {entry_sentence(entry)}"


def _json_size(text: str) -> int:
    return len(json.dumps(text))


def _newest_sections(lines: Sequence[str], *, max_sections: int) -> list[list[str]]:
    """The newest `lines` packed into section texts of at most 3,000 characters, within the block and byte
    budgets: newest section first, each section's lines newest first."""
    sections: list[list[str]] = []
    length = 0
    size = 0
    for line in reversed(lines):
        size += _json_size(line)
        if size > TEXT_BUDGET:
            break
        if sections and length + 1 + len(line) <= SECTION_TEXT_MAX:
            sections[-1].append(line)
            length += 1 + len(line)
            continue
        if len(sections) == max_sections:
            break
        sections.append([line])
        length = len(line)
    return sections


def build_history_modal(post: PostSnapshot, entries: list[HistoryEntry]) -> View:
    intro = (
        f"*Post {post_link(post)}* by {mention(post.author_id)} · version {post.version}\n"
        f"{status_line(post)}\n“{first_line(post.text, 150)}”"
    )
    head: list[Block] = [SectionBlock(text=MarkdownTextObject(text=intro)), DividerBlock()]
    # Fill from the newest backwards, so what is left out when space runs out is the oldest.
    lines = [entry_line(e) for e in entries]
    sections = _newest_sections(lines, max_sections=MAX_BLOCKS - len(head) - 1)
    kept = sum(len(section) for section in sections)
    left_out = len(lines) - kept
    blocks = list(head)
    if left_out:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"{left_out:,} earlier entries: use `/post export` for the full record."
                    )
                ]
            )
        )
    if not lines:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="_Nothing was recorded for this post._")))
    blocks.extend(
        SectionBlock(text=MarkdownTextObject(text="\n".join(reversed(section))))
        for section in reversed(sections)
    )
    return View(
        type="modal",
        callback_id=ViewId.HISTORY,
        title=truncate(f"History of #{post.id}", 24),
        close="Done",
        blocks=blocks,
        private_metadata=json.dumps({"post_id": post.id}),
    )
