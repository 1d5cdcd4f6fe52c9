"""A client-side request budget per provider key: N requests per sliding window, handed out in call order.

Publer allows 100 requests per 2 minutes per user and Postoria 300 per 5 minutes; exceeding them costs a
429 and, worse, a storm of retries. Every HTTP request of a provider (creates, media, polls) takes a slot
here first. Slots are reserved first come, first served, so posts that became due first are sent first.
A caller that would have to wait longer than it can afford gets `ProviderBudgetExhausted` with the wait,
and nothing is sent.

The provider's own headers re-synchronise the budget: when the server says fewer requests remain than we
think (other clients share Publer's budget), or answers 429, the limiter stops handing out slots until the
server's reset time.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import ProviderBudgetExhausted

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds|m|min|minutes)?\s*$")


@dataclass(frozen=True)
class RateLimit:
    """`limit` requests per `window` seconds."""

    limit: int
    window: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """ "100/120" or "100/120s" (seconds) or "100/2m" (minutes)."""
        match = _SPEC.match(text)
        if not match:
            raise ValueError(f"a rate limit looks like 100/120s or 100/2m, not {text!r}")
        limit, window, unit = int(match[1]), float(match[2]), (match[3] or "s")
        if unit.startswith("m"):
            window *= 60
        if limit < 1 or window <= 0:
            raise ValueError(f"a rate limit needs at least 1 request per positive window, not {text!r}")
        return cls(limit, window)

    def __str__(self) -> str:
        return f"{self.limit} requests per {self.window:g} s"


class RateLimiter:
    """A thread-safe sliding-window budget. `acquire` reserves the next free slot and sleeps until it.

    `budget` is what Postgate uses of the provider's limit: all of it up to 49 requests, 98% above."""

    def __init__(
        self,
        rate: RateLimit,
        *,
        provider: str,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        longest_wait: float | None = None,
    ) -> None:
        """`longest_wait` caps every caller's `max_wait`: a worker asleep on a spent budget is a worker the
        dispatcher cannot give other work, so past this wait the post is handed back instead."""
        self.rate = rate
        self._longest_wait = longest_wait
        self._provider = provider
        self._monotonic = monotonic
        self._wall = wall
        self._sleep = sleep
        self._lock = threading.Lock()
        # Monotonic times of the slots handed out (past and reserved future ones), oldest first.
        self._slots: deque[float] = deque()
        self._blocked_until = 0.0
        # Slots are spaced by the window plus a little: a request reaches the server a few milliseconds
        # after its slot, and not always equally late, so an exact window lets the occasional pair
        # arrive just inside the server's window.
        self._window = rate.window * 1.01 + 0.15
        # And 2% of the budget is never used: a request whose thread lost the CPU between its slot and its
        # send can still reach the server a window later than the margin allows (the full-size bench saw
        # one 429 in 500 posts without it), and Publer's budget is shared with the user's other API keys.
        self.budget = rate.limit - rate.limit // 50

    def acquire(self, max_wait: float) -> float:
        """Take one request slot, sleeping until it is due; returns the seconds waited.

        Raises ProviderBudgetExhausted (nothing reserved) when the slot is more than `max_wait` away.
        """
        if self._longest_wait is not None:
            max_wait = min(max_wait, self._longest_wait)
        with self._lock:
            now = self._monotonic()
            self._forget(now)
            # Slots never go backwards: first come, first served, and the window check below stays exact.
            slot = max(now, self._blocked_until, self._slots[-1] if self._slots else now)
            if len(self._slots) >= self.budget:
                slot = max(slot, self._slots[-self.budget] + self._window)
            wait = slot - now
            if wait > max_wait:
                raise ProviderBudgetExhausted(
                    self._provider,
                    f"Postgate is holding requests back to stay within the rate limit ({self.rate}); "
                    f"the next free slot is in {wait:.0f} s",
                    retry_after=wait,
                )
            self._slots.append(slot)
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, *, remaining: int | None, reset_in: float | None, limited: bool) -> None:
        """Align with what the server said: `remaining` requests until `reset_in` seconds from now.

        A 429 (`limited`) blocks every slot until the reset (or one window when the server gave none).
        """
        with self._lock:
            now = self._monotonic()
            if limited:
                pause = reset_in if reset_in is not None and reset_in > 0 else self.rate.window
                self._blocked_until = max(self._blocked_until, now + min(pause, self.rate.window * 2))
                return
            if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
                ours = sum(1 for slot in self._slots if now - self.rate.window < slot <= now)
                if ours >= self.budget:
                    # Our own requests spent the window: the slots already wait for exactly the right
                    # moment, and Publer's reset (whole seconds, rounded up) would only add idle time.
                    return
                self._blocked_until = max(self._blocked_until, now + min(reset_in, self.rate.window * 2))

    def seconds_from_unix(self, unix_time: float) -> float:
        """Seconds from now until a UNIX timestamp a server sent (Publer's X-RateLimit-Reset)."""
        return unix_time - self._wall()

    def _forget(self, now: float) -> None:
        horizon = now - self._window
        while self._slots and self._slots[0] <= horizon:
            self._slots.popleft()
