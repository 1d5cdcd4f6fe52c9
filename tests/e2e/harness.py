"""Runs Postgate as a separate process (`python -m bot run`) against the fake Slack and Publora."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

SIGNING_SECRET = "e2e-signing-secret-5f2d0c9a7b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppProcess:
    def __init__(self, *, env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            # Passed on so a benchmark of another checkout (PYTHONPATH=that checkout) runs its own app.
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
            "PYTHONUNBUFFERED": "1",
            "PORT": str(self.port),
            "POSTGATE_HOST": "127.0.0.1",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            **env,
        }
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def start(self, timeout: float = 20.0) -> AppProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"postgate exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"postgate did not become healthy:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def same_app_env(self) -> dict[str, str]:
        """This process's configuration without what each process sets for itself (its port…), to start
        another process of the same installation (a replica, or a restart)."""
        own = {"PORT", "PATH", "PYTHONUNBUFFERED", "POSTGATE_HOST", "SLACK_SIGNING_SECRET"}
        return {k: v for k, v in self.env.items() if k not in own}

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def message_text(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message: its fallback text and every block, as one string."""
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        parts.append(str(block))
    return "\n".join(parts)


def button_ids(message: dict[str, Any]) -> list[str]:
    return [
        e.get("action_id", "")
        for b in message.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    ]
