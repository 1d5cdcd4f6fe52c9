"""Modal submissions: the composer and the reject reason."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.errors import DomainError
from bot.services.container import Services
from bot.slack.ids import Block, ViewId
from bot.slack.views.forms import errors_for_slack, parse_compose, parse_reject


def handle_compose_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services
) -> None:
    """Validate inline; store a valid draft in one short transaction, then close the modal."""
    user_id = body["user"]["id"]
    team_id = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
    form = parse_compose(view)
    tz_name = services.users.cached_timezone(user_id) or "UTC"
    errors = services.posts.validate(
        form.draft,
        wants_time=form.wants_time,
        tz_name=tz_name,
        wants_queue=form.wants_queue,
        url_problems=form.url_problems,
    )
    if errors:
        ack(
            response_action="errors",
            errors=errors_for_slack(errors, has_targets_input=form.has_targets_input),
        )
        return
    # Stored before the ack: if the database fails, Slack keeps the modal open with the text in it.
    services.posts.create(team_id=team_id, author_id=user_id, author_tz=tz_name, draft=form.draft)
    ack()


def handle_reject_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services
) -> None:
    post_id, reason = parse_reject(view)
    if not reason:
        ack(response_action="errors", errors={Block.REJECT_REASON: "Say why, so the author can fix it."})
        return
    if post_id is None:
        ack()
        return
    team_id = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
    try:
        services.posts.reject(team_id=team_id, post_id=post_id, user_id=body["user"]["id"], reason=reason)
    except DomainError as error:
        ack(response_action="errors", errors={Block.REJECT_REASON: error.user_message})
        return
    ack()


def register(app: App) -> None:
    app.view(ViewId.COMPOSE.value)(handle_compose_submission)
    app.view(ViewId.REJECT_REASON.value)(handle_reject_submission)
