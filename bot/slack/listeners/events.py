"""Events API: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.services.container import Services
from bot.slack.listeners.common import publish_home


def handle_app_home_opened(
    event: dict[str, Any], context: Any, client: WebClient, services: Services
) -> None:
    if event.get("tab") not in (None, "home"):
        return
    publish_home(client, services, team_id=context.team_id or "", user_id=event["user"])


def register(app: App) -> None:
    app.event("app_home_opened")(handle_app_home_opened)
