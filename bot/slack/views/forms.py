"""Reading modal submissions and button values: Slack's `view.state.values` → typed input, and validation
errors → the block ids that show them.

Everything here comes from the client. Values beyond what Slack itself allows (its limits below) cannot
come from a real modal and are dropped or refused, never stored; `bot.web` refuses such requests outright
in HTTP mode, and these checks hold in Socket Mode too."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain import media
from bot.domain.model import Account, Draft, MediaItem, Queue
from bot.domain.networks import Network
from bot.domain.rules import DraftField
from bot.slack.ids import Action, Block, WhenChoice

#: Longest reject reason or change request: Slack's modal stops there, and the thread reply quotes it whole.
COMMENT_MAX = 2000

_ERROR_BLOCKS: dict[DraftField, str] = {
    DraftField.TEXT: Block.TEXT,
    DraftField.TARGETS: Block.TARGETS,
    DraftField.WHEN: Block.WHEN,
    DraftField.PUBLISH_AT: Block.PUBLISH_AT,
    DraftField.QUEUE: Block.QUEUE,
    DraftField.MEDIA: Block.MEDIA_FILES,
    DraftField.MEDIA_URLS: Block.MEDIA_URLS,
    DraftField.FIRST_COMMENT: Block.FIRST_COMMENT,
}
_OVERRIDE_PREFIX = "override_"
_BUTTON_VALUE = re.compile(r"^(\d{1,10})(?::(\d{1,10}))?$")
#: Slack's caps: a plain_text_input's value, a modal's private_metadata, an option's value and text.
INPUT_MAX = 3000
PRIVATE_METADATA_MAX = 3000
OPTION_VALUE_MAX = 150
OPTION_TEXT_MAX = 75
#: A file name Postgate keeps (it is only shown; the file is found by its id).
FILE_NAME_MAX = 255
_FILE_ID_MAX = 64
#: Post ids and versions are 32-bit integers in the database.
_ID_MAX = 2**31 - 1


def override_block_id(network: Network) -> str:
    """The input block of the per-network text for `network` in the compose modal."""
    return f"{_OVERRIDE_PREFIX}{network.value}"


def when_block_id(picked: int | None = None) -> str:
    """The "When to publish" block: `Block.WHEN`, or after the person picked a time, an id of its own.

    Slack keeps what a person chose in an input across views.update while its block and action ids stay
    the same, so a modal that selects "At a date and time" for them needs a block id Slack has not seen.
    """
    return Block.WHEN if picked is None else f"{Block.WHEN}.{picked}"


def find_when_block(values: Mapping[str, Any]) -> str:
    """The id of the "When to publish" block among a view's state `values` (see `when_block_id`)."""
    for block_id in values:
        name = str(block_id)
        if name == Block.WHEN or (
            name.startswith(f"{Block.WHEN}.") and name[len(Block.WHEN) + 1 :].isdigit()
        ):
            return name
    return Block.WHEN


def picked_time(values: Mapping[str, Any]) -> int | None:
    """The date and time in the picker, as UNIX seconds (None when empty or not a number)."""
    raw = _value(values, Block.PUBLISH_AT, Action.PUBLISH_AT).get("selected_date_time")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw < 2**40:
        return int(raw)
    return None


def when_choice(values: Mapping[str, Any]) -> str | None:
    """The value of the "When to publish" option the person has selected."""
    option = _value(values, find_when_block(values), Action.WHEN).get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else None


def override_action_id(network: Network) -> str:
    return Action.OVERRIDE_X if network is Network.X else Action.OVERRIDE_OTHER


@dataclass(frozen=True)
class ComposeInput:
    draft: Draft
    wants_time: bool
    has_targets_input: bool
    origin_channel: str | None
    wants_queue: bool = False
    url_problems: tuple[str, ...] = ()
    #: Set when the modal edits an existing post: which post, and the version the author started from.
    post_id: int | None = None
    version: int | None = None
    #: Override blocks the author filled in, in the modal's order (where override errors are shown).
    override_blocks: tuple[str, ...] = ()
    #: The "When to publish" block as this modal names it (where errors about the choice are shown).
    when_block: str = Block.WHEN


def _value(values: Mapping[str, Any], block: str, action: str) -> Mapping[str, Any]:
    entry = values.get(block, {}).get(action, {})
    return entry if isinstance(entry, Mapping) else {}


def _values(view: Mapping[str, Any]) -> Mapping[str, Any]:
    values = (view.get("state") or {}).get("values") or {}
    return values if isinstance(values, Mapping) else {}


def decode_account(value: str, label: str) -> Account | None:
    if len(value) > OPTION_VALUE_MAX or len(label) > OPTION_TEXT_MAX:
        return None  # not an option Postgate offered: Slack's options are never this long
    provider, _, rest = value.partition("|")
    network_name, _, account_id = rest.partition("|")
    network = Network.parse(network_name)
    if not provider or network is None or not account_id:
        return None
    # The option label reads "<Network> · <name>"; keep the name part.
    name = label.split(" · ", 1)[1] if " · " in label else label
    return Account(provider=provider, account_id=account_id, network=network, name=name.removesuffix(" ⚠️"))


