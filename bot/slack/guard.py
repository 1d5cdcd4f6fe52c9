"""Payloads Slack would never send: the shape check every request passes before any listener runs.

A signed request can still be malformed (a bug on a proxy, a replayed and edited body, a fuzzer holding a
leaked signing secret). Bolt's matchers raise on some of those (an action without `action_id`), listeners
would call Slack with empty ids on others, so such a request is refused here: one warning line, a 400
(events get a 200, which is what Slack expects for every event), and nobody is called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The log line's fixed words, so one grep finds every refusal.
REFUSED = "a Slack payload Slack would never send was refused"


#: Slack's ids (users, teams, channels): upper-case letters and digits, starting with a letter.
_SLACK_ID = re.compile(r"^[A-Z][A-Z0-9]{1,40}$")


def _id(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _slack_id(value: Any) -> bool:
    return isinstance(value, str) and _SLACK_ID.match(value) is not None


def _user(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if not isinstance(user, Mapping) or not _slack_id(user.get("id")):
        return "no user id"
    return None


def refusal(body: Any) -> str | None:
    """Why `body` cannot have come from Slack, or None when its shape is one Slack sends."""
    if not isinstance(body, Mapping):
        return "not an object"
    if "command" in body:  # a slash command (form fields)
        if not _id(body.get("command")):
            return "a slash command without its command"
        for field in ("user_id", "team_id", "channel_id"):
            if not _slack_id(body.get(field)):
                return f"a slash command without {field}"
        if not _id(body.get("trigger_id")):
            return "a slash command without trigger_id"
        return None
    kind = body.get("type")
    if not isinstance(kind, str):
        return "no type"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "block_actions without actions"
        if not all(isinstance(a, Mapping) and _id(a.get("action_id")) for a in actions):
            return "an action without action_id"
        return _user(body)
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, Mapping) or not _id(view.get("callback_id")):
            return f"{kind} without the view's callback_id"
        return _user(body)
    if kind in ("shortcut", "message_action"):
        if not _id(body.get("callback_id")):
            return f"a {kind} without callback_id"
        return _user(body)
    if kind == "block_suggestion":
        if not _id(body.get("action_id")):
            return "block_suggestion without action_id"
        return _user(body)
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, Mapping) or not _id(event.get("type")):
            return "an event_callback without its event type"
        if event.get("type") == "app_home_opened" and not _slack_id(event.get("user")):
            return "app_home_opened without user"
        return None
    return None


def refused_status(body: Any) -> int:
    """The HTTP status a refused `body` gets: 200 for an event (Slack retries anything else), else 400."""
    return 200 if isinstance(body, Mapping) and body.get("type") == "event_callback" else 400
