"""The approval message (root, always showing the current state), its thread replies, and the DMs to
authors and approvers.

Every message stays within Slack's limits whatever the post holds: a section's text ≤ 3,000 characters,
≤ 50 blocks, a fallback `text` short enough for `chat.update`, and all block text together under
`MESSAGE_TEXT_BUDGET`, because Slack refuses messages whose blocks are large in total even when each
block is within its own limit. Untrusted text (drafts, comments, names, provider errors) is escaped.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain import media
from bot.domain.counting import JOINED_CHAIN_NOTE, NetworkPreview, preview
from bot.domain.model import PostStatus
from bot.domain.networks import Network
from bot.domain.policy import DEFAULT_SCOPE, RuleProgress
from bot.services.snapshot import PostSnapshot, ResultView
from bot.slack.ids import Action
from bot.slack.ids import Block as BlockId
from bot.slack.views.format import (
    channel,
    escape,
    link,
    mention,
    quote,
    quote_pieces,
    slack_date,
    truncate,
)
from bot.slack.views.forms import button_value

Message = dict[str, Any]

SECTION_MAX = 3000
FALLBACK_MAX = 3000
MESSAGE_MAX_BLOCKS = 50
#: All text in a message's blocks together; Slack answers `msg_blocks_too_long` well below 50 × 3,000.
MESSAGE_TEXT_BUDGET = 11_000
#: The least room a per-network text that differs from the post text gets, however full the message is.
_OVERRIDES_MIN = 160
_DIFF_SECTIONS_MAX = 6
#: What button labels and confirm dialogs take of the budget.
_BUTTONS_TEXT = 600

_STATUS_LINES = {
    PostStatus.PENDING_APPROVAL: "⏳ *Waiting for approval*",
    PostStatus.CHANGES_REQUESTED: "✏️ *Changes requested*",
    PostStatus.MISSED: "⌛ *Missed*: its time passed before it was approved",
    PostStatus.WITHDRAWN: "↩️ *Withdrawn* by the author",
    PostStatus.APPROVED: "✅ *Approved*",
    PostStatus.REJECTED: "🚫 *Rejected*",
    PostStatus.PUBLISHING: "📤 *Publishing…*",
    PostStatus.SUBMITTED: "📤 *Handed to the provider; waiting for it to go live*",
    PostStatus.PUBLISHED: "🚀 *Published*",
    PostStatus.PARTIALLY_PUBLISHED: "⚠️ *Partly published*",
    PostStatus.FAILED: "❌ *Failed to publish*",
    PostStatus.NEEDS_ATTENTION: "🛑 *Needs a human*",
    PostStatus.CANCELLED: "🗑️ *Cancelled*",
}


def when_text(post: PostSnapshot) -> str:
    waiting_for_slot = post.status in (
        PostStatus.PENDING_APPROVAL,
        PostStatus.CHANGES_REQUESTED,
        PostStatus.APPROVED,
        PostStatus.PUBLISHING,
    )
    if post.queue is not None and waiting_for_slot:
        return f"Next free slot of the queue “{escape(post.queue.name)}”"
    if post.publish_at is not None:
        return slack_date(post.publish_at)
    if post.requested_time is not None:
        return slack_date(post.requested_time)
    return "As soon as approved"


def _requested_when(post: PostSnapshot) -> str:
    """When the author asked for it, whatever has happened since (for comparing two versions)."""
    if post.queue is not None:
        return f"next free slot of the queue “{escape(post.queue.name)}”"
    if post.requested_time is not None:
        return slack_date(post.requested_time)
    return "as soon as approved"


# Approval progress


def _rule_label(rule_scope: str, post: PostSnapshot) -> str:
    if rule_scope == DEFAULT_SCOPE:
        return "All accounts"
    kind, _, rest = rule_scope.partition(":")
    if kind == "network":
        network = Network.parse(rest)
        return network.display_name if network else escape(rest)
    if kind == "account":
        target = next((t for t in post.targets if t.key == rest), None)
        return escape(target.label if target else rest)
    return escape(rule_scope)


def _unattainable(rule: RuleProgress) -> str:
    people = len(rule.eligible)
    who = "nobody" if people == 0 else ("only 1 person" if people == 1 else f"only {people} people")
    return (
        f"⚠️ cannot be approved: it needs {rule.rule.required} approvals and {who} may give them. "
        "An admin can add approvers in Postgate's settings."
    )


def _rule_progress(rule: RuleProgress) -> str:
    done = "✅ " if rule.complete else ""
    # One approval can count for several rules, so a rule may have more than it needs.
    text = f"{done}{min(len(rule.counted), rule.rule.required)} of {rule.rule.required}"
    if rule.counted:
        text += " (" + ", ".join(mention(u) for u in rule.counted) + ")"
    if not rule.complete and not rule.attainable:
        text += " · " + _unattainable(rule)
    return text


def _progress_parts(post: PostSnapshot) -> list[str]:
    """One entry per approval rule ("LinkedIn: 1 of 2 (@ana)"), or a single count without rules."""
    rules = post.progress.rules if post.progress is not None else ()
    if len(rules) > 1:
        return [f"{_rule_label(r.rule.scope, post)}: {_rule_progress(r)}" for r in rules]
    if len(rules) == 1:
        rule = rules[0]
        text = f"{len(rule.counted)} of {rule.rule.required} approvals"
        if rule.counted:
            text += ": " + ", ".join(mention(u) for u in rule.counted)
        if not rule.attainable and not rule.complete:
            text += " · " + _unattainable(rule)
        return [text]
    text = f"{len(post.approvals)} of {post.required_approvals} approvals"
    if post.approvals:
        text += ": " + ", ".join(mention(u) for u in post.approvals)
    return [text]


def _status_parts(post: PostSnapshot) -> tuple[str, list[str]]:
    """The status headline and what follows it (per-rule progress, who decided, when)."""
    line = _STATUS_LINES[post.status]
    approvers = ", ".join(mention(u) for u in post.approvals)
    if post.status is PostStatus.PENDING_APPROVAL:
        return line, _progress_parts(post)
    if post.status is PostStatus.CHANGES_REQUESTED and post.changes_requested_by:
        return f"{line} by {mention(post.changes_requested_by)}", []
    if post.status is PostStatus.APPROVED:
        line += f" by {approvers}" if approvers else ""
        return line, [f"publishing {slack_date(post.publish_at)}"] if post.publish_at is not None else []
    if post.status in (PostStatus.PUBLISHING, PostStatus.SUBMITTED) and approvers:
        return line, [f"approved by {approvers}"]
    if post.status is PostStatus.REJECTED and post.rejected_by:
        return f"{line} by {mention(post.rejected_by)}", []
    if post.status in (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED, PostStatus.FAILED):
        extra = []
        if post.results:
            live = sum(1 for r in post.results if r.status == "published")
            extra.append(f"live on {live} of {len(post.results)} accounts")
        if post.finished_at is not None:
            extra.append(slack_date(post.finished_at))
        return line, extra
    return line, []


def status_line(post: PostSnapshot) -> str:
    """The status on one line, as lists show it."""
    line, parts = _status_parts(post)
    return " · ".join([line, *parts])


def _status_block_text(post: PostSnapshot) -> str:
    line, parts = _status_parts(post)
    if post.status is PostStatus.PENDING_APPROVAL and len(parts) > 1:
        return line + "".join(f"\n• {p}" for p in parts)
    return " · ".join([line, *parts])


# The root message


class _Room:
    """What is left of the message's text budget."""

    def __init__(self, total: int) -> None:
        self.left = total

    def spend(self, text: str) -> str:
        self.left -= len(text)
        return text


