"""A client-side request budget per provider key: N requests per sliding window, handed out in call order.

Publer allows 100 requests per 2 minutes per user and Postoria 300 per 5 minutes; exceeding them costs a
429 and, worse, a storm of retries. Every HTTP request of a provider (creates, media, polls) takes a slot
here first. Slots are reserved first come, first served, so posts that became due first are sent first.
A caller that would have to wait longer than it can afford gets `ProviderBudgetExhausted` with the wait,
and nothing is sent.

The provider's own headers re-synchronise the budget: when the server says fewer requests remain than we
think (other clients share Publer's budget), or answers 429, the limiter stops handing out slots until the
server's reset time.

Two kinds of budget share that logic. `RateLimiter` lives in this process: enough for one dispatcher
(SQLite). `SharedRateLimiter` keeps the slots in a `BudgetStore` (the database's `rate_budget` row, under
its lock) so that every replica of a PostgreSQL deployment takes slots from one budget and together they
never exceed the provider's limit. With it, status checks (`polling()`) take a slot only while a reserve
of the budget is free and never wait for one, so due posts go first and polls after.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from bot.errors import ProviderBudgetExhausted

log = logging.getLogger(__name__)

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


class Limiter(Protocol):
    """What a provider's plumbing asks of a budget before and after each request."""

    def acquire(self, max_wait: float) -> float: ...

    def observe(self, *, remaining: int | None, reset_in: float | None, limited: bool) -> None: ...

    def seconds_from_unix(self, unix_time: float) -> float: ...


@dataclass
class _StatusCheck:
    #: Whether the check's first request got its slot; the rest of the check then goes as any request,
    #: so a check that needs several requests (Publer: the job, then the posts) is never left half done.
    admitted: bool = False


_POLLING: ContextVar[_StatusCheck | None] = ContextVar("postgate_rate_polling", default=None)


@contextmanager
def polling() -> Iterator[None]:
    """Marks the requests made inside as one status check, which a shared budget serves after due posts."""
    token = _POLLING.set(_StatusCheck())
    try:
        yield
    finally:
        _POLLING.reset(token)


def _spacing(rate: RateLimit) -> float:
    # Slots are spaced by the window plus a little: a request reaches the server a few milliseconds after
    # its slot, and not always equally late, so an exact window lets the occasional pair arrive just
    # inside the server's window.
    return rate.window * 1.01 + 0.15


def _usable(rate: RateLimit) -> int:
    # And 2% of the budget is never used: a request whose thread lost the CPU between its slot and its
    # send can still reach the server a window later than the margin allows (the full-size bench saw one
    # 429 in 500 posts without it), and Publer's budget is shared with the user's other API keys.
    return rate.limit - rate.limit // 50


def next_slot(
    slots: Sequence[float], *, now: float, blocked_until: float, budget: int, spacing: float
) -> float:
    """The earliest time a new request may go, given the slots handed out (oldest first, none older than
    `spacing`): never before the last one (first come, first served) nor within `spacing` of the slot
    `budget` places back."""
    slot = max(now, blocked_until, slots[-1] if slots else now)
    if len(slots) >= budget:
        slot = max(slot, slots[-budget] + spacing)
    return slot


def _held_back(provider: str, rate: RateLimit, wait: float) -> ProviderBudgetExhausted:
    return ProviderBudgetExhausted(
        provider,
        f"Postgate is holding requests back to stay within the rate limit ({rate}); "
        f"the next free slot is in {wait:.0f} s",
        retry_after=wait,
    )


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
        self._window = _spacing(rate)
        self.budget = _usable(rate)

    def acquire(self, max_wait: float) -> float:
        """Take one request slot, sleeping until it is due; returns the seconds waited.

        Raises ProviderBudgetExhausted (nothing reserved) when the slot is more than `max_wait` away.
        """
        if self._longest_wait is not None:
            max_wait = min(max_wait, self._longest_wait)
        with self._lock:
            now = self._monotonic()
            self._forget(now)
            slot = next_slot(
                self._slots,
                now=now,
                blocked_until=self._blocked_until,
                budget=self.budget,
                spacing=self._window,
            )
            wait = slot - now
            if wait > max_wait:
                raise _held_back(self._provider, self.rate, wait)
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


