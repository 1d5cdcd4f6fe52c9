"""What media each network accepts, checked before a draft reaches approval.

The figures come from `shared/providers/` (Publer's networks page and its media digest, Publora's
platform limits, the pitfalls list): how many items a post may carry, which kinds, the largest image,
and which networks refuse a post without media. The providers check again at publish time; checking
here means the author hears it in the modal instead of from a failed post hours later.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Sequence
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
#: Extensions offered by the modal's file picker (a convenience; the types above are what is checked).
FILE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "mp4", "mov")
#: Slack's file_input cap per modal.
MAX_FILES = 10
#: Slack's file_input cap per file.
MAX_SLACK_FILE_BYTES = 10 * 1024 * 1024
MAX_URLS = 10

_MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRule:
    max_items: int
    max_image_bytes: int
    #: None: any number of images and videos may be mixed up to max_items; otherwise at most this many
    #: videos, and a video cannot share the post with images.
    max_videos: int | None = 1
    requires: str | None = None  # "media" or "video"


RULES: dict[Network, MediaRule] = {
    Network.X: MediaRule(max_items=4, max_image_bytes=5 * _MB),
    Network.BLUESKY: MediaRule(max_items=4, max_image_bytes=5 * _MB),
    Network.LINKEDIN: MediaRule(max_items=9, max_image_bytes=5 * _MB),
    Network.FACEBOOK: MediaRule(max_items=10, max_image_bytes=8 * _MB),
    Network.INSTAGRAM: MediaRule(max_items=10, max_image_bytes=8 * _MB, max_videos=None, requires="media"),
    Network.THREADS: MediaRule(max_items=10, max_image_bytes=8 * _MB, max_videos=None),
    Network.TIKTOK: MediaRule(max_items=10, max_image_bytes=8 * _MB, requires="media"),
    Network.YOUTUBE: MediaRule(max_items=1, max_image_bytes=0, requires="video"),
    Network.MASTODON: MediaRule(max_items=4, max_image_bytes=8 * _MB),
    Network.TELEGRAM: MediaRule(max_items=10, max_image_bytes=10 * _MB, max_videos=None),
}


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
            problems.append(
                f"{_short(item.name)} is {_size(item.size)}; the most is {_size(MAX_SLACK_FILE_BYTES)}."
            )
    if len(items) > MAX_FILES + MAX_URLS:
        problems.append("Too many media items.")
    return problems


def check_networks(items: Sequence[MediaItem], networks: Iterable[Network]) -> list[str]:
    """Problems with the media for each targeted network, one sentence per network."""
    problems = []
    kinds = [item.kind for item in items]
    videos = sum(1 for k in kinds if k is MediaKind.VIDEO)
    known = [k for k in kinds if k is not MediaKind.OTHER]
    images = [item for item in items if item.kind in (MediaKind.IMAGE, MediaKind.GIF)]
    for network in sorted(set(networks), key=lambda n: n.display_name):
        rule = RULES[network]
        name = network.display_name
        if rule.requires == "video" and (videos == 0 and len(known) == len(kinds)):
            problems.append(f"{name} needs a video.")
        elif rule.requires == "media" and not items:
            problems.append(f"{name} needs an image or a video.")
        if rule.requires == "video" and images:
            problems.append(f"{name} takes one video and no images.")
        if len(items) > rule.max_items:
            problems.append(f"{name} takes at most {rule.max_items} media items ({len(items)} attached).")
        if rule.max_videos is not None and videos > rule.max_videos:
            problems.append(f"{name} takes at most {rule.max_videos} video per post.")
        elif rule.max_videos is not None and videos and images:
            problems.append(f"{name} cannot mix a video with images in one post.")
        too_big = [
            i for i in images if i.size is not None and rule.max_image_bytes and i.size > rule.max_image_bytes
        ]
        for item in too_big:
            limit, size = _size(rule.max_image_bytes), _size(item.size or 0)
            problems.append(f"{name} takes images up to {limit}; {_short(item.name)} is {size}.")
    return problems


def _size(size: int) -> str:
    return f"{size / _MB:.1f} MB" if size >= _MB else f"{max(size // 1024, 1)} KB"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
