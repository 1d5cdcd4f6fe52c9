from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.model import Account, Draft, MediaItem
from bot.domain.networks import Network
from bot.domain.rules import DraftField, validate_draft

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def account(network: Network) -> Account:
    return Account(provider="publora", account_id=f"{network.value}-1", network=network, name="Acme")


PHOTO = MediaItem(name="photo.jpg", mime_type="image/jpeg", size=200_000, slack_file_id="F1")


def check(
    text: str,
    *networks: Network,
    at: datetime | None = None,
    wants_time: bool = False,
    media: tuple[MediaItem, ...] = (),
) -> dict[DraftField, str]:
    draft = Draft(text=text, targets=tuple(account(n) for n in networks), publish_at=at, media=media)
    return validate_draft(draft, now=NOW, tz=BERLIN, wants_time=wants_time)


def test_a_valid_draft_has_no_errors() -> None:
    assert check("Hello", Network.X) == {}


def test_empty_or_blank_text_is_refused_on_the_text_field() -> None:
    assert "Write the text" in check("   \n", Network.X)[DraftField.TEXT]


def test_no_target_is_refused_on_the_targets_field() -> None:
    assert "at least one account" in check("Hello")[DraftField.TARGETS]


@pytest.mark.parametrize(
    ("network", "limit"),
    [
        (Network.X, 280),
        (Network.BLUESKY, 300),
        (Network.THREADS, 500),
        (Network.INSTAGRAM, 2200),
        (Network.LINKEDIN, 3000),
    ],
)
def test_each_network_limit_is_enforced_at_its_boundary(network: Network, limit: int) -> None:
    media = (PHOTO,) if network is Network.INSTAGRAM else ()  # Instagram needs media
    assert check("a" * limit, network, media=media) == {}
    message = check("a" * (limit + 1), network, media=media)[DraftField.TEXT]
    if limit == 3000:  # also the modal's own cap, which speaks first
        assert "the most is 3,000" in message
    else:
        assert f"{network.display_name} allows {limit:,} (1 too many)" in message


def test_the_message_names_every_network_the_text_is_too_long_for() -> None:
    message = check("a" * 400, Network.X, Network.BLUESKY, Network.LINKEDIN)[DraftField.TEXT]
    assert "X allows 280" in message and "Bluesky allows 300" in message and "LinkedIn" not in message


def test_a_time_in_the_past_is_refused_and_shown_in_the_authors_zone() -> None:
    message = check("Hello", Network.X, at=NOW - timedelta(hours=1), wants_time=True)[DraftField.PUBLISH_AT]
    assert "12:00 (Europe/Berlin)" in message  # 11:00 UTC is 12:00 in Berlin


def test_choosing_a_time_without_picking_one_is_refused() -> None:
    assert "Pick the date" in check("Hello", Network.X, wants_time=True)[DraftField.PUBLISH_AT]


def test_a_future_time_is_accepted() -> None:
    assert check("Hello", Network.X, at=NOW + timedelta(hours=2), wants_time=True) == {}


# -- per-network counting, threads, separate texts and the first comment --------------------------------

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦: 25 bytes


def validate(
    text: str,
    *targets: Account,
    overrides: tuple[tuple[Network, str], ...] = (),
    first_comment: str | None = None,
) -> dict[DraftField, str]:
    draft = Draft(
        text=text, targets=targets, publish_at=None, overrides=overrides, first_comment=first_comment
    )
    return validate_draft(draft, now=NOW, tz=BERLIN, wants_time=False)


def via(network: Network, provider: str) -> Account:
    return Account(provider=provider, account_id=f"{network.value}-1", network=network, name="Acme")


def test_a_long_link_counts_23_on_x() -> None:
    assert validate("Read this: https://example.com/" + "a" * 300, account(Network.X)) == {}


def test_emoji_count_2_on_x_and_the_message_says_why() -> None:
    message = validate("\U0001f642" * 141, account(Network.X))[DraftField.TEXT]
    assert message.startswith("The text is too long: X allows 280 (2 too many).")
    assert "every emoji or CJK character as 2" in message


def test_the_message_suggests_a_thread_where_the_text_would_be_split() -> None:
    message = validate("a" * 281, account(Network.X))[DraftField.TEXT]
    assert "To post it as a thread on X, put a line with only --- between the parts." in message
    assert "thread" not in validate("a" * 301, account(Network.BLUESKY))[DraftField.TEXT]


