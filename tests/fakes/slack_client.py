"""Plays Slack's side towards the app under test: signed HTTP requests carrying the payloads Slack
sends (slash commands, global and message shortcuts, block actions in messages, modals and the Home
tab, view submissions, Events API callbacks), and the effect of the app's acknowledgement on the fake
workspace (modal closed, errors shown, view pushed, ephemeral shown).

Owns payload shapes, request signing and the Slack client's own rules: a trigger_id per interaction,
view state built from what the user typed or the inputs' initial values, required inputs, text
lengths and number bounds checked before anything is sent, and acknowledgements later than 3 s ignored.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_limits import input_blocks

ACK_DEADLINE_SECONDS = 3.0
VERIFICATION_TOKEN = "fake-verification-token"  # deprecated field Slack still sends; apps must ignore it
_TEXT_INPUTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
# element type -> (state key, initial_* key, empty value)
_PLAIN_STATE: dict[str, tuple[str, str, list[Any] | None]] = {
    "datepicker": ("selected_date", "initial_date", None),
    "timepicker": ("selected_time", "initial_time", None),
    "datetimepicker": ("selected_date_time", "initial_date_time", None),
    "users_select": ("selected_user", "initial_user", None),
    "multi_users_select": ("selected_users", "initial_users", []),
    "conversations_select": ("selected_conversation", "initial_conversation", None),
    "multi_conversations_select": ("selected_conversations", "initial_conversations", []),
    "channels_select": ("selected_channel", "initial_channel", None),
    "multi_channels_select": ("selected_channels", "initial_channels", []),
    "rich_text_input": ("rich_text_value", "initial_value", None),
}
_FAKE_ONLY_VIEW_KEYS = ("errors", "user_id")
_CONVERSATION_PICKERS = {
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
}
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def sign(signing_secret: str, timestamp: int, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += group.get("options") or []
    return found


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    for option in _options(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    if element["type"].endswith("external_select"):
        return {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
    values = [o.get("value") for o in _options(element)]
    raise ValueError(f"{element.get('action_id')}: no option with value {value!r}; options: {values}")


def _shown_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as Slack puts it into payloads: no fake-only edit counter, no empty thread/blocks fields."""
    return {k: v for k, v in message.items() if k != "edits" and (v or k not in ("reply_count", "blocks"))}


def _rich_text(text: str) -> dict[str, Any]:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return {"type": "rich_text", "elements": [section]}


