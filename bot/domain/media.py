"""What media each network accepts through each provider, checked before a draft reaches approval.

A rule belongs to a (provider, network) pair. It starts from the network's own limits (`NETWORK_RULES`,
each figure with the network's document beside it) and takes what the provider documents on top
(`PROVIDER_RULES`, cited from `shared/providers/sources/` and `shared/providers/*.md`), so where a
provider says nothing the network's own limit holds. The providers check again at publish time;
checking here means the author hears it in the modal instead of from a failed post hours later.

A video's length is known only when Slack gave it (`duration_ms` on the file); a link's length never is,
so `unchecked_lengths` says which videos the approval message should flag as not checked.
"""

from __future__ import annotations

import dataclasses
import mimetypes
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain.model import MediaItem, MediaKind
from bot.domain.networks import Network

#: Types every provider accepts in one form or another.
ACCEPTED_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "image/gif": "GIF",
    "video/mp4": "MP4",
    "video/quicktime": "MOV",
}
IMAGE_TYPES = frozenset(t for t in ACCEPTED_TYPES if t.startswith("image/"))
#: Extensions offered by the modal's file picker (a convenience; the types above are what is checked).
FILE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "mp4", "mov")
#: Slack's file_input cap per modal.
MAX_FILES = 10
#: Slack's file_input cap per file ("10 MB per file", shared/slack/platform.md A6).
MAX_SLACK_FILE_BYTES = 10 * 1024 * 1024
MAX_URLS = 10

#: Limits are written in decimal megabytes, as the documents write them; where a document's "MB" might
#: mean 1,048,576 bytes, the decimal reading is the stricter one, so a file that passes here passes there.
MB = 1_000_000
GB = 1000 * MB
MINUTE = 60
HOUR = 60 * MINUTE


@dataclass(frozen=True)
class MediaRule:
    """What one network takes in one post."""

    max_items: int
    #: The largest image; None where the document gives no size in bytes. 0 on a network without images.
    max_image_bytes: int | None
    image_types: frozenset[str] = IMAGE_TYPES
    #: None: images and videos may be mixed up to max_items; otherwise at most this many videos, and a
    #: video cannot share the post with images.
    max_videos: int | None = 1
    max_video_seconds: int | None = None
    max_video_bytes: int | None = None
    requires: str | None = None  # "media" or "video"


PUBLER_FILE_BYTES = 200 * MB
_JPEG = frozenset({"image/jpeg"})

