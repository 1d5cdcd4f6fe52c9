"""Slack's Socket Mode side, served on loopback: the WebSocket an app reaches through the URL that
`apps.connections.open` hands out (`FakeSlack` starts one of these lazily and issues its tickets).

Owns the WebSocket itself (RFC 6455, stdlib only, text/ping/pong/close frames, no extensions), the
`hello` Slack sends on connect, envelopes pushed to the app, and the acknowledgements it sends back.
Like Slack, it delivers each envelope to one open connection (the newest) and accepts only tickets it
issued, each once. URLs are `ws://127.0.0.1:<port>/link/?ticket=...`: not port 443, so slack_sdk's
builtin client talks plain TCP.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA
_MAX_HANDSHAKE = 16 * 1024
_MAX_FRAME = 1024 * 1024
_POLL = 0.2  # how often blocking reads look at the stop flag


class _Closed(Exception):
    pass


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def _frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked, unfragmented frame, as a server sends them."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    if n < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", n) + payload
    return head + bytes([127]) + struct.pack("!Q", n) + payload


class _Connection:
    """One app connection: the handshake, then a reader loop until close, EOF or server stop."""

    def __init__(self, server: FakeSocketModeServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.sock.settimeout(_POLL)
        self._send_lock = threading.Lock()
        self._buffer = b""

    def run(self) -> None:
        try:
            if self._handshake():
                self.server._attach(self)
                self.send_text(self.server._hello())
                while not self.server._stopping.is_set() and self._serve_one_frame():
                    pass
        except (_Closed, OSError):
            pass
        finally:
            self.server._detach(self)
            with contextlib.suppress(OSError):
                self.sock.close()

    # Reading

    def _recv_some(self) -> bytes:
        """One chunk; b"" when nothing arrived within _POLL seconds."""
        if self.server._stopping.is_set():
            raise _Closed
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return b""
        if not chunk:
            raise _Closed
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += self._recv_some()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _handshake(self) -> bool:
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > _MAX_HANDSHAKE or time.monotonic() > deadline:
                return False
            self._buffer += self._recv_some()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        request_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = request_line.split(" ")
        ticket = parse_qs(urlsplit(parts[1]).query).get("ticket", [""])[0] if len(parts) == 3 else ""
        key = headers.get("sec-websocket-key", "")
        upgrade = headers.get("upgrade", "").lower() == "websocket"
        if parts[0] != "GET" or not upgrade or not key or headers.get("sec-websocket-version") != "13":
            self._reply_http(400, "Bad Request")
            return False
        if self.server.refuse_handshakes or not self.server._redeem(ticket):
            self._reply_http(401, "Unauthorized")
            return False
        self._send_raw(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode()
        )
        return True

    def _serve_one_frame(self) -> bool:
        first, second = self._read(2)
        opcode, masked, length = first & 0x0F, second & 0x80, second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        if not masked or length > _MAX_FRAME or not first & 0x80:
            # Clients must mask; this fake has no use for fragments or huge frames.
            self._close(1002)
            return False
        mask = self._read(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(length)))
        if opcode == _TEXT:
            self.server._received(payload.decode("utf-8"))
        elif opcode == _PING:
            self._send_frame(_PONG, payload)
        elif opcode == _CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1000
            self._close(code)
            return False
        elif opcode not in (_PONG, _BINARY):
            self._close(1002)
            return False
        return True

    # Writing

    def _send_raw(self, data: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(data)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        self._send_raw(_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self._send_frame(_TEXT, text.encode("utf-8"))

    def _reply_http(self, status: int, reason: str) -> None:
        with contextlib.suppress(OSError):
            self._send_raw(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode())

    def _close(self, code: int) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(_CLOSE, struct.pack("!H", code))

    def close(self, code: int = 1001) -> None:
        """Server-initiated close (used when the fake stops)."""
        self._close(code)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class FakeSocketModeServer:
    """A threaded loopback WebSocket server playing Slack's Socket Mode endpoint."""

    def __init__(self, *, app_id: str = "A0POSTGATE") -> None:
        self.app_id = app_id
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL)
        self.port = int(self._listener.getsockname()[1])
        self.refuse_handshakes = False  # set to answer every WebSocket handshake 401, as for a dead ticket
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._open: list[_Connection] = []
        self._accepted = 0
        self._acks: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="fake-socket-mode", daemon=True)

    # Lifecycle

    def start(self) -> FakeSocketModeServer:
        if not self._acceptor.is_alive() and not self._stopping.is_set():
            self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.close_connections()
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn = _Connection(self, sock)
            thread = threading.Thread(target=conn.run, name="fake-socket-mode-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    # What apps.connections.open hands out

    def issue_url(self) -> str:
        ticket = secrets.token_hex(8)
        with self._cond:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # Towards the app

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
    ) -> str:
        """Pushes an envelope ("slash_commands", "interactive", "events_api") to the newest connection."""
        envelope_id = envelope_id or f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope |= {"retry_attempt": 0, "retry_reason": ""}
        with self._cond:
            target = self._open[-1] if self._open else None
        if target is None:
            raise AssertionError("no Socket Mode connection is open")
        target.send_text(json.dumps(envelope))
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's warning before it drops a connection; the app should open a new one."""
        with self._cond:
            conns = list(self._open)
        for conn in conns:
            conn.send_text(json.dumps({"type": "disconnect", "reason": reason}))

    def close_connections(self, code: int = 1001) -> None:
        """Slack going away: a close frame to every open connection, then the sockets shut."""
        with self._cond:
            conns = list(self._open)
        for conn in conns:
            conn.close(code)

    # Inspection

    def connections(self) -> int:
        """Connections open now."""
        with self._cond:
            return len(self._open)

    def accepted(self) -> int:
        """Connections that completed the handshake since start."""
        with self._cond:
            return self._accepted

    def acks(self) -> list[dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self._acks)

    def messages(self) -> list[dict[str, Any]]:
        """Text frames from the app that are not acks (Slack ignores them)."""
        with self._cond:
            return copy.deepcopy(self._messages)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ack in self._acks:
                    if ack.get("envelope_id") == envelope_id:
                        return copy.deepcopy(ack)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no ack for envelope {envelope_id} within {timeout}s; acks: {self._acks}"
                    )
                self._cond.wait(remaining)

    def wait_for_connections(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._open) != count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self._open)} connections open, expected {count}")
                self._cond.wait(remaining)

    # Called by connections

    def _redeem(self, ticket: str) -> bool:
        with self._cond:
            if ticket not in self._tickets:
                return False
            self._tickets.discard(ticket)
            return True

    def _attach(self, conn: _Connection) -> None:
        with self._cond:
            self._open.append(conn)
            self._accepted += 1
            self._cond.notify_all()

    def _detach(self, conn: _Connection) -> None:
        with self._cond:
            if conn in self._open:
                self._open.remove(conn)
            self._cond.notify_all()

    def _hello(self) -> str:
        with self._cond:
            count = len(self._open)
        return json.dumps(
            {
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": "fake-socket-mode", "build_number": 1},
                "connection_info": {"app_id": self.app_id},
            }
        )

    def _received(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = {"unparsed": text}
        with self._cond:
            if isinstance(message, dict) and "envelope_id" in message:
                self._acks.append(message)
            else:
                self._messages.append(message if isinstance(message, dict) else {"unparsed": text})
            self._cond.notify_all()
