"""Text helpers for Slack mrkdwn: escaping untrusted text, quoting and cutting it to Slack's limits without
breaking an entity or a `<…>` token, and rendering times in each reader's zone."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote as percent_encode

from bot.clock import as_utc

ELLIPSIS = "…"


def escape(text: str) -> str:
    """Neutralise Slack's control sequences so a draft cannot ping `<!channel>` or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack's ids: users (U…, W… on Enterprise Grid, B… for bots) and conversations (C…, G…, D…).
_USER_ID = re.compile(r"[UWB][A-Z0-9]{1,31}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,31}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{1,31}")


def mention(user_id: str) -> str:
    """A user mention. Only for ids Postgate took from a signed payload or its database; anything that is
    not shaped like a Slack user id is shown as escaped text, so it can never become another token."""
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else escape(user_id)


def group_mention(group_id: str) -> str:
    """A user group mention (it notifies the group), for group ids from settings; anything else as text."""
    return f"<!subteam^{group_id}>" if _GROUP_ID.fullmatch(group_id) else escape(group_id)


def channel(channel_id: str) -> str:
    """A channel link, for conversation ids Postgate stores; anything else as escaped text."""
    return f"<#{channel_id}>" if _CHANNEL_ID.fullmatch(channel_id) else escape(channel_id)


def link(url: str, label: str) -> str:
    """A mrkdwn link to an http(s) page; characters that would end the `<url|label>` token early are
    percent-encoded. Any other address (`javascript:`, a provider's garbage) is shown as text, not linked."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https") or not url.split(":", 1)[1].startswith("//"):
        return f"{escape(label)} ({escape(truncate(url, 200))})" if url else escape(label)
    safe_url = percent_encode(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return f"<{safe_url.replace('&', '&amp;')}|{escape(label)}>"


def _cut_point(text: str, at: int) -> int:
    """The largest index ≤ `at` that does not split an `&…;` entity or a `<…>` token."""
    head = text[:at]
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        at = opened
    amp = text.rfind("&", 0, at)
    if amp != -1 and amp > at - 6 and text.find(";", amp) >= at:
        at = amp
    return at


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters (the last one an ellipsis), whole tokens and entities kept."""
    if len(text) <= limit:
        return text
    return text[: _cut_point(text, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def quote(text: str, *, limit: int = 2800) -> str:
    """`text` escaped and quoted line by line; the result, quote marks included, is at most `limit` long."""
    quoted = "\n".join("> " + line if line else ">" for line in escape(text).splitlines())
    return truncate(quoted or ">", limit)


def quote_pieces(text: str, *, size: int, most: int) -> list[str]:
    """`text` quoted in pieces of at most `size` characters each, cut at line ends where possible, so a long
    text can fill several sections; at most `most` pieces, the last one ending in an ellipsis if cut."""
    pieces: list[str] = []
    rest = text
    while rest and len(pieces) < most:
        if len(pieces) == most - 1 or len(quote(rest, limit=size + 1)) <= size:
            pieces.append(quote(rest, limit=size))
            break
        # The longest run of whole lines that fits; a single over-long line is cut at a space instead.
        lines = rest.splitlines(keepends=True)
        taken = ""
        for line in lines:
            if len(quote(taken + line, limit=size + 1)) > size:
                break
            taken += line
        if not taken:
            taken = _fitting_words(rest, size)
        pieces.append(quote(taken, limit=size))
        rest = rest[len(taken) :].lstrip("\n")
    return pieces or [quote("", limit=size)]


def _fitting_words(text: str, size: int) -> str:
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(quote(text[:middle], limit=size + 1)) <= size:
            low = middle
        else:
            high = middle - 1
    space = text.rfind(" ", 0, low)
    return text[: space + 1] if space > low // 2 else text[:low]


def slack_date(moment: datetime, *, style: str = "{date_short_pretty} at {time}") -> str:
    """A `<!date>` token: every reader sees the time in their own Slack time zone."""
    utc = as_utc(moment)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{style}|{fallback}>"


_SLACK_TOKEN = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def plain_from_mrkdwn(text: str) -> str:
    """A Slack message's text as a person would type it into a post: links, mentions and channels as
    words, entities unescaped (for "Draft a post from this")."""

    def word(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^", 1)[0])
        if label and label != target and label != target.removeprefix("mailto:"):
            return f"{label} ({target.removeprefix('mailto:')})"
        return target.removeprefix("mailto:")

    return _SLACK_TOKEN.sub(word, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
