"""APScheduler 3 as a ticker: two in-memory jobs (dispatch, outbox) on a sweep interval, woken early for
the exact due time of the next post. The database holds the queue; nothing here needs to survive a restart."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bot.clock import Clock, as_utc

log = logging.getLogger(__name__)

DISPATCH = "dispatch"
OUTBOX = "outbox"
HOUSEKEEPING = "housekeeping"
TAKE_OVER = "take_over_dispatching"


class _QuietOverlap(logging.Filter):
    """Drops APScheduler's warning that a tick was skipped because the loop is still running: that is how
    the loops are meant to work (a long batch simply absorbs the ticks it spans), not a problem to report."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


class _Loop:
    """One job's body: runs its step until no work is left, then asks to be woken for the next due time.

    A wake that arrives while the step runs sets `dirty`, and the loop goes round again instead of losing
    the wake to APScheduler's max_instances=1.
    """

    def __init__(self, name: str, step: Callable[[], bool], next_due: Callable[[], datetime | None]) -> None:
        self.name = name
        self.step = step
        self.next_due = next_due
        self.dirty = threading.Event()
        self.stopped = threading.Event()
        self.runs = 0

    def __call__(self, runner: SchedulerRunner) -> None:
        for _ in range(1000):  # bounded: a backlog larger than this waits for the next tick
            if self.stopped.is_set():
                return
            self.dirty.clear()
            try:
                more = self.step()
            except Exception:
                log.exception("%s step failed", self.name)
                more = False
            self.runs += 1
            if not more and not self.dirty.is_set():
                break
        try:
            due = self.next_due()
        except Exception:
            log.exception("%s: reading the next due time failed", self.name)
            due = None
        if due is not None:
            runner.wake(self.name, due)


class SchedulerRunner:
    def __init__(
        self,
        *,
        dispatch_step: Callable[[], bool],
        dispatch_next_due: Callable[[], datetime | None],
        outbox_step: Callable[[], bool],
        outbox_next_due: Callable[[], datetime | None],
        clock: Clock,
        sweep_seconds: float = 30.0,
        housekeeping_step: Callable[[], bool] | None = None,
        housekeeping_next_due: Callable[[], datetime | None] | None = None,
    ) -> None:
        self._clock = clock
        self._sweep = sweep_seconds
        self._loops = {
            DISPATCH: _Loop(DISPATCH, dispatch_step, dispatch_next_due),
            OUTBOX: _Loop(OUTBOX, outbox_step, outbox_next_due),
        }
        if housekeeping_step is not None:
            self._loops[HOUSEKEEPING] = _Loop(
                HOUSEKEEPING, housekeeping_step, housekeeping_next_due or (lambda: None)
            )
        self._lock = threading.Lock()
        quiet = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, _QuietOverlap) for f in quiet.filters):
            quiet.addFilter(_QuietOverlap())
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def loop_runs(self, name: str) -> int:
        return self._loops[name].runs

    def start(self, *, dispatching: bool = True, may_dispatch: Callable[[], bool] | None = None) -> None:
        """Start the loops. Without `dispatching` only the outbox runs (a second process on one SQLite
        file); `may_dispatch` is then asked every sweep, and the other loops start once it says yes."""
        now = self._clock.now()
        for name in self._loops:
            if dispatching or name == OUTBOX:
                self._add(name, now)
        if not dispatching and may_dispatch is not None:

            def take_over() -> None:
                if may_dispatch():
                    log.warning("this process now dispatches: the one that did has stopped")
                    self._scheduler.remove_job(TAKE_OVER)
                    for name in self._loops:
                        if name != OUTBOX:
                            self._add(name, self._clock.now())

            self._scheduler.add_job(take_over, "interval", seconds=self._sweep, id=TAKE_OVER)
        self._scheduler.start()
        log.info("scheduler started (sweep every %ss)", self._sweep)

    def _add(self, name: str, now: datetime) -> None:
        # next_run_time=now: catch up at start-up on whatever came due while Postgate was down.
        self._scheduler.add_job(
            self._loops[name],
            "interval",
            args=[self],
            seconds=self._sweep,
            id=name,
            next_run_time=now,
            replace_existing=True,
        )

    def stop_taking_work(self) -> None:
        """No new claims: the dispatcher and housekeeper stop being scheduled; the outbox keeps going."""
        for name in (DISPATCH, HOUSEKEEPING, TAKE_OVER):
            if name in self._loops:
                # A loop going round a backlog stops after its current step.
                self._loops[name].stopped.set()
            if self._scheduler.running and self._scheduler.get_job(name) is not None:
                self._scheduler.remove_job(name)

    def shutdown(self, *, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def wake(self, name: str, at: datetime | None = None) -> None:
        """Run job `name` at `at` (default now) unless it is already due sooner. Never postpones."""
        if not self._scheduler.running:
            return
        loop = self._loops.get(name)
        if loop is None:
            return
        target = as_utc(at) if at is not None else self._clock.now()
        if target <= self._clock.now() + timedelta(milliseconds=5):
            loop.dirty.set()
        with self._lock:
            job = self._scheduler.get_job(name)
            if job is None:
                return
            current = job.next_run_time
            if current is None or target < current:
                job.modify(next_run_time=target)

    # The waker interface the services use.
    def wake_dispatcher(self, at: datetime | None = None) -> None:
        self.wake(DISPATCH, at)

    def wake_outbox(self) -> None:
        self.wake(OUTBOX)

    def wake_housekeeper(self, at: datetime | None = None) -> None:
        self.wake(HOUSEKEEPING, at)
