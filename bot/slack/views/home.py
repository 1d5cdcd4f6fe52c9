"""The App Home tab: what waits for the viewer's approval, their own drafts, the schedule by day, what went
out lately and what needs a human, each section capped so the tab stays within Slack's 100 blocks; for
admins, the Slack messages Postgate could not deliver.

Also the one-line renderings of a post (its link, first line, results) that the digest, the history modal
and `/post list` share with the Home tab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.clock import as_utc
from bot.domain.model import PostStatus
from bot.domain.workspace import WEEKDAYS
from bot.services.home import HomeData, HomeSection
from bot.services.outbox import Kind
from bot.services.snapshot import PostSnapshot, ResultView
from bot.services.undelivered import UndeliveredMessage
from bot.slack.ids import Action
from bot.slack.views.approval import status_line, when_text
from bot.slack.views.format import channel, escape, link, mention, slack_date, truncate
from bot.slack.views.forms import button_value

SECTION_TEXT_MAX = 3000
#: How many posts each section shows before it says how many more there are. With the blocks per post
#: (two where a post has buttons) these keep the whole tab under Slack's 100 blocks at any list size.
AWAITING_CAP = 8
MINE_CAP = 8
SCHEDULE_CAP = 10
RECENT_CAP = 8
ATTENTION_CAP = 6
#: Admins see this many of the Slack messages Postgate gave up on; `postgate outbox` lists them all.
UNDELIVERED_CAP = 5
UNDELIVERED_SUMMARY_MAX = 120
FIRST_LINE_MAX = 80
ERROR_MAX = 400
RECENT_TEXT_MAX = 1500
SCHEDULE_DAYS = 7

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- one-line renderings shared by Home, the digest and the history modal -------------------------------


def escaped(text: str, limit: int) -> str:
    """Untrusted `text` escaped for mrkdwn and cut to at most `limit` characters."""
    return truncate(escape(text), limit)


def first_line(text: str, limit: int = FIRST_LINE_MAX) -> str:
    """The post's first non-empty line, escaped and shortened."""
    line = next((candidate.strip() for candidate in text.splitlines() if candidate.strip()), "")
    return escaped(line, limit)


def web_link(url: str | None, label: str) -> str | None:
    """A mrkdwn link to an outside page, or None when `url` is not a plain web address."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    return link(url, label)


def post_link(post: PostSnapshot) -> str:
    """`#12`, linked to the post's approval thread when Slack gave a permalink."""
    return web_link(post.permalink, f"#{post.id}") or f"#{post.id}"


def post_time(post: PostSnapshot) -> datetime | None:
    return post.publish_at or post.requested_time


def day_label(day: date, today: date) -> str:
    if day == today:
        return "Today"
    if day == today + timedelta(days=1):
        return "Tomorrow"
    return f"{WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def fitting(lines: Sequence[str], limit: int) -> list[str]:
    """The first `lines` that, joined by newlines, fit in `limit` characters."""
    kept: list[str] = []
    used = -1
    for line in lines:
        if used + 1 + len(line) > limit:
            break
        kept.append(line)
        used += 1 + len(line)
    return kept


def within(lines: Sequence[str], limit: int, *, more: Callable[[int], str]) -> str:
    """`lines` joined by newlines, as many as fit in `limit` characters, then `more(the number left out)`."""
    kept = fitting(lines, limit)
    if len(kept) == len(lines):
        return "\n".join(kept)
    # Make room for the note, which can only get shorter as more lines are left out.
    kept = fitting(lines, limit - len(more(len(lines))) - 1)
    return "\n".join([*kept, more(len(lines) - len(kept))])


def results_links(results: Sequence[ResultView]) -> list[str]:
    lines = []
    for result in results:
        label = escaped(result.target.label, 80)
        if result.status == "published":
            lines.append(f"✅ {label}: {web_link(result.url, 'view post') or 'live'}")
        elif result.status == "failed":
            lines.append(f"❌ {label}: failed")
        elif result.status == "cancelled":
            lines.append(f"🗑️ {label}: cancelled")
        else:
            lines.append(f"⏳ {label}: still publishing")
    return lines


def undelivered_what(message: UndeliveredMessage) -> str:
    """What an undelivered message was, e.g. "thread reply: ✅ @ana approved this post…" (mrkdwn)."""
    summary = ""
    if message.text:
        line = next((part.strip() for part in message.text.splitlines() if part.strip()), "")
        # Postgate's own mrkdwn, as it was to be posted: cut without breaking a token, not escaped again.
        summary = truncate(line, UNDELIVERED_SUMMARY_MAX)
    to = mention(message.recipient) if message.recipient else "the author"
    where = channel(message.recipient) if message.recipient else "the approval channel"
    if message.kind is Kind.APPROVAL_REQUEST:
        return f"approval request in {where}"
    if message.kind is Kind.ROOT_REFRESH:
        return "approval message update"
    if message.kind is Kind.AUTHOR_CONFIRMATION:
        return f"DM to {to}: your post is waiting for approval"
    if message.kind is Kind.DM:
        return f"DM to {to}: {summary}"
    if message.kind is Kind.CHANNEL:
        return f"message in {where}: {summary}"
    return f"thread reply: {summary}"


