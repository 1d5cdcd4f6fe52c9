"""The in-memory Slack workspace behind the fake Web API: directory, messages and threads, ephemerals,
views and modal stacks, trigger ids, response URLs, files and their uploads, user groups and the plan
they need, and the objects Slack returns for them.

Owns the state and the rules that several entry points share (message content checks, view checks,
trigger exchange, response_url semantics). The Web API methods on top are in `slack_methods`; HTTP,
tokens and argument names are `slack_api.FakeSlack`'s, which also serialises access with its lock.
Anything that Slack answers with `ok: false` raises `ApiError`.
"""

from __future__ import annotations

import copy
import mimetypes
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes import slack_limits

TRIGGER_TTL_SECONDS = 3.0
POST_TEXT_MAX = 40_000
UPDATE_TEXT_MAX = 4_000
MARKDOWN_TEXT_MAX = 12_000
MAX_ATTACHMENTS = 100
MODAL_STACK_MAX = 3
HOOK_MAX_USES = 5
HOOK_TTL_SECONDS = 30 * 60
PERMALINK_HOST = "https://fake.slack.test"
ALT_TXT_MAX = 1000
SNIPPET_MAX_BYTES = 1024 * 1024

# zoneinfo only knows abbreviations; Slack shows long names. Unknown zones fall back to the abbreviation.
_TZ_LABELS = {
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "UTC": "Coordinated Universal Time",
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "JST": "Japan Standard Time",
    "IST": "India Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
}
_TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_ID_ALPHABET = string.ascii_uppercase + string.digits


class ApiError(Exception):
    """An `ok: false` answer; `messages` go to `response_metadata.messages` like Slack's validators."""

    def __init__(
        self, error: str, *messages: str, status: int = 200, retry_after: int | None = None, **extra: Any
    ) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.status = status
        self.retry_after = retry_after
        self.extra = extra


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    im_user: str | None = None
    members: set[str] = field(default_factory=set)
    created: int = field(default_factory=lambda: int(time.time()))
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # ts -> message, in ts order


@dataclass
class Trigger:
    user_id: str
    issued: float
    used: bool = False


