"""`/post`, `/post list`, `/post export`, `/post help`, the global "New post" shortcut and the message
shortcut "Draft a post from this"."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.container import Services
from bot.slack.ids import Command, Shortcut
from bot.slack.listeners.common import open_composer, tell
from bot.slack.views.format import plain_from_mrkdwn
from bot.slack.views.lists import build_help_message, build_list_message

log = logging.getLogger(__name__)


def handle_post_command(
    ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, services: Services
) -> None:
    """Route the subcommand; the composer opens for anything that is not `list`, `export` or `help`."""
    text = (command.get("text") or "").strip()
    subcommand = text.split(maxsplit=1)[0].lower() if text else ""
    team_id, user_id = command["team_id"], command["user_id"]
    if subcommand == "help":
        ack(**build_help_message())
        return
    if subcommand == "list":
        ack()
        # The listing reads the database (and user groups, on a cold cache): sent privately after the ack.
        lists = services.posts.lists_for(team_id=team_id, user_id=user_id)
        sent = respond(**build_list_message(lists))
        if sent.status_code != 200:  # an expired or used-up response_url answers 404, it does not raise
            log.warning("the /post list answer for %s was refused by Slack: %s", user_id, sent.body)
        return
    if subcommand == "export":
        ack(text="Preparing the history export; it will arrive as a file in your DM with Postgate.")
        export_history(client, services, team_id=team_id, user_id=user_id, channel=command.get("channel_id"))
        return
    ack()
    open_composer(
        client,
        services,
        trigger_id=command["trigger_id"],
        user_id=user_id,
        team_id=team_id,
        text=text,
        origin_channel=command.get("channel_id"),
    )


def export_history(
    client: WebClient, services: Services, *, team_id: str, user_id: str, channel: str | None
) -> None:
    """Admins and approvers get every post's record; anyone else the record of their own posts."""
    everything = services.workflow.is_admin(team_id, user_id) or services.posts.is_approver_anywhere(
        team_id, user_id
    )
    today = services.clock.now().strftime("%Y-%m-%d")
    try:
        services.history.export_to(team_id=team_id, user_id=user_id, everything=everything, today=today)
    except SlackApiError as error:
        log.warning("history export for %s failed: %s", user_id, error.response.get("error"))
        tell(
            client,
            channel=channel,
            user=user_id,
            text="The export could not be uploaded to Slack. Please try `/post export` again in a minute.",
        )


def handle_new_post_shortcut(
    ack: Ack, shortcut: dict[str, Any], client: WebClient, services: Services
) -> None:
    """The global shortcut opens the same composer."""
    ack()
    user = shortcut["user"]
    open_composer(
        client,
        services,
        trigger_id=shortcut["trigger_id"],
        user_id=user["id"],
        team_id=(shortcut.get("team") or {}).get("id") or user.get("team_id", ""),
    )


def handle_draft_from_message(
    ack: Ack, shortcut: dict[str, Any], client: WebClient, services: Services
) -> None:
    """The composer, prefilled with the text of the message the shortcut was used on."""
    ack()
    user = shortcut["user"]
    message = shortcut.get("message") or {}
    open_composer(
        client,
        services,
        trigger_id=shortcut["trigger_id"],
        user_id=user["id"],
        team_id=(shortcut.get("team") or {}).get("id") or user.get("team_id", ""),
        text=plain_from_mrkdwn(str(message.get("text") or "")),
        origin_channel=(shortcut.get("channel") or {}).get("id"),
    )


def register(app: App) -> None:
    app.command(Command.POST.value)(handle_post_command)
    app.shortcut(Shortcut.NEW_POST.value)(handle_new_post_shortcut)
    app.shortcut(Shortcut.DRAFT_FROM_MESSAGE.value)(handle_draft_from_message)
