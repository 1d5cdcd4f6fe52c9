"""The HTTP surface: `POST /slack/events` (Bolt, signature checked first), provider webhooks
(`POST /webhooks/<provider>`, each verifying its own signature over the raw body) and `GET /healthz`, as one
WSGI app served by waitress, a production WSGI server with a thread pool.

Sizes are bounded before anything is parsed for real: a body over `MAX_BODY` is refused (413), and a signed
interaction carrying a value larger than Slack itself allows (a modal input, private_metadata, an option, a
button value) is refused with a 400 before Bolt sees it, since no real Slack client can send one."""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from slack_bolt.request.internals import parse_body
from slack_sdk.signature import Clock, SignatureVerifier
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from bot.ack_first import AckFirst
from bot.slack import guard

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: (raw body, lower-cased headers) → (HTTP status code, JSON body). It verifies its own signature.
WebhookHandler = Callable[[bytes, Mapping[str, str]], tuple[int, dict[str, Any]]]

MAX_BODY = 1_000_000  # Slack payloads are far smaller; anything bigger is not from Slack.
#: Slack's own caps on what a user can put into an interaction (docs: Block Kit and modal limits).
INPUT_VALUE_MAX = 3000
PRIVATE_METADATA_MAX = 3000
OPTION_VALUE_MAX = 150
OPTION_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000


#: Request threads of the server. Each in-flight Slack request holds one until its ack is sent.
SERVER_THREADS = 16


def make_server(app: WSGIApp, *, host: str, port: int) -> BaseWSGIServer | MultiSocketServer:
    """The HTTP server Postgate runs `app` on (waitress). The acknowledgement-latency benchmark serves its
    bare Bolt floor with this same function, so the two are compared on one server setup."""
    return create_server(
        app,
        host=host,
        port=port,
        threads=SERVER_THREADS,
        ident="postgate",
        clear_untrusted_proxy_headers=True,
    )


