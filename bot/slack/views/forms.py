"""Reading modal submissions: Slack's `view.state.values` → typed input, and validation errors → block ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import media
from bot.domain.model import Account, Draft, MediaItem, Queue
from bot.domain.networks import Network
from bot.domain.rules import DraftField
from bot.slack.ids import Action, Block, WhenChoice

_ERROR_BLOCKS = {
    DraftField.TEXT: Block.TEXT,
    DraftField.TARGETS: Block.TARGETS,
    DraftField.WHEN: Block.WHEN,
    DraftField.PUBLISH_AT: Block.PUBLISH_AT,
    DraftField.QUEUE: Block.QUEUE,
    DraftField.MEDIA: Block.MEDIA_FILES,
    DraftField.MEDIA_URLS: Block.MEDIA_URLS,
}


@dataclass(frozen=True)
class ComposeInput:
    draft: Draft
    wants_time: bool
    has_targets_input: bool
    origin_channel: str | None
    wants_queue: bool = False
    url_problems: tuple[str, ...] = ()


def _value(values: Mapping[str, Any], block: str, action: str) -> Mapping[str, Any]:
    entry = values.get(block, {}).get(action, {})
    return entry if isinstance(entry, Mapping) else {}


def decode_account(value: str, label: str) -> Account | None:
    provider, _, rest = value.partition("|")
    network_name, _, account_id = rest.partition("|")
    network = Network.parse(network_name)
    if not provider or network is None or not account_id:
        return None
    # The option label reads "<Network> · <name>"; keep the name part.
    name = label.split(" · ", 1)[1] if " · " in label else label
    return Account(provider=provider, account_id=account_id, network=network, name=name.removesuffix(" ⚠️"))


def parse_compose(view: Mapping[str, Any]) -> ComposeInput:
    values = view.get("state", {}).get("values", {})
    text = _value(values, Block.TEXT, Action.TEXT).get("value") or ""
    selected = _value(values, Block.TARGETS, Action.TARGETS).get("selected_options") or []
    targets = []
    for option in selected:
        account = decode_account(str(option.get("value", "")), str(option.get("text", {}).get("text", "")))
        if account is not None:
            targets.append(account)
    when = (_value(values, Block.WHEN, Action.WHEN).get("selected_option") or {}).get("value")
    raw_time = _value(values, Block.PUBLISH_AT, Action.PUBLISH_AT).get("selected_date_time")
    wants_time = when == WhenChoice.AT_TIME
    wants_queue = when == WhenChoice.QUEUE
    publish_at = None
    if wants_time and isinstance(raw_time, int | float):
        publish_at = datetime.fromtimestamp(int(raw_time), UTC)
    files = [_file_item(f) for f in _value(values, Block.MEDIA_FILES, Action.MEDIA_FILES).get("files") or []]
    urls, url_problems = media.parse_media_urls(
        str(_value(values, Block.MEDIA_URLS, Action.MEDIA_URLS).get("value") or "")
    )
    queue = _queue(_value(values, Block.QUEUE, Action.QUEUE).get("selected_option")) if wants_queue else None
    metadata = _metadata(view)
    draft = Draft(
        text=str(text),
        targets=tuple(dict.fromkeys(targets)),
        publish_at=publish_at,
        media=tuple(f for f in files if f is not None) + tuple(urls),
        queue=queue,
    )
    return ComposeInput(
        draft=draft,
        wants_queue=wants_queue,
        url_problems=tuple(url_problems),
        wants_time=wants_time,
        has_targets_input=Block.TARGETS in values,
        origin_channel=metadata.get("origin_channel")
        if isinstance(metadata.get("origin_channel"), str)
        else None,
    )


def _file_item(raw: Any) -> MediaItem | None:
    """A file the author attached, as Slack described it in the submission (downloaded only at publishing)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None
    name = str(raw.get("name") or raw.get("title") or raw["id"])
    size = raw.get("size")
    mime = raw.get("mimetype")
    return MediaItem(
        name=name,
        mime_type=mime if isinstance(mime, str) and mime else media.guess_type(name),
        size=size if isinstance(size, int) else None,
        slack_file_id=raw["id"],
    )


def _queue(option: Any) -> Queue | None:
    if not isinstance(option, Mapping):
        return None
    provider, _, queue_id = str(option.get("value", "")).partition("|")
    if not provider or not queue_id:
        return None
    label = str((option.get("text") or {}).get("text", queue_id))
    return Queue(provider=provider, queue_id=queue_id, name=label.removesuffix(" (paused)"))


def errors_for_slack(errors: Mapping[DraftField, str], *, has_targets_input: bool) -> dict[str, str]:
    """Validation errors keyed by the block that shows them (an input block; Slack shows nothing else)."""
    mapped: dict[str, str] = {}
    for field, message in errors.items():
        block = _ERROR_BLOCKS[field]
        if block == Block.TARGETS and not has_targets_input:
            block = Block.TEXT
            message = "There is no account to publish to. " + message
        mapped[block] = mapped[block] + " " + message if block in mapped else message
    return mapped


def _metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_reject(view: Mapping[str, Any]) -> tuple[int | None, str]:
    values = view.get("state", {}).get("values", {})
    reason = str(_value(values, Block.REJECT_REASON, Action.REJECT_REASON).get("value") or "").strip()
    post_id = _metadata(view).get("post_id")
    return (post_id if isinstance(post_id, int) else None), reason


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
