"""One request budget for every replica (issue 14 item 12): `SharedRateLimiter` over `RateBudgetStore`,
against real SQLite and PostgreSQL, with each "replica" on its own engine as separate processes would be."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.db.engine import Database, make_engine
from bot.db.migrate import upgrade
from bot.db.rate_budget import RateBudgetStore
from bot.db.tables import RateBudget
from bot.errors import ProviderBudgetExhausted
from bot.providers.ratelimit import RateLimit, RateLimiter, SharedRateLimiter, polling

RATE = RateLimit(10, 60.0)  # of which 10 - 10 // 50 = 10 are used; 1 is kept from status checks


@pytest.fixture
def replicas(database_url: str) -> Iterator[list[Database]]:
    databases = [Database(make_engine(database_url)) for _ in range(3)]
    upgrade(databases[0].engine)
    yield databases
    for database in databases:
        database.dispose()


def shared(db: Database, waits: list[float] | None = None) -> SharedRateLimiter:
    # Sleeping is recorded, not done: the slots themselves are what the test reads.
    record = waits.append if waits is not None else (lambda seconds: None)
    return SharedRateLimiter(RATE, provider="Publer", key="publer", store=RateBudgetStore(db), sleep=record)


def slots(db: Database) -> list[float]:
    with db.read() as session:
        row = session.exec(select(RateBudget).where(RateBudget.provider == "publer")).one()
        return [float(s) for s in json.loads(row.slots)]


def busiest(times: list[float], window: float) -> int:
    ordered, most, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_three_replicas_taking_slots_at_once_never_exceed_the_limit_together(
    replicas: list[Database],
) -> None:
    limiters = [shared(db) for db in replicas]
    errors: list[BaseException] = []

    def take(limiter: SharedRateLimiter) -> None:
        try:
            for _ in range(8):
                limiter.acquire(max_wait=10_000)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=take, args=(limiter,)) for limiter in limiters for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    taken = slots(replicas[0])
    # 48 requests were wanted; the row keeps the slots of the last window, all of them reserved ahead.
    assert busiest(taken, RATE.window) <= RATE.limit
    # A process-local budget per replica would have handed out 3 × 10 slots in the first window.
    assert len([s for s in taken if s <= min(taken) + RATE.window]) <= RATE.limit


def test_in_process_budgets_let_three_replicas_spend_three_times_the_limit() -> None:
    # What the shared budget replaces: each replica's own RateLimiter hands out its full budget at once.
    clock = [100.0]
    local = [
        RateLimiter(RATE, provider="Publer", monotonic=lambda: clock[0], sleep=lambda s: None)
        for _ in range(3)
    ]

    waits = [limiter.acquire(max_wait=0.0) for limiter in local for _ in range(10)]

    assert waits == [0.0] * 30  # 30 requests in one window against a limit of 10


def test_a_status_check_never_waits_and_leaves_the_reserve_to_due_posts(replicas: list[Database]) -> None:
    first, second = shared(replicas[0]), shared(replicas[1])
    for _ in range(RATE.limit - first.poll_reserve - 1):
        first.acquire(max_wait=0.0)
    with polling():
        assert second.acquire(max_wait=30.0) == 0.0  # the last slot before the reserve
    with polling(), pytest.raises(ProviderBudgetExhausted):
        second.acquire(max_wait=30.0)  # only the reserve is left: the next check waits for the next tick

    assert second.acquire(max_wait=0.0) == 0.0  # a due post takes the reserved slot at once
    with pytest.raises(ProviderBudgetExhausted) as held:
        first.acquire(max_wait=5.0)  # the window is spent for everyone
    assert held.value.retry_after is not None and held.value.retry_after > 5.0


def test_a_status_check_once_begun_is_finished_even_when_the_budget_fills_meanwhile(
    replicas: list[Database],
) -> None:
    # Publer's check reads the job, then the posts: refusing the second request would waste the first
    # slot, and checks competing that way would never finish.
    waits: list[float] = []
    checker, poster = shared(replicas[0], waits), shared(replicas[1])
    with polling():
        assert checker.acquire(max_wait=30.0) == 0.0
        for _ in range(RATE.limit - 1):
            poster.acquire(max_wait=0.0)  # due posts spend the rest of the window
        checker.acquire(max_wait=100.0)  # the check's second request waits its turn instead
    assert waits and waits[0] > RATE.window


def test_a_429_seen_by_one_replica_holds_back_the_others(replicas: list[Database]) -> None:
    first, second = shared(replicas[0]), shared(replicas[1])
    first.acquire(max_wait=0.0)

    first.observe(remaining=0, reset_in=20.0, limited=True)

    with pytest.raises(ProviderBudgetExhausted) as held:
        second.acquire(max_wait=5.0)
    assert held.value.retry_after == pytest.approx(20.0, abs=1.0)
    waits: list[float] = []
    shared(replicas[2], waits).acquire(max_wait=30.0)
    assert waits and waits[0] == pytest.approx(20.0, abs=1.0)


def test_an_answer_that_changes_nothing_writes_nothing(replicas: list[Database]) -> None:
    limiter = shared(replicas[0])
    limiter.acquire(max_wait=0.0)
    before = slots(replicas[0])

    limiter.observe(remaining=7, reset_in=30.0, limited=False)

    assert slots(replicas[0]) == before


def test_without_its_database_a_request_is_held_back_not_failed_and_an_answer_is_kept(tmp_path: Path) -> None:
    # A database that cannot be opened (its directory does not exist): nothing can be reserved.
    gone = Database(make_engine(f"sqlite:///{tmp_path / 'missing' / 'postgate.db'}"))
    limiter = shared(gone)

    with pytest.raises(ProviderBudgetExhausted) as held:
        limiter.acquire(max_wait=30.0)
    assert "could not reach its shared rate budget" in held.value.message
    # A 429 that cannot be written down is logged, never raised over the answer already received.
    limiter.observe(remaining=0, reset_in=10.0, limited=True)
    gone.dispose()
