"""Modal submissions: the composer (new post or edit), reject, request changes, reschedule, and settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.errors import DomainError
from bot.providers.registry import NEEDS_WORKSPACE
from bot.services.container import Services
from bot.services.credentials import KeyCheckFailed, WorkspaceListing
from bot.slack.ids import Block, ViewId
from bot.slack.listeners.common import refresh_settings
from bot.slack.views.forms import (
    errors_for_slack,
    parse_compose,
    parse_reject,
    parse_request_changes,
    parse_reschedule,
)
from bot.slack.views.settings import (
    build_key_modal,
    build_settings_denied_message,
    parse_key,
    parse_rule,
    parse_settings,
    settings_revision,
)

log = logging.getLogger(__name__)


def _team(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body["user"].get("team_id", ""))


def handle_compose_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services
) -> None:
    """Validate inline; store a valid draft (or the new version of an edited post) in one short
    transaction, then close the modal."""
    user_id = body["user"]["id"]
    team_id = _team(body)
    form = parse_compose(view)
    tz_name = services.users.cached_timezone(user_id) or "UTC"
    errors = services.posts.validate(
        form.draft,
        wants_time=form.wants_time,
        tz_name=tz_name,
        wants_queue=form.wants_queue,
        url_problems=form.url_problems,
        team_id=team_id,
        cannot_post=services.accounts.cannot_post(),
    )
    if errors:
        ack(
            response_action="errors",
            errors=errors_for_slack(
                errors,
                has_targets_input=form.has_targets_input,
                override_blocks=form.override_blocks,
                when_block=form.when_block,
            ),
        )
        return
    # Stored before the ack: if the database fails, Slack keeps the modal open with the text in it.
    try:
        if form.post_id is not None:
            services.posts.edit(
                team_id=team_id, post_id=form.post_id, user_id=user_id, version=form.version, draft=form.draft
            )
        else:
            services.posts.create(team_id=team_id, author_id=user_id, author_tz=tz_name, draft=form.draft)
    except DomainError as error:
        ack(response_action="errors", errors={Block.TEXT: error.user_message})
        return
    ack()


def _post_modal(
    parse: Callable[[dict[str, Any]], tuple[int | None, int | None, Any]],
    block: Block,
    missing: str,
    act: Callable[[Services, str, int, str, int | None, Any], None],
) -> Callable[[Ack, dict[str, Any], dict[str, Any], Services], None]:
    """A modal about one post (reject, request changes, reschedule): the input is required, refusals
    show on it inline, and the modal closes once the service accepted it."""

    def handler(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
        post_id, version, value = parse(view)
        if not value:
            ack(response_action="errors", errors={block: missing})
            return
        if post_id is None:
            ack()
            return
        try:
            act(services, _team(body), post_id, body["user"]["id"], version, value)
        except DomainError as error:
            ack(response_action="errors", errors={block: error.user_message})
            return
        ack()

    return handler


def _reject(services: Services, team: str, post_id: int, user: str, version: int | None, reason: Any) -> None:
    services.posts.reject(team_id=team, post_id=post_id, user_id=user, reason=reason, version=version)


def _request_changes(
    services: Services, team: str, post_id: int, user: str, version: int | None, comment: Any
) -> None:
    services.posts.request_changes(
        team_id=team, post_id=post_id, user_id=user, comment=comment, version=version
    )


def _reschedule(
    services: Services, team: str, post_id: int, user: str, version: int | None, when: Any
) -> None:
    services.posts.reschedule(team_id=team, post_id=post_id, user_id=user, when=when, version=version)


def handle_settings_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services
) -> None:
    """Admins only, checked again here: the modal could have been forged."""
    team_id, user_id = _team(body), body["user"]["id"]
    if not services.workflow.is_admin(team_id, user_id):
        ack(response_action="errors", errors={Block.SETTINGS_CHANNEL: build_settings_denied_message()})
        return
    current, revision = services.workflow.settings_with_revision(team_id)
    # The revision the admin saw: a save based on an older one is refused instead of undoing another's.
    seen = settings_revision(view)
    settings, errors = parse_settings(view, current=current)
    if errors or settings is None:
        ack(
            response_action="errors",
            errors=errors or {Block.SETTINGS_CHANNEL: "These settings are not valid."},
        )
        return
    try:
        services.workflow.save_settings(
            team_id, settings, user_id=user_id, revision=revision if seen is None else seen
        )
    except DomainError as error:
        ack(response_action="errors", errors={Block.SETTINGS_CHANNEL: error.user_message})
        return
    ack()


def handle_rule_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, services: Services
) -> None:
    """Store the new rule at once, close this modal, and show the settings with it."""
    team_id, user_id = _team(body), body["user"]["id"]
    if not services.workflow.is_admin(team_id, user_id):
        ack(response_action="errors", errors={Block.RULE_SCOPE: build_settings_denied_message()})
        return
    rule, errors = parse_rule(view)
    if errors or rule is None:
        ack(response_action="errors", errors=errors or {Block.RULE_SCOPE: "Pick what the rule is for."})
        return
    settings, revision = services.workflow.settings_with_revision(team_id)
    rules = [r for r in settings.rules if r.scope != rule.scope] + [rule]
    try:
        services.workflow.save_settings(
            team_id, settings.model_copy(update={"rules": rules}), user_id=user_id, revision=revision
        )
    except DomainError as error:
        ack(response_action="errors", errors={Block.RULE_SCOPE: error.user_message})
        return
    ack()
    refresh_settings(client, services, view_id=view.get("previous_view_id"), team=team_id)


def handle_key_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, services: Services
) -> None:
    """Check the typed key with its provider (within the ack's time), store it, close this modal, and show
    the settings with where each key now comes from. Refusals show on the field, without the key."""
    team_id, user_id = _team(body), body["user"]["id"]
    if not services.workflow.is_admin(team_id, user_id):
        ack(response_action="errors", errors={Block.KEY_API: build_settings_denied_message()})
        return
    provider, credentials, errors = parse_key(view)
    if errors or provider is None or credentials is None:
        ack(response_action="errors", errors=errors or {Block.KEY_API: "Paste the key."})
        return
    if provider in NEEDS_WORKSPACE and credentials.workspace_id is None:
        # The key's first step: list the workspaces it reaches and show them to pick from.
        try:
            listing = services.credentials.workspaces(provider, credentials.api_key, user_id=user_id)
        except KeyCheckFailed as error:
            ack(response_action="errors", errors={Block.KEY_API: error.user_message})
            return
        status = services.credentials.status(provider)
        if status is None:
            ack(response_action="errors", errors={Block.KEY_API: "This form is out of date; open it again."})
            return
        ack(response_action="update", view=build_key_modal(status, listing or WorkspaceListing(())))
        return
    try:
        services.credentials.check(provider, credentials, user_id=user_id)
        services.credentials.save(provider, credentials, user_id=user_id)
    except KeyCheckFailed as error:
        block = Block.KEY_WORKSPACE if error.field == "workspace_id" else Block.KEY_API
        ack(response_action="errors", errors={block: error.user_message})
        return
    except DomainError as error:
        ack(response_action="errors", errors={Block.KEY_API: error.user_message})
        return
    ack()
    refresh_settings(client, services, view_id=view.get("previous_view_id"), team=team_id)


def register(app: App) -> None:
    app.view(ViewId.COMPOSE.value)(handle_compose_submission)
    app.view(ViewId.REJECT_REASON.value)(
        _post_modal(parse_reject, Block.REJECT_REASON, "Say why, so the author can fix it.", _reject)
    )
    app.view(ViewId.REQUEST_CHANGES.value)(
        _post_modal(parse_request_changes, Block.CHANGES_COMMENT, "Say what should change.", _request_changes)
    )
    app.view(ViewId.RESCHEDULE.value)(
        _post_modal(parse_reschedule, Block.NEW_TIME, "Pick the new date and time.", _reschedule)
    )
    app.view(ViewId.SETTINGS.value)(handle_settings_submission)
    app.view(ViewId.SETTINGS_RULE.value)(handle_rule_submission)
    app.view(ViewId.SETTINGS_KEY.value)(handle_key_submission)
