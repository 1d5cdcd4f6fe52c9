"""The media rules an author hears about in the modal: bot/domain/media.py, and how
bot/domain/rules.validate_draft puts its findings on the modal's file and link fields."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.media import parse_media_urls
from bot.domain.model import Account, Draft, MediaItem
from bot.domain.networks import Network
from bot.domain.rules import DraftField, validate_draft

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MB = 1024 * 1024


def image(name: str = "photo.png", size: int = 200_000) -> MediaItem:
    return MediaItem(name=name, mime_type="image/png", size=size, slack_file_id=f"F-{name}")


def video(name: str = "clip.mp4", size: int = 3 * MB) -> MediaItem:
    return MediaItem(name=name, mime_type="video/mp4", size=size, slack_file_id=f"F-{name}")


def account(network: Network) -> Account:
    return Account(provider="publora", account_id=f"{network.value}-1", network=network, name="Acme")


def check(
    media: tuple[MediaItem, ...], *networks: Network, url_problems: tuple[str, ...] = ()
) -> dict[DraftField, str]:
    draft = Draft(text="Hello", targets=tuple(account(n) for n in networks), publish_at=None, media=media)
    return validate_draft(draft, now=NOW, tz=ZoneInfo("UTC"), wants_time=False, url_problems=url_problems)


# -- what each network needs ------------------------------------------------------------------------


@pytest.mark.parametrize("network", [Network.INSTAGRAM, Network.TIKTOK])
def test_networks_that_need_media_are_named_when_there_is_none(network: Network) -> None:
    errors = check((), network)

    assert errors == {DraftField.MEDIA: f"{network.display_name} needs an image or a video."}


def test_every_network_without_its_media_is_named_in_one_message() -> None:
    message = check((), Network.INSTAGRAM, Network.TIKTOK, Network.X)[DraftField.MEDIA]

    assert "Instagram needs an image or a video." in message
    assert "TikTok needs an image or a video." in message
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

    assert message == "X takes images up to 5.0 MB; big.png is 9.0 MB."


def test_a_pdf_is_not_a_file_postgate_can_post() -> None:
    report = MediaItem(name="report.pdf", mime_type="application/pdf", size=100_000, slack_file_id="F9")

    message = check((report,), Network.LINKEDIN)[DraftField.MEDIA]

    assert message.startswith("report.pdf is not a file Postgate can post")
    assert "PNG" in message and "MP4" in message  # the author learns what would work


def test_a_valid_image_post_to_instagram_and_x_has_no_media_errors() -> None:
    assert check((image(),), Network.INSTAGRAM, Network.X) == {}


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
        DraftField.MEDIA: "X takes images up to 5.0 MB; big.png is 9.0 MB.",
        DraftField.MEDIA_URLS: "“http://cdn.example.com/b.png” is not an https:// link.",
    }
