"""A fake Slack Web API served over HTTP on loopback, strict where real Slack is strict.

Owns the harness side: the HTTP server, token and argument checks against the method catalogue
(`slack_catalog`), fault injection, the call log and the thread-safe inspection API tests use. What each
method does lives in `slack_methods`, the state it acts on in `slack_workspace`, Block Kit limits in
`slack_limits`.

Point a real `slack_sdk.WebClient(token=..., base_url=fake.url)` (or a Bolt app built on one) at it.
`apps.connections.open` takes the app-level token (`app_token`) and hands out a URL of `socket_mode`, a
`FakeSocketModeServer` started on first use, through which tests push Socket Mode envelopes.
Besides `/api/<method>` it serves the `response_url`s handed out in interaction payloads
(`/hooks/<id>`, as Bolt's `respond()` uses them), private file downloads (`/files/<id>/...`) and the
upload URLs that `files.getUploadURLExternal` hands out (`/upload/v1/<ticket>`, raw bytes or multipart,
as `WebClient.files_upload_v2` and curl send them).
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.fakes.slack_catalog import METHODS
from tests.fakes.slack_limits import input_blocks, message_block_problems
from tests.fakes.slack_methods import WebApiMethods
from tests.fakes.slack_socket_mode import FakeSocketModeServer
from tests.fakes.slack_workspace import ApiError, Workspace

T = TypeVar("T")

APP_ID = "A0POSTGATE"
# Every method accepts team_id (org-wide tokens); Bolt's per-request WebClient always sends it.
_ALWAYS_ALLOWED = frozenset({"token", "team_id"})
# Slack names a missing argument by a specific error where the method has one, else invalid_arguments.
_MISSING_ARG_ERRORS = {
    "channel": ("channel_not_found",),
    "ts": ("message_not_found",),
    "message_ts": ("message_not_found",),
    "timestamp": ("no_item_specified", "message_not_found"),
    "user": ("user_not_found",),
    "file": ("file_not_found",),
    "usergroup": ("no_such_subteam",),
    "name": ("invalid_name",),
}
# Arguments Slack takes as JSON, which form-encoded requests carry as JSON strings.
_JSON_ARGS = {
    "blocks": "invalid_blocks_format",
    "attachments": "invalid_attachments",
    "metadata": "invalid_metadata_format",
    "view": "invalid_arguments",
    "files": "invalid_arguments",
}
_SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class _Fault:
    status: int
    error: str
    retry_after: int | None
    remaining: int
    #: Do the work (store the message), then answer with the failure: "sent, but the answer was lost".
    after_processing: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (a killed app process) is normal in the chaos tests.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean; the call log is in FakeSlack.calls()

    def _route(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake = self.server.fake
        headers: dict[str, str] = {}
        content_type = "application/json; charset=utf-8"
        if url.path.startswith("/api/"):
            status, payload, headers = fake._serve_api(url.path[5:], url.query, self.headers, raw)
            body = json.dumps(payload).encode()
        elif url.path.startswith("/hooks/"):
            status, text = fake._serve_hook(url.path[7:], raw)
            body, content_type = text.encode(), "text/plain; charset=utf-8"
        elif url.path.startswith("/files/"):
            status, body, content_type = fake._serve_file(url.path[7:], self.headers)
        elif url.path.startswith("/upload/v1/") and self.command == "POST":
            status, text = fake._serve_upload(url.path[11:], self.headers.get("Content-Type", ""), raw)
            body, content_type = text.encode(), "text/plain; charset=utf-8"
        else:
            status, body, content_type = 404, b"not found", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _upload_body(content_type: str, raw: bytes) -> bytes:
    """The file's bytes from an upload request: the body itself, or the file part of a multipart form."""
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        return raw
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    form = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    if not isinstance(form, EmailMessage) or not form.is_multipart():
        raise ValueError("malformed multipart body")
    parts = list(form.iter_parts())
    # curl -F filename=@x.csv names the part "filename"; other clients call it "file".
    chosen = next((part for part in parts if part.get_filename() is not None), None)
    if chosen is None:
        chosen = next(
            (
                part
                for part in parts
                if part.get_param("name", header="content-disposition") in ("file", "filename")
            ),
            None,
        )
    if chosen is None:
        raise ValueError("no file part in the multipart body")
    payload = chosen.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _decode_params(query: str, content_type: str, raw: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ApiError("invalid_json") from exc
        if not isinstance(body, dict):
            raise ApiError("invalid_json")
        params.update(body)
    elif media_type in ("", "application/x-www-form-urlencoded"):
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
    else:
        raise ApiError("invalid_form_data")
    for name, error in _JSON_ARGS.items():
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except ValueError as exc:
                raise ApiError(error, f"[ERROR] {name} must be valid JSON [json-pointer:/{name}]") from exc
    return params


class FakeSlack:
    """A Slack workspace with one installed bot, reachable at `url` once started."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",
        app_token: str = "xapp-1-A0POSTGATE-test",
        team_id: str = "T0POSTGATE",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        free_plan: bool = False,
    ) -> None:
        """`free_plan=True`: a Free workspace, where user groups do not exist (`plan_upgrade_required`)."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = APP_ID
        # Bound here, served from start(): `url` is known before the app under test is configured.
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.root_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{self.root_url}/api/"
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._calls: list[dict[str, Any]] = []
        #: time.monotonic() at which each Web API call arrived, per method (for benchmarks).
        self._arrivals: dict[str, list[float]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        #: While set, every Web API call fails, alternately 500 and 429 (see `set_outage`).
        self._outage_calls: int | None = None
        self._ws = Workspace(
            team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id, app_id=APP_ID, root_url=self.root_url
        )
        self._ws.free_plan = free_plan
        self._socket_mode: FakeSocketModeServer | None = None
        self._methods = WebApiMethods(self._ws, socket_url=lambda: self.socket_mode.issue_url())

    # Lifecycle

    def start(self) -> FakeSlack:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            socket_mode, self._socket_mode = self._socket_mode, None
        if socket_mode is not None:
            socket_mode.stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    @property
    def socket_mode(self) -> FakeSocketModeServer:
        """The Socket Mode endpoint, started on first use (normally by `apps.connections.open`)."""
        with self._lock:
            if self._socket_mode is None:
                self._socket_mode = FakeSocketModeServer(app_id=self.app_id).start()
            return self._socket_mode

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Directory

    @property
    def free_plan(self) -> bool:
        return self._ws.free_plan

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str = "Europe/Berlin",
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
    ) -> None:
        """users.info shows owners as admins too, and the primary owner as an owner, as Slack does."""
        with self._lock:
            self._ws.add_user(
                user_id, name, tz=tz, is_admin=is_admin, is_owner=is_owner, is_primary_owner=is_primary_owner
            )

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        is_private: bool = False,
        bot_is_member: bool = True,
    ) -> None:
        with self._lock:
            self._ws.add_channel(
                channel_id, name, members=members, is_private=is_private, bot_is_member=bot_is_member
            )

    def add_usergroup(self, usergroup_id: str, handle: str, users: Iterable[str], *, name: str = "") -> None:
        if self.free_plan:
            raise ValueError("a free workspace has no user groups; use FakeSlack(free_plan=False)")
        now = int(time.time())
        with self._lock:
            self._ws.usergroups[usergroup_id] = {
                "id": usergroup_id,
                "team_id": self.team_id,
                "is_usergroup": True,
                "name": name or handle,
                "description": "",
                "handle": handle,
                "is_external": False,
                "date_create": now,
                "date_update": now,
                "date_delete": 0,
                "auto_type": None,
                "created_by": self.bot_user_id,
                "users": list(users),
            }

    def add_file(
        self,
        file_id: str,
        name: str,
        content: bytes = b"",
        *,
        mimetype: str = "application/octet-stream",
        user: str | None = None,
        duration_ms: int | None = None,
    ) -> dict[str, Any]:
        """Stores a file for files.info, downloadable from its `url_private(_download)` with the bot token.
        `duration_ms`: a video's length, as Slack gives it once it has processed the video."""
        with self._lock:
            return self._ws.add_file(
                file_id,
                name,
                content,
                mimetype=mimetype,
                user=user or self.bot_user_id,
                duration_ms=duration_ms,
            )

    def add_message(
        self,
        channel: str,
        *,
        text: str,
        user: str | None = None,
        blocks: list[Any] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A message from a person (or, with `user=None`, from the bot) that did not come through the API."""
        with self._lock:
            ch = self._ws.channels[channel]
            return copy.deepcopy(
                self._ws.add_message(ch, user=user, text=text, blocks=blocks, thread_ts=thread_ts)
            )

    def file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._ws.files[file_id][0])

    def uploaded_files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files the app uploaded (files.completeUploadExternal), oldest first; with `channel`, those shared
        there. Each: id, name, title, mimetype, content (bytes), channels (all shared to), channel (the
        first, or None for a private file), ts (its share message there) and thread_ts (or None)."""
        found = []
        with self._lock:
            for file_id in self._ws.uploaded:
                obj, content = self._ws.files[file_id]
                shares = {cid: entries[0] for vis in obj["shares"].values() for cid, entries in vis.items()}
                shared_to = [c for c in obj["channels"] + obj["groups"] + obj["ims"] if c in shares]
                if channel is not None and channel not in shared_to:
                    continue
                where = channel if channel is not None else (shared_to[0] if shared_to else None)
                share = shares.get(where or "", {})
                found.append(
                    {
                        "id": file_id,
                        "name": obj["name"],
                        "title": obj["title"],
                        "mimetype": obj["mimetype"],
                        "content": content,
                        "channels": shared_to,
                        "channel": where,
                        "ts": share.get("ts"),
                        "thread_ts": share.get("thread_ts"),
                    }
                )
        return found

    def user(self, user_id: str) -> dict[str, Any]:
        with self._lock:
            if user_id not in self._ws.users:
                raise KeyError(f"unknown user {user_id}; known: {sorted(self._ws.users)}")
            return self._ws.user_object(user_id)

    def channel(self, channel_id: str) -> dict[str, Any]:
        with self._lock:
            return self._ws.channel_object(self._ws.channels[channel_id])

    # Interactions

    @property
    def trigger_ttl(self) -> float:
        return self._ws.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, seconds: float) -> None:
        self._ws.trigger_ttl = seconds

    def issue_trigger_id(self, user_id: str) -> str:
        with self._lock:
            return self._ws.issue_trigger(user_id)

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url as Slack puts into interaction payloads: ≤ 5 uses within 30 minutes."""
        with self._lock:
            return self._ws.new_hook(channel, user, message_ts)

    # Inspection

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy([c for c in self._calls if method is None or c["method"] == method])

    def arrivals(self, method: str) -> list[float]:
        """`time.monotonic()` at which each `method` call (or "response_url" post) reached the fake, oldest
        first; cheap to poll."""
        with self._lock:
            return list(self._arrivals.get(method, ()))

    def messages(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            ch = self._channel(channel)
            return copy.deepcopy([m for m in ch.messages.values() if self._ws.is_root(m)])

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            ch = self._channel(channel)
            if ts not in ch.messages:
                raise KeyError(f"no message {ts} in {channel}; have {list(ch.messages)}")
            return copy.deepcopy(ch.messages[ts])

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._lock:
            ch = self._channel(channel)
            msgs = ch.messages.values()
            return copy.deepcopy(
                [m for m in msgs if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]
            )

    def ephemerals(self, *, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(
                [
                    e
                    for e in self._ws.ephemerals
                    if (channel is None or e["channel"] == channel) and (user is None or e["user"] == user)
                ]
            )

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            ch = self._ws.channels.get("D" + user_id[1:])
            return copy.deepcopy(list(ch.messages.values())) if ch else []

    def views(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Open modals (each user's stack, bottom first) and published Home tabs."""
        with self._lock:
            ids = [vid for uid, stack in self._ws.stacks.items() if user_id in (None, uid) for vid in stack]
            ids += [vid for uid, vid in self._ws.homes.items() if user_id in (None, uid)]
            return [self._view_copy(vid) for vid in ids]

    def view(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            if view_id not in self._ws.views:
                raise KeyError(f"view {view_id} is not open; open views: {list(self._ws.views)}")
            return self._view_copy(view_id)

    # Surface changes that Slack makes in response to an app's acknowledgement

    def record_ephemeral(self, *, channel: str, user: str, body: dict[str, Any]) -> None:
        problems = message_block_problems(body["blocks"]) if body.get("blocks") is not None else []
        if problems:
            raise AssertionError(f"Slack would reject this response (invalid_blocks): {problems}")
        with self._lock:
            self._ws.record_ephemeral(channel, user, body, source="ack")

    def close_view(self, view_id: str) -> None:
        with self._lock:
            self._ws.close_view(view_id)

    def close_views(self, user_id: str) -> None:
        """response_action "clear": the user's whole modal stack closes."""
        with self._lock:
            self._ws.clear_stack(user_id)

    def set_view_errors(self, view_id: str, errors: dict[str, str]) -> None:
        with self._lock:
            view = self._ws.views[view_id]
            input_ids = {b.get("block_id") for b in input_blocks(view)}
            unknown = sorted(set(errors) - input_ids)
            if unknown:
                # Slack only shows errors on input blocks; any other key makes the whole response fail.
                raise AssertionError(
                    f"response_action errors name non-input blocks {unknown}; inputs: {input_ids}"
                )
            self._ws.view_errors[view_id] = dict(errors)

    def set_view_state(self, view_id: str, values: dict[str, Any]) -> None:
        """What the user has typed so far; kept across errors and matching views.update calls."""
        with self._lock:
            self._ws.views[view_id]["state"]["values"] = copy.deepcopy(values)

    def replace_view(self, view_id: str, view: dict[str, Any]) -> None:
        with self._lock:
            current = self._ws.views[view_id]
            self._assert_valid_view(view, (current["type"],), replacing=view_id)
            self._ws.store_view(view, user_id=self._ws.view_owner[view_id], view_id=view_id)

    def push_view(self, user_id: str, view: dict[str, Any]) -> str:
        with self._lock:
            self._assert_valid_view(view, ("modal",))
            try:
                return str(self._ws.push_modal(user_id, view)["id"])
            except ApiError as exc:
                raise AssertionError(f"Slack would reject this push: {exc.error}") from exc

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
        """Polls `predicate` until it returns something truthy; exceptions count as "not yet"."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            try:
                result = predicate()
                if result:
                    return result
            except Exception as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                name = getattr(predicate, "__qualname__", repr(predicate))
                recent = "\n".join(f"  {self._describe(c)}" for c in self.calls()[-15:]) or "  (none)"
                error = f"; last error: {last_error!r}" if last_error else ""
                raise AssertionError(
                    f"condition {name} not met within {timeout}s{error}\nrecent Slack API calls:\n{recent}"
                )
            time.sleep(interval)

    # Fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = 1,
        times: int = 1,
        after_processing: bool = False,
    ) -> None:
        """The next `times` calls of `method` fail: 429 with Retry-After, another HTTP status, or with
        status 200 a plain `ok: false` answer, e.g. `fail_next("chat.update", status=200, error="x")`.
        With `after_processing` the call takes effect first (the message is posted) and only the answer
        fails, as when a connection drops after Slack acted.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(status, error, retry_after, times, after_processing)
            )

    def set_outage(self, down: bool) -> None:
        """While down, every Web API call fails without taking effect: alternately HTTP 500
        (`fatal_error`) and 429 (`ratelimited`, Retry-After 1), as Slack does in an incident."""
        with self._lock:
            self._outage_calls = 0 if down else None

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # HTTP endpoints (called by _Handler)

    def _serve_api(
        self, method: str, query: str, headers: Message, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self._arrivals.setdefault(method, []).append(time.monotonic())
        params: dict[str, Any] = {}
        status, extra_headers = 200, {}
        try:
            params = _decode_params(query, headers.get("Content-Type", ""), raw)
            token = params.pop("token", None)
            auth = headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                token = auth[7:]
            result = self._answer(method, token, params)
            payload: dict[str, Any] = {"ok": True, **result}
            recorded = True
        except ApiError as exc:
            recorded = getattr(exc, "recorded", False)
            payload = {"ok": False, "error": exc.error, **exc.extra}
            if exc.messages:
                payload["response_metadata"] = {"messages": exc.messages}
            status = exc.status
            if exc.retry_after is not None:
                extra_headers["Retry-After"] = str(exc.retry_after)
        except Exception as exc:
            # A bug in the fake must fail the test visibly, not look like a flaky connection.
            status = 500
            payload = {"ok": False, "error": f"fake_slack_bug: {exc!r}", "traceback": traceback.format_exc()}
            recorded = False
        if not recorded:
            with self._lock:
                self._calls.append(
                    {"method": method, "params": params, "ok": payload["ok"], "error": payload.get("error")}
                )
        return status, payload, extra_headers

    def _answer(self, method: str, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        spec = METHODS.get(method)
        if spec is None:
            raise ApiError("unknown_method", req_method=method)
        late: _Fault | None = None
        with self._lock:
            if self._outage_calls is not None:
                self._outage_calls += 1
                if self._outage_calls % 2:
                    raise ApiError("fatal_error", status=500)
                raise ApiError("ratelimited", status=429, retry_after=1)
            faults = self._faults.get(method)
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.pop(0)
                retry_after = fault.retry_after if fault.status == 429 else None
                if not fault.after_processing:
                    raise ApiError(fault.error, status=fault.status, retry_after=retry_after)
                late = fault
        if not token:
            raise ApiError("not_authed")
        expected, other = (
            (self.app_token, self.bot_token) if spec.token == "app" else (self.bot_token, self.app_token)
        )
        if token == other:
            raise ApiError("not_allowed_token_type")
        if token != expected:
            raise ApiError("invalid_auth")
        unknown = sorted(set(params) - spec.args - _ALWAYS_ALLOWED)
        if unknown:
            raise ApiError(
                "invalid_arguments", *(f"[ERROR] unsupported argument `{name}`" for name in unknown)
            )
        for name in sorted(spec.required - {"token"}):
            if params.get(name) in (None, ""):
                specific = [e for e in _MISSING_ARG_ERRORS.get(name, ()) if e in spec.errors]
                if specific:
                    raise ApiError(specific[0])
                raise ApiError("invalid_arguments", f"[ERROR] missing required field: {name}")
        late_error = (
            None
            if late is None
            else ApiError(
                late.error, status=late.status, retry_after=late.retry_after if late.status == 429 else None
            )
        )
        with self._lock:
            result = self._methods.call(method, copy.deepcopy(params))
            # Recorded together with the state change: a test that sees a view or a message must also see
            # the call that made it.
            self._calls.append(
                {
                    "method": method,
                    "params": params,
                    "ok": late is None,
                    "error": None if late is None else late.error,
                }
            )
            if late_error is not None:
                late_error.recorded = True  # type: ignore[attr-defined]
        if late_error is not None:
            raise late_error
        return result

    def _serve_hook(self, token: str, raw: bytes) -> tuple[int, str]:
        with self._lock:
            self._arrivals.setdefault("response_url", []).append(time.monotonic())
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        with self._lock:
            if isinstance(body, dict):
                status, text = self._ws.post_to_hook(token, body)
            else:
                status, text = 400, "invalid_payload"
            self._calls.append(
                {
                    "method": "response_url",
                    "params": body,
                    "ok": status == 200,
                    "error": None if status == 200 else text,
                }
            )
        return status, text

    def _serve_upload(self, token: str, content_type: str, raw: bytes) -> tuple[int, str]:
        try:
            content = _upload_body(content_type, raw)
        except ValueError as exc:
            status, text = 400, f"invalid_form_data: {exc}"
        else:
            with self._lock:
                status, text = self._ws.receive_upload(token, content)
        with self._lock:
            self._calls.append(
                {
                    "method": "upload_url",
                    "params": {"bytes": len(raw), "content_type": content_type},
                    "ok": status == 200,
                    "error": None if status == 200 else text,
                }
            )
        return status, text

    def _serve_file(self, path: str, headers: Message) -> tuple[int, bytes, str]:
        with self._lock:
            stored = self._ws.files.get(path.split("/", 1)[0])
        if stored is None:
            return 404, b"file not found", "text/plain"
        # Without the bot token Slack answers 200 with its sign-in page, not an error status.
        if headers.get("Authorization", "") != f"Bearer {self.bot_token}":
            return 200, _SIGN_IN_PAGE, "text/html; charset=utf-8"
        return 200, stored[1], stored[0]["mimetype"]

    # Helpers

    def _channel(self, channel: str) -> Any:
        if channel not in self._ws.channels:
            raise KeyError(f"unknown channel {channel}; known: {sorted(self._ws.channels)}")
        return self._ws.channels[channel]

    def _view_copy(self, view_id: str) -> dict[str, Any]:
        view = copy.deepcopy(self._ws.views[view_id])
        view["errors"] = dict(self._ws.view_errors.get(view_id, {}))
        view["user_id"] = self._ws.view_owner[view_id]
        return view

    def _assert_valid_view(
        self, view: dict[str, Any], types: tuple[str, ...], replacing: str | None = None
    ) -> None:
        try:
            self._ws.check_view(view, types, replacing=replacing)
        except ApiError as exc:
            raise AssertionError(f"Slack would reject this view ({exc.error}): {exc.messages}") from exc

    @staticmethod
    def _describe(call: dict[str, Any]) -> str:
        outcome = "ok" if call["ok"] else f"error={call['error']}"
        params = json.dumps(call["params"], default=str)
        return f"{call['method']} {outcome} {params[:200]}{'…' if len(params) > 200 else ''}"


# What a Slack client renders: the special `<…>` tokens of mrkdwn text (for tests of what Postgate's
# messages can ping or link). Only mrkdwn is parsed for them; plain_text objects show `<…>` as typed.

_SURFACE_METHODS = {
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.scheduleMessage",
    "views.open",
    "views.update",
    "views.push",
    "views.publish",
    "response_url",
}
# Rich-text elements that render as a mention, a ping or a link, with the token Slack would write for them.
_RICH_SPECIALS: dict[str, Callable[[dict[str, Any]], str]] = {
    "user": lambda e: f"@{e.get('user_id', '')}",
    "usergroup": lambda e: f"!subteam^{e.get('usergroup_id', '')}",
    "channel": lambda e: f"#{e.get('channel_id', '')}",
    "broadcast": lambda e: f"!{e.get('range', '')}",
    "link": lambda e: f"{e.get('url', '')}|{e.get('text') or e.get('url', '')}",
}
_RICH_TARGETS = ("user_id", "usergroup_id", "channel_id", "range", "url")


def _scan_special_tokens(text: str) -> list[str]:
    """The inner text of every `<…>` token in a mrkdwn text, as Slack parses it (escaped `&lt;` is text)."""
    tokens, start = [], text.find("<")
    while start != -1:
        end = text.find(">", start + 1)
        if end == -1:
            break
        inner = text[start + 1 : end]
        if "<" in inner:  # an unclosed `<` before this one is plain text
            start = text.rfind("<", start, end)
            continue
        tokens.append(inner)
        start = text.find("<", end + 1)
    return tokens


def mrkdwn_texts(surface: dict[str, Any]) -> list[str]:
    """Every text of a message (or ephemeral, response_url body) or view (modal, Home tab) that a Slack
    client renders as mrkdwn: the message's top-level `text` (also its notification) unless `mrkdwn` is
    false, `mrkdwn` text objects anywhere in its blocks (sections, fields, context, confirm dialogs),
    `markdown` blocks, and attachments' texts. plain_text objects are left out: Slack shows them as typed."""
    texts: list[str] = []
    is_view = surface.get("type") in ("modal", "home", "workflow_step")
    if not is_view and isinstance(surface.get("text"), str) and surface.get("mrkdwn") is not False:
        texts.append(surface["text"])
    for attachment in surface.get("attachments") or []:
        if isinstance(attachment, dict):
            texts += [
                attachment[k] for k in ("pretext", "text", "footer") if isinstance(attachment.get(k), str)
            ]
            texts += [f["value"] for f in attachment.get("fields") or [] if isinstance(f.get("value"), str)]
    stack: list[Any] = [surface.get("blocks") or []]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "markdown") and isinstance(node.get("text"), str):
                texts.append(node["text"])
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return texts


def rendered_specials(surface: dict[str, Any]) -> list[str]:
    """The specials a Slack client renders in `surface`, each as the inside of its token: `!channel`,
    `!here`, `!subteam^S…`, `!date^…|…`, `@U…`, `#C…`, `https://…|label`. From mrkdwn text (see
    `mrkdwn_texts`) and rich-text elements; nothing from plain_text."""
    specials = [token for text in mrkdwn_texts(surface) for token in _scan_special_tokens(text)]
    stack: list[Any] = [surface.get("blocks") or []]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            render = _RICH_SPECIALS.get(str(node.get("type")))
            if render is not None and any(k in node for k in _RICH_TARGETS):
                specials.append(render(node))
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return specials


def surfaces_shown(fake: FakeSlack) -> list[tuple[str, dict[str, Any]]]:
    """(where, surface) for everything the app showed through `fake`: every message, update, ephemeral and
    view it sent (from the call log, so later edits do not hide earlier versions), what the fake holds now
    (messages in every conversation, ephemerals shown from acknowledgements, open views), and the initial
    comments of uploaded files."""
    shown: list[tuple[str, dict[str, Any]]] = []
    for call in fake.calls():
        params = call["params"] if isinstance(call["params"], dict) else {}
        if call["method"] in _SURFACE_METHODS:
            view = params.get("view")
            shown.append((call["method"], view if isinstance(view, dict) else params))
        elif call["method"] == "files.completeUploadExternal" and params.get("initial_comment"):
            shown.append((call["method"], {"text": params["initial_comment"]}))
    with fake._lock:
        for channel in fake._ws.channels.values():
            shown += [(f"conversation {channel.id}", copy.deepcopy(m)) for m in channel.messages.values()]
    shown += [("ephemeral", e) for e in fake.ephemerals()]
    shown += [(f"view {v['id']}", v) for v in fake.views()]
    return shown
