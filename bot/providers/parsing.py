"""Tolerant readers of provider JSON shared by the provider modules: text fields, sentences and ISO times.

Provider answers are untrusted shapes; these helpers turn "anything" into a value or None, never raise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import as_utc


def text(value: Any) -> str | None:
    """A non-blank string, stripped; None for anything else."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def sentence(value: str) -> str:
    """`value` ending with a full stop (or ! / ?), for joining provider messages into prose."""
    value = value.strip()
    return value if value.endswith((".", "!", "?")) else f"{value}."


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (`Z` or an offset; naive read as UTC) as aware UTC; None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def format_utc_millis(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z` (`2026-03-01T14:00:00.000Z`), the form Publora and Postoria
    document."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
