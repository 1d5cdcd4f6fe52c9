"""Buttons: on the approval message, in DMs (reminders, change requests, missed posts), on App Home, and in
the settings modal. Each acks, reads who clicked from the signed payload, calls one service, and tells the
clicker privately why not when it refuses. The button's value only says which post and version the clicker
saw; who may act is always decided on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import zone
from bot.domain.approval import Event
from bot.errors import DomainError
from bot.providers.registry import KEYED_PROVIDERS
from bot.services.container import Services
from bot.services.credentials import NO_SECRET_KEY
from bot.slack.ids import Action, ViewId
from bot.slack.listeners.common import open_composer, publish_home, refresh_settings, settings_view, tell
from bot.slack.views.compose import (
    build_reject_modal,
    build_request_changes_modal,
    build_reschedule_modal,
    with_time_chosen,
)
from bot.slack.views.forms import parse_button_value, picked_time
from bot.slack.views.history import build_history_modal
from bot.slack.views.settings import (
    build_key_modal,
    build_rule_modal,
    build_settings_denied_message,
)

log = logging.getLogger(__name__)


def _who(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """(team, user, channel) from the payload Slack signed, never from values the client set."""
    user = body["user"]
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return team, user["id"], (body.get("channel") or {}).get("id")


def _target(body: dict[str, Any]) -> tuple[int, int | None] | None:
    try:
        return parse_button_value(str(body["actions"][0].get("value", "")))
    except (KeyError, IndexError, TypeError):
        return None


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def _post_action(
    run: Callable[[Services, str, str, int, int | None], str | None], *, commit_before_ack: bool = True
) -> Callable[[Ack, dict[str, Any], WebClient, Services], None]:
    """A button that acts on one post: run, ack, tell the clicker (refusal or result), refresh Home.

    A decision is one short transaction (its Slack messages go through the outbox afterwards), so it is
    committed before the ack: once Slack shows the click as taken, a crash of this process cannot lose it.
    An action that must talk to a provider (cancel) acks first instead, to stay inside Slack's 3 s.
    """

    def handler(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        if not commit_before_ack:
            ack()
        team, user, channel = _who(body)
        target = _target(body)
        if target is None:
            ack()
            return
        post_id, version = target
        try:
            note = run(services, team, user, post_id, version)
        except DomainError as error:
            ack()
            tell(client, channel=channel, user=user, text=error.user_message)
            return
        except BaseException:
            ack()  # the click is answered; the failure is logged by Bolt
            raise
        ack()
        if note:
            tell(client, channel=channel, user=user, text=note)
        if _from_home(body):
            publish_home(client, services, team_id=team, user_id=user)

    return handler


def _approve(services: Services, team: str, user: str, post_id: int, version: int | None) -> None:
    services.posts.approve(team_id=team, post_id=post_id, user_id=user, version=version)


def _withdraw(services: Services, team: str, user: str, post_id: int, version: int | None) -> str:
    services.posts.withdraw(team_id=team, post_id=post_id, user_id=user, version=version)
    return f"Post #{post_id} is withdrawn; nothing will be published."


def _publish_now(services: Services, team: str, user: str, post_id: int, version: int | None) -> str:
    services.posts.publish_now(team_id=team, post_id=post_id, user_id=user, version=version)
    return f"Publishing post #{post_id} now; the result will be in its thread."


def _retry(services: Services, team: str, user: str, post_id: int, version: int | None) -> str:
    services.posts.retry(team_id=team, post_id=post_id, user_id=user, version=version)
    return f"Trying post #{post_id} again; the result will be in its thread."


def _cancel(services: Services, team: str, user: str, post_id: int, _version: int | None) -> str:
    return services.cancels.cancel(team_id=team, post_id=post_id, user_id=user).message


def _modal_action(
    event: Event, build: Callable[[Services, str, str, int, int | None], Any]
) -> Callable[[Ack, dict[str, Any], WebClient, Services], None]:
    """A button that asks for more in a modal, opened only once the clicker may do it."""

    def handler(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        ack()
        team, user, channel = _who(body)
        target = _target(body)
        if target is None:
            return
        post_id, version = target
        try:
            services.posts.check(team_id=team, post_id=post_id, user_id=user, event=event, version=version)
            view = build(services, team, user, post_id, version)
        except DomainError as error:
            tell(client, channel=channel, user=user, text=error.user_message)
            return
        _open(client, body, view)

    return handler


def _open(client: WebClient, body: dict[str, Any], view: Any) -> None:
    """Open `view` (on top of the clicked modal, if any); an expired trigger is told, not raised."""
    try:
        if (body.get("view") or {}).get("type") == "modal":
            client.views_push(trigger_id=str(body.get("trigger_id", "")), view=view)
        else:
            client.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)
    except SlackApiError as error:
        code = error.response.get("error")
        _, user, channel = _who(body)
        log.warning("a modal could not be opened for %s: %s", user, code)
        tell(
            client,
            channel=channel,
            user=user,
            text=f"Slack did not let Postgate open that ({code}). Try again.",
        )


def _reject_view(_services: Services, _team: str, _user: str, post_id: int, version: int | None) -> Any:
    return build_reject_modal(post_id=post_id, version=version)


def _changes_view(_services: Services, _team: str, _user: str, post_id: int, version: int | None) -> Any:
    return build_request_changes_modal(post_id=post_id, version=version)


def _reschedule_view(services: Services, team: str, user: str, post_id: int, version: int | None) -> Any:
    snapshot = services.posts.snapshot(team_id=team, post_id=post_id)
    return build_reschedule_modal(
        post_id=post_id,
        version=version or snapshot.version,
        current=snapshot.publish_at or snapshot.requested_time,
        tz=zone(services.users.timezone(user)),
        now=services.clock.now(),
    )


def handle_edit_button(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """The author's composer, prefilled with the current version."""
    ack()
    team, user, channel = _who(body)
    target = _target(body)
    if target is None:
        return
    try:
        snapshot = services.posts.for_edit(team_id=team, post_id=target[0], user_id=user)
    except DomainError as error:
        tell(client, channel=channel, user=user, text=error.user_message)
        return
    open_composer(
        client,
        services,
        trigger_id=str(body.get("trigger_id", "")),
        user_id=user,
        team_id=team,
        editing=snapshot,
        push=(body.get("view") or {}).get("type") == "modal",
    )


