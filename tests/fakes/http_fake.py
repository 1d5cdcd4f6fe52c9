"""The HTTP scaffolding every fake provider server shares: case-insensitive headers, a canned reply, an
injected fault rule, and the request handler that turns a reply into bytes on the wire.

Each fake owns its routes and state; it hands `handler_for` a `serve(method, target, headers, raw)`
function and gets a `BaseHTTPRequestHandler` class for its `ThreadingHTTPServer`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any


class Headers(dict[str, str]):
    """Request headers, stored lower-case, looked up case-insensitively."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class Reply:
    """What a fake answers: a JSON `body`, or `raw` bytes instead, after `delay` seconds."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0


@dataclass
class Rule:
    """An injected fault: the next `times` requests to an endpoint answer this (see each fake's fail_next).

    `after_processing` does the real work first and only then answers with the fault ("received, but
    the answer was lost"); `method` limits the rule to one HTTP method.
    """

    status: int
    body: Any
    times: int
    after_processing: bool
    delay: float
    headers: dict[str, str]
    raw: bytes | None
    method: str | None = None


Serve = Callable[[str, str, Headers, bytes], Reply]


def handler_for(
    serve: Serve,
    stopping: threading.Event,
    *,
    server_version: str,
    raw_content_type: str = "application/json; charset=utf-8",
) -> type[BaseHTTPRequestHandler]:
    """A handler class that reads the body, asks `serve`, waits out the reply's delay and writes it.

    `raw_content_type` labels replies given as raw bytes; a reply's own headers override it.
    """

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so no handler thread lingers on an idle keep-alive.
        protocol_version = "HTTP/1.0"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            reply = serve(self.command, self.path, Headers(self.headers.items()), raw)
            if reply.delay > 0:
                stopping.wait(reply.delay)
            if reply.status == 204:
                data = b""
            elif reply.raw is not None:
                data = reply.raw
            else:
                data = json.dumps(reply.body).encode()
            headers = dict(reply.headers)
            if reply.status != 204:
                kind = raw_content_type if reply.raw is not None else "application/json; charset=utf-8"
                headers = {"Content-Type": kind, **headers, "Content-Length": str(len(data))}
            try:
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its timeout fired during `delay`)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    Handler.server_version = server_version
    return Handler