def parse_compose(view: Mapping[str, Any]) -> ComposeInput:
    values = _values(view)
    text = _value(values, Block.TEXT, Action.TEXT).get("value") or ""
    selected = _value(values, Block.TARGETS, Action.TARGETS).get("selected_options") or []
    targets = []
    for option in selected if isinstance(selected, list) else ():
        if not isinstance(option, Mapping):
            continue
        label = option.get("text")
        account = decode_account(
            str(option.get("value", "")), str(label.get("text", "")) if isinstance(label, Mapping) else ""
        )
        if account is not None:
            targets.append(account)
    when = when_choice(values)
    raw_time = picked_time(values)
    wants_time = when == WhenChoice.AT_TIME
    wants_queue = when == WhenChoice.QUEUE
    publish_at = None
    if wants_time and raw_time is not None:
        publish_at = datetime.fromtimestamp(raw_time, UTC)
    metadata = view_metadata(view)
    chosen = [_file_item(f) for f in _value(values, Block.MEDIA_FILES, Action.MEDIA_FILES).get("files") or []]
    files = tuple(f for f in chosen if f is not None)
    if not files:
        # Slack cannot prefill a file input: an edit keeps the post's files unless new ones are chosen.
        files = kept_files_from_metadata(metadata)
    raw_urls = str(_value(values, Block.MEDIA_URLS, Action.MEDIA_URLS).get("value") or "")
    urls: list[MediaItem] = []
    if len(raw_urls) > INPUT_MAX:
        url_problems = [f"The links are {len(raw_urls):,} characters; the most is {INPUT_MAX:,}."]
    else:
        urls, url_problems = media.parse_media_urls(raw_urls)
    queue = _queue(_value(values, Block.QUEUE, Action.QUEUE).get("selected_option")) if wants_queue else None
    overrides = _overrides(values)
    first_comment = str(_value(values, Block.FIRST_COMMENT, Action.FIRST_COMMENT).get("value") or "")
    draft = Draft(
        text=str(text),
        targets=tuple(dict.fromkeys(targets)),
        publish_at=publish_at,
        media=files + tuple(urls),
        queue=queue,
        overrides=tuple((network, text) for network, text, _ in overrides),
        first_comment=first_comment if first_comment.strip() else None,
    )
    origin = metadata.get("origin_channel")
    return ComposeInput(
        draft=draft,
        wants_queue=wants_queue,
        url_problems=tuple(url_problems),
        wants_time=wants_time,
        has_targets_input=Block.TARGETS in values,
        origin_channel=origin if isinstance(origin, str) else None,
        post_id=_int(metadata.get("post_id")),
        version=_int(metadata.get("version")),
        override_blocks=tuple(block for _, _, block in overrides),
        when_block=find_when_block(values),
    )


def _overrides(values: Mapping[str, Any]) -> list[tuple[Network, str, str]]:
    """(network, text, block id) for every filled per-network text, in the order of `Network`."""
    filled: dict[Network, tuple[str, str]] = {}
    for block_id, actions in values.items():
        if not str(block_id).startswith(_OVERRIDE_PREFIX) or not isinstance(actions, Mapping):
            continue
        network = Network.parse(str(block_id).removeprefix(_OVERRIDE_PREFIX))
        if network is None or override_block_id(network) != block_id:
            continue
        entry = actions.get(override_action_id(network))
        text = str(entry.get("value") or "") if isinstance(entry, Mapping) else ""
        if text.strip():
            filled[network] = (text, block_id)
    return [(network, *filled[network]) for network in Network if network in filled]