#: Each network's own limits, for a provider that documents none (Postoria, postoria.md §11) and as the
#: base every provider's figures are laid over.
NETWORK_RULES: dict[Network, MediaRule] = {
    # X API media upload: images 5 MB, up to 4 per post; video 0.5–140 s, 512 MB; one video alone.
    Network.X: MediaRule(
        max_items=4, max_image_bytes=5 * MB, max_video_seconds=140, max_video_bytes=512 * MB
    ),
    # LinkedIn Posts API multi-image: 2–20 images (sized in pixels, 36,152,320, not bytes); Videos API:
    # 3 s–30 min, up to 500 MB.
    Network.LINKEDIN: MediaRule(
        max_items=20, max_image_bytes=None, max_video_seconds=30 * MINUTE, max_video_bytes=500 * MB
    ),
    # Instagram Graph API content publishing: images JPEG only, 8 MB; carousels up to 10 images and
    # videos mixed; reels up to 15 min, 300 MB; nothing without media.
    Network.INSTAGRAM: MediaRule(
        max_items=10,
        max_image_bytes=8 * MB,
        image_types=_JPEG,
        max_videos=None,
        max_video_seconds=15 * MINUTE,
        max_video_bytes=300 * MB,
        requires="media",
    ),
    # Threads API: images JPEG or PNG, 8 MB; carousels up to 20 items, mixed; video 5 min, 1 GB.
    Network.THREADS: MediaRule(
        max_items=20,
        max_image_bytes=8 * MB,
        image_types=frozenset({"image/jpeg", "image/png"}),
        max_videos=None,
        max_video_seconds=5 * MINUTE,
        max_video_bytes=1 * GB,
    ),
    # TikTok Content Posting API: a video up to 10 min and 4 GB, or a photo post of up to 35 JPEG or
    # WebP images of 20 MB; never both; nothing without media.
    Network.TIKTOK: MediaRule(
        max_items=35,
        max_image_bytes=20 * MB,
        image_types=frozenset({"image/jpeg", "image/webp"}),
        max_video_seconds=10 * MINUTE,
        max_video_bytes=4 * GB,
        requires="media",
    ),
    # YouTube Data API: one video, up to 12 h and 256 GB; no images.
    Network.YOUTUBE: MediaRule(
        max_items=1,
        max_image_bytes=0,
        max_video_seconds=12 * HOUR,
        max_video_bytes=256 * GB,
        requires="video",
    ),
    # Facebook Graph API: up to 10 photos of 10 MB; video up to 240 min and 10 GB (publer.md §11 cites
    # the same for Publer's Facebook pages).
    Network.FACEBOOK: MediaRule(
        max_items=10, max_image_bytes=10 * MB, max_video_seconds=240 * MINUTE, max_video_bytes=10 * GB
    ),
    # Bluesky lexicons: app.bsky.embed.images takes 4 images of at most 1,000,000 bytes;
    # app.bsky.embed.video one video of at most 100,000,000 bytes, up to 3 min.
    Network.BLUESKY: MediaRule(
        max_items=4, max_image_bytes=1 * MB, max_video_seconds=3 * MINUTE, max_video_bytes=100 * MB
    ),
    # Mastodon's defaults (a server may lower them): 4 attachments, images 16 MB, videos 99 MB, no
    # length limit; a video cannot join images.
    Network.MASTODON: MediaRule(max_items=4, max_image_bytes=16 * MB, max_video_bytes=99 * MB),
    # Telegram Bot API: an album of up to 10 photos and videos; photos 10 MB, uploads 50 MB.
    Network.TELEGRAM: MediaRule(
        max_items=10, max_image_bytes=10 * MB, max_videos=None, max_video_bytes=50 * MB
    ),
}

_replace = dataclasses.replace

#: What each provider documents, laid over the network's own rule (a figure the provider does not give
#: stays the network's). Where a provider's documents disagree, the one it says to design against wins
#: and the other is named beside it.
PROVIDER_RULES: dict[str, dict[Network, MediaRule]] = {
    # Publora's "Platform Limits Quick Reference (API)" (sources/publora-api-skill.txt): "API limits are
    # often stricter than native app limits. Always design against these." Its three unnamed rows are
    # LinkedIn (3,000), Instagram (2,200) and Facebook (63,206) by their character limits. Publora's
    # platform-limits package (publora.md §11) is looser in places (LinkedIn 10 × 50 MB, Instagram also
    # PNG and WebP, Bluesky 2,000,000 bytes, TikTok 35 images); the quick reference wins.
    "publora": {
        # "4 × 5MB", "2 min / 512MB"
        Network.X: _replace(NETWORK_RULES[Network.X], max_video_seconds=2 * MINUTE),
        # "20 × 5MB", "30 min / 500MB"
        Network.LINKEDIN: _replace(NETWORK_RULES[Network.LINKEDIN], max_items=20, max_image_bytes=5 * MB),
        # "10 × 8MB (JPEG only)", "90s / 300MB", text only ❌
        Network.INSTAGRAM: _replace(NETWORK_RULES[Network.INSTAGRAM], max_video_seconds=90),
        # "20 × 8MB", "5 min / 500MB"
        Network.THREADS: _replace(NETWORK_RULES[Network.THREADS], max_video_bytes=500 * MB),
        # "Video only", "10 min / 4GB", text only ❌
        Network.TIKTOK: _replace(
            NETWORK_RULES[Network.TIKTOK], max_items=1, max_image_bytes=0, requires="video"
        ),
        # "Video only", "12h / 256GB"
        Network.YOUTUBE: NETWORK_RULES[Network.YOUTUBE],
        # "10 × 10MB", "45 min / 2GB"
        Network.FACEBOOK: _replace(
            NETWORK_RULES[Network.FACEBOOK], max_video_seconds=45 * MINUTE, max_video_bytes=2 * GB
        ),
        # "4 × 1MB", "3 min / 100MB"
        Network.BLUESKY: NETWORK_RULES[Network.BLUESKY],
        # "4 × 16MB", "~99MB"
        Network.MASTODON: NETWORK_RULES[Network.MASTODON],
        # "10 × 10MB", "50MB (Bot API)"
        Network.TELEGRAM: NETWORK_RULES[Network.TELEGRAM],
    },
    # Publer's own documents give one figure: uploads of at most 200 MB per file, larger ones answer 413
    # (publer.md §5). Its per-network figures (publer.md §11) come from a third-party digest marked
    # UNCONFIRMED, so the networks' own limits stand under that cap.
    "publer": {
        network: _replace(
            rule, max_video_bytes=min(rule.max_video_bytes or PUBLER_FILE_BYTES, PUBLER_FILE_BYTES)
        )
        for network, rule in NETWORK_RULES.items()
    },
}


