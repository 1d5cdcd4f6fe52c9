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


PHOTO = MediaItem(name="photo.png", mime_type="image/png", size=200_000, slack_file_id="F1")


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
