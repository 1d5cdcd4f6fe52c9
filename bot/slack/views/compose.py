"""The modals: compose (new post or edit of one), reject reason, request changes, and reschedule."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
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
from bot.domain.counting import JOINED_CHAIN_NOTE, THREAD_NETWORKS
from bot.domain.model import Account, Draft, Queue
from bot.domain.networks import Network
from bot.domain.rules import MAX_TEXT_LENGTH
from bot.services.directory import ProviderAccounts
from bot.slack.ids import Action, ViewId, WhenChoice
from bot.slack.ids import Block as BlockId
from bot.slack.views.format import escape, truncate
from bot.slack.views.forms import (
    COMMENT_MAX,
    INPUT_MAX,
    PRIVATE_METADATA_MAX,
    find_when_block,
    kept_files_to_metadata,
    override_action_id,
    override_block_id,
    when_block_id,
    when_choice,
)

MODAL_TITLE_MAX = 24
_HINT_NETWORKS = (Network.X, Network.BLUESKY, Network.THREADS, Network.INSTAGRAM, Network.LINKEDIN)
_MAX_OPTIONS = 100


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


def _limits_hint(networks: Sequence[Network]) -> str:
    shown = sorted(set(networks) or set(_HINT_NETWORKS), key=lambda n: (n.text_limit, n.value))
    limits = " · ".join(
        f"{n.display_name} {n.text_limit:,}"
        + (f" ({n.limit_with_media(True):,} with media)" if n.limit_with_media(True) != n.text_limit else "")
        for n in shown
    )
    threads = " or ".join(n.display_name for n in Network if n in THREAD_NETWORKS)
    return (
        f"Limits: {limits} characters. Split a thread for {threads} with a line of ---. {JOINED_CHAIN_NOTE}."
    )


def build_compose_modal(
    *,
    providers: Sequence[ProviderAccounts] | None,
    tz: ZoneInfo,
    now: datetime,
    text: str = "",
    origin_channel: str | None = None,
    draft: Draft | None = None,
    post_id: int | None = None,
    version: int | None = None,
    networks: Sequence[Network] = (),
) -> View:
    """The /post modal. `providers=None` renders it while accounts are still being fetched.

    With `draft` every input starts from it (an edit of post `post_id` at `version`, or a copy), and
    `networks` are the networks offered a text of their own.
    """
    initial_text = draft.text if draft is not None else text
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.TEXT,
            label="Post text",
            element=PlainTextInputElement(
                action_id=Action.TEXT,
                multiline=True,
                max_length=MAX_TEXT_LENGTH,
                initial_value=initial_text[:MAX_TEXT_LENGTH] or None,
                placeholder="What should the post say?",
            ),
            hint=_limits_hint(networks),
        )
    ]
    blocks.extend(_targets_blocks(providers, selected=draft.targets if draft else ()))
    blocks.extend(_media_blocks(draft))
    with_queues = [p for p in providers or () if p.queues]
    when_options = _when_options([p.display_name for p in with_queues])
    blocks.append(_when_block(when_options, _initial_when(when_options, draft), when_block_id()))
    publish_at = draft.publish_at if draft is not None and draft.publish_at else default_publish_time(now, tz)
    blocks.append(
        InputBlock(
            block_id=BlockId.PUBLISH_AT,
            label="Date and time",
            optional=True,
            # Picking a time tells Postgate at once, so the modal can select "At a date and time": a
            # person who picks a time means it, even with "As soon as approved" still selected.
            dispatch_action=True,
            element=DateTimePickerElement(
                action_id=Action.PUBLISH_AT, initial_date_time=int(publish_at.timestamp())
            ),
            hint=f"Picking one selects “At a date and time”. Your Slack time zone: {tz.key}.",
        )
    )
    if with_queues:
        blocks.append(_queue_block(with_queues, selected=draft.queue if draft else None))
    blocks.extend(_override_blocks(networks, draft))
    blocks.append(_first_comment_block(draft))
    editing = post_id is not None
    return View(
        type="modal",
        callback_id=ViewId.COMPOSE,
        title=truncate(f"Edit post #{post_id}", MODAL_TITLE_MAX) if editing else "New post",
        submit="Send for approval",
        close="Cancel",
        blocks=blocks,
        private_metadata=_compose_metadata(
            origin_channel=origin_channel, tz=tz, post_id=post_id, version=version, draft=draft
        ),
    )


def _compose_metadata(
    *, origin_channel: str | None, tz: ZoneInfo, post_id: int | None, version: int | None, draft: Draft | None
) -> str:
    # Only a channel id fits; the field comes from the client's request.
    channel = origin_channel if origin_channel and len(origin_channel) <= 32 else None
    data: dict[str, Any] = {"origin_channel": channel, "tz": tz.key}
    if post_id is not None:
        data |= {"post_id": post_id, "version": version}
    base = json.dumps(data, separators=(",", ":"))
    files = kept_files_to_metadata(draft.media if draft else (), room=PRIVATE_METADATA_MAX - len(base) - 10)
    if files:
        data["files"] = files
    return json.dumps(data, separators=(",", ":"))


def _when_block(options: Sequence[Option], initial: Option, block_id: str) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label="When to publish",
        element=RadioButtonsElement(action_id=Action.WHEN, options=list(options), initial_option=initial),
    )


def with_time_chosen(view: Mapping[str, Any], picked: int) -> View | None:
    """The open compose modal `view` (as Slack sent it) with "At a date and time" selected, or None when it
    is selected already (or the modal has no such choice).

    Everything else is the modal as it stands; Slack keeps what the person typed in every other input
    because their block and action ids do not change.
    """
    state = (view.get("state") or {}).get("values") or {}
    if not isinstance(state, Mapping) or when_choice(state) == WhenChoice.AT_TIME:
        return None
    try:
        return _switched_to_time(view, state, picked)
    except (TypeError, ValueError, AttributeError):
        return None  # not a modal Postgate built: nothing to switch


def _switched_to_time(view: Mapping[str, Any], state: Mapping[str, Any], picked: int) -> View | None:
    current = find_when_block(state)
    blocks: list[Block] = []
    switched = False
    for raw in view.get("blocks") or []:
        if isinstance(raw, Mapping) and raw.get("block_id") == current:
            element = raw.get("element") or {}
            options = Option.parse_all(element.get("options")) or []
            at_time = next((o for o in options if o.value == WhenChoice.AT_TIME), None)
            if at_time is None:
                return None
            blocks.append(_when_block(options, at_time, when_block_id(picked)))
            switched = True
            continue
        block = Block.parse(dict(raw)) if isinstance(raw, Mapping) else None
        if block is not None:
            blocks.append(block)
    if not switched:
        return None
    return View(
        type="modal",
        callback_id=ViewId.COMPOSE,
        title=view.get("title"),
        submit=view.get("submit"),
        close=view.get("close"),
        blocks=blocks,
        private_metadata=view.get("private_metadata"),
    )


def _initial_when(options: Sequence[Option], draft: Draft | None) -> Option:
    wanted: str = WhenChoice.ON_APPROVAL
    if draft is not None and draft.queue is not None:
        wanted = WhenChoice.QUEUE
    elif draft is not None and draft.publish_at is not None:
        wanted = WhenChoice.AT_TIME
    return next((o for o in options if o.value == wanted), options[0])


def _media_blocks(draft: Draft | None) -> list[Block]:
    types = ", ".join(media.ACCEPTED_TYPES.values())
    urls = "\n".join(m.url for m in draft.media if m.url) if draft else ""
    kept = [m for m in draft.media if m.slack_file_id] if draft else []
    blocks: list[Block] = [
        InputBlock(
            block_id=BlockId.MEDIA_FILES,
            label="Images or a video",
            optional=True,
            element=FileInputElement(
                action_id=Action.MEDIA_FILES, filetypes=list(media.FILE_EXTENSIONS), max_files=media.MAX_FILES
            ),
            hint=(
                f"{types}; up to 10 MB each. Instagram and TikTok need media; YouTube needs a video. "
                "Each network's limits on count, size and video length are checked when you submit."
            ),
        )
    ]
    if kept:
        names = ", ".join(escape(m.name) for m in kept)
        blocks.append(
            ContextBlock(
                block_id="media_kept",
                elements=[
                    MarkdownTextObject(
                        text=truncate(
                            f"📎 Attached: {names}. These stay unless you choose new files above, "
                            "which replace them all.",
                            3000,
                        )
                    )
                ],
            )
        )
    blocks.append(
        InputBlock(
            block_id=BlockId.MEDIA_URLS,
            label="…or links to media",
            optional=True,
            element=PlainTextInputElement(
                action_id=Action.MEDIA_URLS,
                multiline=True,
                max_length=INPUT_MAX,
                initial_value=urls[:INPUT_MAX] or None,
                placeholder="https://example.com/launch.mp4 (one per line)",
            ),
            hint="Public https links the provider downloads itself, one per line.",
        )
    )
    return blocks


def _override_blocks(networks: Sequence[Network], draft: Draft | None) -> list[Block]:
    overridden = {network for network, _ in draft.overrides} if draft else set()
    # An override the draft already has stays editable even if its network is no longer offered.
    shown = [n for n in Network if n in set(networks) | overridden]
    if not shown:
        return []
    blocks: list[Block] = [
        ContextBlock(
            block_id="overrides_intro",
            elements=[
                MarkdownTextObject(
                    text="*A different text for one network* (optional): "
                    "leave a box empty to use the post text."
                )
            ],
        )
    ]
    for network in shown:
        initial = draft.override_for(network) if draft else None
        limit = f"{network.display_name} allows {network.text_limit:,} characters"
        if network in THREAD_NETWORKS:
            limit += " a post; split a thread with a line of ---"
        elif (with_media := network.limit_with_media(True)) != network.text_limit:
            limit += f", {with_media:,} with media"
        blocks.append(
            InputBlock(
                block_id=override_block_id(network),
                label=f"Text for {network.display_name} only",
                optional=True,
                element=PlainTextInputElement(
                    action_id=override_action_id(network),
                    multiline=True,
                    max_length=INPUT_MAX,
                    initial_value=initial[:INPUT_MAX] if initial else None,
                ),
                hint=f"{limit}. Empty: the post text is used.",
            )
        )
    return blocks


def _first_comment_block(draft: Draft | None) -> Block:
    initial = draft.first_comment if draft else None
    return InputBlock(
        block_id=BlockId.FIRST_COMMENT,
        label="First comment",
        optional=True,
        element=PlainTextInputElement(
            action_id=Action.FIRST_COMMENT,
            multiline=True,
            max_length=INPUT_MAX,
            initial_value=initial[:INPUT_MAX] if initial else None,
            placeholder="A link or hashtags to put under the post",
        ),
        hint="Posted as the first comment or reply under the post, where the network and provider allow it.",
    )


def _queue_block(providers: Sequence[ProviderAccounts], *, selected: Queue | None) -> Block:
    groups = []
    initial = None
    for p in providers:
        options = []
        for q in p.queues[:_MAX_OPTIONS]:
            option = Option(
                text=truncate(q.name + (" (paused)" if q.paused else ""), 75), value=encode_queue(q)
            )
            if selected is not None and (q.provider, q.queue_id) == (selected.provider, selected.queue_id):
                initial = option
            options.append(option)
        groups.append(OptionGroup(label=truncate(p.display_name, 75), options=options))
    return InputBlock(
        block_id=BlockId.QUEUE,
        label="Queue",
        optional=True,
        element=StaticSelectElement(
            action_id=Action.QUEUE, placeholder="Pick a queue", option_groups=groups, initial_option=initial
        ),
        hint="Used when “Add to a queue” is chosen: the provider picks the queue's next free slot.",
    )


def _offered_accounts(
    providers: Sequence[ProviderAccounts], selected: Sequence[Account]
) -> list[tuple[str, list[Account]]]:
    """(group label, accounts) per provider; selected accounts a provider did not list are added to it, so
    an edit keeps them and Slack accepts them as initial options."""
    wanted = {(a.provider, a.account_id) for a in selected}
    groups: list[tuple[str, list[Account]]] = []
    seen: set[tuple[str, str]] = set()
    names = {p.provider: p.display_name for p in providers}
    for provider in dict.fromkeys([p.provider for p in providers] + [a.provider for a in selected]):
        listed = [a for p in providers if p.provider == provider for a in p.accounts]
        listed += [a for a in selected if a.provider == provider and a not in listed]
        accounts = []
        for account in listed:
            key = (account.provider, account.account_id)
            if key not in seen:
                seen.add(key)
                accounts.append(account)
        if len(accounts) > _MAX_OPTIONS:
            chosen = [a for a in accounts if (a.provider, a.account_id) in wanted]
            others = [a for a in accounts if (a.provider, a.account_id) not in wanted]
            keep = set(map(id, chosen + others[: _MAX_OPTIONS - len(chosen)]))
            accounts = [a for a in accounts if id(a) in keep]
        if accounts:
            groups.append((names.get(provider, provider), accounts))
    return groups


def _targets_blocks(
    providers: Sequence[ProviderAccounts] | None, *, selected: Sequence[Account]
) -> list[Block]:
    if providers is None:
        return [
            SectionBlock(
                block_id="targets_loading", text=MarkdownTextObject(text="⏳ Loading your accounts…")
            )
        ]
    wanted = {(a.provider, a.account_id) for a in selected}
    groups = []
    initial: list[Option] = []
    for label, accounts in _offered_accounts(providers, selected)[:_MAX_OPTIONS]:
        options = []
        for account in accounts:
            option = account_option(account)
            if (account.provider, account.account_id) in wanted:
                initial.append(option)
            options.append(option)
        groups.append(OptionGroup(label=truncate(label, 75), options=options))
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
                    action_id=Action.TARGETS,
                    placeholder="Pick accounts",
                    option_groups=groups,
                    initial_options=initial or None,
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


def _decision_metadata(post_id: int, version: int | None) -> str:
    return json.dumps({"post_id": post_id, "version": version}, separators=(",", ":"))


def build_reject_modal(*, post_id: int, version: int | None = None) -> View:
    return View(
        type="modal",
        callback_id=ViewId.REJECT_REASON,
        title=truncate(f"Reject post #{post_id}", MODAL_TITLE_MAX),
        submit="Reject",
        close="Cancel",
        private_metadata=_decision_metadata(post_id, version),
        blocks=[
            InputBlock(
                block_id=BlockId.REJECT_REASON,
                label="Why? The author will see this.",
                element=PlainTextInputElement(
                    action_id=Action.REJECT_REASON, multiline=True, max_length=COMMENT_MAX
                ),
            )
        ],
    )


def build_request_changes_modal(*, post_id: int, version: int | None) -> View:
    return View(
        type="modal",
        callback_id=ViewId.REQUEST_CHANGES,
        title=truncate(f"Changes to post #{post_id}", MODAL_TITLE_MAX),
        submit="Request changes",
        close="Cancel",
        private_metadata=_decision_metadata(post_id, version),
        blocks=[
            InputBlock(
                block_id=BlockId.CHANGES_COMMENT,
                label="What should change? The author will see this.",
                element=PlainTextInputElement(
                    action_id=Action.CHANGES_COMMENT,
                    multiline=True,
                    max_length=COMMENT_MAX,
                    placeholder="e.g. Shorten the X text and add the launch link",
                ),
                hint="The post goes back to its author; approvals start over once it is edited.",
            )
        ],
    )


def build_reschedule_modal(
    *, post_id: int, version: int | None, current: datetime | None, tz: ZoneInfo, now: datetime
) -> View:
    """Pick a new publishing time; starts from the current one while it is still ahead."""
    initial = current if current is not None and current > now + timedelta(minutes=1) else None
    initial = initial or default_publish_time(now, tz)
    return View(
        type="modal",
        callback_id=ViewId.RESCHEDULE,
        title=truncate(f"New time for post #{post_id}", MODAL_TITLE_MAX),
        submit="Reschedule",
        close="Cancel",
        private_metadata=_decision_metadata(post_id, version),
        blocks=[
            InputBlock(
                block_id=BlockId.NEW_TIME,
                label="Publish at",
                element=DateTimePickerElement(
                    action_id=Action.NEW_TIME, initial_date_time=int(initial.timestamp())
                ),
                hint=f"Your Slack time zone: {tz.key}.",
            )
        ],
    )
