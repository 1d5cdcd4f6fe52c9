"""The buttons on the approval message: Approve, Reject, and Cancel post."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.errors import DomainError
from bot.services.container import Services
from bot.slack.ids import Action
from bot.slack.listeners.common import tell
from bot.slack.views.compose import build_reject_modal


def _post_id(body: dict[str, Any]) -> int | None:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _who(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """(team, user, channel) from the payload Slack signed, never from values the client set."""
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return team, user["id"], (body.get("channel") or {}).get("id")


def handle_approve_button(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """Approve, or tell the clicker privately why not."""
    ack()
    team, user, channel = _who(body)
    post_id = _post_id(body)
    if post_id is None:
        return
    try:
        services.posts.approve(team_id=team, post_id=post_id, user_id=user)
    except DomainError as error:
        tell(client, channel=channel, user=user, text=error.user_message)


def handle_reject_button(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """Ask for the reason in a modal, once we know the clicker may reject."""
    ack()
    team, user, channel = _who(body)
    post_id = _post_id(body)
    if post_id is None:
        return
    try:
        services.posts.check_can_decide(team_id=team, post_id=post_id, user_id=user, action="reject")
    except DomainError as error:
        tell(client, channel=channel, user=user, text=error.user_message)
        return
    client.views_open(trigger_id=body["trigger_id"], view=build_reject_modal(post_id=post_id))


def handle_cancel_button(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """Withdraw the post (the providers are asked after the ack) and tell the clicker what happened."""
    ack()
    team, user, channel = _who(body)
    post_id = _post_id(body)
    if post_id is None:
        return
    try:
        result = services.cancels.cancel(team_id=team, post_id=post_id, user_id=user)
    except DomainError as error:
        tell(client, channel=channel, user=user, text=error.user_message)
        return
    tell(client, channel=channel, user=user, text=result.message)


def register(app: App) -> None:
    app.action(Action.APPROVE.value)(handle_approve_button)
    app.action(Action.REJECT.value)(handle_reject_button)
    app.action(Action.CANCEL.value)(handle_cancel_button)