def _section(text: str, room: _Room) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=room.spend(truncate(text, SECTION_MAX))))


def build_root_message(post: PostSnapshot) -> Message:
    """The approval request; rebuilt from the post's state every time it changes.

    Reads top to bottom: who and where it stands, the text, how each network gets it, what comes with
    it, the outcome, the buttons. The per-network texts get what is left of the text budget.
    """
    room = _Room(MESSAGE_TEXT_BUDGET)
    head = f"*Post #{post.id}* from {mention(post.author_id)}\n{_status_block_text(post)}"
    top: list[Block] = [_section(truncate(head, 1200), room)]
    if post.status is PostStatus.CHANGES_REQUESTED and post.changes_comment:
        top.append(_section("*What to change*\n" + quote(post.changes_comment, limit=1000), room))
    top.extend(_section(piece, room) for piece in quote_pieces(post.text, size=2900, most=2))
    extras: list[Block] = []
    if post.first_comment:
        extras.append(_section("*First comment*\n" + quote(post.first_comment, limit=500), room))
    if post.media:
        extras.append(_section(truncate(media_text(post), 700), room))
    targets = "\n".join(escape(t.label) for t in post.targets) or "—"
    fields = [f"*Accounts*\n{targets}", f"*When*\n{when_text(post)}"]
    extras.append(
        SectionBlock(fields=[MarkdownTextObject(text=room.spend(truncate(field, 800))) for field in fields])
    )
    if post.status is PostStatus.REJECTED and post.rejection_reason:
        extras.append(_section("*Reason*\n" + quote(post.rejection_reason, limit=1000), room))
    if post.results and post.status.is_final:
        extras.append(_section(truncate(results_text(post.results), 1500), room))
    if post.status in (PostStatus.NEEDS_ATTENTION, PostStatus.FAILED) and post.last_error:
        extras.append(_section(truncate(escape(post.last_error), 600), room))
    context = ContextBlock(
        elements=[
            MarkdownTextObject(
                text=room.spend(
                    f"Post #{post.id} · version {post.version} · drafted {slack_date(post.created_at)}"
                )
            )
        ]
    )
    actions = _action_blocks(post)
    room.left -= _BUTTONS_TEXT
    most = MESSAGE_MAX_BLOCKS - len(top) - len(extras) - len(actions) - 1
    blocks = [*top, *_preview_blocks(post, room, most=most), *extras, *actions, context]
    line, _ = _status_parts(post)
    fallback = f"Post #{post.id} from {mention(post.author_id)}: {line.replace('*', '')}"
    return {"text": truncate(fallback, FALLBACK_MAX), "blocks": [b.to_dict() for b in blocks]}


