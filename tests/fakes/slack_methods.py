"""The Slack Web API methods the fake serves, acting on a `slack_workspace.Workspace`.

Owns what each method returns and when it fails with which error (as listed in the method reference);
`slack_api.FakeSlack` has already checked the token and argument names before a method runs here.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.slack_limits import message_block_problems
from tests.fakes.slack_workspace import (
    ALT_TXT_MAX,
    PERMALINK_HOST,
    POST_TEXT_MAX,
    SNIPPET_MAX_BYTES,
    UPDATE_TEXT_MAX,
    ApiError,
    Channel,
    Workspace,
    flag,
    users_list,
)

_EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]+$")
# Slack's pattern for channel_id is ^[CGDZ][A-Z0-9]{8,}$ (no user ids, no names); `channels` also takes
# user ids. The length is not checked because the ids in tests are short.
_SHARE_PATTERNS = {
    "channel_id": re.compile(r"^[CGDZ][A-Z0-9]+$"),
    "channels": re.compile(r"^[CGDZUW][A-Z0-9]+$"),
}
_SLACK_SHARE_PATTERNS = {"channel_id": "^[CGDZ][A-Z0-9]{8,}$", "channels": "^[CGDZUW][A-Z0-9]{8,}$"}


class WebApiMethods:
    """`call("chat.postMessage", params)` runs `_chat_postMessage`; each returns the fields next to `ok`."""

    def __init__(self, ws: Workspace, *, socket_url: Callable[[], str]) -> None:
        self.ws = ws
        self.socket_url = socket_url  # a fresh Socket Mode URL with a one-time ticket

    def call(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_" + method.replace(".", "_"))
        result: dict[str, Any] = handler(p)
        return result

    def _apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.socket_url()}

    def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.ws.team_domain}.slack.test/",
            "team": self.ws.team_name,
            "user": self.ws.users[self.ws.bot_user_id]["name"],
            "team_id": self.ws.team_id,
            "user_id": self.ws.bot_user_id,
            "bot_id": self.ws.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._writable(p)
        content = self.ws.check_content(p, text_max=POST_TEXT_MAX)
        if not content["text"] and not content["blocks"] and not content["attachments"]:
            raise ApiError("no_text")
        thread_ts = p.get("thread_ts") or None
        msg = self.ws.add_message(
            ch,
            user=None,
            text=content["text"] or "",
            blocks=content["blocks"],
            thread_ts=thread_ts,
            metadata=content["metadata"],
            attachments=content["attachments"],
            broadcast=bool(thread_ts) and flag(p.get("reply_broadcast")),
        )
        out: dict[str, Any] = {"channel": ch.id, "ts": msg["ts"], "message": self.ws.api_message(msg)}
        if content["warning"]:
            out |= {"warning": content["warning"], "response_metadata": {"warnings": [content["warning"]]}}
        return out

    def _chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        msg = self.ws.find_message(ch, p.get("ts"))
        if msg.get("bot_id") != self.ws.bot_id:
            raise ApiError("cant_update_message")
        if p.get("text") is not None and len(p["text"]) > UPDATE_TEXT_MAX:
            raise ApiError("msg_too_long")
        content = self.ws.check_content(p, text_max=None)
        if content["text"] is None and content["blocks"] is None and content["attachments"] is None:
            raise ApiError("no_text")
        self.ws.edit_message(msg, content)
        return {"channel": ch.id, "ts": msg["ts"], "text": msg["text"], "message": self.ws.api_message(msg)}

    def _chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._writable(p)
        if p.get("user") not in ch.members:
            raise ApiError("user_not_in_channel")
        content = self.ws.check_content(p, text_max=POST_TEXT_MAX)
        if not content["text"] and not content["blocks"] and not content["attachments"]:
            raise ApiError("no_text")
        entry = self.ws.record_ephemeral(ch.id, p["user"], p, source="chat.postEphemeral")
        return {"message_ts": entry["ts"]}

    def _chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        msg = self.ws.find_message(ch, p.get("message_ts"))
        link = f"{PERMALINK_HOST}/archives/{ch.id}/p{msg['ts'].replace('.', '')}"
        if not self.ws.is_root(msg):
            link += f"?thread_ts={msg['thread_ts']}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    def _chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        msg = self.ws.find_message(ch, p.get("ts"))
        if msg.get("bot_id") != self.ws.bot_id:
            raise ApiError("cant_delete_message")
        self.ws.delete_message(ch, msg)
        return {"channel": ch.id, "ts": msg["ts"]}

    def _conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = users_list(p.get("users"))
        if p.get("channel"):
            ch = self.ws.channel(p["channel"])
        elif not users:
            raise ApiError("users_list_not_supplied")
        elif len(users) > 1:
            raise ApiError("invalid_arguments", "[ERROR] the fake supports 1:1 conversations only")
        else:
            self.ws.user(users[0])
            existed = "D" + users[0][1:] in self.ws.channels
            ch = self.ws.im_for(users[0])
            if existed:
                obj = self.ws.channel_object(ch) if flag(p.get("return_im")) else {"id": ch.id}
                return {"no_op": True, "already_open": True, "channel": obj}
        return {"channel": self.ws.channel_object(ch) if flag(p.get("return_im")) else {"id": ch.id}}

    def _conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        return {"channel": self.ws.channel_object(ch, num_members=flag(p.get("include_num_members")))}

    def _conversations_join(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        if ch.is_private:
            raise ApiError("method_not_supported_for_channel_type")
        out: dict[str, Any] = {}
        if self.ws.bot_user_id in ch.members:
            out = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        ch.members.add(self.ws.bot_user_id)
        return {"channel": self.ws.channel_object(ch), **out}

    def _page(self, items: list[dict[str, Any]], p: dict[str, Any], key: str = "messages") -> dict[str, Any]:
        try:
            start = int(base64.b64decode(p["cursor"]).decode().split(":")[1]) if p.get("cursor") else 0
        except (ValueError, IndexError) as exc:
            raise ApiError("invalid_cursor") from exc
        limit = max(1, min(int(p.get("limit") or 100), 999))
        page = items[start : start + limit]
        more = start + limit < len(items)
        cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
        return {key: page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    @staticmethod
    def _in_range(msgs: list[dict[str, Any]], p: dict[str, Any]) -> list[dict[str, Any]]:
        inclusive = flag(p.get("inclusive"))
        oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or 0) or float("inf")

        def keep(ts: float) -> bool:
            return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

        return [m for m in msgs if keep(float(m["ts"]))]

    def _conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        if self.ws.bot_user_id not in ch.members:
            raise ApiError("not_in_channel")
        metadata = flag(p.get("include_all_metadata"))
        visible = [
            m for m in ch.messages.values() if self.ws.is_root(m) or m.get("subtype") == "thread_broadcast"
        ]
        msgs = [self.ws.api_message(m, metadata=metadata) for m in reversed(self._in_range(visible, p))]
        return {**self._page(msgs, p), "pin_count": 0}

    def _conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        msg = ch.messages.get(str(p.get("ts") or ""))
        if msg is None:
            raise ApiError("thread_not_found")
        root_ts = msg.get("thread_ts") or msg["ts"]
        thread = [m for m in ch.messages.values() if m["ts"] == root_ts or m.get("thread_ts") == root_ts]
        metadata = flag(p.get("include_all_metadata"))
        root, replies = thread[0], self._in_range(thread[1:], p)
        return self._page([self.ws.api_message(m, metadata=metadata) for m in [root, *replies]], p)

    def _users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"user": self.ws.user_object(str(p.get("user")))}

    def _team_info(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("team") not in (None, "", self.ws.team_id):
            raise ApiError("team_not_found")
        icon = {"image_default": True}
        team = {"id": self.ws.team_id, "name": self.ws.team_name, "domain": self.ws.team_domain, "icon": icon}
        return {"team": team | {"email_domain": ""}}

    def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        trigger = self.ws.trigger(p)
        self.ws.check_view(p.get("view"), ("modal",))
        trigger.used = True
        return {"view": copy.deepcopy(self.ws.open_modal(trigger.user_id, p["view"]))}

    def _views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        trigger = self.ws.trigger(p)
        self.ws.check_view(p.get("view"), ("modal",))
        trigger.used = True
        return {"view": copy.deepcopy(self.ws.push_modal(trigger.user_id, p["view"]))}

    def _views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        current = self.ws.view_for_update(p)
        self.ws.check_view(p.get("view"), (current["type"],), replacing=current["id"])
        owner = self.ws.view_owner[current["id"]]
        return {"view": copy.deepcopy(self.ws.store_view(p["view"], user_id=owner, view_id=current["id"]))}

    def _views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        user_id = str(p.get("user_id"))
        if user_id not in self.ws.users:
            raise ApiError("invalid_arguments", "[ERROR] invalid user_id [json-pointer:/user_id]")
        current = self.ws.homes.get(user_id)
        if p.get("hash") and current and p["hash"] != self.ws.views[current]["hash"]:
            raise ApiError("hash_conflict")
        self.ws.check_view(p.get("view"), ("home",), replacing=current)
        stored = self.ws.store_view(p["view"], user_id=user_id, view_id=current)
        self.ws.homes[user_id] = stored["id"]
        return {"view": copy.deepcopy(stored)}

    def _usergroups_list(self, p: dict[str, Any]) -> dict[str, Any]:
        self.ws.require_paid_plan()
        groups = []
        for group in self.ws.usergroups.values():
            if group["date_delete"] and not flag(p.get("include_disabled")):
                continue
            out = {k: v for k, v in group.items() if k != "users"}
            if flag(p.get("include_users")):
                out["users"] = list(group["users"])
            if flag(p.get("include_count")):
                out["user_count"] = len(group["users"])
            groups.append(out)
        return {"usergroups": groups}

    def _usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        self.ws.require_paid_plan()
        group = self.ws.usergroups.get(str(p.get("usergroup")))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group["users"])}

    def _reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self.ws.channel(p.get("channel"))
        msg = self.ws.find_message(ch, p.get("timestamp"))
        name = str(p.get("name") or "")
        if not _EMOJI_NAME.match(name):
            raise ApiError("invalid_name")
        reactions = msg.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if self.ws.bot_user_id in entry["users"]:
            raise ApiError("already_reacted")
        entry["users"].append(self.ws.bot_user_id)
        entry["count"] += 1
        return {}

    def _files_info(self, p: dict[str, Any]) -> dict[str, Any]:
        stored = self.ws.files.get(str(p.get("file")))
        if stored is None:
            raise ApiError("file_not_found")
        return {"file": copy.deepcopy(stored[0]), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(p["length"])
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_arguments", "[ERROR] must be an integer [json-pointer:/length]") from exc
        if length <= 0:
            raise ApiError("missing_argument")
        alt_txt = p.get("alt_txt") or None
        if alt_txt is not None and len(str(alt_txt)) > ALT_TXT_MAX:
            raise ApiError("alt_txt_too_large")
        snippet_type = p.get("snippet_type") or None
        if snippet_type is not None and length > SNIPPET_MAX_BYTES:
            raise ApiError("snippet_too_large")
        upload_url, file_id = self.ws.start_upload(
            str(p["filename"]),
            length,
            alt_txt=None if alt_txt is None else str(alt_txt),
            snippet_type=None if snippet_type is None else str(snippet_type),
        )
        return {"upload_url": upload_url, "file_id": file_id}

    def _files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        entries = p.get("files")
        if (
            not isinstance(entries, list)
            or not entries
            or not all(isinstance(e, dict) and e.get("id") for e in entries)
        ):
            raise ApiError(
                "invalid_arguments", "[ERROR] must be an array of {id, title} [json-pointer:/files]"
            )
        targets = self._share_targets(p)
        thread_ts = str(p["thread_ts"]) if p.get("thread_ts") else None
        if thread_ts is not None:
            if len(targets) != 1:
                raise ApiError("invalid_arguments", "[ERROR] thread_ts needs exactly one channel")
            root = targets[0].messages.get(thread_ts)
            if root is None or not self.ws.is_root(root):
                raise ApiError(
                    "invalid_arguments", "[ERROR] thread_ts is not a parent message in the channel"
                )
        blocks = p.get("blocks")
        comment = p.get("initial_comment")
        if comment:
            blocks = None  # Slack ignores blocks when initial_comment is given
        elif blocks is not None:
            problems = message_block_problems(blocks)
            if problems:
                raise ApiError("invalid_blocks", *problems)
        ids = [str(e["id"]) for e in entries]
        if len(set(ids)) != len(ids):
            raise ApiError("invalid_arguments", "[ERROR] a file id appears twice [json-pointer:/files]")
        pending = [self.ws.pending_upload(file_id) for file_id in ids]
        files = [
            self.ws.complete_upload(upload, title=str(e["title"]) if e.get("title") else None)
            for upload, e in zip(pending, entries, strict=True)
        ]
        # Slack shares asynchronously: the answer shows the files before any share is recorded.
        answer = [copy.deepcopy(f) for f in files]
        for ch in targets:
            self.ws.share_files(ch, files, text=str(comment or ""), blocks=blocks, thread_ts=thread_ts)
        return {"files": answer}

    def _share_targets(self, p: dict[str, Any]) -> list[Channel]:
        requested = [("channel_id", str(p["channel_id"]))] if p.get("channel_id") else []
        requested += [("channels", c) for c in users_list(p.get("channels"))]
        targets: list[Channel] = []
        for arg, channel_id in requested:
            if not _SHARE_PATTERNS[arg].match(channel_id):
                pattern = _SLACK_SHARE_PATTERNS[arg]
                raise ApiError(
                    "invalid_arguments",
                    f"[ERROR] input must match regex pattern: {pattern} [json-pointer:/{arg}]",
                )
            ch = self.ws.channel(channel_id)
            # Unlike chat.postMessage, chat:write.public does not cover files: the bot must be a member.
            if self.ws.bot_user_id not in ch.members:
                raise ApiError("not_in_channel")
            if ch not in targets:
                targets.append(ch)
        return targets

    def _writable(self, p: dict[str, Any]) -> Channel:
        ch = self.ws.channel(p.get("channel"), for_write=True)
        # chat:write.public lets the bot post to public channels it has not joined, never to private ones.
        if self.ws.bot_user_id not in ch.members and ch.is_private:
            raise ApiError("not_in_channel")
        return ch