def _respond(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class WebApp:
    def __init__(
        self,
        *,
        health: Callable[[], dict[str, bool]],
        slack_handler: WSGIApp | None = None,
        signing_secret: str | None = None,
        webhooks: Mapping[str, WebhookHandler] | None = None,
        clock: Callable[[], float] = time.time,
        ack_first: AckFirst | None = None,
    ) -> None:
        self._health = health
        self._ack_first = ack_first or AckFirst()
        self._slack = slack_handler
        self._webhooks = dict(webhooks or {})
        self._verifier = (
            SignatureVerifier(signing_secret, clock=_ClockAdapter(clock)) if signing_secret else None
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            checks = self._health()
            healthy = all(checks.values())
            return _respond(
                start_response,
                "200 OK" if healthy else "503 Service Unavailable",
                {"status": "ok" if healthy else "unhealthy", **checks},
            )
        if path == "/slack/events" and self._slack is not None:
            if method != "POST":
                return _respond(start_response, "405 Method Not Allowed", {"error": "POST only"})
            # From the first byte Bolt sees, this request's ack goes before other work (bot.ack_first).
            with self._ack_first.awaited():
                return self._slack_request(environ, start_response)
        webhook = (
            self._webhooks.get(path.removeprefix("/webhooks/")) if path.startswith("/webhooks/") else None
        )
        if webhook is not None:
            if method != "POST":
                return _respond(start_response, "405 Method Not Allowed", {"error": "POST only"})
            return self._webhook_request(webhook, environ, start_response)
        return _respond(start_response, "404 Not Found", {"error": "not found"})

    def _webhook_request(
        self, handler: WebhookHandler, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        body = _read_body(environ)
        if body is None:
            return _respond(start_response, "413 Content Too Large", {"error": "body too large"})
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        try:
            code, answer = handler(body, headers)
        except Exception:
            log.exception("a webhook could not be handled")
            code, answer = 500, {"error": "internal error"}
        return _respond(start_response, f"{code} {HTTPStatus(code).phrase}", answer)

    def _slack_request(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self._slack is not None
        body = _read_body(environ)
        if body is None:
            return _respond(start_response, "413 Content Too Large", {"error": "body too large"})
        # Verified here, before Bolt parses anything: Bolt answers unsigned junk with a 500.
        if self._verifier is not None:
            headers = {
                "x-slack-signature": environ.get("HTTP_X_SLACK_SIGNATURE", ""),
                "x-slack-request-timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
            }
            try:
                valid = self._verifier.is_valid_request(body, headers)
            except (ValueError, TypeError):  # a missing or non-numeric timestamp
                valid = False
            if not valid:
                return _respond(start_response, "401 Unauthorized", {"error": "invalid request"})
        oversized = beyond_slack_limits(body)
        if oversized is not None:
            log.warning("a signed Slack request carried %s larger than Slack allows; answered 400", oversized)
            return _respond(start_response, "400 Bad Request", {"error": f"{oversized} is too large"})
        refused = _impossible_payload(body, environ.get("CONTENT_TYPE", ""))
        if refused is not None:
            # Before Bolt: some of its own middleware raises on such shapes before any of ours runs.
            reason, status = refused
            log.warning("%s: %s; answered %s", guard.REFUSED, reason, status)
            line = f"{status} {HTTPStatus(status).phrase}"
            return _respond(start_response, line, {"error": "not a payload Slack sends"})
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            return self._slack(environ, start_response)
        except Exception as error:
            # Signed, but not a shape Slack sends (Bolt's own parsing failed): refused, and said in one line.
            log.warning("a signed Slack request could not be parsed (%s); answered 400", type(error).__name__)
            return _respond(start_response, "400 Bad Request", {"error": "malformed request"})


def _impossible_payload(body: bytes, content_type: str) -> tuple[str, int] | None:
    """(why, HTTP status) when the guard refuses the parsed `body`; None to let Bolt have it."""
    try:
        parsed = parse_body(body.decode("utf-8"), content_type)
    except (UnicodeDecodeError, ValueError, TypeError, RecursionError):
        return None  # left to Bolt, whose parse failure is answered 400 below
    reason = guard.refusal(parsed)
    return None if reason is None else (reason, guard.refused_status(parsed))


def beyond_slack_limits(body: bytes) -> str | None:
    """What in an interaction payload is larger than Slack lets anyone send ("private_metadata", "an input
    value", …), or None. Slash commands are not checked: their text is only ever prefilled, cut, into the
    composer. Anything that is not a well-formed payload is left to Bolt."""
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
        payload = json.loads(fields["payload"][0])
    except (UnicodeDecodeError, KeyError, IndexError, ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    view = payload.get("view")
    if isinstance(view, dict):
        metadata = view.get("private_metadata")
        if isinstance(metadata, str) and len(metadata) > PRIVATE_METADATA_MAX:
            return "private_metadata"
        if _oversized_input(view.get("state")):
            return "an input value"
    actions = payload.get("actions")
    for action in actions if isinstance(actions, list) else []:
        if isinstance(action, dict):
            value = action.get("value")
            if isinstance(value, str) and len(value) > BUTTON_VALUE_MAX:
                return "a button value"
            chosen = {k: v for k, v in action.items() if k not in ("value", "text")}  # a button's own
            if _oversized_input(chosen):
                return "an input value"
    return None


def _oversized_input(state: Any) -> bool:
    """Whether a modal's state (or an action) holds a text or an option longer than Slack's caps. Walked
    without recursion; the attached files' own descriptions are Slack's and are not checked."""
    stack = [state]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if len(node) > INPUT_VALUE_MAX:
                return True
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if _is_option(node) and (
                len(node["value"]) > OPTION_VALUE_MAX
                or len(str(node["text"].get("text", ""))) > OPTION_TEXT_MAX
            ):
                return True
            stack.extend(value for key, value in node.items() if key != "files")
    return False


def _is_option(node: dict[str, Any]) -> bool:
    return isinstance(node.get("value"), str) and isinstance(node.get("text"), dict)


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The raw request body, or None when it is larger than anything a legitimate sender posts."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0 or length > MAX_BODY:
        return None
    return environ["wsgi.input"].read(length) if length else b""


class _ClockAdapter(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()