def _part_counts(item: NetworkPreview) -> str:
    counts = " · ".join(f"{'⚠️ ' if p.over else ''}{p.count:,}/{p.limit:,}" for p in item.parts)
    if len(item.parts) > 1:
        counts = f"thread of {len(item.parts)}: {counts}"
    if item.over_limit and not any(p.over for p in item.parts):
        counts += " ⚠️ too long"
    return counts


def _preview_name(item: NetworkPreview, items: Sequence[NetworkPreview]) -> str:
    """The network's name, with its providers when it shows twice (one threads, one does not)."""
    name = f"*{item.network.display_name}*"
    if sum(1 for other in items if other.network is item.network) > 1:
        name += " (" + escape(", ".join(item.providers)) + ")"
    return name


def _preview_blocks(post: PostSnapshot, room: _Room, *, most: int) -> list[Block]:
    """Per network: how long the post is there, and the text itself where it differs from the post text."""
    if not post.targets:
        return []
    items = preview(post.as_draft())
    same = [i for i in items if not _differs(i, post)]
    different = [i for i in items if _differs(i, post)]
    blocks: list[Block] = []
    if same:
        lines = "\n".join(f"{_preview_name(i, items)} · {_part_counts(i)}" for i in same)
        blocks.append(_section(truncate(lines, 1500), room))
    share = max(_OVERRIDES_MIN, room.left // max(1, len(different)))
    for item in different[: max(0, most - len(blocks))]:
        why = "own text" if item.overridden else "the thread joined into one post"
        head = f"{_preview_name(item, items)} · {why} · {_part_counts(item)}\n"
        if item.joined_chain:
            head = f"{JOINED_CHAIN_NOTE} · {_part_counts(item)}\n"
        blocks.append(_section(head + quote(item.text, limit=max(40, min(2800, share - len(head)))), room))
    return blocks


def _differs(item: NetworkPreview, post: PostSnapshot) -> bool:
    return item.overridden or item.text.strip() != post.text.strip()


def _button(
    text: str,
    action: Action,
    post: PostSnapshot,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=text, action_id=action, value=button_value(post.id, post.version), style=style, confirm=confirm
    )


def _confirm(title: str, text: str, confirm: str, deny: str = "Keep it") -> ConfirmObject:
    return ConfirmObject(title=title, text=text, confirm=confirm, deny=deny)


def _decision_buttons(post: PostSnapshot) -> list[ButtonElement]:
    return [
        _button("Approve", Action.APPROVE, post, style="primary"),
        _button("Request changes", Action.REQUEST_CHANGES, post),
        _button("Reject", Action.REJECT, post, style="danger"),
    ]


def _post_buttons(post: PostSnapshot) -> list[ButtonElement]:
    history = _button("History", Action.HISTORY, post)
    edit = _button("Edit", Action.EDIT, post)
    withdraw = _button(
        "Withdraw",
        Action.WITHDRAW,
        post,
        confirm=_confirm(
            "Withdraw this post?",
            "It will not be published, and it cannot be sent for approval again.",
            "Withdraw",
        ),
    )
    cancel = _button(
        "Cancel post",
        Action.CANCEL,
        post,
        style="danger",
        confirm=_confirm(
            "Cancel this post?",
            "Postgate withdraws it from the provider if it is not out yet.",
            "Cancel the post",
        ),
    )
    status = post.status
    if status in (PostStatus.PENDING_APPROVAL, PostStatus.CHANGES_REQUESTED):
        return [edit, withdraw, history]
    if status is PostStatus.APPROVED:
        return [
            _button(
                "Publish now",
                Action.PUBLISH_NOW,
                post,
                confirm=_confirm(
                    "Publish now?", "Postgate sends it to the provider right away.", "Publish now"
                ),
            ),
            _button("Reschedule", Action.RESCHEDULE, post),
            _button(
                "Edit",
                Action.EDIT,
                post,
                confirm=_confirm(
                    "Edit an approved post?",
                    "Editing sends it back for approval: the approvals it has no longer count.",
                    "Edit",
                ),
            ),
            cancel,
            history,
        ]
    if status is PostStatus.SUBMITTED:
        return [cancel, history]
    if status is PostStatus.MISSED:
        return [_button("Pick a new time", Action.RESCHEDULE, post, style="primary"), edit, withdraw, history]
    if status in (PostStatus.FAILED, PostStatus.NEEDS_ATTENTION):
        warning = (
            "Postgate could not tell whether it went out. Check the accounts at the provider first: "
            "if it is there already, retrying publishes it twice."
            if status is PostStatus.NEEDS_ATTENTION
            else "Postgate sends it to the provider again."
        )
        retry = _button("Retry", Action.RETRY, post, confirm=_confirm("Try again?", warning, "Retry"))
        return [retry, edit, history]
    return [history]


def _action_blocks(post: PostSnapshot) -> list[Block]:
    blocks: list[Block] = []
    if post.status is PostStatus.PENDING_APPROVAL:
        blocks.append(ActionsBlock(block_id=BlockId.DECISION_ACTIONS, elements=_decision_buttons(post)))
    blocks.append(ActionsBlock(block_id=BlockId.POST_ACTIONS, elements=_post_buttons(post)))
    return blocks


def media_text(post: PostSnapshot) -> str:
    items = []
    for item in post.media:
        shown = link(item.url, item.name) if item.url else escape(item.name)
        items.append(f"{shown} ({item.kind.value})")
    targets = {(t.provider, t.network) for t in post.targets if t.network}
    unchecked = "".join(f"\n⚠️ {escape(note)}" for note in media.unchecked_lengths(post.media, targets))
    return "*Media*\n📎 " + ", ".join(items) + unchecked


def results_text(results: tuple[ResultView, ...]) -> str:
    lines = []
    for result in results:
        label = escape(result.target.label)
        if result.status == "published":
            shown = link(result.url, "view post") if result.url else "live (the provider gave no link)"
            lines.append(f"✅ {label}: {shown}")
        elif result.status == "failed":
            lines.append(f"❌ {label}: {escape(result.error or 'failed without a reason')}")
        elif result.status == "cancelled":
            lines.append(f"🗑️ {label}: {escape(result.error or 'cancelled before publishing')}")
        else:
            lines.append(f"⏳ {label}: still publishing")
    return "\n".join(lines)


# Thread replies and DMs


def _text_message(text: str, *more: Block) -> Message:
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_MAX)))]
    blocks.extend(more)
    return {"text": truncate(text, FALLBACK_MAX), "blocks": [b.to_dict() for b in blocks]}


