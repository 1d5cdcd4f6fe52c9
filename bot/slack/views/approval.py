"""The approval message (root, always showing the current state), its thread replies, and author DMs."""

from __future__ import annotations

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

from bot.domain.model import PostStatus
from bot.services.snapshot import PostSnapshot, ResultView
from bot.slack.ids import Action
from bot.slack.ids import Block as BlockId
from bot.slack.views.format import escape, quote, slack_date, truncate

Message = dict[str, Any]

_STATUS_LINES = {
    PostStatus.PENDING_APPROVAL: "⏳ *Waiting for approval*",
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


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def when_text(post: PostSnapshot) -> str:
    waiting_for_slot = post.status in (
        PostStatus.PENDING_APPROVAL,
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


def status_line(post: PostSnapshot) -> str:
    line = _STATUS_LINES[post.status]
    if post.status is PostStatus.PENDING_APPROVAL:
        approvals = ", ".join(mention(u) for u in post.approvals)
        line += f" · {len(post.approvals)} of {post.required_approvals} approvals"
        if approvals:
            line += f": {approvals}"
    elif post.status in (PostStatus.APPROVED, PostStatus.PUBLISHING, PostStatus.SUBMITTED):
        approvers = ", ".join(mention(u) for u in post.approvals)
        line += f" by {approvers}" if post.status is PostStatus.APPROVED else f" · approved by {approvers}"
        if post.status is PostStatus.APPROVED and post.publish_at is not None:
            line += f" · publishing {slack_date(post.publish_at)}"
    elif post.status is PostStatus.REJECTED and post.rejected_by:
        line += f" by {mention(post.rejected_by)}"
    elif post.status in (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED, PostStatus.FAILED):
        live = sum(1 for r in post.results if r.status == "published")
        if post.results:
            line += f" · live on {live} of {len(post.results)} accounts"
        if post.finished_at is not None:
            line += f" · {slack_date(post.finished_at)}"
    return line


def build_root_message(post: PostSnapshot) -> Message:
    """The approval request; rebuilt from the post's state every time it changes."""
    targets = "\n".join(escape(t.label) for t in post.targets) or "—"
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*Post #{post.id}* from {mention(post.author_id)}\n{status_line(post)}"
            )
        ),
        SectionBlock(text=MarkdownTextObject(text=quote(post.text))),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=truncate(f"*Accounts*\n{targets}", 2000)),
                MarkdownTextObject(text=f"*When*\n{when_text(post)}"),
            ]
        ),
    ]
    if post.media:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(media_text(post), 2900))))
    if post.status is PostStatus.REJECTED and post.rejection_reason:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text="*Reason*\n" + quote(post.rejection_reason, limit=1500))
            )
        )
    if post.results and post.status.is_final:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(results_text(post.results), 2900))))
    if post.status is PostStatus.NEEDS_ATTENTION and post.last_error:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(escape(post.last_error), 2900))))
    if post.status is PostStatus.PENDING_APPROVAL:
        blocks.append(
            ActionsBlock(
                block_id=BlockId.DECISION_ACTIONS,
                elements=[
                    ButtonElement(
                        text="Approve", action_id=Action.APPROVE, value=str(post.id), style="primary"
                    ),
                    ButtonElement(
                        text="Reject",
                        action_id=Action.REJECT,
                        value=str(post.id),
                        style="danger",
                    ),
                ],
            )
        )
    if post.status in (PostStatus.APPROVED, PostStatus.SUBMITTED):
        blocks.append(
            ActionsBlock(
                block_id=BlockId.POST_ACTIONS,
                elements=[
                    ButtonElement(
                        text="Cancel post",
                        action_id=Action.CANCEL,
                        value=str(post.id),
                        style="danger",
                        confirm=ConfirmObject(
                            title="Cancel this post?",
                            text="Postgate withdraws it from the provider if it is not out yet.",
                            confirm="Cancel the post",
                            deny="Keep it",
                        ),
                    )
                ],
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Post #{post.id} · version {post.version} · drafted {slack_date(post.created_at)}"
                )
            ]
        )
    )
    fallback = (
        f"Post #{post.id} from {mention(post.author_id)}: {_STATUS_LINES[post.status].replace('*', '')}"
    )
    return {"text": fallback, "blocks": [b.to_dict() for b in blocks]}


def media_text(post: PostSnapshot) -> str:
    items = []
    for item in post.media:
        name = escape(item.name)
        shown = f"<{item.url}|{name}>" if item.url else name
        items.append(f"{shown} ({item.kind.value})")
    return "*Media*\n📎 " + ", ".join(items)


def results_text(results: tuple[ResultView, ...]) -> str:
    lines = []
    for result in results:
        label = escape(result.target.label)
        if result.status == "published":
            link = f"<{result.url}|view post>" if result.url else "live (the provider gave no link)"
            lines.append(f"✅ {label}: {link}")
        elif result.status == "failed":
            lines.append(f"❌ {label}: {escape(result.error or 'failed without a reason')}")
        elif result.status == "cancelled":
            lines.append(f"🗑️ {label}: {escape(result.error or 'cancelled before publishing')}")
        else:
            lines.append(f"⏳ {label}: still publishing")
    return "\n".join(lines)


def _text_message(text: str) -> Message:
    return {
        "text": text,
        "blocks": [SectionBlock(text=MarkdownTextObject(text=truncate(text, 3000))).to_dict()],
    }


def build_approval_recorded(*, approver: str, approvals: int, required: int) -> Message:
    return _text_message(f"👍 {mention(approver)} approved ({approvals} of {required} approvals).")


def build_approved_reply(post: PostSnapshot, *, approver: str) -> Message:
    when = "now" if post.requested_time is None else slack_date(post.publish_at or post.requested_time)
    return _text_message(f"✅ {mention(approver)} approved this post. It will be published {when}.")


def build_rejected_reply(*, user_id: str, reason: str) -> Message:
    return _text_message(f"🚫 {mention(user_id)} rejected this post.\n*Reason*\n{quote(reason, limit=2500)}")


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
        "at the provider; if it is not there, draft it again with `/post`."
    )


def build_author_confirmation(post: PostSnapshot) -> Message:
    where = (
        f"<{post.permalink}|in <#{post.approval_channel_id}>>"
        if post.permalink
        else f"in <#{post.approval_channel_id}>"
    )
    return _text_message(
        f"📝 Your post #{post.id} is waiting for approval {where}. You will hear from me when it is decided."
    )


def build_author_update(post: PostSnapshot) -> Message:
    link = f" (<{post.permalink}|thread>)" if post.permalink else ""
    if post.status is PostStatus.REJECTED:
        reason = (
            f"\n*Reason*\n{quote(post.rejection_reason or '', limit=2000)}" if post.rejection_reason else ""
        )
        return _text_message(
            f"🚫 Your post #{post.id} was rejected by {mention(post.rejected_by or '')}{link}.{reason}"
        )
    if post.status is PostStatus.APPROVED:
        when = "now" if post.requested_time is None else slack_date(post.publish_at or post.requested_time)
        return _text_message(f"✅ Your post #{post.id} was approved{link}. It will be published {when}.")
    if post.status is PostStatus.CANCELLED:
        return _text_message(f"🗑️ Your post #{post.id} was cancelled{link}; nothing was published.")
    if post.status is PostStatus.NEEDS_ATTENTION:
        return _text_message(
            f"🛑 Your post #{post.id} needs a human to check it{link}: {escape(post.last_error or '')}"
        )
    return _text_message(f"Your post #{post.id}{link}: {build_report_reply(post)['text']}")
