"""Validation of a draft before it reaches approval. Returns field → message; empty means valid."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain import media
from bot.domain.counting import (
    THREAD_NETWORKS,
    NetworkPreview,
    byte_count,
    byte_limit,
    can_thread,
    first_comment_problems,
    posts_first_comment,
    preview,
    split_thread,
)
from bot.domain.model import Draft
from bot.domain.networks import Network

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
    #: The per-network texts that replace the main text on one network.
    OVERRIDES = "overrides"
    FIRST_COMMENT = "first_comment"


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
    for text_field, message in _text_problems(draft).items():
        errors.setdefault(text_field, message)
    if first_comment := _first_comment_problem(draft):
        errors[DraftField.FIRST_COMMENT] = first_comment

    if not draft.targets:
        errors[DraftField.TARGETS] = "Pick at least one account to publish to."

    files = [m for m in draft.media if m.url is None]
    problems = media.check_files(files)
    if url_problems:
        errors[DraftField.MEDIA_URLS] = " ".join(url_problems)
    problems += media.check_networks(draft.media, {(t.provider, t.network) for t in draft.targets})
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


# Said once under the list when a network's own way of counting is what made the text too long.
_COUNTING_NOTES = {
    Network.X: "X counts every link as 23 characters and every emoji or CJK character as 2.",
    Network.MASTODON: "Mastodon counts every link as 23 characters.",
}


class _Findings:
    """What is wrong with one text (the main one, or the separate ones), in the order it is found."""

    def __init__(self) -> None:
        self.too_long: list[str] = []
        self.notes: list[str] = []
        self.thread_hint: list[str] = []
        self.empty_part: list[str] = []

    def add(self, items: list[str], item: str) -> None:
        if item not in items:
            items.append(item)

    def message(self, lead: str) -> str:
        sentences = []
        if self.too_long:
            sentences.append(f"{lead}: " + "; ".join(self.too_long) + ".")
        sentences += self.notes
        if self.thread_hint:
            sentences.append(
                f"To post it as a thread on {_names(self.thread_hint)}, "
                "put a line with only --- between the parts."
            )
        sentences += self.empty_part
        return " ".join(sentences)


def _text_problems(draft: Draft) -> dict[DraftField, str]:
    """Each target network's text measured the way that network counts, part by part for a thread."""
    main, separate = _Findings(), _Findings()
    # Tightest limit first; the sort is stable, so networks with one limit stay in `Network` order.
    for shown in sorted(preview(draft), key=lambda p: p.parts[0].limit):
        source = draft.override_for(shown.network) if shown.overridden else draft.text
        _measure(shown, source or "", separate if shown.overridden else main)
    problems = {}
    if message := main.message("The text is too long"):
        problems[DraftField.TEXT] = message
    lead = (
        "The separate text is too long" if len(separate.too_long) < 2 else "The separate texts are too long"
    )
    overrides = [_stray_overrides(draft), _overlong_overrides(draft), separate.message(lead)]
    if message := " ".join(m for m in overrides if m):
        problems[DraftField.OVERRIDES] = message
    return problems


def _measure(shown: NetworkPreview, source: str, findings: _Findings) -> None:
    network, name, limit = shown.network, shown.network.display_name, shown.parts[0].limit
    if limit != network.text_limit:
        name = f"{name} with media"  # a caption's limit, not the post's
    threads = can_thread(network, shown.providers[0])
    if len(shown.parts) == 1 and shown.parts[0].over:
        part = shown.parts[0]
        unsplit = ""
        if shown.joined_chain:
            unsplit = "; Publora joins the parts into one post, as it cannot post Threads chains right now"
        elif network in THREAD_NETWORKS and not threads and len(split_thread(source)) > 1:
            unsplit = f"; {_provider_names(shown.providers)} cannot split --- threads"
        findings.add(findings.too_long, f"{name} allows {limit:,} ({part.count - limit:,} too many{unsplit})")
        if threads:
            findings.add(findings.thread_hint, name)
    elif len(shown.parts) > 1:
        label = "Threads part" if network is Network.THREADS else f"{name} thread part"
        for number, part in enumerate(shown.parts, start=1):
            if part.over:
                findings.add(findings.too_long, f"{label} {number} is {part.count:,} of {limit:,}")
    for part in shown.parts:
        if part.over and network in _COUNTING_NOTES and part.count != len(part.text):
            findings.add(findings.notes, _COUNTING_NOTES[network])
    cap = byte_limit(network)
    for part in shown.parts:
        if cap is not None and (size := byte_count(part.text)) > cap:
            findings.add(
                findings.too_long,
                f"{name} allows {cap:,} bytes ({size - cap:,} too many; an emoji takes 4 or more)",
            )
    empty = [number for number, part in enumerate(shown.parts, start=1) if not part.text]
    if len(shown.parts) > 1 and empty:
        where = f"In the separate {name} text, thread" if shown.overridden else "Thread"
        findings.add(
            findings.empty_part,
            f"{where} part {empty[0]} is empty ({_gap(empty[0], len(shown.parts))}). "
            "Remove the extra --- line or write that part.",
        )


def _gap(number: int, parts: int) -> str:
    if number == 1:
        return "nothing before the first --- line"
    if number == parts:
        return "nothing after the last --- line"
    return "a --- line with nothing between it and the next one"


def _stray_overrides(draft: Draft) -> str:
    if not draft.targets:
        return ""  # the targets field already asks for an account
    targeted = {target.network for target in draft.targets}
    strays = sorted(
        {network for network, text in draft.overrides if text.strip() and network not in targeted},
        key=list(Network).index,
    )
    if not strays:
        return ""
    names = _names([network.display_name for network in strays])
    if len(strays) == 1:
        return (
            f"There is a separate text for {names}, but no {names} account is chosen. "
            "Add one, or remove that text."
        )
    return (
        f"There are separate texts for {names}, but no account on them is chosen. "
        "Add accounts, or remove those texts."
    )


def _overlong_overrides(draft: Draft) -> str:
    return " ".join(
        f"The separate {network.display_name} text is {len(text):,} characters; "
        f"the most is {MAX_TEXT_LENGTH:,}."
        for network, text in draft.overrides
        if len(text) > MAX_TEXT_LENGTH
    )


def _first_comment_problem(draft: Draft) -> str:
    comment = draft.first_comment
    if comment is None or not comment.strip():
        return ""
    if len(comment) > MAX_TEXT_LENGTH:
        return f"The first comment is {len(comment):,} characters; the most is {MAX_TEXT_LENGTH:,}."
    posted = {t.network for t in draft.targets if posts_first_comment(t.provider, t.network)}
    return " ".join(first_comment_problems(comment, posted))


def _provider_names(providers: tuple[str, ...]) -> str:
    return _names([provider.replace("_", " ").title() for provider in providers])


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