def _thread_link(post: PostSnapshot, label: str = "thread") -> str:
    return link(post.permalink, label) if post.permalink else channel(post.approval_channel_id)


def build_approval_recorded(*, approver: str, approvals: int, required: int) -> Message:
    return _text_message(f"👍 {mention(approver)} approved ({approvals} of {required} approvals).")


def build_approved_reply(post: PostSnapshot, *, approver: str) -> Message:
    when = "now" if post.requested_time is None else slack_date(post.publish_at or post.requested_time)
    return _text_message(f"✅ {mention(approver)} approved this post. It will be published {when}.")


def build_rejected_reply(*, user_id: str, reason: str) -> Message:
    return _text_message(f"🚫 {mention(user_id)} rejected this post.\n*Reason*\n{quote(reason, limit=2500)}")


def build_changes_requested_reply(*, user_id: str, comment: str) -> Message:
    return _text_message(
        f"✏️ {mention(user_id)} asked for changes:\n{quote(comment, limit=2500)}\n"
        "The author can edit the post; the new version goes back to the approvers."
    )


def build_author_changes_dm(post: PostSnapshot, *, user_id: str, comment: str) -> Message:
    return _text_message(
        f"✏️ {mention(user_id)} asked for changes to your post #{post.id} ({_thread_link(post)}):\n"
        f"{quote(comment, limit=2500)}\nEdit it and it goes back for approval.",
        ActionsBlock(
            block_id=BlockId.POST_ACTIONS,
            elements=[_button("Edit", Action.EDIT, post, style="primary")],
        ),
    )


