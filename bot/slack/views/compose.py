"""The compose modal, and the reject-reason modal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.blocks.block_elements import FileInputElement
from slack_sdk.models.views import View

from bot.domain import media
from bot.domain.model import Account, Queue
from bot.domain.rules import MAX_TEXT_LENGTH
from bot.slack.ids import Action, ViewId, WhenChoice
from bot.slack.ids import Block as BlockId
from bot.slack.views.format import escape, truncate


@dataclass(frozen=True)
class ProviderAccounts:
    """The accounts one provider offered, or why it could not list them."""

    provider: str
    display_name: str
    accounts: tuple[Account, ...] = ()
    failure: str | None = None
    queues: tuple[Queue, ...] = ()


def encode_account(account: Account) -> str:
    return "|".join((account.provider, account.network.value, account.account_id))


def account_option(account: Account) -> Option:
    label = account.label + (" ⚠️" if account.warning else "")
    return Option(text=truncate(label, 75), value=encode_account(account))


def encode_queue(queue: Queue) -> str:
    return "|".join((queue.provider, queue.queue_id))


def _when_options(queue_providers: Sequence[str] = ()) -> list[Option]:
    options = [
        Option(text="As soon as approved", value=WhenChoice.ON_APPROVAL),
        Option(text="At a date and time", value=WhenChoice.AT_TIME),
    ]
    if queue_providers:
        names = " or ".join(queue_providers)
        options.append(Option(text=truncate(f"Add to a {names} queue", 75), value=WhenChoice.QUEUE))
    return options


def default_publish_time(now: datetime, tz: ZoneInfo) -> datetime:
    """The next full hour at least 30 minutes ahead, in the author's zone."""
    local = (now + timedelta(minutes=30)).astimezone(tz)
    return (local + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def build_compose_modal(
    *,
    providers: Sequence[ProviderAccounts] | None,
    tz: ZoneInfo,
    now: datetime,
    text: str = "",
    origin_channel: str | None = None,
) -> View:
    """The /post modal. `providers=None` renders it while accounts are still being fetched."""
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.TEXT,
            label="Post text",
            element=PlainTextInputElement(
                action_id=Action.TEXT,
                multiline=True,
                max_length=MAX_TEXT_LENGTH,
                initial_value=text[:MAX_TEXT_LENGTH] or None,
                placeholder="What should the post say?",
            ),
            hint="Limits: X 280 · Bluesky 300 · Threads 500 · Instagram 2,200 · LinkedIn 3,000 characters.",
        )
    ]
    blocks.extend(_targets_blocks(providers))
    blocks.extend(_media_blocks())
    with_queues = [p for p in providers or () if p.queues]
    when_options = _when_options([p.display_name for p in with_queues])
    blocks.append(
        InputBlock(
            block_id=BlockId.WHEN,
            label="When to publish",
            element=RadioButtonsElement(
                action_id=Action.WHEN, options=when_options, initial_option=when_options[0]
            ),
        )
    )
    blocks.append(
        InputBlock(
            block_id=BlockId.PUBLISH_AT,
            label="Date and time",
            optional=True,
            element=DateTimePickerElement(
                action_id=Action.PUBLISH_AT, initial_date_time=int(default_publish_time(now, tz).timestamp())
            ),
            hint=f"Used when “At a date and time” is chosen. Your Slack time zone: {tz.key}.",
        )
    )
    if with_queues:
        blocks.append(_queue_block(with_queues))
    metadata = json.dumps({"origin_channel": origin_channel, "tz": tz.key}, separators=(",", ":"))
    return View(
        type="modal",
        callback_id=ViewId.COMPOSE,
        title="New post",
        submit="Send for approval",
        close="Cancel",
        blocks=blocks,
        private_metadata=metadata,
    )


def _media_blocks() -> list[Block]:
    types = ", ".join(media.ACCEPTED_TYPES.values())
    return [
        InputBlock(
            block_id=BlockId.MEDIA_FILES,
            label="Images or a video",
            optional=True,
            element=FileInputElement(
                action_id=Action.MEDIA_FILES, filetypes=list(media.FILE_EXTENSIONS), max_files=media.MAX_FILES
            ),
            hint=f"{types}; up to 10 MB each. Instagram and TikTok need media; YouTube needs a video.",
        ),
        InputBlock(
            block_id=BlockId.MEDIA_URLS,
            label="…or links to media",
            optional=True,
            element=PlainTextInputElement(
                action_id=Action.MEDIA_URLS,
                multiline=True,
                max_length=3000,
                placeholder="https://example.com/launch.mp4 (one per line)",
            ),
            hint="Public https links the provider downloads itself, one per line.",
        ),
    ]


def _queue_block(providers: Sequence[ProviderAccounts]) -> Block:
    groups = [
        OptionGroup(
            label=truncate(p.display_name, 75),
            options=[
                Option(text=truncate(q.name + (" (paused)" if q.paused else ""), 75), value=encode_queue(q))
                for q in p.queues[:100]
            ],
        )
        for p in providers
    ]
    return InputBlock(
        block_id=BlockId.QUEUE,
        label="Queue",
        optional=True,
        element=StaticSelectElement(action_id=Action.QUEUE, placeholder="Pick a queue", option_groups=groups),
        hint="Used when “Add to a queue” is chosen: the provider picks the queue's next free slot.",
    )


def _targets_blocks(providers: Sequence[ProviderAccounts] | None) -> list[Block]:
    if providers is None:
        return [
            SectionBlock(
                block_id="targets_loading", text=MarkdownTextObject(text="⏳ Loading your accounts…")
            )
        ]
    groups = [
        OptionGroup(label=truncate(p.display_name, 75), options=[account_option(a) for a in p.accounts[:100]])
        for p in providers
        if p.accounts
    ]
    notes = [
        f"⚠️ *{escape(p.display_name)}* did not answer, so its accounts are not listed: {escape(p.failure)}"
        for p in providers
        if p.failure
    ]
    notes += [
        f"⚠️ {escape(a.label)} ({escape(p.display_name)}): {escape(a.warning)}"
        for p in providers
        for a in p.accounts
        if a.warning
    ]
    if not providers:
        notes.append("No publishing provider is configured. Ask whoever runs Postgate to add one.")
    blocks: list[Block] = []
    if groups:
        blocks.append(
            InputBlock(
                block_id=BlockId.TARGETS,
                label="Publish to",
                element=StaticMultiSelectElement(
                    action_id=Action.TARGETS, placeholder="Pick accounts", option_groups=groups[:100]
                ),
            )
        )
    elif providers:
        notes.append(
            "There is no account to publish to yet. Connect one at your provider, then run `/post` again."
        )
    if notes:
        blocks.append(
            ContextBlock(
                block_id="targets_notes",
                elements=[MarkdownTextObject(text=truncate(n, 3000)) for n in notes[:10]],
            )
        )
    return blocks


def build_reject_modal(*, post_id: int) -> View:
    return View(
        type="modal",
        callback_id=ViewId.REJECT_REASON,
        title=f"Reject post #{post_id}"[:24],
        submit="Reject",
        close="Cancel",
        private_metadata=json.dumps({"post_id": post_id}),
        blocks=[
            InputBlock(
                block_id=BlockId.REJECT_REASON,
                label="Why? The author will see this.",
                element=PlainTextInputElement(
                    action_id=Action.REJECT_REASON, multiline=True, max_length=2000
                ),
            )
        ],
    )
