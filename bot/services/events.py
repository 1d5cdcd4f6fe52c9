"""Events API deliveries Postgate has already handled, so Slack's retries of one (X-Slack-Retry-Num, sent
when an answer was slow or lost) are acknowledged without doing the work again, on any replica."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import Clock
from bot.db import repo
from bot.db.engine import Database

# Slack retries for about five minutes; a day is ample.
REMEMBER = timedelta(days=1)


class SlackEvents:
    def __init__(self, *, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def first_sight(self, event_id: str) -> bool:
        with self._db.write() as session:
            return repo.first_sight_of_event(session, event_id=event_id[:64], now=self._clock.now())

    def forget_old(self) -> None:
        with self._db.write() as session:
            repo.forget_events_before(session, before=self._clock.now() - REMEMBER)