def build_withdrawn_reply(*, user_id: str) -> Message:
    return _text_message(f"↩️ {mention(user_id)} withdrew this post. Nothing will be published.")


def build_rescheduled_reply(*, user_id: str, when: datetime) -> Message:
    return _text_message(f"🕒 {mention(user_id)} moved this post to {slack_date(when)}.")


def build_publish_now_reply(*, user_id: str) -> Message:
    return _text_message(f"🚀 {mention(user_id)} asked to publish this post now.")


def build_retry_reply(*, user_id: str) -> Message:
    return _text_message(f"🔁 {mention(user_id)} asked Postgate to try publishing this post again.")


def _due(post: PostSnapshot) -> str:
    moment = post.publish_at or post.requested_time
    return slack_date(moment) if moment is not None else "its time"


def build_missed_reply(post: PostSnapshot) -> Message:
    return _text_message(
        f"⌛ This post was due {_due(post)} and was not approved by then, so it was not published. "
        f"{mention(post.author_id)} can pick a new time, which sends it back for approval."
    )


def build_author_missed_dm(post: PostSnapshot) -> Message:
    return _text_message(
        f"⌛ Your post #{post.id} was due {_due(post)} but was not approved in time, so it was not "
        f"published ({_thread_link(post)}). Pick a new time to send it back for approval.",
        ActionsBlock(
            block_id=BlockId.POST_ACTIONS,
            elements=[_button("Pick a new time", Action.RESCHEDULE, post, style="primary")],
        ),
    )