@dataclass
class PendingUpload:
    """A file between files.getUploadURLExternal and files.completeUploadExternal."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    snippet_type: str | None
    content: bytes | None = None  # None until the bytes reach the upload URL


@dataclass
class Hook:
    channel: str
    user: str
    message_ts: str | None
    created: float = field(default_factory=time.monotonic)
    uses: int = 0


def _random_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def users_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [u.strip() for u in str(value or "").split(",") if u.strip()]


class Workspace:
    def __init__(self, *, team_id: str, bot_user_id: str, bot_id: str, app_id: str, root_url: str) -> None:
        self.team_id = team_id
        self.team_name = "Postgate Test"
        self.team_domain = "postgate-test"
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.root_url = root_url
        self.trigger_ttl = TRIGGER_TTL_SECONDS
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_owner: dict[str, str] = {}
        self.view_errors: dict[str, dict[str, str]] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.uploads: dict[str, PendingUpload] = {}  # upload URL token -> file on its way in
        self.uploaded: list[str] = []  # ids of files completed through the upload flow, in order
        self.free_plan = False
        self.hooks: dict[str, Hook] = {}
        self._last_ts_us = 0
        self.add_user(bot_user_id, "postgate", is_bot=True)

    # Directory

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str = "Europe/Berlin",
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
    ) -> None:
        ZoneInfo(tz)  # fail fast on a typo in a test's time zone
        # Slack's roles nest: the primary owner is an owner, and every owner is also an admin.
        is_owner = is_owner or is_primary_owner
        self.users[user_id] = {
            "id": user_id,
            "name": name,
            "tz": tz,
            "is_admin": is_admin or is_owner,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_bot": is_bot,
        }

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Any = (),
        is_private: bool = False,
        bot_is_member: bool = True,
    ) -> None:
        ch = Channel(channel_id, name, is_private=is_private, members=set(members))
        if bot_is_member:
            ch.members.add(self.bot_user_id)
        self.channels[channel_id] = ch

    def im_for(self, user_id: str) -> Channel:
        im_id = "D" + user_id[1:]
        if im_id not in self.channels:
            self.channels[im_id] = Channel(im_id, user_id, is_private=True, im_user=user_id)
            self.channels[im_id].members |= {user_id, self.bot_user_id}
        return self.channels[im_id]

    def channel(self, channel: Any, *, for_write: bool = False) -> Channel:
        key = str(channel or "")
        if key in self.users and key != self.bot_user_id:
            return self.im_for(key)
        found = self.channels.get(key)
        if found is None:
            name = key.lstrip("#")
            found = next((c for c in self.channels.values() if c.im_user is None and c.name == name), None)
        # The bot cannot see private conversations it is not in: Slack answers channel_not_found for them.
        if found is None or (found.is_private and self.bot_user_id not in found.members and not for_write):
            raise ApiError("channel_not_found")
        return found

    def user(self, user_id: Any) -> dict[str, Any]:
        if user_id not in self.users:
            raise ApiError("user_not_found")
        return self.users[user_id]

    # Messages

    def next_ts(self) -> str:
        now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def with_ids(self, blocks: list[Any]) -> list[Any]:
        """Slack fills in a random block_id / action_id wherever the app left one out."""
        blocks = copy.deepcopy(blocks)
        for block in blocks:
            if not isinstance(block, dict):
                continue
            block.setdefault("block_id", _random_id("", 5))
            elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
            elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
            for el in elements:
                if isinstance(el, dict) and el.get("type") not in ("image", None):
                    el.setdefault("action_id", _random_id("", 5))
        return blocks

    def find_message(self, ch: Channel, ts: Any) -> dict[str, Any]:
        msg = ch.messages.get(str(ts or ""))
        if msg is None:
            raise ApiError("message_not_found")
        return msg

    @staticmethod
    def is_root(msg: dict[str, Any]) -> bool:
        return msg.get("thread_ts") in (None, msg["ts"])

    def add_message(
        self,
        ch: Channel,
        *,
        user: str | None,
        text: str,
        blocks: list[Any] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
        attachments: list[Any] | None = None,
        broadcast: bool = False,
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "message", "ts": self.next_ts(), "user": user or self.bot_user_id}
        msg["text"] = text
        if user is None:
            msg |= {"bot_id": self.bot_id, "app_id": self.app_id}
        msg["team"] = self.team_id
        msg["blocks"] = self.with_ids(blocks or [])
        if attachments:
            msg["attachments"] = attachments
        if metadata is not None:
            msg["metadata"] = metadata
        msg |= {"reply_count": 0, "edits": 0}
        if thread_ts is not None:
            root = ch.messages.get(thread_ts)
            if root is None or not self.is_root(root):
                raise ApiError("thread_not_found")
            del msg["reply_count"]
            msg |= {"thread_ts": thread_ts, "parent_user_id": root["user"]}
            if broadcast:
                msg["subtype"] = "thread_broadcast"
            root |= {"thread_ts": thread_ts, "latest_reply": msg["ts"]}
            root["reply_count"] += 1
            root["reply_users"] = sorted({*root.get("reply_users", []), msg["user"]})
            root["reply_users_count"] = len(root["reply_users"])
        ch.messages[msg["ts"]] = msg
        return msg

    def delete_message(self, ch: Channel, msg: dict[str, Any]) -> None:
        if self.is_root(msg) and msg.get("reply_count"):
            # Slack keeps a tombstone so the thread's replies stay reachable.
            msg |= {"subtype": "tombstone", "text": "This message was deleted.", "blocks": []}
            msg.pop("metadata", None)
            return
        del ch.messages[msg["ts"]]
        if not self.is_root(msg):
            root = ch.messages[msg["thread_ts"]]
            root["reply_count"] -= 1
            replies = [m for m in ch.messages.values() if m.get("thread_ts") == root["ts"] and m is not root]
            root["reply_users"] = sorted({m["user"] for m in replies})
            root["reply_users_count"] = len(root["reply_users"])
            root["latest_reply"] = replies[-1]["ts"] if replies else root["ts"]

    @staticmethod
    def api_message(msg: dict[str, Any], *, metadata: bool = True) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in msg.items() if k != "edits"}
        for key in ("reply_count", "blocks"):
            if not out.get(key):
                out.pop(key, None)
        if not metadata:
            out.pop("metadata", None)
        return out

    def check_content(self, p: dict[str, Any], *, text_max: int | None) -> dict[str, Any]:
        """Shared checks of text / blocks / markdown_text / attachments / metadata; returns the warning."""
        text, blocks, markdown = p.get("text"), p.get("blocks"), p.get("markdown_text")
        attachments = p.get("attachments")
        if markdown is not None and (text is not None or blocks is not None):
            raise ApiError("markdown_text_conflict")
        if markdown is not None and len(markdown) > MARKDOWN_TEXT_MAX:
            raise ApiError("msg_too_long")
        if blocks is not None:
            problems = slack_limits.message_block_problems(blocks)
            if problems:
                raise ApiError("invalid_blocks", *problems)
        if isinstance(attachments, list) and len(attachments) > MAX_ATTACHMENTS:
            raise ApiError("too_many_attachments")
        metadata = p.get("metadata")
        if metadata is not None and (
            not isinstance(metadata, dict) or "event_type" not in metadata or "event_payload" not in metadata
        ):
            raise ApiError("invalid_metadata_format")
        text = markdown if markdown is not None else text
        warning = None
        if text is not None and text_max is not None and len(text) > text_max:
            text, warning = text[:text_max], "message_truncated"
        return {
            "text": text,
            "blocks": blocks,
            "attachments": attachments,
            "metadata": metadata,
            "warning": warning,
        }

    # Views

    def issue_trigger(self, user_id: str) -> str:
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**12):012d}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user_id, time.monotonic())
        return trigger_id

    def trigger(self, p: dict[str, Any]) -> Trigger:
        trigger_id = p.get("trigger_id") or p.get("interactivity_pointer")
        if not trigger_id:
            raise ApiError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        trigger = self.triggers.get(str(trigger_id))
        if not _TRIGGER_FORMAT.match(str(trigger_id)) or trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used:
            raise ApiError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        return trigger

    def check_view(self, view: Any, allowed_types: tuple[str, ...], *, replacing: str | None = None) -> None:
        if slack_limits.view_too_large(view):
            raise ApiError("view_too_large")
        problems = slack_limits.view_problems(view, allowed_types=allowed_types)
        if problems:
            raise ApiError("invalid_arguments", *problems)
        external_id = view.get("external_id")
        if external_id and any(
            v["external_id"] == external_id and vid != replacing for vid, v in self.views.items()
        ):
            raise ApiError("duplicate_external_id")

    def store_view(
        self, view: dict[str, Any], *, user_id: str, view_id: str | None = None, previous: str | None = None
    ) -> dict[str, Any]:
        old = self.views.get(view_id or "")
        stored: dict[str, Any] = {
            "id": view_id or _random_id("V"),
            "team_id": self.team_id,
            "type": view["type"],
            "title": copy.deepcopy(view.get("title")),
            "submit": copy.deepcopy(view.get("submit")),
            "close": copy.deepcopy(view.get("close")),
            "blocks": self.with_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "external_id": view.get("external_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": None,
            "previous_view_id": previous,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        stored["root_view_id"] = old["root_view_id"] if old else stored["id"]
        if old:
            stored["previous_view_id"] = old["previous_view_id"]
            stored["state"]["values"] = self._kept_state(old["state"]["values"], stored)
        self.views[stored["id"]] = stored
        self.view_owner[stored["id"]] = user_id
        self.view_errors.pop(stored["id"], None)
        return stored

    @staticmethod
    def _kept_state(values: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        # Input survives an update only where block_id and action_id are unchanged.
        kept: dict[str, Any] = {}
        for block in slack_limits.input_blocks(view):
            action_id = (block.get("element") or {}).get("action_id")
            if action_id in values.get(str(block.get("block_id")), {}):
                kept[block["block_id"]] = {action_id: values[block["block_id"]][action_id]}
        return kept

    def open_modal(self, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        self.clear_stack(user_id)
        stored = self.store_view(view, user_id=user_id)
        self.stacks[user_id] = [stored["id"]]
        return stored

    def push_modal(self, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        stack = self.stacks.get(user_id) or []
        if not stack:
            raise ApiError("not_found")
        if len(stack) >= MODAL_STACK_MAX:
            raise ApiError("push_limit_reached")
        stored = self.store_view(view, user_id=user_id, previous=stack[-1])
        stored["root_view_id"] = stack[0]
        stack.append(stored["id"])
        return stored

    def close_view(self, view_id: str) -> None:
        """Closes a view and every view pushed on top of it (Slack never leaves a gap in a stack)."""
        user_id = self.view_owner[view_id]
        stack = self.stacks.get(user_id, [])
        closing = [view_id]
        if view_id in stack:
            closing = stack[stack.index(view_id) :]
            del stack[stack.index(view_id) :]
        if self.homes.get(user_id) == view_id:
            del self.homes[user_id]
        for vid in closing:
            self.views.pop(vid, None)
            self.view_owner.pop(vid, None)
            self.view_errors.pop(vid, None)

    def clear_stack(self, user_id: str) -> None:
        if self.stacks.get(user_id):
            self.close_view(self.stacks[user_id][0])
        self.stacks.pop(user_id, None)

    def view_for_update(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("view_id"):
            found = self.views.get(str(p["view_id"]))
        elif p.get("external_id"):
            found = next((v for v in self.views.values() if v["external_id"] == p["external_id"]), None)
        else:
            raise ApiError("invalid_arguments", "[ERROR] either view_id or external_id is required")
        if found is None:
            raise ApiError("not_found")
        if p.get("hash") and p["hash"] != found["hash"]:
            raise ApiError("hash_conflict")
        return found

    # Response URLs

    def new_hook(self, channel: str, user: str, message_ts: str | None = None) -> str:
        token = secrets.token_hex(12)
        self.hooks[token] = Hook(channel, user, message_ts)
        return f"{self.root_url}/hooks/{token}"

    def post_to_hook(self, token: str, body: dict[str, Any]) -> tuple[int, str]:
        hook = self.hooks.get(token)
        if hook is None or time.monotonic() - hook.created > HOOK_TTL_SECONDS:
            return 404, "expired_url"
        if hook.uses >= HOOK_MAX_USES:
            return 404, "used_url"
        hook.uses += 1
        try:
            content = self.check_content(body, text_max=POST_TEXT_MAX)
        except ApiError as exc:
            return 400, exc.error
        ch = self.channels.get(hook.channel) or self.im_for(hook.user)
        original = ch.messages.get(hook.message_ts or "")
        delete, replace = flag(body.get("delete_original")), flag(body.get("replace_original"))
        if original is not None and delete:
            self.delete_message(ch, original)
        elif original is not None and replace:
            self.edit_message(original, content)
        elif body.get("response_type") == "in_channel":
            thread_ts = body.get("thread_ts")
            self.add_message(
                ch, user=None, text=content["text"] or "", blocks=content["blocks"], thread_ts=thread_ts
            )
        else:
            # Without an original message (slash commands) "original" is the last ephemeral the user got.
            shown = [e for e in self.ephemerals if e["channel"] == ch.id and e["user"] == hook.user]
            if shown and delete:
                self.ephemerals.remove(shown[-1])
            elif shown and replace:
                shown[-1] |= {"text": body.get("text") or "", "blocks": copy.deepcopy(body.get("blocks"))}
                shown[-1]["edits"] += 1
            else:
                self.record_ephemeral(ch.id, hook.user, body, source="response_url")
        return 200, "ok"

    def record_ephemeral(
        self, channel: str, user: str, body: dict[str, Any], *, source: str
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"channel": channel, "user": user, "ts": self.next_ts(), "source": source}
        entry |= {"text": body.get("text") or "", "blocks": copy.deepcopy(body.get("blocks")), "edits": 0}
        if body.get("thread_ts"):
            entry["thread_ts"] = body["thread_ts"]
        self.ephemerals.append(entry)
        return entry

    def edit_message(self, msg: dict[str, Any], content: dict[str, Any]) -> None:
        for key in ("text", "attachments", "metadata"):
            if content[key] is not None:
                msg[key] = content[key]
        # Slack keeps the old blocks when `blocks` is left out; an empty list removes them.
        if content["blocks"] is not None:
            msg["blocks"] = self.with_ids(content["blocks"])
        msg["edits"] += 1
        msg["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}

    # Files and user groups

    def require_paid_plan(self) -> None:
        if self.free_plan:
            raise ApiError("plan_upgrade_required")

    def start_upload(
        self, filename: str, length: int, *, alt_txt: str | None, snippet_type: str | None
    ) -> tuple[str, str]:
        """Returns (upload_url, file_id) as files.getUploadURLExternal hands them out."""
        token = secrets.token_urlsafe(18)
        self.uploads[token] = PendingUpload(_random_id("F"), filename, length, alt_txt, snippet_type)
        return f"{self.root_url}/upload/v1/{token}", self.uploads[token].file_id

    def receive_upload(self, token: str, content: bytes) -> tuple[int, str]:
        pending = self.uploads.get(token)
        if pending is None:
            return 404, "not_found"
        if len(content) != pending.length:
            # Slack does not document this case; the fake refuses so that a length counted in
            # characters instead of bytes shows up here rather than as a silently truncated file.
            return 400, f"length_mismatch: announced {pending.length} bytes, received {len(content)}"
        pending.content = content
        return 200, f"OK - {len(content)}"

    def pending_upload(self, file_id: str) -> PendingUpload:
        """An uploaded file not yet completed; file_not_found for anything else, as Slack answers."""
        for pending in self.uploads.values():
            if pending.file_id == file_id and pending.content is not None:
                return pending
        raise ApiError("file_not_found")

    def complete_upload(self, pending: PendingUpload, *, title: str | None) -> dict[str, Any]:
        token = next(t for t, p in self.uploads.items() if p is pending)
        del self.uploads[token]  # the upload ticket is spent; a second completion finds no file
        guessed = mimetypes.guess_type(pending.filename)[0]
        content = pending.content or b""
        self.add_file(
            pending.file_id,
            pending.filename,
            content,
            mimetype=guessed or ("text/plain" if pending.snippet_type else "application/octet-stream"),
            user=self.bot_user_id,
        )
        stored = self.files[pending.file_id][0]
        stored["title"] = title or pending.filename
        stored["shares"] = {}
        if pending.alt_txt:
            stored["alt_txt"] = pending.alt_txt
        if pending.snippet_type:
            stored |= {"mode": "snippet", "filetype": pending.snippet_type}
        self.uploaded.append(pending.file_id)
        return stored

    def share_files(
        self,
        ch: Channel,
        files: list[dict[str, Any]],
        *,
        text: str,
        blocks: list[Any] | None,
        thread_ts: str | None,
    ) -> dict[str, Any]:
        """Posts the bot's file-share message and records the share on each file."""
        shown = [{k: copy.deepcopy(v) for k, v in f.items() if k != "shares"} for f in files]
        msg = self.add_message(ch, user=None, text=text, blocks=blocks, thread_ts=thread_ts)
        msg |= {"files": shown, "upload": True, "display_as_bot": False}
        visibility = "public" if ch.im_user is None and not ch.is_private else "private"
        listed_in = "ims" if ch.im_user is not None else ("groups" if ch.is_private else "channels")
        for f in files:
            share: dict[str, Any] = {
                "reply_users": [],
                "reply_users_count": 0,
                "reply_count": 0,
                "ts": msg["ts"],
                "channel_name": ch.name if ch.im_user is None else "directmessage",
                "team_id": self.team_id,
                "share_user_id": self.bot_user_id,
                "source": "UNKNOWN",
            }
            if thread_ts:
                share["thread_ts"] = thread_ts
            f["shares"].setdefault(visibility, {}).setdefault(ch.id, []).append(share)
            if ch.id not in f[listed_in]:
                f[listed_in].append(ch.id)
        return msg

    def add_file(
        self,
        file_id: str,
        name: str,
        content: bytes,
        *,
        mimetype: str,
        user: str,
        duration_ms: int | None = None,
    ) -> dict[str, Any]:
        url = f"{self.root_url}/files/{file_id}"
        obj = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
            "pretty_type": mimetype,
            "user": user,
            "size": len(content),
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "url_private": f"{url}/{name}",
            "url_private_download": f"{url}/download/{name}",
            "permalink": f"{PERMALINK_HOST}/files/{user}/{file_id}/{name}",
            "channels": [],
            "groups": [],
            "ims": [],
        }
        if duration_ms is not None:
            # Slack's file object has `duration_ms` for a video or audio file it has processed.
            obj["duration_ms"] = duration_ms
        self.files[file_id] = (obj, content)
        return copy.deepcopy(obj)

    # Users

    def user_object(self, user_id: str) -> dict[str, Any]:
        u = self.user(user_id)
        now = datetime.now(ZoneInfo(u["tz"]))
        offset = now.utcoffset()
        abbreviation = now.tzname() or u["tz"]
        profile = {
            "real_name": u["name"],
            "display_name": u["name"],
            "real_name_normalized": u["name"],
            "display_name_normalized": u["name"],
            "team": self.team_id,
        }
        if u["is_bot"]:
            profile["bot_id"] = self.bot_id
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": u["name"],
            "deleted": False,
            "color": "9f69e7",
            "real_name": u["name"],
            "tz": u["tz"],
            "tz_label": _TZ_LABELS.get(abbreviation, abbreviation),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_admin": u["is_admin"],
            "is_owner": u["is_owner"],
            "is_primary_owner": u["is_primary_owner"],
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": u["is_bot"],
            "is_app_user": False,
            "updated": int(time.time()),
            "has_2fa": False,
        }

    def channel_object(self, ch: Channel, *, num_members: bool = False) -> dict[str, Any]:
        if ch.im_user is not None:
            return {
                "id": ch.id,
                "created": ch.created,
                "is_im": True,
                "is_org_shared": False,
                "user": ch.im_user,
            }
        obj: dict[str, Any] = {
            "id": ch.id,
            "name": ch.name,
            "is_channel": not ch.is_private,
            "is_group": ch.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "created": ch.created,
            "is_archived": False,
            "is_general": ch.name == "general",
            "name_normalized": ch.name,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_user_id in ch.members,
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if num_members:
            obj["num_members"] = len(ch.members)
        return obj