def handle_time_picked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """A time picked in the composer selects "At a date and time" (that is what the person means)."""
    ack()
    view = body.get("view")
    if not isinstance(view, dict) or view.get("callback_id") != ViewId.COMPOSE:
        return
    picked = picked_time((view.get("state") or {}).get("values") or {})
    updated = with_time_chosen(view, picked) if picked is not None else None
    if updated is None:
        return
    try:
        # The hash makes Slack refuse the update if the modal changed meanwhile (the accounts arriving).
        client.views_update(view_id=str(view.get("id", "")), hash=view.get("hash"), view=updated)
    except SlackApiError as error:
        log.info("compose modal not switched to a date and time: %s", error.response.get("error"))


def handle_history_button(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    team, user, channel = _who(body)
    target = _target(body)
    if target is None:
        return
    try:
        snapshot, entries = services.history.history(team_id=team, post_id=target[0])
    except DomainError as error:
        tell(client, channel=channel, user=user, text=error.user_message)
        return
    _open(client, body, build_history_modal(snapshot, entries))


def handle_home_refresh(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    team, user, _ = _who(body)
    publish_home(client, services, team_id=team, user_id=user)


def handle_open_settings(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    team, user, channel = _who(body)
    if not services.workflow.is_admin(team, user):
        tell(client, channel=channel, user=user, text=build_settings_denied_message())
        return
    _open(client, body, settings_view(services, team))


def handle_add_rule(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    team, user, channel = _who(body)
    if not services.workflow.is_admin(team, user):
        tell(client, channel=channel, user=user, text=build_settings_denied_message())
        return
    view = build_rule_modal(
        providers=services.accounts.get(),
        groups=services.workflow.list_groups(),
        groups_unavailable=services.workflow.groups_unavailable,
    )
    _open(client, body, view)


def handle_remove_rule(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """Remove one rule at once, then show the settings without it."""
    ack()
    team, user, channel = _who(body)
    if not services.workflow.is_admin(team, user):
        tell(client, channel=channel, user=user, text=build_settings_denied_message())
        return
    scope = str(body["actions"][0].get("value", ""))
    settings, revision = services.workflow.settings_with_revision(team)
    kept = [r for r in settings.rules if r.scope != scope or r.scope == "*"]
    try:
        services.workflow.save_settings(
            team, settings.model_copy(update={"rules": kept}), user_id=user, revision=revision
        )
    except DomainError as error:
        tell(client, channel=channel, user=user, text=error.user_message)
        return
    refresh_settings(client, services, view_id=(body.get("view") or {}).get("id"), team=team)


def _key_provider(body: dict[str, Any]) -> str | None:
    try:
        value = str(body["actions"][0].get("value", ""))
    except (KeyError, IndexError, TypeError):
        return None
    return value if value in KEYED_PROVIDERS else None


def _admin_and_provider(
    body: dict[str, Any], client: WebClient, services: Services
) -> tuple[str, str, str | None, str] | None:
    """(team, user, channel, provider) of a provider-key button, or None after telling a non-admin why."""
    team, user, channel = _who(body)
    if not services.workflow.is_admin(team, user):
        tell(client, channel=channel, user=user, text=build_settings_denied_message())
        return None
    provider = _key_provider(body)
    return None if provider is None else (team, user, channel, provider)


def handle_enter_key(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """The modal to enter or replace one provider's key, pushed on top of the settings."""
    ack()
    who = _admin_and_provider(body, client, services)
    if who is None:
        return
    _, user, channel, provider = who
    if not services.credentials.can_store:
        tell(client, channel=channel, user=user, text=NO_SECRET_KEY)
        return
    status = next(s for s in services.credentials.statuses() if s.provider == provider)
    _open(client, body, build_key_modal(status))


def handle_remove_key(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    """Forget the key entered in Slack (the environment's applies again), then show the settings."""
    ack()
    who = _admin_and_provider(body, client, services)
    if who is None:
        return
    team, user, channel, provider = who
    services.credentials.remove(provider, user_id=user)
    refresh_settings(client, services, view_id=(body.get("view") or {}).get("id"), team=team)


def register(app: App) -> None:
    app.action(Action.APPROVE.value)(_post_action(_approve))
    app.action(Action.WITHDRAW.value)(_post_action(_withdraw))
    app.action(Action.PUBLISH_NOW.value)(_post_action(_publish_now))
    app.action(Action.RETRY.value)(_post_action(_retry))
    app.action(Action.CANCEL.value)(_post_action(_cancel, commit_before_ack=False))
    app.action(Action.REJECT.value)(_modal_action(Event.REJECTED, _reject_view))
    app.action(Action.REQUEST_CHANGES.value)(_modal_action(Event.CHANGES_REQUESTED, _changes_view))
    app.action(Action.RESCHEDULE.value)(_modal_action(Event.RESCHEDULED, _reschedule_view))
    app.action(Action.EDIT.value)(handle_edit_button)
    app.action(Action.HISTORY.value)(handle_history_button)
    app.action(Action.PUBLISH_AT.value)(handle_time_picked)
    app.action(Action.HOME_REFRESH.value)(handle_home_refresh)
    app.action(Action.OPEN_SETTINGS.value)(handle_open_settings)
    app.action(Action.ADD_RULE.value)(handle_add_rule)
    app.action(Action.REMOVE_RULE.value)(handle_remove_rule)
    app.action(Action.ENTER_KEY.value)(handle_enter_key)
    app.action(Action.REMOVE_KEY.value)(handle_remove_key)
