"""Validation of a draft before it reaches approval. Returns field → message; empty means valid."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain import media
from bot.domain.model import Draft
from bot.domain.networks import count_characters

MAX_TEXT_LENGTH = 3000  # Slack's plain_text_input cap; the modal enforces it too.
# A post due this soon would be late before an approver could possibly click.
MIN_LEAD = timedelta(minutes=1)


class DraftField(StrEnum):
    TEXT = "text"
    TARGETS = "targets"
    WHEN = "when"
    PUBLISH_AT = "publish_at"
    QUEUE = "queue"
    MEDIA = "media"
    MEDIA_URLS = "media_urls"


def validate_draft(
    draft: Draft,
    *,
    now: datetime,
    tz: ZoneInfo,
    wants_time: bool,
    wants_queue: bool = False,
    url_problems: tuple[str, ...] = (),
) -> dict[DraftField, str]:
    """Every problem with `draft`, keyed by the field that should show it.

    `url_problems` are what parsing the media links found. With a queue, every target must belong to the
    queue's provider.
    """
    errors: dict[DraftField, str] = {}
    text = draft.text.strip()
    if not text:
        errors[DraftField.TEXT] = "Write the text of the post."
    elif len(draft.text) > MAX_TEXT_LENGTH:
        errors[DraftField.TEXT] = (
            f"The text is {len(draft.text):,} characters; the most is {MAX_TEXT_LENGTH:,}."
        )
    else:
        too_long = []
        for network in sorted({t.network for t in draft.targets}, key=lambda n: n.text_limit):
            count = count_characters(draft.text, network)
            if count > network.text_limit:
                too_long.append(
                    f"{network.display_name} allows {network.text_limit:,} "
                    f"({count - network.text_limit:,} too many)"
                )
        if too_long:
            errors[DraftField.TEXT] = (
                f"The text is {len(draft.text):,} characters, too long for " + "; ".join(too_long) + "."
            )

    if not draft.targets:
        errors[DraftField.TARGETS] = "Pick at least one account to publish to."

    files = [m for m in draft.media if m.url is None]
    problems = media.check_files(files)
    if url_problems:
        errors[DraftField.MEDIA_URLS] = " ".join(url_problems)
    problems += media.check_networks(draft.media, {t.network for t in draft.targets})
    if problems:
        field = DraftField.MEDIA if files or not any(m.url for m in draft.media) else DraftField.MEDIA_URLS
        errors[field] = (errors[field] + " " if field in errors else "") + " ".join(problems)

    if wants_queue:
        queue = draft.queue
        others = sorted({t.provider for t in draft.targets if queue and t.provider != queue.provider})
        if queue is None:
            errors[DraftField.QUEUE] = "Pick the queue to add the post to."
        elif others:
            errors[DraftField.QUEUE] = (
                "A queue belongs to one provider; the other accounts need a time. "
                "Choose only that provider's accounts, or another option under “When to publish”."
            )
    if wants_time:
        if draft.publish_at is None:
            errors[DraftField.PUBLISH_AT] = (
                "Pick the date and time to publish, or choose “As soon as approved”."
            )
        elif draft.publish_at < now + MIN_LEAD:
            local = draft.publish_at.astimezone(tz)
            errors[DraftField.PUBLISH_AT] = (
                f"{local:%a %d %b %H:%M} ({tz.key}) is in the past or too soon. "
                "Pick a time at least a minute ahead."
            )
    return errors
