"""Time as a seam: every "now" in Postgate comes from a `Clock`, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC for any datetime; naive values are taken to be UTC (SQLite drops offsets)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def zone(name: str | None) -> ZoneInfo:
    """The time zone named `name` (a Slack user's `tz`), or UTC when it is missing or unknown here."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