class BudgetRow(Protocol):
    """One provider's budget as a `BudgetStore` hands it out under its lock; changes are written back."""

    now: float  # the store's clock, UNIX seconds, the same for every replica
    slots: list[float]  # the slots handed out, as UNIX seconds on that clock, oldest first
    blocked_until: float


class BudgetStore(Protocol):
    """Where a shared budget lives (`bot.db.rate_budget.RateBudgetStore`)."""

    def locked(self, provider: str) -> AbstractContextManager[BudgetRow]: ...


class SharedRateLimiter:
    """A sliding-window budget that every replica takes from: each slot is reserved under the store's
    lock, then waited for without holding it. The slot rules are `RateLimiter`'s."""

    def __init__(
        self,
        rate: RateLimit,
        *,
        provider: str,
        key: str,
        store: BudgetStore,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        longest_wait: float | None = None,
    ) -> None:
        self.rate = rate
        self._provider = provider
        self._key = key
        self._store = store
        self._sleep = sleep
        self._wall = wall
        self._longest_wait = longest_wait
        self._window = _spacing(rate)
        self.budget = _usable(rate)
        #: Slots a status check may not take: they stay free for due posts.
        self.poll_reserve = max(1, self.budget // 10) if self.budget > 1 else 0

    def acquire(self, max_wait: float) -> float:
        """Take one slot and sleep until it; returns the seconds waited. A status check (`polling()`)
        does not wait to begin: its first request gets ProviderBudgetExhausted unless a slot beyond the
        reserve is free now."""
        if self._longest_wait is not None:
            max_wait = min(max_wait, self._longest_wait)
        check = _POLLING.get()
        try:
            wait = self._reserve(poll=check is not None and not check.admitted, max_wait=max_wait)
        except ProviderBudgetExhausted:
            raise
        except Exception as error:
            # The database is the budget: without it nothing is sent, and the post waits like any held back.
            raise ProviderBudgetExhausted(
                self._provider,
                f"Postgate could not reach its shared rate budget ({type(error).__name__})",
                retry_after=self.rate.window / 10,
            ) from None
        if check is not None:
            check.admitted = True
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self, *, poll: bool, max_wait: float) -> float:
        with self._store.locked(self._key) as row:
            now = row.now
            row.slots = [slot for slot in row.slots if slot > now - self._window]
            budget = self.budget - self.poll_reserve if poll else self.budget
            slot = next_slot(
                row.slots, now=now, blocked_until=row.blocked_until, budget=budget, spacing=self._window
            )
            wait = slot - now
            if wait > (0.0 if poll else max_wait):
                raise _held_back(self._provider, self.rate, wait)
            row.slots.append(slot)
        return wait

    def observe(self, *, remaining: int | None, reset_in: float | None, limited: bool) -> None:
        """As `RateLimiter.observe`, on the shared row; an answer that changes nothing costs no write."""
        spent = remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0
        if not limited and not spent:
            return
        try:
            self._hold(reset_in=reset_in, limited=limited)
        except Exception as error:
            # The answer is in hand and must not be lost to this; the next 429 tries again.
            log.warning(
                "%s: could not record the rate limit in the shared budget (%s)",
                self._provider,
                type(error).__name__,
            )

    def _hold(self, *, reset_in: float | None, limited: bool) -> None:
        with self._store.locked(self._key) as row:
            now = row.now
            if limited:
                pause = reset_in if reset_in is not None and reset_in > 0 else self.rate.window
                row.blocked_until = max(row.blocked_until, now + min(pause, self.rate.window * 2))
                return
            ours = sum(1 for slot in row.slots if now - self.rate.window < slot <= now)
            if ours < self.budget and reset_in is not None:
                row.blocked_until = max(row.blocked_until, now + min(reset_in, self.rate.window * 2))

    def seconds_from_unix(self, unix_time: float) -> float:
        return unix_time - self._wall()
