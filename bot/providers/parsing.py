"""Tolerant readers of provider JSON shared by the provider modules: text fields, identifiers, web links,
sentences and ISO times.

Provider answers are untrusted shapes; these helpers turn "anything" into a value or None, never raise,
and keep what they return to sizes Postgate can store and show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.clock import as_utc

#: The longest provider text Postgate keeps; longer ones are cut (nobody reads further in Slack anyway).
TEXT_MAX = 2000
#: The longest id Postgate accepts from a provider: its account ids are stored in columns of this size.
ID_MAX = 128
#: The longest link Postgate keeps (the size of its result column).
URL_MAX = 1000
# Times outside this range are not times a post could have; they would overflow date arithmetic.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def text(value: Any, *, limit: int = TEXT_MAX) -> str | None:
    """A non-blank string, stripped and cut to `limit` characters; None for anything else."""
    if isinstance(value, str):
        value = value.strip()
        return clip(value, limit) or None
    return None


def clip(value: str, limit: int = TEXT_MAX) -> str:
    """`value` cut to at most `limit` characters, the cut marked with an ellipsis."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def identifier(value: Any) -> str | None:
    """A provider's id for something Postgate stores: a non-blank string of at most `ID_MAX` characters."""
    if isinstance(value, str):
        value = value.strip()
        return value if value and len(value) <= ID_MAX else None
    return None


def web_url(value: Any) -> str | None:
    """An http(s) address with a host and nothing Slack or a browser would read otherwise; None for
    anything else (a `javascript:` link, text, a token, spaces)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > URL_MAX or any(c.isspace() or ord(c) < 32 or c in '<>|"\\' for c in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url


def sentence(value: str) -> str:
    """`value` ending with a full stop (or ! / ?), for joining provider messages into prose."""
    value = clip(value.strip())
    return value if value.endswith((".", "!", "?", "…")) else f"{value}."


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (`Z` or an offset; naive read as UTC) as aware UTC; None when it is not one, or
    not a time a post could have (before 1970, after 2199)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        moment = as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None
    return moment if _EARLIEST <= moment < _LATEST else None


def format_utc_millis(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z` (`2026-03-01T14:00:00.000Z`), the form Publora and Postoria
    document."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
