"""The media rules an author hears about in the modal: bot/domain/media.py, and how
bot/domain/rules.validate_draft puts its findings on the modal's file and link fields."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.media import parse_media_urls, unchecked_lengths
from bot.domain.model import Account, Draft, MediaItem
from bot.domain.networks import Network
from bot.domain.rules import DraftField, validate_draft

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MB = 1_000_000


def image(name: str = "photo.png", size: int = 200_000) -> MediaItem:
    mime = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}[name.rsplit(".", 1)[-1]]
    return MediaItem(name=name, mime_type=mime, size=size, slack_file_id=f"F-{name}")


def video(name: str = "clip.mp4", size: int = 3 * MB, seconds: float | None = None) -> MediaItem:
    duration = None if seconds is None else int(seconds * 1000)
    return MediaItem(
        name=name, mime_type="video/mp4", size=size, slack_file_id=f"F-{name}", duration_ms=duration
    )


def linked(name: str, mime_type: str, size: int) -> MediaItem:
    """A link whose size is known: Slack caps its files at 10 MB, so larger limits bite on links."""
    return MediaItem(name=name, mime_type=mime_type, size=size, url=f"https://cdn.example.com/{name}")


def account(network: Network, provider: str = "publora") -> Account:
    return Account(provider=provider, account_id=f"{network.value}-1", network=network, name="Acme")


def check(
    media: tuple[MediaItem, ...],
    *networks: Network,
    url_problems: tuple[str, ...] = (),
    provider: str = "publora",
    text: str = "Hello",
) -> dict[DraftField, str]:
    targets = tuple(account(n, provider) for n in networks)
    draft = Draft(text=text, targets=targets, publish_at=None, media=media)
    return validate_draft(draft, now=NOW, tz=ZoneInfo("UTC"), wants_time=False, url_problems=url_problems)


# -- what each network needs ------------------------------------------------------------------------


@pytest.mark.parametrize("network", [Network.INSTAGRAM, Network.TIKTOK])
@pytest.mark.parametrize("provider", ["publer", "postoria"])
def test_networks_that_need_media_are_named_when_there_is_none(network: Network, provider: str) -> None:
    errors = check((), network, provider=provider)

    assert errors == {DraftField.MEDIA: f"{network.display_name} needs an image or a video."}


def test_every_network_without_its_media_is_named_in_one_message() -> None:
    message = check((), Network.INSTAGRAM, Network.TIKTOK, Network.X)[DraftField.MEDIA]

    assert "Instagram needs an image or a video." in message
    # Publora's quick reference: TikTok is "Video only"; the limit is Publora's, so it is named.
    assert "TikTok via Publora needs a video." in message
    assert "X needs" not in message  # X posts text alone


def test_youtube_with_an_image_only_needs_a_video() -> None:
    message = check((image(),), Network.YOUTUBE)[DraftField.MEDIA]

    assert "YouTube needs a video." in message


def test_x_takes_at_most_four_images() -> None:
    five = tuple(image(f"photo{i}.png") for i in range(5))

    assert check(five, Network.X) == {DraftField.MEDIA: "X takes at most 4 media items (5 attached)."}
    assert check(five[:4], Network.X) == {}


def test_x_cannot_mix_a_video_with_an_image() -> None:
    assert check((video(), image()), Network.X) == {
        DraftField.MEDIA: "X cannot mix a video with images in one post."
    }


def test_an_image_over_the_network_limit_is_named_with_both_sizes() -> None:
    message = check((image("big.png", size=9 * MB),), Network.X)[DraftField.MEDIA]

    assert message == "X takes images up to 5 MB; big.png is 9 MB."


def test_a_pdf_is_not_a_file_postgate_can_post() -> None:
    report = MediaItem(name="report.pdf", mime_type="application/pdf", size=100_000, slack_file_id="F9")

    message = check((report,), Network.LINKEDIN)[DraftField.MEDIA]

    assert message.startswith("report.pdf is not a file Postgate can post")
    assert "PNG" in message and "MP4" in message  # the author learns what would work


def test_a_valid_image_post_to_instagram_and_x_has_no_media_errors() -> None:
    assert check((image("photo.jpg"),), Network.INSTAGRAM, Network.X) == {}


# -- each provider's own limits (issue 14 item 5) ------------------------------------------------------


def test_bluesky_via_publora_takes_images_up_to_one_megabyte() -> None:
    # Publora's quick reference: Bluesky "4 × 1MB" (the network's own lexicon agrees: 1,000,000 bytes).
    message = check((image("photo.png", size=2 * MB),), Network.BLUESKY)[DraftField.MEDIA]

    assert message == "Bluesky takes images up to 1 MB; photo.png is 2 MB."
    assert check((image("photo.png", size=900_000),), Network.BLUESKY) == {}


def test_instagram_takes_jpeg_images_only() -> None:
    errors = check((image("logo.png"), image("logo.webp")), Network.INSTAGRAM)

    assert errors == {
        DraftField.MEDIA: "Instagram takes JPEG images only; logo.png is PNG. "
        "Instagram takes JPEG images only; logo.webp is WebP."
    }


def test_threads_via_publora_takes_twenty_images_and_linkedin_twenty() -> None:
    twenty = tuple(image(f"photo{i}.jpg") for i in range(20))

    assert check(twenty, Network.THREADS, Network.LINKEDIN) == {}
    assert check(twenty[:11], Network.INSTAGRAM) == {
        DraftField.MEDIA: "Instagram takes at most 10 media items (11 attached)."
    }


def test_mastodon_takes_images_up_to_sixteen_megabytes() -> None:
    assert check((linked("photo.png", "image/png", 12 * MB),), Network.MASTODON) == {}
    assert check((linked("photo.png", "image/png", 17 * MB),), Network.MASTODON) == {
        DraftField.MEDIA_URLS: "Mastodon takes images up to 16 MB; photo.png is 17 MB."
    }


def test_a_video_longer_than_the_provider_takes_is_named_with_the_provider() -> None:
    # Publora's quick reference: Instagram "90s / 300MB", X "2 min / 512MB". Instagram's own limit is
    # 15 minutes, so the 90 s is Publora's and is said to be.
    errors = check((video("clip.mp4", seconds=125),), Network.INSTAGRAM, Network.X)

    assert errors == {
        DraftField.MEDIA: "Instagram via Publora takes videos up to 1 min 30 s; clip.mp4 is 2 min 5 s. "
        "X via Publora takes videos up to 2 min; clip.mp4 is 2 min 5 s."
    }
    assert check((video("clip.mp4", seconds=125),), Network.INSTAGRAM, provider="postoria") == {}
    assert check((video("clip.mp4", seconds=89),), Network.INSTAGRAM, Network.X) == {}


def test_a_video_over_the_size_a_network_takes_is_refused() -> None:
    # Telegram's Bot API uploads at most 50 MB; Publora's quick reference says the same.
    errors = check((linked("talk.mp4", "video/mp4", 60 * MB),), Network.TELEGRAM, provider="postoria")

    assert errors == {DraftField.MEDIA_URLS: "Telegram takes videos up to 50 MB; talk.mp4 is 60 MB."}


def test_publer_caps_every_file_at_two_hundred_megabytes() -> None:
    # publer.md §5: "Max 200 MB per file → larger gives 413"; Facebook itself takes 10 GB.
    film = linked("film.mp4", "video/mp4", 250 * MB)

    assert check((film,), Network.FACEBOOK, provider="publer") == {
        DraftField.MEDIA_URLS: "Facebook via Publer takes videos up to 200 MB; film.mp4 is 250 MB."
    }
    assert check((film,), Network.FACEBOOK, provider="postoria") == {}


def test_tiktok_via_publora_takes_no_images_but_via_postoria_takes_a_photo_post() -> None:
    photos = (image("a.jpg"), image("b.jpg"))

    assert check(photos, Network.TIKTOK) == {
        DraftField.MEDIA: "TikTok via Publora needs a video. "
        "TikTok via Publora takes one video and no images. "
        "TikTok via Publora takes at most 1 media item (2 attached)."
    }
    assert check(photos, Network.TIKTOK, provider="postoria") == {}


def test_the_same_network_through_two_providers_is_checked_against_each() -> None:
    clip = video("clip.mp4", seconds=100)
    draft = Draft(
        text="Hello",
        targets=(account(Network.INSTAGRAM, "publora"), account(Network.INSTAGRAM, "publer")),
        publish_at=None,
        media=(clip,),
    )

    errors = validate_draft(draft, now=NOW, tz=ZoneInfo("UTC"), wants_time=False)

    assert errors == {
        DraftField.MEDIA: "Instagram via Publora takes videos up to 1 min 30 s; clip.mp4 is 1 min 40 s."
    }


def test_a_video_of_unknown_length_is_flagged_for_the_approval_message_not_refused() -> None:
    clip = video("clip.mp4")  # Slack gave no duration_ms
    targets = {("publora", Network.INSTAGRAM), ("publora", Network.X)}

    assert check((clip,), Network.INSTAGRAM, Network.X) == {}
    assert unchecked_lengths((clip,), targets) == [
        "The length of clip.mp4 could not be checked; Instagram via Publora takes videos up to 1 min 30 s."
    ]
    assert unchecked_lengths((video("clip.mp4", seconds=30),), targets) == []
    assert unchecked_lengths((clip,), {("postoria", Network.MASTODON)}) == []  # no length limit there


def test_a_telegram_post_with_media_is_a_caption_of_at_most_1024_characters() -> None:
    text = "a" * 1100

    assert check((), Network.TELEGRAM, text=text) == {}
    assert check((image("photo.jpg"),), Network.TELEGRAM, text=text) == {
        DraftField.TEXT: "The text is too long: Telegram with media allows 1,024 (76 too many)."
    }


# -- media links --------------------------------------------------------------------------------------


def test_an_https_link_is_accepted_with_its_type_guessed_from_the_path() -> None:
    items, problems = parse_media_urls(
        "https://cdn.example.com/launch/photo.jpg\n\nhttps://cdn.example.com/v.mp4?s=1"
    )

    assert problems == []
    assert [(i.name, i.mime_type, i.url) for i in items] == [
        ("photo.jpg", "image/jpeg", "https://cdn.example.com/launch/photo.jpg"),
        ("v.mp4", "video/mp4", "https://cdn.example.com/v.mp4?s=1"),
    ]
    assert all(i.slack_file_id is None for i in items)


def test_a_plain_http_link_is_refused() -> None:
    items, problems = parse_media_urls("http://cdn.example.com/photo.jpg")

    assert items == []
    assert problems == ["“http://cdn.example.com/photo.jpg” is not an https:// link."]


def test_a_link_with_a_user_and_password_is_refused() -> None:
    items, problems = parse_media_urls("https://me:secret@cdn.example.com/photo.jpg")

    assert items == []
    assert problems == [
        "“https://me:secret@cdn.example.com/photo.jpg” contains a password; use a public link."
    ]


def test_eleven_links_are_too_many() -> None:
    _, problems = parse_media_urls("\n".join(f"https://cdn.example.com/{i}.png" for i in range(11)))

    assert problems == ["At most 10 media links per post."]


def test_ten_links_are_fine() -> None:
    items, problems = parse_media_urls("\n".join(f"https://cdn.example.com/{i}.png" for i in range(10)))

    assert problems == [] and len(items) == 10


# -- which field shows the problem --------------------------------------------------------------------


def test_link_problems_land_on_the_links_field() -> None:
    items, problems = parse_media_urls("https://cdn.example.com/photo.png\nhttp://cdn.example.com/b.png")

    errors = check(tuple(items), Network.X, url_problems=tuple(problems))

    assert errors == {DraftField.MEDIA_URLS: "“http://cdn.example.com/b.png” is not an https:// link."}


def test_a_network_problem_with_links_only_lands_on_the_links_field() -> None:
    items, _ = parse_media_urls("\n".join(f"https://cdn.example.com/{i}.png" for i in range(5)))

    errors = check(tuple(items), Network.X)

    assert errors == {DraftField.MEDIA_URLS: "X takes at most 4 media items (5 attached)."}


def test_file_problems_stay_on_the_files_field_next_to_link_problems() -> None:
    items, problems = parse_media_urls("http://cdn.example.com/b.png")

    errors = check((image("big.png", size=9 * MB),), Network.X, url_problems=tuple(problems))

    assert errors == {
        DraftField.MEDIA: "X takes images up to 5 MB; big.png is 9 MB.",
        DraftField.MEDIA_URLS: "“http://cdn.example.com/b.png” is not an https:// link.",
    }