def test_a_thread_is_checked_part_by_part_where_it_is_split() -> None:
    text = "Hook\n---\n" + "b" * 312 + "\n---\nThe end"
    assert validate(text, account(Network.X)) == {
        DraftField.TEXT: "The text is too long: X thread part 2 is 312 of 280."
    }
    assert validate(text, account(Network.THREADS)) == {}


def test_a_thread_is_one_post_where_the_provider_does_not_split_it() -> None:
    text = "Hook\n---\n" + "b" * 276  # as one post: 4 + 2 + 276 = 282
    assert validate(text, account(Network.X)) == {}
    message = validate(text, via(Network.X, "publer"))[DraftField.TEXT]
    assert message == "The text is too long: X allows 280 (2 too many; Publer cannot split --- threads)."


def test_an_empty_thread_part_is_refused() -> None:
    message = validate("One\n---\n\n---\nThree", account(Network.X))[DraftField.TEXT]
    assert message == (
        "Thread part 2 is empty (a --- line with nothing between it and the next one). "
        "Remove the extra --- line or write that part."
    )
    assert "nothing after the last --- line" in validate("One\n---\n", account(Network.X))[DraftField.TEXT]


def test_an_empty_thread_part_does_not_matter_where_the_text_is_one_post() -> None:
    assert validate("One\n---\n\n---\nThree", account(Network.LINKEDIN)) == {}


def test_bluesky_refuses_more_than_3000_bytes_even_within_300_graphemes() -> None:
    assert validate(FAMILY * 200, account(Network.BLUESKY)) == {
        DraftField.TEXT: "The text is too long: "
        "Bluesky allows 3,000 bytes (2,000 too many; an emoji takes 4 or more)."
    }


def test_the_longest_text_is_checked_against_every_network() -> None:
    longest = ("Launch \U0001f680 https://example.com/spring-launch 日本\n" * 65 + "a" * 10)[:3000]
    errors = validate(
        longest,
        account(Network.LINKEDIN),
        account(Network.FACEBOOK),
        account(Network.TELEGRAM),
        account(Network.MASTODON),
        account(Network.X),
    )
    assert errors == {
        DraftField.TEXT: "The text is too long: "
        "X allows 280 (2,265 too many); Mastodon allows 500 (1,850 too many). "
        "X counts every link as 23 characters and every emoji or CJK character as 2. "
        "Mastodon counts every link as 23 characters. "
        "To post it as a thread on X, put a line with only --- between the parts."
    }


def test_an_override_replaces_the_main_text_on_its_network() -> None:
    errors = validate(
        "a" * 400, account(Network.X), account(Network.LINKEDIN), overrides=((Network.X, "Short"),)
    )
    assert errors == {}


def test_an_override_that_is_too_long_is_shown_on_the_overrides_field() -> None:
    errors = validate("Hello", account(Network.X), overrides=((Network.X, "y" * 300),))
    assert DraftField.TEXT not in errors
    assert errors[DraftField.OVERRIDES].startswith(
        "The separate text is too long: X allows 280 (20 too many)."
    )


def test_an_override_for_a_network_without_an_account_is_refused() -> None:
    errors = validate("Hello", account(Network.X), overrides=((Network.MASTODON, "Toot"),))
    assert errors == {
        DraftField.OVERRIDES: "There is a separate text for Mastodon, but no Mastodon account is chosen. "
        "Add one, or remove that text."
    }
    errors = validate(
        "Hello", account(Network.X), overrides=((Network.TELEGRAM, "T"), (Network.MASTODON, "M"))
    )
    assert errors[DraftField.OVERRIDES].startswith("There are separate texts for Mastodon and Telegram,")


def test_a_first_comment_too_long_for_a_network_is_refused() -> None:
    errors = validate("Hello", account(Network.LINKEDIN), account(Network.X), first_comment="c" * 1300)
    assert errors == {
        DraftField.FIRST_COMMENT: "The first comment is too long for X: 1,300 of 280. "
        "The first comment is too long for LinkedIn: 1,300 of 1,250."
    }


def test_a_first_comment_is_not_measured_where_it_will_not_be_posted() -> None:
    assert validate("Hello", account(Network.FACEBOOK), first_comment="c" * 1300) == {}
    assert validate("Hello", account(Network.LINKEDIN), first_comment="c" * 1250) == {}