def error_text(post: PostSnapshot) -> str:
    errors = [post.last_error] if post.last_error else []
    errors += [
        f"{r.target.label}: {r.error}" for r in post.results if r.status == "failed" and r.error is not None
    ]
    return escaped("; ".join(errors), ERROR_MAX) if errors else "No reason was given."


# --- the tab ----------------------------------------------------------------------------------------------


def build_home(data: HomeData) -> View:
    updated = slack_date(data.now)
    blocks: list[Block] = [
        HeaderBlock(text="Postgate"),
        ContextBlock(
            elements=[MarkdownTextObject(text=f"Type `/post` anywhere to draft a post. · Updated {updated}")]
        ),
        ActionsBlock(elements=_top_buttons(data.is_admin)),
    ]
    if data.notes:
        notes = "\n".join(f"ℹ️ {escaped(note, 500)}" for note in data.notes)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=truncate(notes, SECTION_TEXT_MAX))]))
    blocks.extend(_undelivered_section(data))
    blocks.append(DividerBlock())
    sections = [
        _awaiting_section(data),
        _mine_section(data),
        _schedule_section(data),
        _recent_section(data),
        _attention_section(data),
    ]
    for index, section in enumerate(sections):
        if index:
            blocks.append(DividerBlock())
        blocks.extend(section)
    return View(type="home", blocks=blocks)


def _top_buttons(is_admin: bool) -> list[ButtonElement]:
    buttons = [ButtonElement(text="Refresh", action_id=Action.HOME_REFRESH, value="refresh")]
    if is_admin:
        buttons.append(ButtonElement(text="Settings", action_id=Action.OPEN_SETTINGS, value="settings"))
    return buttons


def _total(data: HomeData, key: HomeSection, shown: Sequence[PostSnapshot]) -> int:
    return max(data.counts.get(key, 0), len(shown))


def _section(*, title: str, total: int, shown: int, items: list[Block], empty: str) -> list[Block]:
    heading = f"*{title}* ({total})" if total else f"*{title}*\n_{empty}_"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=heading))]
    blocks.extend(items)
    if total > shown:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=f"and {total - shown:,} more — use `/post list`")])
        )
    return blocks


def _text(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_TEXT_MAX)))


def _undelivered_section(data: HomeData) -> list[Block]:
    found = data.undelivered
    if not data.is_admin or found is None or found.total == 0:
        return []
    shown = found.latest[:UNDELIVERED_CAP]
    noun = "message" if found.total == 1 else "messages"
    heading = f"⚠️ *{found.total:,} Slack {noun} could not be delivered*"
    lines = []
    for message in shown:
        post = "no post"
        if message.post_id is not None:
            post = web_link(message.permalink, f"#{message.post_id}") or f"#{message.post_id}"
            if message.post_text:
                post += f" “{first_line(message.post_text, 60)}”"
        lines.append(
            f"• `{message.id}` {post} · {undelivered_what(message)} · {slack_date(message.given_up_at)}\n"
            f"      {escaped(message.reason, ERROR_MAX)}"
        )
    body = within(lines, SECTION_TEXT_MAX - len(heading) - 1, more=lambda n: f"…and {n} more")
    note = (
        "Once the cause is fixed, resend one with `postgate outbox resend ID`; "
        "`postgate outbox` lists them all."
    )
    if found.total > len(shown):
        note = f"and {found.total - len(shown):,} more. {note}"
    return [_text(f"{heading}\n{body}"), ContextBlock(elements=[MarkdownTextObject(text=note)])]


def _awaiting_section(data: HomeData) -> list[Block]:
    posts = data.awaiting_me[:AWAITING_CAP]
    items: list[Block] = []
    for post in posts:
        progress = f" · {len(post.approvals)} of {post.required_approvals} approvals"
        items.append(
            _text(
                f"{post_link(post)} from {mention(post.author_id)} · {when_text(post)}{progress}\n"
                f"“{first_line(post.text)}”"
            )
        )
        value = button_value(post.id, post.version)
        items.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Approve", action_id=Action.APPROVE, value=value, style="primary"),
                    ButtonElement(text="Request changes", action_id=Action.REQUEST_CHANGES, value=value),
                    ButtonElement(text="Reject", action_id=Action.REJECT, value=value, style="danger"),
                ]
            )
        )
    return _section(
        title="Waiting for your approval",
        total=_total(data, HomeSection.AWAITING_ME, data.awaiting_me),
        shown=len(posts),
        items=items,
        empty="Nothing waits for you.",
    )


