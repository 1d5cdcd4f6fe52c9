"""Text helpers for Slack mrkdwn: escaping untrusted text and rendering times in each reader's zone."""

from __future__ import annotations

from datetime import datetime

from bot.clock import as_utc


def escape(text: str) -> str:
    """Neutralise Slack's control sequences so a draft cannot ping `<!channel>` or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str, *, limit: int = 2800) -> str:
    body = escape(text)
    if len(body) > limit:
        body = body[: limit - 1].rstrip() + "…"
    return "\n".join("> " + line if line else ">" for line in body.splitlines()) or ">"


def slack_date(moment: datetime, *, style: str = "{date_short_pretty} at {time}") -> str:
    """A `<!date>` token: every reader sees the time in their own Slack time zone."""
    utc = as_utc(moment)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{style}|{fallback}>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
