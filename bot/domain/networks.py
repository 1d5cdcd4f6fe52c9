"""The social networks Postgate knows, with the limits it checks before a post reaches approval."""

from __future__ import annotations

from enum import StrEnum


class Network(StrEnum):
    X = "twitter"
    LINKEDIN = "linkedin"
    INSTAGRAM = "instagram"
    THREADS = "threads"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    FACEBOOK = "facebook"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"
    TELEGRAM = "telegram"

    @property
    def display_name(self) -> str:
        return _DISPLAY_NAMES[self]

    @property
    def text_limit(self) -> int:
        """How long one post may be, as `counting.count` measures it (Publora's limits, standard tier)."""
        return _TEXT_LIMITS[self]

    def limit_with_media(self, has_media: bool) -> int:
        """How long one post may be when it carries media: a Telegram post with media is a caption."""
        if has_media and self in CAPTION_LIMITS:
            return CAPTION_LIMITS[self]
        return self.text_limit

    @classmethod
    def parse(cls, value: str) -> Network | None:
        value = value.strip().lower()
        if value in ("x", "twitter"):
            return cls.X
        try:
            return cls(value)
        except ValueError:
            return None


_DISPLAY_NAMES = {
    Network.X: "X",
    Network.LINKEDIN: "LinkedIn",
    Network.INSTAGRAM: "Instagram",
    Network.THREADS: "Threads",
    Network.TIKTOK: "TikTok",
    Network.YOUTUBE: "YouTube",
    Network.FACEBOOK: "Facebook",
    Network.BLUESKY: "Bluesky",
    Network.MASTODON: "Mastodon",
    Network.TELEGRAM: "Telegram",
}

# ../shared/providers/publora.md §11. X Premium (25,000) and YouTube titles are refined in later issues.
_TEXT_LIMITS = {
    Network.X: 280,
    Network.LINKEDIN: 3000,
    Network.INSTAGRAM: 2200,
    Network.THREADS: 500,
    Network.TIKTOK: 2200,
    Network.YOUTUBE: 5000,
    Network.FACEBOOK: 63206,
    Network.MASTODON: 500,
    Network.BLUESKY: 300,
    Network.TELEGRAM: 4096,
}

#: Telegram's Bot API takes a media caption of at most 1,024 characters ("4,096 (1,024 captions)" in
#: Publora's API quick reference, sources/publora-api-skill.txt; publora.md §11 agrees).
CAPTION_LIMITS = {Network.TELEGRAM: 1024}