def _mine_section(data: HomeData) -> list[Block]:
    posts = data.mine[:MINE_CAP]
    items: list[Block] = []
    for post in posts:
        text = f"{post_link(post)} “{first_line(post.text)}” · {when_text(post)}\n{status_line(post)}"
        if post.status is PostStatus.CHANGES_REQUESTED and post.changes_comment:
            text += f"\n💬 {escaped(post.changes_comment, 300)}"
        items.append(_text(text))
        buttons = []
        if post.status in (PostStatus.CHANGES_REQUESTED, PostStatus.MISSED):
            buttons.append(
                ButtonElement(
                    text="Edit",
                    action_id=Action.EDIT,
                    value=button_value(post.id, post.version),
                    style="primary",
                )
            )
        buttons.append(
            ButtonElement(text="History", action_id=Action.HISTORY, value=button_value(post.id, post.version))
        )
        items.append(ActionsBlock(elements=buttons))
    return _section(
        title="Your drafts",
        total=_total(data, HomeSection.MINE, data.mine),
        shown=len(posts),
        items=items,
        empty="No drafts of yours are waiting. Type `/post` to write one.",
    )


def _schedule_section(data: HomeData) -> list[Block]:
    posts = data.schedule[:SCHEDULE_CAP]
    today = data.now.astimezone(data.tz).date()
    days: dict[str, list[str]] = {}
    for post in posts:
        moment = post_time(post)
        if moment is None:
            label, when = "No fixed time yet", when_text(post)
        else:
            label = day_label(as_utc(moment).astimezone(data.tz).date(), today)
            when = slack_date(moment, style="{time}")
        networks = ", ".join(
            dict.fromkeys(t.network.display_name if t.network else t.provider for t in post.targets)
        )
        days.setdefault(label, []).append(
            f"• {when} · {post_link(post)} “{first_line(post.text, 60)}” · {escaped(networks, 80)}"
        )
    items: list[Block] = []
    for label, lines in days.items():
        heading = f"*{label}*\n"
        body = within(lines, SECTION_TEXT_MAX - len(heading), more=lambda n: f"…and {n} more that day")
        items.append(_text(heading + body))
    return _section(
        title=f"Schedule · next {SCHEDULE_DAYS} days",
        total=_total(data, HomeSection.SCHEDULE, data.schedule),
        shown=len(posts),
        items=items,
        empty="Nothing is scheduled.",
    )


def _recent_section(data: HomeData) -> list[Block]:
    posts = data.recent[:RECENT_CAP]
    items: list[Block] = []
    for post in posts:
        finished = f" · {slack_date(post.finished_at)}" if post.finished_at else ""
        head = f"{post_link(post)} “{first_line(post.text)}”{finished}"
        if post.status is PostStatus.PARTIALLY_PUBLISHED:
            head += " · ⚠️ partly published"
        links = results_links(post.results)
        body = (
            within(links, RECENT_TEXT_MAX - len(head) - 1, more=lambda n: f"…and {n} more accounts")
            or "_The provider gave no links._"
        )
        items.append(_text(f"{head}\n{body}"))
    return _section(
        title="Recently published",
        total=_total(data, HomeSection.RECENT, data.recent),
        shown=len(posts),
        items=items,
        empty="Nothing was published lately.",
    )


def _attention_section(data: HomeData) -> list[Block]:
    posts = data.attention[:ATTENTION_CAP]
    items: list[Block] = []
    for post in posts:
        items.append(
            _text(
                f"{post_link(post)} “{first_line(post.text)}” by {mention(post.author_id)}\n"
                f"{status_line(post)}\n{error_text(post)}"
            )
        )
        items.append(ActionsBlock(elements=[_retry_button(post), _edit_button(post)]))
    return _section(
        title="Needs attention",
        total=_total(data, HomeSection.ATTENTION, data.attention),
        shown=len(posts),
        items=items,
        empty="Nothing failed.",
    )


def _retry_button(post: PostSnapshot) -> ButtonElement:
    if post.status is PostStatus.NEEDS_ATTENTION:
        # Postgate could not tell whether the provider published it; a blind retry may post it twice.
        warning = (
            "Postgate could not tell whether this post went out. Check the accounts at the provider first: "
            "if it is there, retrying publishes it twice."
        )
    else:
        warning = "Postgate publishes the approved version again, now."
    return ButtonElement(
        text="Retry",
        action_id=Action.RETRY,
        value=button_value(post.id, post.version),
        confirm=ConfirmObject(
            title="Publish this post again?", text=warning, confirm="Retry", deny="Not now"
        ),
    )


def _edit_button(post: PostSnapshot) -> ButtonElement:
    return ButtonElement(text="Edit", action_id=Action.EDIT, value=button_value(post.id, post.version))
