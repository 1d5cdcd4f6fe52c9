"""Small helpers listeners share: telling one user something where they are, opening the composer (new or
prefilled for an edit), and publishing someone's App Home."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import zone
from bot.services.container import Services
from bot.services.directory import ProviderAccounts
from bot.services.snapshot import PostSnapshot
from bot.slack.views.compose import build_compose_modal
from bot.slack.views.home import build_home
from bot.slack.views.settings import KeysSection, build_settings_modal

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


def publish_home(client: WebClient, services: Services, *, team_id: str, user_id: str) -> None:
    data = services.home.home_for(team_id=team_id, user_id=user_id)
    try:
        client.views_publish(user_id=user_id, view=build_home(data))
    except SlackApiError as error:
        log.warning("App Home not published for %s: %s", user_id, error.response.get("error"))


def offered(
    services: Services, team_id: str, providers: Sequence[ProviderAccounts]
) -> list[ProviderAccounts]:
    """The providers and accounts the workspace's settings offer in the composer."""
    settings = services.workflow.settings(team_id)
    kept = []
    for entry in providers:
        if not settings.offers_provider(entry.provider):
            continue
        accounts = tuple(a for a in entry.accounts if settings.offers_account(a.key))
        kept.append(
            ProviderAccounts(
                entry.provider,
                entry.display_name,
                accounts=accounts,
                failure=entry.failure,
                queues=entry.queues,
            )
        )
    return kept


def open_composer(
    client: WebClient,
    services: Services,
    *,
    trigger_id: str,
    user_id: str,
    team_id: str,
    text: str = "",
    origin_channel: str | None = None,
    editing: PostSnapshot | None = None,
    push: bool = False,
) -> None:
    """Open the modal at once (trigger ids die after 3 s), then fill in what had to be fetched."""
    accounts = services.accounts.cached()
    tz_name = services.users.cached_timezone(user_id)
    tz: ZoneInfo = zone(tz_name)

    def build(providers: Sequence[ProviderAccounts] | None, tz: ZoneInfo) -> Any:
        listed = offered(services, team_id, providers) if providers is not None else None
        networks = sorted(
            {a.network for p in listed or () for a in p.accounts}, key=lambda n: (n.text_limit, n.value)
        )
        return build_compose_modal(
            providers=listed,
            tz=tz,
            now=services.clock.now(),
            text=text,
            origin_channel=origin_channel,
            draft=editing.as_draft() if editing else None,
            post_id=editing.id if editing else None,
            version=editing.version if editing else None,
            networks=networks,
        )

    view = build(accounts if tz_name else None, tz)
    opener = client.views_push if push else client.views_open
    try:
        response = opener(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        # Most often an expired trigger: Slack gives 3 s, and a slow network can eat them.
        code = error.response.get("error")
        log.warning("the composer could not be opened for %s: %s", user_id, code)
        tell(
            client,
            channel=origin_channel,
            user=user_id,
            text=f"Slack did not let Postgate open the composer ({code}). Please try again.",
        )
        return
    if accounts is not None and tz_name is not None:
        return
    opened: dict[str, Any] = response.get("view") or {}
    full = build(services.accounts.get(), zone(services.users.timezone(user_id)))
    try:
        client.views_update(view_id=opened.get("id"), hash=opened.get("hash"), view=full)
    except SlackApiError as error:
        # The author may have closed or submitted the modal meanwhile; nothing to update then.
        log.info("compose modal not updated: %s", error.response.get("error"))


def settings_view(services: Services, team: str) -> Any:
    """The settings modal as it stands now: settings, providers' accounts, user groups and keys."""
    settings, revision = services.workflow.settings_with_revision(team)
    return build_settings_modal(
        settings=settings,
        revision=revision,
        providers=services.accounts.get(),
        groups=services.workflow.list_groups(),
        groups_unavailable=services.workflow.groups_unavailable,
        keys=KeysSection(statuses=services.credentials.statuses(), can_store=services.credentials.can_store),
    )


def refresh_settings(client: WebClient, services: Services, *, view_id: str | None, team: str) -> None:
    """Show the settings again in the open modal `view_id` after a change (a closed one is left alone)."""
    if not view_id:
        return
    try:
        client.views_update(view_id=view_id, view=settings_view(services, team))
    except SlackApiError as error:
        log.info("settings modal not updated: %s", error.response.get("error"))