def rule_for(provider: str, network: Network) -> MediaRule:
    """What `network` takes through `provider`; the network's own rule where the provider documents none."""
    return PROVIDER_RULES.get(provider, {}).get(network, NETWORK_RULES[network])


def guess_type(name_or_url: str) -> str:
    """The media type from a file name or URL path; "application/octet-stream" when it says nothing."""
    path = urlsplit(name_or_url).path or name_or_url
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None and path.lower().endswith(".webp"):
        guessed = "image/webp"
    return guessed or "application/octet-stream"


def url_item(url: str) -> MediaItem:
    name = urlsplit(url).path.rsplit("/", 1)[-1] or url
    return MediaItem(name=name, mime_type=guess_type(url), url=url)


def parse_media_urls(text: str) -> tuple[list[MediaItem], list[str]]:
    """The URLs typed one per line, and the problems with them in plain words."""
    items: list[MediaItem] = []
    problems: list[str] = []
    for line in (part.strip() for part in text.splitlines()):
        if not line:
            continue
        parts = urlsplit(line)
        if parts.scheme != "https" or not parts.hostname or " " in line:
            problems.append(f"“{_short(line)}” is not an https:// link.")
        elif parts.username or parts.password:
            problems.append(f"“{_short(line)}” contains a password; use a public link.")
        else:
            items.append(url_item(line))
    if len(items) > MAX_URLS:
        problems.append(f"At most {MAX_URLS} media links per post.")
    return items, problems


def check_files(items: Sequence[MediaItem]) -> list[str]:
    """Problems with the attached files themselves, whatever the networks."""
    problems = []
    for item in items:
        if item.url is None and item.mime_type.lower() not in ACCEPTED_TYPES:
            names = ", ".join(ACCEPTED_TYPES.values())
            problems.append(f"{_short(item.name)} is not a file Postgate can post ({names}).")
        elif item.size is not None and item.size > MAX_SLACK_FILE_BYTES:
            problems.append(f"{_short(item.name)} is {_size(item.size)}; Slack takes files up to 10 MB.")
    if len(items) > MAX_FILES + MAX_URLS:
        problems.append("Too many media items.")
    return problems