def build_reminder_dm(post: PostSnapshot, *, final: bool) -> Message:
    """A nudge to an approver, with the decision buttons, so they can decide without opening the channel."""
    headline = f"⏰ Post #{post.id} by {mention(post.author_id)} waits for your approval"
    if final:
        headline += f" and is due {_due(post)}"
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{headline}. See it in the {_thread_link(post)}.\n{quote(post.text, limit=1200)}"
            )
        ),
        ActionsBlock(block_id=BlockId.DECISION_ACTIONS, elements=_decision_buttons(post)),
    ]
    return {"text": truncate(f"{headline}.", FALLBACK_MAX), "blocks": [b.to_dict() for b in blocks]}


def build_late_note(*, due: datetime, late_seconds: float) -> Message:
    minutes = late_seconds / 60
    howlate = f"{minutes:.0f} minutes" if minutes >= 2 else f"{late_seconds:.0f} seconds"
    return _text_message(
        f"⏰ This post was due {slack_date(due)}, while Postgate was not running. "
        f"Sending it now, {howlate} late."
    )


def build_report_reply(post: PostSnapshot) -> Message:
    headline = {
        PostStatus.PUBLISHED: "🚀 Published.",
        PostStatus.PARTIALLY_PUBLISHED: "⚠️ Published on some accounts only.",
        PostStatus.FAILED: "❌ Publishing failed.",
    }.get(post.status, status_line(post))
    body = results_text(post.results)
    if post.status is PostStatus.FAILED and not post.results and post.last_error:
        body = escape(post.last_error)
    return _text_message(f"{headline}\n{body}")


def build_cancelled_reply(*, user_id: str, notes: list[str]) -> Message:
    details = "".join(f"\n• {escape(n)}" for n in notes)
    return _text_message(f"🗑️ {mention(user_id)} cancelled this post. Nothing will be published.{details}")


def build_cancel_too_late_reply(*, user_id: str, notes: list[str]) -> Message:
    details = "".join(f"\n• {escape(n)}" for n in notes)
    return _text_message(
        f"⚠️ {mention(user_id)} asked to cancel this post, but it could not be stopped everywhere:{details}\n"
        "Postgate keeps following it and will report here what went out."
    )


def build_needs_attention_reply(*, reason: str) -> Message:
    return _text_message(
        f"🛑 *A human needs to check this post.* {escape(reason)}\n"
        "Postgate will not submit it again on its own, so it cannot be published twice. Check the accounts "
        "at the provider; if it is not there, use Retry on the post."
    )


def build_author_confirmation(post: PostSnapshot) -> Message:
    where = (
        link(post.permalink, "in the approval channel")
        if post.permalink
        else f"in {channel(post.approval_channel_id)}"
    )
    return _text_message(
        f"📝 Your post #{post.id} is waiting for approval {where}. You will hear from me when it is decided."
    )


