"""Small helpers listeners share: telling one user something where they are, opening the composer."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.container import Services
from bot.slack.views.compose import build_compose_modal
from bot.slack.views.forms import zone

log = logging.getLogger(__name__)


def tell(client: WebClient, *, channel: str | None, user: str, text: str) -> None:
    """An ephemeral note to `user` in `channel`, or a DM when there is no channel to put it in."""
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)
    except SlackApiError as error:
        log.warning("could not tell %s: %s", user, error.response.get("error"))


def open_composer(
    client: WebClient,
    services: Services,
    *,
    trigger_id: str,
    user_id: str,
    text: str = "",
    origin_channel: str | None = None,
) -> None:
    """Open the modal at once (trigger ids die after 3 s), then fill in what had to be fetched."""
    accounts = services.accounts.cached()
    tz_name = services.users.cached_timezone(user_id)
    tz: ZoneInfo = zone(tz_name)
    now = services.clock.now()
    view = build_compose_modal(
        providers=accounts if tz_name else None, tz=tz, now=now, text=text, origin_channel=origin_channel
    )
    response = client.views_open(trigger_id=trigger_id, view=view)
    if accounts is not None and tz_name is not None:
        return
    opened: dict[str, Any] = response.get("view") or {}
    tz = zone(services.users.timezone(user_id))
    providers = services.accounts.get()
    full = build_compose_modal(
        providers=providers, tz=tz, now=services.clock.now(), text=text, origin_channel=origin_channel
    )
    try:
        client.views_update(view_id=opened.get("id"), hash=opened.get("hash"), view=full)
    except SlackApiError as error:
        # The author may have closed or submitted the modal meanwhile; nothing to update then.
        log.info("compose modal not updated: %s", error.response.get("error"))
