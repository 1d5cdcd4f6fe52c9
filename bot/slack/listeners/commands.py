"""`/post`, `/post list`, `/post help`, and the global "New post" shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.services.container import Services
from bot.slack.ids import Command, Shortcut
from bot.slack.listeners.common import open_composer
from bot.slack.views.lists import build_help_message, build_list_message


def handle_post_command(ack: Ack, command: dict[str, Any], client: WebClient, services: Services) -> None:
    """Route the subcommand; the composer opens for anything that is not `list` or `help`."""
    text = (command.get("text") or "").strip()
    subcommand = text.split(maxsplit=1)[0].lower() if text else ""
    if subcommand == "help":
        ack(**build_help_message())
        return
    if subcommand == "list":
        lists = services.posts.lists_for(team_id=command["team_id"], user_id=command["user_id"])
        ack(**build_list_message(lists))
        return
    ack()
    open_composer(
        client,
        services,
        trigger_id=command["trigger_id"],
        user_id=command["user_id"],
        text=text,
        origin_channel=command.get("channel_id"),
    )


def handle_new_post_shortcut(
    ack: Ack, shortcut: dict[str, Any], client: WebClient, services: Services
) -> None:
    """The global shortcut opens the same composer."""
    ack()
    open_composer(client, services, trigger_id=shortcut["trigger_id"], user_id=shortcut["user"]["id"])


def register(app: App) -> None:
    app.command(Command.POST.value)(handle_post_command)
    app.shortcut(Shortcut.NEW_POST.value)(handle_new_post_shortcut)