def build_author_update(post: PostSnapshot) -> Message:
    where = f" ({_thread_link(post)})" if post.permalink else ""
    if post.status is PostStatus.REJECTED:
        reason = f"\n*Reason*\n{quote(post.rejection_reason, limit=2000)}" if post.rejection_reason else ""
        return _text_message(
            f"🚫 Your post #{post.id} was rejected by {mention(post.rejected_by or '')}{where}.{reason}"
        )
    if post.status is PostStatus.CHANGES_REQUESTED:
        return build_author_changes_dm(
            post, user_id=post.changes_requested_by or "", comment=post.changes_comment or ""
        )
    if post.status is PostStatus.MISSED:
        return build_author_missed_dm(post)
    if post.status is PostStatus.WITHDRAWN:
        return _text_message(f"↩️ Your post #{post.id} was withdrawn{where}; nothing will be published.")
    if post.status is PostStatus.APPROVED:
        when = "now" if post.requested_time is None else slack_date(post.publish_at or post.requested_time)
        return _text_message(f"✅ Your post #{post.id} was approved{where}. It will be published {when}.")
    if post.status is PostStatus.PENDING_APPROVAL:
        return _text_message(f"⏳ Your post #{post.id} is waiting for approval{where}.")
    if post.status is PostStatus.CANCELLED:
        return _text_message(f"🗑️ Your post #{post.id} was cancelled{where}; nothing was published.")
    if post.status is PostStatus.NEEDS_ATTENTION:
        return _text_message(
            f"🛑 Your post #{post.id} needs a human to check it{where}: {escape(post.last_error or '')}"
        )
    return _text_message(f"Your post #{post.id}{where}: {build_report_reply(post)['text']}")


# The edit reply: what changed between two versions

_TOKENS = re.compile(r"\s+|\S+")
# Slack has no escape for its formatting characters; inside a marked span they would end the marking.
_LOOKALIKES = str.maketrans({"*": "∗", "~": "∼", "`": "ˋ"})
_CONTEXT_TOKENS = 8
_PIECE_MAX = 600
_REWRITTEN_BELOW = 0.3


def _mark(text: str, marker: str) -> str:
    """`text` (already escaped) wrapped in `marker` line by line: Slack's ~strike~ and *bold* stop at a
    line break and need no space inside the markers."""
    out = []
    for line in text.split("\n"):
        core = line.strip()
        if not core:
            out.append(line)
            continue
        start = line.index(core)
        out.append(f"{line[:start]}{marker}{core.translate(_LOOKALIKES)}{marker}{line[start + len(core) :]}")
    return "\n".join(out)


def _quote_rendered(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.split("\n"))