def check_networks(items: Sequence[MediaItem], targets: Iterable[tuple[str, Network]]) -> list[str]:
    """Problems with the media for each targeted (provider, network), one sentence each.

    A limit is named by its network alone when it is the network's own, and "Network via Provider"
    when it is the provider's, so the author knows whom it comes from.
    """
    problems: list[str] = []
    kinds = [item.kind for item in items]
    videos = [item for item in items if item.kind is MediaKind.VIDEO]
    known = [k for k in kinds if k is not MediaKind.OTHER]
    images = [item for item in items if item.kind in (MediaKind.IMAGE, MediaKind.GIF)]

    def add(problem: str) -> None:
        if problem not in problems:
            problems.append(problem)

    for provider, network in sorted(set(targets), key=lambda t: (t[1].display_name, t[0])):
        rule = rule_for(provider, network)
        who = _namer(provider, network, rule)
        if rule.requires == "video" and (not videos and len(known) == len(kinds)):
            add(f"{who('requires')} needs a video.")
        elif rule.requires == "media" and not items:
            add(f"{who('requires')} needs an image or a video.")
        if rule.max_image_bytes == 0 and images:
            add(f"{who('max_image_bytes', 'requires')} takes one video and no images.")
        if len(items) > rule.max_items:
            noun = "media item" if rule.max_items == 1 else "media items"
            add(f"{who('max_items')} takes at most {rule.max_items} {noun} ({len(items)} attached).")
        if rule.max_videos is not None and len(videos) > rule.max_videos:
            add(f"{who('max_videos')} takes at most {rule.max_videos} video per post.")
        elif rule.max_videos is not None and videos and images and rule.max_image_bytes != 0:
            add(f"{who('max_videos')} cannot mix a video with images in one post.")
        if rule.max_image_bytes != 0:
            for item in images:
                if item.mime_type.lower() in IMAGE_TYPES and item.mime_type.lower() not in rule.image_types:
                    accepted = _names(sorted(ACCEPTED_TYPES[t] for t in rule.image_types))
                    kind = ACCEPTED_TYPES[item.mime_type.lower()]
                    add(f"{who('image_types')} takes {accepted} images only; {_short(item.name)} is {kind}.")
                if rule.max_image_bytes and item.size is not None and item.size > rule.max_image_bytes:
                    limit, size = _size(rule.max_image_bytes), _size(item.size)
                    add(
                        f"{who('max_image_bytes')} takes images up to {limit}; {_short(item.name)} is {size}."
                    )
        for item in videos:
            if rule.max_video_bytes and item.size is not None and item.size > rule.max_video_bytes:
                limit, size = _size(rule.max_video_bytes), _size(item.size)
                add(f"{who('max_video_bytes')} takes videos up to {limit}; {_short(item.name)} is {size}.")
            seconds = rule.max_video_seconds
            if seconds and item.duration_ms is not None and item.duration_ms > seconds * 1000:
                length = _length(item.duration_ms / 1000)
                add(
                    f"{who('max_video_seconds')} takes videos up to {_length(seconds)}; "
                    f"{_short(item.name)} is {length}."
                )
    return problems


def unchecked_lengths(items: Sequence[MediaItem], targets: Iterable[tuple[str, Network]]) -> list[str]:
    """For each video whose length is unknown (a link, or a file Slack gave no length for) while a
    target limits it: a sentence naming the tightest such limit, for the approval message."""
    limits = []
    for provider, network in set(targets):
        rule = rule_for(provider, network)
        if rule.max_video_seconds:
            who = _namer(provider, network, rule)("max_video_seconds")
            limits.append((rule.max_video_seconds, who))
    if not limits:
        return []
    seconds, who = min(limits)
    longest = _length(seconds)
    return [
        f"The length of {_short(item.name)} could not be checked; {who} takes videos up to {longest}."
        for item in items
        if item.kind is MediaKind.VIDEO and item.duration_ms is None
    ]


def _namer(provider: str, network: Network, rule: MediaRule) -> Callable[..., str]:
    own = NETWORK_RULES[network]
    provider_name = provider.replace("_", " ").title()

    def who(*fields: str) -> str:
        if all(getattr(rule, field) == getattr(own, field) for field in fields):
            return network.display_name
        return f"{network.display_name} via {provider_name}"

    return who


def _size(size: int) -> str:
    for unit, name in ((GB, "GB"), (MB, "MB")):
        if size >= unit:
            return f"{size / unit:.1f}".removesuffix(".0") + f" {name}"
    return f"{max(size // 1000, 1)} KB"


def _length(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, HOUR)
    minutes, secs = divmod(rest, MINUTE)
    if whole < MINUTE:
        return f"{whole} s"
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(p for p in parts if p)


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
