"""Builds the Bolt app: services injected into every listener's context, one error handler, the listeners,
and how listeners run so that each ack leaves the moment `ack()` is called.

Bolt's sync `App` runs every listener on its listener executor and meanwhile polls, every 10 ms, whether
the listener has acked yet. Here the executor returns to Bolt only once the listener has acked (or ended),
woken by the ack itself, so Bolt finds the ack set and answers at once; the rest of the listener (opening a
modal, telling someone, publishing App Home) goes on on the executor's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.services.container import Services
from bot.slack.listeners import register_listeners

log = logging.getLogger(__name__)

#: Threads running listeners, before and after their ack (Bolt's own default). Not more: a decision holds
#: one database connection for its transaction and takes a second inside it (settings, rules), and the
#: pool has 15 (SQLAlchemy's 5 + 10). With 32 listener threads, 20 concurrent clicks took every
#: connection and waited for a second one, stalling every ack past Slack's 3 s (bench.ack_latency).
LISTENER_THREADS = 5
#: Slack's deadline: after it the ack is useless, and Bolt stops waiting for it too.
ACK_WAIT_SECONDS = 3.0

P = ParamSpec("P")
T = TypeVar("T")


class _SignallingAck(Ack):
    """Bolt's `ack` that also sets `acked` once a response is set (by `ack()`, or by Bolt on an error)."""

    def __init__(self, acked: threading.Event) -> None:
        self._acked = acked
        self._response: BoltResponse | None = None
        super().__init__()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self._acked.set()


class ListenerExecutor(Executor):
    """Bolt's listener executor: `submit` returns once the submitted listener has acked or ended (or after
    `ACK_WAIT_SECONDS`), so Bolt's wait for the ack finds it done. Which event to wait for is handed over
    by `expect_ack` on the same thread, just before Bolt submits the listener."""

    def __init__(self, threads: int = LISTENER_THREADS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="slack-listener")
        self._pending = threading.local()

    def expect_ack(self) -> threading.Event:
        acked = threading.Event()
        self._pending.acked = acked
        return acked

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future = self._pool.submit(fn, *args, **kwargs)
        acked: threading.Event | None = self._pending.__dict__.pop("acked", None)
        if acked is not None:
            future.add_done_callback(lambda _: acked.set())
            acked.wait(timeout=ACK_WAIT_SECONDS)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def build_app(*, services: Services, client: WebClient, signing_secret: str | None) -> App:
    executor = ListenerExecutor()
    app = App(
        client=client,
        signing_secret=signing_secret or "socket-mode-does-not-sign",
        # auth.test at construction would make start-up depend on Slack; `postgate doctor` checks the token.
        token_verification_enabled=False,
        request_verification_enabled=signing_secret is not None,
        logger=logging.getLogger("slack_bolt"),
        listener_executor=executor,
    )

    @app.middleware
    def answer_on_ack(context: BoltContext, next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
        """The request's `ack` wakes the executor's wait (see the module's docstring)."""
        context["ack"] = _SignallingAck(executor.expect_ack())
        return next()

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
