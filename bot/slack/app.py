"""Builds the Bolt app: services injected into every listener's context, one error handler, the listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.services.container import Services
from bot.slack.listeners import register_listeners

log = logging.getLogger(__name__)


def build_app(*, services: Services, client: WebClient, signing_secret: str | None) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret or "socket-mode-does-not-sign",
        # auth.test at construction would make start-up depend on Slack; `postgate doctor` checks the token.
        token_verification_enabled=False,
        request_verification_enabled=signing_secret is not None,
        logger=logging.getLogger("slack_bolt"),
    )

    @app.middleware
    def inject_services(context: BoltContext, next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
        context["services"] = services
        return next()

    @app.middleware
    def skip_redelivered_events(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002
        """Slack redelivers an event it thinks was lost; the first delivery already did the work."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id and not services.events.first_sight(event_id):
            log.info("event %s was already handled; Slack's redelivery is acknowledged and skipped", event_id)
            return BoltResponse(status=200, body="")
        return next()

    @app.error
    def handle_unexpected(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        log.exception("unhandled error in a Slack listener", exc_info=error)
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
        if user and channel:
            try:
                client.chat_postEphemeral(
                    channel=channel,
                    user=user,
                    text=(
                        "Sorry, something went wrong on Postgate's side. "
                        "Nothing was changed; please try again."
                    ),
                )
            except Exception:
                log.warning("could not tell the user about the error")

    register_listeners(app)
    return app
