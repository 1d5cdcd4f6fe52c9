"""Slack requests waiting for their acknowledgement go before Postgate's other work in the process.

One interpreter runs the acks, the work listeners do after acking (opening modals, lists, App Home), the
outbox and the dispatcher, and only one thread runs Python at a time. Under load the ack of a click
queued behind rendering and database work that no one was waiting for (bench.ack_latency: paced p99
about 200 ms against 9 ms for a bare Bolt app). So the ack path is marked, and other work, at the start
of each database session (`Database.read`/`write`, the natural step between units of work), gives way
while any ack is outstanding, for at most `max_wait` seconds each time so it is delayed, never starved.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: How long other work waits for outstanding acks at one step. Acks take a few ms; even under a steady
#: stream of them, background work gets the interpreter at least every `MAX_WAIT_SECONDS`.
MAX_WAIT_SECONDS = 0.05


class AckFirst:
    def __init__(self, max_wait: float = MAX_WAIT_SECONDS) -> None:
        self._max_wait = max_wait
        self._changed = threading.Condition()
        self._outstanding = 0
        self._local = threading.local()

    @property
    def outstanding(self) -> int:
        return self._outstanding

    @contextmanager
    def awaited(self) -> Iterator[None]:
        """One request whose ack Slack is waiting for, on this thread, until the block ends."""
        with self._changed:
            self._outstanding += 1
        self.on_ack_path(True)
        try:
            yield
        finally:
            self.on_ack_path(False)
            with self._changed:
                self._outstanding -= 1
                if not self._outstanding:
                    self._changed.notify_all()

    def on_ack_path(self, value: bool) -> None:
        """Mark this thread as working towards an ack (it never gives way) or not any more."""
        self._local.acking = value

    def urgent(self) -> bool:
        """True on a thread working towards an ack."""
        return bool(getattr(self._local, "acking", False))

    def give_way(self) -> None:
        """Wait until no ack is outstanding, at most `max_wait`; at once on an ack path."""
        if not self._outstanding or self.urgent():
            return
        with self._changed:
            self._changed.wait_for(lambda: not self._outstanding, timeout=self._max_wait)
