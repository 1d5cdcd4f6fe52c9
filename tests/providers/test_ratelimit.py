"""The client-side request budget: how long a request waits for its slot, and when it is handed back."""

from __future__ import annotations

import pytest

from bot.errors import ProviderBudgetExhausted
from bot.providers.ratelimit import RateLimit, RateLimiter


class Monotonic:
    """The limiter's clock, moved by its own sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(mono: Monotonic, limit: int = 2, window: float = 10.0, **options: float) -> RateLimiter:
    return RateLimiter(
        RateLimit(limit, window), provider="Publer", monotonic=mono, sleep=mono.sleep, **options
    )


def test_a_spent_window_that_is_all_ours_waits_for_our_own_slot_not_the_servers_rounded_reset() -> None:
    mono = Monotonic()
    budget = limiter(mono)
    budget.acquire(60)
    budget.acquire(60)
    # Publer's reset is in whole seconds, rounded up: here 2.9 s later than our first request leaves it.
    budget.observe(remaining=0, reset_in=12.9, limited=False)

    waited = budget.acquire(60)

    assert waited == pytest.approx(10 * 1.01 + 0.15)


def test_a_window_spent_by_someone_else_waits_for_the_servers_reset() -> None:
    mono = Monotonic()
    budget = limiter(mono)
    budget.acquire(60)
    budget.observe(remaining=0, reset_in=7.0, limited=False)  # another client of the same user

    assert budget.acquire(60) == pytest.approx(7.0)


def test_no_caller_waits_longer_than_the_limiters_longest_wait() -> None:
    mono = Monotonic()
    budget = limiter(mono, longest_wait=2.5)
    budget.acquire(60)
    budget.acquire(60)

    with pytest.raises(ProviderBudgetExhausted) as held:
        budget.acquire(60)

    assert held.value.retry_after == pytest.approx(10 * 1.01 + 0.15)
    assert mono.now == 100.0  # nothing slept, nothing reserved
    mono.now += 9.0
    assert budget.acquire(60) == pytest.approx(10 * 1.01 + 0.15 - 9.0)


def test_a_large_budget_keeps_two_percent_of_each_window_in_reserve() -> None:
    mono = Monotonic()
    budget = limiter(mono, limit=100, window=120.0)
    waits = [budget.acquire(600) for _ in range(99)]

    # 98 requests go out at once; the 99th waits for the first to leave the window (plus the margin).
    assert waits[:98] == [0.0] * 98
    assert waits[98] == pytest.approx(120 * 1.01 + 0.15)


def test_a_small_budget_is_used_whole() -> None:
    mono = Monotonic()
    budget = limiter(mono, limit=49, window=10.0)

    assert [budget.acquire(60) for _ in range(49)] == [0.0] * 49
    assert budget.acquire(60) == pytest.approx(10 * 1.01 + 0.15)