def _diff_pieces(old: str, new: str) -> list[tuple[str, bool]]:
    """The changed passages of `new` against `old` as (rendered piece, is a change) in reading order,
    each passage with a little context and ending in a line break: removed words ~struck~, added words
    *bold*, everything escaped. A very long change is cut, so one piece always fits a section."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    pieces: list[tuple[str, bool]] = []
    for group in matcher.get_grouped_opcodes(_CONTEXT_TOKENS):
        pieces.append(("…" if group[0][3] > 0 else "", False))
        for tag, i1, i2, j1, j2 in group:
            removed = truncate(escape("".join(a[i1:i2])), _PIECE_MAX)
            added = truncate(escape("".join(b[j1:j2])), _PIECE_MAX)
            if tag == "equal":
                pieces.append((added, False))
            elif tag == "delete":
                pieces.append((_mark(removed, "~"), True))
            elif tag == "insert":
                pieces.append((_mark(added, "*"), True))
            else:
                gap = "" if removed.endswith((" ", "\n")) else " "
                pieces.append((_mark(removed, "~") + gap + _mark(added, "*"), True))
        pieces.append(("…\n" if group[-1][4] < len(b) else "\n", False))
    return pieces


def _quoted_size(text: str) -> int:
    return len(text) + 2 * (text.count("\n") + 1)


def _text_change(old: str, new: str, *, budget: int) -> list[str]:
    """Section texts showing how the post text changed (empty when it did not), `budget` characters in
    all at most."""
    if old == new:
        return []
    if old.split() == new.split():
        return ["*Text:* only spacing or line breaks changed."]
    if difflib.SequenceMatcher(None, old.split(), new.split(), autojunk=False).ratio() < _REWRITTEN_BELOW:
        return ["*Text:* rewritten. It now reads:\n" + quote(new, limit=min(2800, budget))]
    pieces = _diff_pieces(old, new)
    changes_left = sum(1 for _, change in pieces if change)
    sections: list[str] = []
    title, passage = "*Text changes* (~removed~, *added*):\n", ""
    # Each section keeps room for its title and for a note on what did not fit.
    room = min(SECTION_MAX, budget) - len(title) - 80
    for piece, change in pieces:
        if _quoted_size(passage + piece) > room:
            sections.append(title + _quote_rendered(passage.rstrip("\n") + "…"))
            budget -= len(sections[-1])
            room = min(SECTION_MAX, budget) - 80
            if len(sections) == _DIFF_SECTIONS_MAX or room < 300:
                sections[-1] += f"\n…and {changes_left} more changes."
                return sections
            title, passage = "", "…"
        passage += piece
        changes_left -= change
    sections.append(title + _quote_rendered(passage.rstrip("\n")))
    return sections


def _names(items: Sequence[str]) -> str:
    return truncate(", ".join(escape(i) for i in items), 600)


def _short(text: str | None) -> str:
    return "“" + escape(truncate(" ".join((text or "").split()), 150)) + "”"


def _other_changes(old: PostSnapshot, new: PostSnapshot) -> list[str]:
    lines = []
    old_accounts = {t.key: t.label for t in old.targets}
    new_accounts = {t.key: t.label for t in new.targets}
    added = [label for key, label in new_accounts.items() if key not in old_accounts]
    removed = [label for key, label in old_accounts.items() if key not in new_accounts]
    if added:
        lines.append(f"➕ Accounts added: {_names(added)}")
    if removed:
        lines.append(f"➖ Accounts removed: {_names(removed)}")
    before, after = _requested_when(old), _requested_when(new)
    if before != after:
        lines.append(f"🕒 When: {before} → {after}")
    old_media = {m.slack_file_id or m.url or m.name: m.name for m in old.media}
    new_media = {m.slack_file_id or m.url or m.name: m.name for m in new.media}
    media_added = [name for key, name in new_media.items() if key not in old_media]
    media_removed = [name for key, name in old_media.items() if key not in new_media]
    if media_added or media_removed:
        changes = [f"added {_names(media_added)}"] if media_added else []
        changes += [f"removed {_names(media_removed)}"] if media_removed else []
        lines.append("📎 Media: " + "; ".join(changes))
    elif old.media != new.media:
        lines.append("📎 Media: reordered")
    old_texts, new_texts = dict(old.overrides), dict(new.overrides)
    for network in Network:
        before_text, after_text = old_texts.get(network), new_texts.get(network)
        name = network.display_name
        if before_text == after_text:
            continue
        if before_text is None:
            lines.append(f"📝 {name} now has its own text: {_short(after_text)}")
        elif after_text is None:
            lines.append(f"📝 {name} uses the post text again")
        else:
            lines.append(f"📝 {name}'s own text changed: {_short(after_text)}")
    if old.first_comment != new.first_comment:
        if not new.first_comment:
            lines.append("💬 First comment removed")
        else:
            verb = "added" if not old.first_comment else "changed"
            lines.append(f"💬 First comment {verb}: {_short(new.first_comment)}")
    return lines


def build_edited_reply(*, user_id: str, old: PostSnapshot, new: PostSnapshot) -> Message:
    """What the author changed, readably: the text's changed words, then one line per other change."""
    headline = (
        f"✏️ {mention(user_id)} edited the post (version {old.version} → {new.version}). "
        "Earlier approvals no longer count."
    )
    others = truncate("\n".join(_other_changes(old, new)), SECTION_MAX)
    budget = MESSAGE_TEXT_BUDGET - len(headline) - len(others)
    sections = [headline, *_text_change(old.text, new.text, budget=budget)]
    if others:
        sections.append(others)
    if len(sections) == 1:
        sections.append("Nothing visible changed.")
    blocks = [SectionBlock(text=MarkdownTextObject(text=truncate(s, SECTION_MAX))) for s in sections[:10]]
    return {"text": headline, "blocks": [b.to_dict() for b in blocks]}
