"""Block Kit and view limits that the fake Slack enforces, as Slack's servers do.

Owns the validation of `blocks` (messages, modals, Home tabs) and of view payloads. Each check returns
Slack-style problem strings, `[ERROR] <what> [json-pointer:/path]`, which the fake puts into
`response_metadata.messages`. Limits come from `shared/slack/platform.md` (A4, A5). `slack_sdk`'s own
models check only some of these and nothing built from plain dicts, so the fake is where an
over-long title or a missing `submit` first shows up.
"""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
VIEW_MAX_BYTES = 250_000
MODAL_TITLE_MAX = 24
MODAL_BUTTON_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255
EXTERNAL_ID_MAX = 255

_MESSAGE_BLOCKS = {
    "section",
    "divider",
    "image",
    "actions",
    "context",
    "input",
    "header",
    "rich_text",
    "file",
    "video",
    "markdown",
    "table",
}
_VIEW_BLOCKS = {"section", "divider", "image", "actions", "context", "input", "header", "rich_text", "video"}

_SELECTS = {
    "static_select",
    "multi_static_select",
    "external_select",
    "multi_external_select",
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
}
_INPUT_ONLY = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "file_input",
    "rich_text_input",
}
_PICKERS = {"datepicker", "timepicker", "datetimepicker", "checkboxes", "radio_buttons"}
_INPUT_ELEMENTS = _INPUT_ONLY | _SELECTS | _PICKERS
_ACTION_ELEMENTS = {"button", "overflow", "workflow_button"} | _SELECTS | _PICKERS
_ACCESSORY_ELEMENTS = _ACTION_ELEMENTS | {"image"}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def err(self, pointer: str, what: str) -> None:
        self.problems.append(f"[ERROR] {what} [json-pointer:{pointer}]")

    def string(self, value: Any, pointer: str, *, max_len: int, min_len: int = 0) -> None:
        if not isinstance(value, str):
            self.err(pointer, "must be a string")
        elif len(value) > max_len:
            self.err(pointer, f"must be less than {max_len + 1} characters")
        elif len(value) < min_len:
            self.err(pointer, f"must be more than {min_len - 1} characters")

    def text(self, obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> None:
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if not isinstance(obj, dict):
            self.err(pointer, "must be a text object")
            return
        if obj.get("type") not in allowed:
            self.err(f"{pointer}/type", f"must be one of {', '.join(allowed)}")
        self.string(obj.get("text"), f"{pointer}/text", max_len=max_len, min_len=1)

    def items(self, value: Any, pointer: str, *, max_items: int, min_items: int = 0) -> list[Any]:
        if not isinstance(value, list):
            self.err(pointer, "must be an array")
            return []
        if len(value) > max_items:
            self.err(pointer, f"must provide no more than {max_items} items")
        elif len(value) < min_items:
            self.err(pointer, f"must provide at least {min_items} items")
        return value

    def optional_string(self, obj: dict[str, Any], key: str, pointer: str, max_len: int) -> None:
        if key in obj and obj[key] is not None:
            self.string(obj[key], f"{pointer}/{key}", max_len=max_len)

    # Blocks

    def blocks(self, blocks: Any, pointer: str, *, allowed: set[str], max_blocks: int) -> None:
        seen_ids: set[str] = set()
        for i, block in enumerate(self.items(blocks, pointer, max_items=max_blocks)):
            bp = f"{pointer}/{i}"
            if not isinstance(block, dict):
                self.err(bp, "must be an object")
                continue
            kind = block.get("type")
            if kind not in allowed:
                self.err(f"{bp}/type", f"unsupported block type: {kind}")
                continue
            block_id = block.get("block_id")
            if block_id is not None:
                self.string(block_id, f"{bp}/block_id", max_len=255, min_len=1)
                if block_id in seen_ids:
                    self.err(f"{bp}/block_id", f"duplicate block_id: {block_id}")
                seen_ids.add(block_id)
            getattr(self, f"_block_{kind}", self._block_other)(block, bp)

    def _block_section(self, block: dict[str, Any], bp: str) -> None:
        if "text" not in block and "fields" not in block:
            self.err(bp, "must provide either text or fields")
        if "text" in block:
            self.text(block["text"], f"{bp}/text", max_len=3000)
        if "fields" in block:
            for j, field in enumerate(self.items(block["fields"], f"{bp}/fields", max_items=10, min_items=1)):
                self.text(field, f"{bp}/fields/{j}", max_len=2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{bp}/accessory", allowed=_ACCESSORY_ELEMENTS)

    def _block_header(self, block: dict[str, Any], bp: str) -> None:
        self.text(block.get("text"), f"{bp}/text", max_len=150, plain_only=True)

    def _block_context(self, block: dict[str, Any], bp: str) -> None:
        elements = self.items(block.get("elements"), f"{bp}/elements", max_items=10, min_items=1)
        for j, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") == "image":
                self._image(el, f"{bp}/elements/{j}")
            else:
                self.text(el, f"{bp}/elements/{j}", max_len=3000)

    def _block_actions(self, block: dict[str, Any], bp: str) -> None:
        elements = self.items(block.get("elements"), f"{bp}/elements", max_items=25, min_items=1)
        seen: set[Any] = set()
        for j, el in enumerate(elements):
            self.element(el, f"{bp}/elements/{j}", allowed=_ACTION_ELEMENTS)
            action_id = el.get("action_id") if isinstance(el, dict) else None
            if action_id is not None and action_id in seen:
                self.err(f"{bp}/elements/{j}/action_id", f"duplicate action_id: {action_id}")
            seen.add(action_id)

    def _block_input(self, block: dict[str, Any], bp: str) -> None:
        self.text(block.get("label"), f"{bp}/label", max_len=2000, plain_only=True)
        if "hint" in block:
            self.text(block["hint"], f"{bp}/hint", max_len=2000, plain_only=True)
        if "element" not in block:
            self.err(bp, "must provide element")
        else:
            self.element(block["element"], f"{bp}/element", allowed=_INPUT_ELEMENTS)

    def _block_image(self, block: dict[str, Any], bp: str) -> None:
        self._image(block, bp)
        if "title" in block:
            self.text(block["title"], f"{bp}/title", max_len=2000, plain_only=True)

    def _block_markdown(self, block: dict[str, Any], bp: str) -> None:
        self.string(block.get("text"), f"{bp}/text", max_len=12000, min_len=1)

    def _block_other(self, block: dict[str, Any], bp: str) -> None:
        if block.get("type") == "rich_text":
            self.items(block.get("elements"), f"{bp}/elements", max_items=10_000)

    def _image(self, obj: dict[str, Any], pointer: str) -> None:
        if "image_url" not in obj and "slack_file" not in obj:
            self.err(pointer, "must provide image_url or slack_file")
        self.optional_string(obj, "image_url", pointer, 3000)
        self.string(obj.get("alt_text"), f"{pointer}/alt_text", max_len=2000, min_len=1)

    # Elements

    def element(self, el: Any, pointer: str, *, allowed: set[str]) -> None:
        if not isinstance(el, dict):
            self.err(pointer, "must be an object")
            return
        kind = el.get("type")
        if kind not in allowed:
            self.err(f"{pointer}/type", f"element type {kind} is not allowed here")
            return
        self.optional_string(el, "action_id", pointer, 255)
        if "placeholder" in el:
            self.text(el["placeholder"], f"{pointer}/placeholder", max_len=150, plain_only=True)
        if "confirm" in el:
            self._confirm(el["confirm"], f"{pointer}/confirm")
        check = getattr(self, f"_el_{kind}", None)
        if check is not None:
            check(el, pointer)

    def _el_image(self, el: dict[str, Any], pointer: str) -> None:
        self._image(el, pointer)

    def _el_button(self, el: dict[str, Any], pointer: str) -> None:
        self.text(el.get("text"), f"{pointer}/text", max_len=75, plain_only=True)
        self.optional_string(el, "value", pointer, 2000)
        self.optional_string(el, "url", pointer, 3000)
        self.optional_string(el, "accessibility_label", pointer, 75)
        if el.get("style") not in (None, "primary", "danger"):
            self.err(f"{pointer}/style", "must be primary or danger")

    def _el_overflow(self, el: dict[str, Any], pointer: str) -> None:
        self._options(el, pointer, max_items=5, min_items=2, plain_only=True)

    def _el_checkboxes(self, el: dict[str, Any], pointer: str) -> None:
        self._options(el, pointer, max_items=10, min_items=1, plain_only=False)

    _el_radio_buttons = _el_checkboxes

    def _el_datepicker(self, el: dict[str, Any], pointer: str) -> None:
        if el.get("initial_date") is not None and not _DATE.match(str(el["initial_date"])):
            self.err(f"{pointer}/initial_date", "must be YYYY-MM-DD")

    def _el_datetimepicker(self, el: dict[str, Any], pointer: str) -> None:
        value = el.get("initial_date_time")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            self.err(f"{pointer}/initial_date_time", "must be an integer (UNIX seconds)")

    def _el_file_input(self, el: dict[str, Any], pointer: str) -> None:
        value = el.get("max_files", 10)
        if not isinstance(value, int) or not 1 <= value <= 10:
            self.err(f"{pointer}/max_files", "must be between 1 and 10")

    def _el_plain_text_input(self, el: dict[str, Any], pointer: str) -> None:
        max_length = el.get("max_length")
        min_length = el.get("min_length")
        if max_length is not None and (not isinstance(max_length, int) or not 1 <= max_length <= 3000):
            self.err(f"{pointer}/max_length", "must be between 1 and 3000")
        if min_length is not None and (not isinstance(min_length, int) or not 0 <= min_length <= 3000):
            self.err(f"{pointer}/min_length", "must be between 0 and 3000")
        if isinstance(max_length, int) and isinstance(min_length, int) and min_length > max_length:
            self.err(f"{pointer}/min_length", "must not be greater than max_length")
        if el.get("initial_value") is not None:
            limit = max_length if isinstance(max_length, int) else 3000
            self.string(el["initial_value"], f"{pointer}/initial_value", max_len=limit)

    def _el_timepicker(self, el: dict[str, Any], pointer: str) -> None:
        if el.get("initial_time") is not None and not _TIME.match(str(el["initial_time"])):
            self.err(f"{pointer}/initial_time", "must be HH:mm")
        if el.get("timezone") is not None:
            try:
                ZoneInfo(str(el["timezone"]))
            except (ZoneInfoNotFoundError, ValueError):
                self.err(f"{pointer}/timezone", "must be a valid IANA time zone")

    def _el_static_select(self, el: dict[str, Any], pointer: str) -> None:
        has_options = "options" in el
        if has_options == ("option_groups" in el):
            self.err(pointer, "must provide exactly one of options or option_groups")
        if has_options:
            self._options(el, pointer, max_items=100, min_items=1, plain_only=True)
            return
        known: list[Any] = []
        groups = self.items(el.get("option_groups"), f"{pointer}/option_groups", max_items=100, min_items=1)
        for g, group in enumerate(groups):
            gp = f"{pointer}/option_groups/{g}"
            if not isinstance(group, dict):
                self.err(gp, "must be an object")
                continue
            self.text(group.get("label"), f"{gp}/label", max_len=75, plain_only=True)
            known += self._option_list(group.get("options"), f"{gp}/options", 100, 1, plain_only=True)
        self._initial_options(el, pointer, known)

    _el_multi_static_select = _el_static_select

    def _options(
        self, el: dict[str, Any], pointer: str, *, max_items: int, min_items: int, plain_only: bool
    ) -> None:
        known = self._option_list(el.get("options"), f"{pointer}/options", max_items, min_items, plain_only)
        self._initial_options(el, pointer, known)

    def _option_list(
        self, options: Any, pointer: str, max_items: int, min_items: int, plain_only: bool
    ) -> list[Any]:
        opts = self.items(options, pointer, max_items=max_items, min_items=min_items)
        for k, opt in enumerate(opts):
            op = f"{pointer}/{k}"
            if not isinstance(opt, dict):
                self.err(op, "must be an option object")
                continue
            self.text(opt.get("text"), f"{op}/text", max_len=75, plain_only=plain_only)
            self.string(opt.get("value"), f"{op}/value", max_len=150, min_len=1)
            if "description" in opt:
                self.text(opt["description"], f"{op}/description", max_len=75, plain_only=plain_only)
            self.optional_string(opt, "url", op, 3000)
        return opts

    def _initial_options(self, el: dict[str, Any], pointer: str, known: list[Any]) -> None:
        # Slack rejects an initial option that is not exactly one of the element's options.
        values = {o.get("value") for o in known if isinstance(o, dict)}
        initial = []
        if el.get("initial_option") is not None:
            initial.append(("initial_option", el["initial_option"]))
        for i, opt in enumerate(el.get("initial_options") or []):
            initial.append((f"initial_options/{i}", opt))
        for key, opt in initial:
            if not isinstance(opt, dict) or opt.get("value") not in values:
                self.err(f"{pointer}/{key}", "must match one of the provided options")

    def _confirm(self, obj: Any, pointer: str) -> None:
        if not isinstance(obj, dict):
            self.err(pointer, "must be a confirmation object")
            return
        self.text(obj.get("title"), f"{pointer}/title", max_len=100, plain_only=True)
        self.text(obj.get("text"), f"{pointer}/text", max_len=300)
        self.text(obj.get("confirm"), f"{pointer}/confirm", max_len=30, plain_only=True)
        self.text(obj.get("deny"), f"{pointer}/deny", max_len=30, plain_only=True)


def message_block_problems(blocks: Any, pointer: str = "/blocks") -> list[str]:
    checker = _Checker()
    checker.blocks(blocks, pointer, allowed=_MESSAGE_BLOCKS, max_blocks=MESSAGE_MAX_BLOCKS)
    return checker.problems


def view_too_large(view: Any) -> bool:
    return len(json.dumps(view, separators=(",", ":")).encode()) > VIEW_MAX_BYTES


def view_problems(view: Any, *, allowed_types: tuple[str, ...], pointer: str = "/view") -> list[str]:
    """Problems Slack reports for a modal or Home tab view (`invalid_arguments`); size is checked apart."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.err(pointer, "must be an object")
        return checker.problems
    kind = view.get("type")
    if kind not in allowed_types:
        checker.err(f"{pointer}/type", f"must be one of {', '.join(allowed_types)}")
        return checker.problems
    blocks = view.get("blocks")
    if blocks is None:
        checker.err(pointer, "must provide blocks")
    checker.blocks(blocks or [], f"{pointer}/blocks", allowed=_VIEW_BLOCKS, max_blocks=VIEW_MAX_BLOCKS)
    if kind == "modal":
        checker.text(view.get("title"), f"{pointer}/title", max_len=MODAL_TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                checker.text(view[key], f"{pointer}/{key}", max_len=MODAL_BUTTON_MAX, plain_only=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks or [])
        if has_input and view.get("submit") is None:
            checker.err(pointer, "must provide a submit property when using input blocks")
    checker.optional_string(view, "private_metadata", pointer, PRIVATE_METADATA_MAX)
    checker.optional_string(view, "callback_id", pointer, CALLBACK_ID_MAX)
    checker.optional_string(view, "external_id", pointer, EXTERNAL_ID_MAX)
    return checker.problems


def input_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"]