def _file_item(raw: Any) -> MediaItem | None:
    """A file the author attached, as Slack described it in the submission (downloaded only at publishing)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or len(raw["id"]) > _FILE_ID_MAX:
        return None
    name = _clipped(str(raw.get("name") or raw.get("title") or raw["id"]), FILE_NAME_MAX)
    size = raw.get("size")
    mime = raw.get("mimetype")
    return MediaItem(
        name=name,
        mime_type=mime if isinstance(mime, str) and mime else media.guess_type(name),
        size=_count(size),
        slack_file_id=raw["id"],
        # Slack's file object carries a video's length once Slack has processed it; often it has not yet.
        duration_ms=_count(raw.get("duration_ms")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def kept_files_to_metadata(files: Sequence[MediaItem], *, room: int) -> list[list[Any]]:
    """The Slack files of a post being edited, compact enough to fit `room` characters of private_metadata.

    Long names are shortened (keeping the extension) when they would not fit: a name is only shown, the
    file itself is found by its id.
    """
    entries: list[list[Any]] = [
        [
            f.slack_file_id,
            f.name,
            f.mime_type,
            f.size,
            *([f.duration_ms] if f.duration_ms is not None else []),
        ]
        for f in files
        if f.slack_file_id
    ]
    name_limit = 200
    while len(json.dumps(entries, separators=(",", ":"))) > room and name_limit > 8:
        name_limit //= 2
        for entry in entries:
            name = str(entry[1])
            if len(name) > name_limit:
                stem, dot, extension = name.rpartition(".")
                keep = extension[:6] if dot else ""
                entry[1] = (stem if dot else name)[: name_limit - len(keep) - 2] + "…" + (dot + keep)
    return entries


def kept_files_from_metadata(metadata: Mapping[str, Any]) -> tuple[MediaItem, ...]:
    items = []
    for entry in metadata.get("files") or []:
        # Four fields, or five with the video's length (views opened before lengths were kept have four).
        if not isinstance(entry, list) or len(entry) not in (4, 5) or not isinstance(entry[0], str):
            continue
        file_id, name, mime, size, *duration = entry
        if len(file_id) > _FILE_ID_MAX:
            continue
        items.append(
            MediaItem(
                name=_clipped(str(name), FILE_NAME_MAX),
                mime_type=str(mime),
                size=_count(size),
                slack_file_id=file_id,
                duration_ms=_count(duration[0]) if duration else None,
            )
        )
    return tuple(items)


def _queue(option: Any) -> Queue | None:
    if not isinstance(option, Mapping):
        return None
    provider, _, queue_id = str(option.get("value", "")).partition("|")
    if not provider or not queue_id:
        return None
    label = str((option.get("text") or {}).get("text", queue_id))
    if len(str(option.get("value", ""))) > OPTION_VALUE_MAX or len(label) > OPTION_TEXT_MAX:
        return None
    return Queue(provider=provider, queue_id=queue_id, name=label.removesuffix(" (paused)"))


def errors_for_slack(
    errors: Mapping[DraftField, str],
    *,
    has_targets_input: bool,
    override_blocks: Sequence[str] = (),
    when_block: str = Block.WHEN,
) -> dict[str, str]:
    """Validation errors keyed by the block that shows them (an input block; Slack shows nothing else).

    Errors about the per-network texts go on the first one the author filled in (`override_blocks`, as
    `ComposeInput.override_blocks` lists them), or on the main text when none is filled.
    """
    mapped: dict[str, str] = {}
    for field, message in errors.items():
        if field is DraftField.OVERRIDES:
            block = override_blocks[0] if override_blocks else Block.TEXT
        elif field is DraftField.WHEN:
            block = when_block
        else:
            block = _ERROR_BLOCKS.get(field, Block.TEXT)
        if block == Block.TARGETS and not has_targets_input:
            block = Block.TEXT
            message = "There is no account to publish to. " + message
        mapped[block] = mapped[block] + " " + message if block in mapped else message
    return mapped


def view_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """A modal's private_metadata as a dict; empty when it is missing or not ours (Slack holds at most
    3,000 characters there, so anything longer was never set by Postgate)."""
    raw = view.get("private_metadata") or "{}"
    if not isinstance(raw, str) or len(raw) > PRIVATE_METADATA_MAX:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    """A post id or version; None for anything else, including numbers no row can have."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _ID_MAX:
        return value
    return None


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _comment(view: Mapping[str, Any], block: str, action: str) -> str:
    # The modal's input stops at COMMENT_MAX; a longer one was not typed in Slack's client.
    return str(_value(_values(view), block, action).get("value") or "").strip()[:COMMENT_MAX]


def parse_reject(view: Mapping[str, Any]) -> tuple[int | None, int | None, str]:
    """(post id, version the approver saw, reason) from the reject modal."""
    metadata = view_metadata(view)
    reason = _comment(view, Block.REJECT_REASON, Action.REJECT_REASON)
    return _int(metadata.get("post_id")), _int(metadata.get("version")), reason


def parse_request_changes(view: Mapping[str, Any]) -> tuple[int | None, int | None, str]:
    """(post id, version the approver saw, comment) from the request-changes modal."""
    metadata = view_metadata(view)
    comment = _comment(view, Block.CHANGES_COMMENT, Action.CHANGES_COMMENT)
    return _int(metadata.get("post_id")), _int(metadata.get("version")), comment


def parse_reschedule(view: Mapping[str, Any]) -> tuple[int | None, int | None, datetime | None]:
    """(post id, version, the new time in UTC or None when none was picked) from the reschedule modal."""
    metadata = view_metadata(view)
    raw = _value(_values(view), Block.NEW_TIME, Action.NEW_TIME).get("selected_date_time")
    when = datetime.fromtimestamp(int(raw), UTC) if isinstance(raw, int | float) else None
    return _int(metadata.get("post_id")), _int(metadata.get("version")), when


def button_value(post_id: int, version: int) -> str:
    """What every post button carries, so a click on a message older than the post can be recognised."""
    return f"{post_id}:{version}"


def parse_button_value(value: Any) -> tuple[int, int | None] | None:
    """(post id, version) from "id:version", (post id, None) from a plain "id", None from anything else.

    The value comes from the client: it says which post was clicked, never who may act on it.
    """
    match = _BUTTON_VALUE.match(value) if isinstance(value, str) else None
    if match is None or not 0 < int(match[1]) <= _ID_MAX:
        return None  # post ids start at 1
    version = int(match[2]) if match[2] is not None else None
    if version is not None and version > _ID_MAX:
        return None
    return int(match[1]), version