class SlackClient:
    """Sends what Slack would send to the app at `app_url` (its events endpoint)."""

    def __init__(
        self,
        *,
        app_url: str,
        signing_secret: str,
        fake: FakeSlack,
        team_id: str | None = None,
        api_app_id: str = "A0POSTGATE",
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.team_id = team_id or fake.team_id
        self.api_app_id = api_app_id
        self.last_event_id: str | None = None
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SlackClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Transport

    def send_raw(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POSTs `body` as Slack does; `signature=None` signs it correctly with `timestamp` (default now)."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature or sign(self.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        return self._http.post(self.app_url, content=body, headers=headers | (extra_headers or {}))

    def _interaction(self, payload: dict[str, Any]) -> tuple[httpx.Response, bool]:
        """Sends an interactive payload; the flag says whether the ack came in time for Slack to use it."""
        started = time.monotonic()
        response = self.send_raw(self.interaction_body(payload))
        return response, time.monotonic() - started <= ACK_DEADLINE_SECONDS

    # Payload parts

    def _user(self, user_id: str) -> dict[str, Any]:
        try:
            name = self.fake.user(user_id)["name"]
        except LookupError:
            name = user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, str]:
        return {"id": self.team_id, "domain": "postgate-test"}

    def _common(self, kind: str, user_id: str) -> dict[str, Any]:
        return {
            "type": kind,
            "token": VERIFICATION_TOKEN,
            "api_app_id": self.api_app_id,
            "team": self._team(),
            "user": self._user(user_id),
            "enterprise": None,
            "is_enterprise_install": False,
            "trigger_id": self.fake.issue_trigger_id(user_id),
        }

    def _channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        try:
            return str(self.fake.channel(channel_id)["name"])
        except KeyError:
            return "unknown"

    # Slash commands and shortcuts

    def slash_command_form(
        self, user_id: str, command: str = "/post", text: str = "", *, channel_id: str = "C0GENERAL"
    ) -> dict[str, str]:
        """The fields of a slash command: the HTTP form, and in Socket Mode the envelope's payload."""
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": "postgate-test",
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user(user_id)["name"],
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(channel_id, user_id),
            "trigger_id": self.fake.issue_trigger_id(user_id),
        }

    def slash_command(
        self, user_id: str, command: str = "/post", text: str = "", *, channel_id: str = "C0GENERAL"
    ) -> httpx.Response:
        form = self.slash_command_form(user_id, command, text, channel_id=channel_id)
        started = time.monotonic()
        response = self.send_raw(urlencode(form).encode())
        if response.status_code == 200 and time.monotonic() - started <= ACK_DEADLINE_SECONDS:
            self._show_command_ack(channel_id, user_id, response)
        return response

    def _show_command_ack(self, channel_id: str, user_id: str, response: httpx.Response) -> None:
        if not response.content.strip():
            return
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
        else:
            body = {"text": response.text}
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return
        if body.get("response_type") == "in_channel":
            self.fake.add_message(channel_id, text=body.get("text") or "", blocks=body.get("blocks"))
        else:
            self.fake.record_ephemeral(channel=channel_id, user=user_id, body=body)

    def global_shortcut(self, user_id: str, callback_id: str) -> httpx.Response:
        payload = self._common("shortcut", user_id) | {
            "callback_id": callback_id,
            "action_ts": f"{time.time():.6f}",
        }
        return self._interaction(payload)[0]

    def message_shortcut(
        self, user_id: str, callback_id: str, *, channel_id: str, message: dict[str, Any]
    ) -> httpx.Response:
        """Runs a message shortcut (the message's "More actions" menu) on `message` as the user saw it."""
        payload = self._common("message_action", user_id) | {
            "callback_id": callback_id,
            "action_ts": f"{time.time():.6f}",
            "message_ts": message["ts"],
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "message": _shown_message(message),
            # The message need not be the app's, so the response_url has no original to replace: it
            # posts a new ephemeral (or in_channel) message.
            "response_url": self.fake.response_url(channel_id, user_id),
        }
        return self._interaction(payload)[0]

    # Block actions

    @staticmethod
    def _find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
        seen = []
        for block in blocks:
            candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
            candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
            for element in candidates:
                seen.append(element.get("action_id"))
                if element.get("action_id") == action_id:
                    return block["block_id"], element
        raise AssertionError(f"no element with action_id {action_id!r}; the surface has {seen}")

    @staticmethod
    def _action(block_id: str, element: dict[str, Any], value: Any) -> dict[str, Any]:
        action: dict[str, Any] = {
            "type": element["type"],
            "action_id": element["action_id"],
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
        }
        if element["type"] == "button":
            action["text"] = element["text"]
            if value is not None or "value" in element:
                action["value"] = value if value is not None else element["value"]
            if "style" in element:
                action["style"] = element["style"]
        elif element["type"] in _SINGLE_OPTION:
            action["selected_option"] = _option(element, value)
        elif element["type"] in _MULTI_OPTION:
            action["selected_options"] = [_option(element, v) for v in value or []]
        elif element["type"] in _PLAIN_STATE:
            action[_PLAIN_STATE[element["type"]][0]] = value
        else:
            action["value"] = value
        return action

    def click(
        self,
        user_id: str,
        *,
        channel_id: str,
        message: dict[str, Any],
        action_id: str,
        value: str | None = None,
    ) -> httpx.Response:
        """Clicks a button (or picks an option) in `message` as the user saw it, even if it changed since."""
        payload = self.click_payload(
            user_id, channel_id=channel_id, message=message, action_id=action_id, value=value
        )
        return self._interaction(payload)[0]

    def click_payload(
        self,
        user_id: str,
        *,
        channel_id: str,
        message: dict[str, Any],
        action_id: str,
        value: str | None = None,
    ) -> dict[str, Any]:
        """The block_actions payload `click` sends, without sending it (for load generators)."""
        block_id, element = self._find_element(message.get("blocks") or [], action_id)
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if message.get("thread_ts") not in (None, message["ts"]):
            container["thread_ts"] = message["thread_ts"]
        return self._common("block_actions", user_id) | {
            "container": container,
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "message": _shown_message(message),
            "state": {"values": {}},
            "response_url": self.fake.response_url(channel_id, user_id, message["ts"]),
            "actions": [self._action(block_id, element, value)],
        }

    def click_in_view(
        self,
        user_id: str,
        *,
        view_id: str,
        action_id: str,
        value: Any = None,
        inputs: Mapping[str, object] | None = None,
    ) -> httpx.Response:
        """Clicks a button (or picks an option) in an open modal or Home tab. `inputs` (by block_id) is what
        the user typed first; it stays in the view's state, as in Slack, for later clicks and the submit."""
        view = self.fake.view(view_id)
        if view["user_id"] != user_id:
            raise ValueError(f"view {view_id} belongs to {view['user_id']}, not {user_id}")
        self._check_on_top(user_id, view)
        block_id, element = self._find_element(view["blocks"], action_id)
        typed = dict(inputs or {})
        block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
        if block.get("type") == "input":
            # Slack sends an action from an input block only when the block has dispatch_action; the
            # picked value is then part of the view's state as well.
            if not block.get("dispatch_action"):
                raise ValueError(
                    f"{action_id} is in an input block without dispatch_action: Slack sends nothing"
                )
            typed[block_id] = value
        values = self._state_values(view, typed)
        if typed:
            self.fake.set_view_state(view_id, values)
        payload = self._common("block_actions", user_id) | {
            "container": {"type": "view", "view_id": view_id},
            "view": self._view_payload(view, values),
            "actions": [self._action(block_id, element, value)],
        }
        return self._interaction(payload)[0]

    # Views

    @staticmethod
    def _view_payload(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in view.items() if k not in _FAKE_ONLY_VIEW_KEYS}
        return shown | {"state": {"values": values}}

    @staticmethod
    def _initial_state(element: dict[str, Any]) -> dict[str, Any]:
        kind = element["type"]
        if kind in _TEXT_INPUTS:
            return {"type": kind, "value": element.get("initial_value")}
        if kind in _SINGLE_OPTION:
            return {"type": kind, "selected_option": copy.deepcopy(element.get("initial_option"))}
        if kind in _MULTI_OPTION:
            return {"type": kind, "selected_options": copy.deepcopy(element.get("initial_options") or [])}
        if kind == "file_input":
            return {"type": kind, "files": []}
        state_key, initial_key, empty = _PLAIN_STATE[kind]
        state = {"type": kind, state_key: copy.deepcopy(element.get(initial_key, empty))}
        if kind == "timepicker" and element.get("timezone"):
            state["timezone"] = element["timezone"]
        return state

    def _typed_state(self, element: dict[str, Any], value: Any) -> dict[str, Any]:
        state = self._initial_state(element)
        kind = element["type"]
        if kind in _TEXT_INPUTS:
            state["value"] = None if value is None else str(value)
        elif kind in _SINGLE_OPTION:
            state["selected_option"] = None if value is None else _option(element, value)
        elif kind in _MULTI_OPTION:
            values = [value] if isinstance(value, str | dict) else list(value or [])
            state["selected_options"] = [_option(element, v) for v in values]
        elif kind == "file_input":
            state["files"] = [f if isinstance(f, dict) else self.fake.file(f) for f in value or []]
        elif kind == "rich_text_input" and isinstance(value, str):
            state["rich_text_value"] = _rich_text(value)
        else:
            self._check_picked(element, value)
            state[_PLAIN_STATE[kind][0]] = value
        return state

    @staticmethod
    def _check_picked(element: dict[str, Any], value: Any) -> None:
        """A picker can only produce values of its own shape; a test typing anything else is a test bug."""
        kind, action_id = element["type"], element.get("action_id")
        if value is None:
            return
        if kind == "timepicker" and not (isinstance(value, str) and _TIME.match(value)):
            raise ValueError(f"{action_id}: a timepicker gives 'HH:mm', not {value!r}")
        if kind == "datetimepicker" and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{action_id}: a datetimepicker gives UNIX seconds (int), not {value!r}")
        if kind.startswith("multi_") and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"{action_id}: a {kind} gives a list of ids, not {value!r}")
        if kind in ("users_select", *_CONVERSATION_PICKERS) and not isinstance(value, str):
            raise ValueError(f"{action_id}: a {kind} gives one id, not {value!r}")

    def _state_values(self, view: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        blocks = input_blocks(view)
        unknown = sorted(set(inputs) - {b["block_id"] for b in blocks})
        if unknown:
            raise ValueError(
                f"no input blocks {unknown} in view {view['id']}; has {[b['block_id'] for b in blocks]}"
            )
        kept = view["state"]["values"]
        values: dict[str, Any] = {}
        for block in blocks:
            element, block_id = block["element"], block["block_id"]
            action_id = element["action_id"]
            if block_id in inputs:
                state = self._typed_state(element, inputs[block_id])
            elif action_id in kept.get(block_id, {}):
                state = copy.deepcopy(kept[block_id][action_id])
            else:
                state = self._initial_state(element)
            values[block_id] = {action_id: state}
        return values

    @staticmethod
    def _check_submittable(view: dict[str, Any], values: dict[str, Any]) -> None:
        """Slack's client refuses to send a submission with an empty required input or over-long text."""
        for block in input_blocks(view):
            element = block["element"]
            state = values[block["block_id"]][element["action_id"]]
            filled = [v for k, v in state.items() if k not in ("type", "timezone")]
            if not block.get("optional") and all(v in (None, "", []) for v in filled):
                raise ValueError(f"input {block['block_id']} is required; Slack would not submit the view")
            if element["type"] == "number_input" and state.get("value"):
                SlackClient._check_number(block["block_id"], element, str(state["value"]))
            text = state.get("value") if element["type"] == "plain_text_input" else None
            if text:
                max_length, min_length = element.get("max_length", 3000), element.get("min_length", 0)
                if not min_length <= len(text) <= max_length:
                    raise ValueError(
                        f"input {block['block_id']} has {len(text)} characters, allowed "
                        f"{min_length}..{max_length}; Slack would not submit the view"
                    )

    @staticmethod
    def _check_number(block_id: str, element: dict[str, Any], text: str) -> None:
        refused = f"input {block_id}: {text!r} "
        if not _NUMBER.match(text):
            raise ValueError(refused + "is not a number; Slack would not submit the view")
        if "." in text and not element.get("is_decimal_allowed"):
            raise ValueError(refused + "is a decimal, not allowed here; Slack would not submit the view")
        number = float(text)
        low, high = element.get("min_value"), element.get("max_value")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise ValueError(refused + f"is outside {low}..{high}; Slack would not submit the view")

    def _response_urls(self, view: dict[str, Any], values: dict[str, Any]) -> list[dict[str, str]]:
        """A conversation picker with `response_url_enabled` gets a response_url for the picked channel."""
        urls = []
        for block in input_blocks(view):
            element = block["element"]
            state_key = _CONVERSATION_PICKERS.get(element["type"])
            picked = values[block["block_id"]][element["action_id"]].get(state_key or "")
            if state_key and element.get("response_url_enabled") and picked:
                urls.append(
                    {
                        "block_id": block["block_id"],
                        "action_id": element["action_id"],
                        "channel_id": picked,
                        "response_url": self.fake.response_url(picked, view["user_id"]),
                    }
                )
        return urls

    def _check_on_top(self, user_id: str, view: dict[str, Any]) -> None:
        """Of a stack of modals the user sees (and can use) only the top one."""
        if view["type"] != "modal":
            return
        top = [v["id"] for v in self.fake.views(user_id) if v["type"] == "modal"][-1:]
        if top != [view["id"]]:
            raise ValueError(f"view {view['id']} is not the one {user_id} sees (top of stack: {top})")

    def submit_view(
        self, user_id: str, view_id: str, inputs: Mapping[str, object] | None = None
    ) -> httpx.Response:
        """Submits an open modal; `inputs` (by block_id) override what was typed before or initial values."""
        payload = self.submission_payload(user_id, view_id, inputs)
        self.fake.set_view_state(view_id, payload["view"]["state"]["values"])
        self.fake.set_view_errors(view_id, {})  # a new submission clears the errors shown before
        response, in_time = self._interaction(payload)
        if response.status_code == 200 and in_time:
            self._apply_view_response(user_id, view_id, response)
        return response

    def submission_payload(
        self, user_id: str, view_id: str, inputs: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        """The view_submission payload `submit_view` sends, without sending it or touching the fake's view
        (for load generators). Slack's client-side checks apply all the same."""
        view = self.fake.view(view_id)
        if view["type"] != "modal" or not view.get("submit"):
            raise ValueError(f"view {view_id} has no submit button")
        self._check_on_top(user_id, view)
        values = self._state_values(view, dict(inputs or {}))
        self._check_submittable(view, values)
        return self._common("view_submission", user_id) | {
            "view": self._view_payload(view, values),
            "response_urls": self._response_urls(view, values),
        }

    @staticmethod
    def interaction_body(payload: dict[str, Any]) -> bytes:
        """The HTTP body Slack posts for an interaction payload (sign it with `sign`)."""
        return urlencode({"payload": json.dumps(payload)}).encode()

    def _apply_view_response(self, user_id: str, view_id: str, response: httpx.Response) -> None:
        if not response.content.strip():
            self.fake.close_view(view_id)
            return
        try:
            body = response.json()
        except ValueError as exc:
            raise AssertionError(f"Slack cannot parse the view_submission ack: {response.text!r}") from exc
        action = body.get("response_action") if isinstance(body, dict) else "(not an object)"
        if action is None:
            self.fake.close_view(view_id)
        elif action == "errors" and isinstance(body.get("errors"), dict) and body["errors"]:
            self.fake.set_view_errors(view_id, body["errors"])
        elif action == "update" and isinstance(body.get("view"), dict):
            self.fake.replace_view(view_id, body["view"])
        elif action == "push" and isinstance(body.get("view"), dict):
            self.fake.push_view(user_id, body["view"])
        elif action == "clear":
            self.fake.close_views(user_id)
        else:
            raise AssertionError(f"Slack rejects this view_submission ack: {body!r}")

    # Events API

    def event(
        self, event: dict[str, Any], *, retry_num: int | None = None, event_id: str | None = None
    ) -> httpx.Response:
        """Delivers an event_callback; pass the previous `last_event_id` with `retry_num` for a redelivery."""
        self.last_event_id = event_id or "Ev" + secrets.token_hex(5).upper()
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": f"{time.time():.6f}"} | event,
            "type": "event_callback",
            "event_id": self.last_event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_hex(16),
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.send_raw(
            json.dumps(envelope).encode(), content_type="application/json", extra_headers=headers
        )

    def app_home_opened(self, user_id: str, *, tab: str = "home") -> httpx.Response:
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id[1:],
            "tab": tab,
        }
        homes = [v for v in self.fake.views(user_id) if v["type"] == "home"]
        if homes:
            event["view"] = self._view_payload(homes[0], homes[0]["state"]["values"])
        return self.event(event)
