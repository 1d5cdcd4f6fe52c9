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

from bot.ack_first import AckFirst
from bot.services.container import Services
from bot.slack import guard
from bot.slack.listeners import register_listeners

log = logging.getLogger(__name__)

#: Threads running listeners, before and after their ack. A listener keeps its thread after acking
#: (opening a modal, answering a list, publishing App Home), and after its ack it gives way to other
#: requests' acks (`bot.ack_first`), so under load many wait at once; with Bolt's default of 5, new
#: requests waited for a free thread before they could even ack (bench.ack_latency). A waiting thread
#: holds no database connection, and a running one at most one (`Database.read` reuses the thread's
#: open session); the pools are sized for the running ones (`bot.db.engine.make_engine`).
LISTENER_THREADS = 48
#: Slack's deadline: after it the ack is useless, and Bolt stops waiting for it too.
ACK_WAIT_SECONDS = 3.0

P = ParamSpec("P")
T = TypeVar("T")


class _SignallingAck(Ack):
    """Bolt's `ack` that also sets `acked` once a response is set (by `ack()`, or by Bolt on an error), and
    takes the listener's thread off the ack path (`bot.ack_first`)."""

    def __init__(self, acked: threading.Event, ack_first: AckFirst) -> None:
        self._acked = acked
        self._ack_first = ack_first
        self._response: BoltResponse | None = None
        super().__init__()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self._ack_first.on_ack_path(False)
            self._acked.set()


class ListenerExecutor(Executor):
    """Bolt's listener executor: `submit` returns once the submitted listener has acked or ended (or after
    `ACK_WAIT_SECONDS`), so Bolt's wait for the ack finds it done. Which event to wait for is handed over
    by `expect_ack` on the same thread, just before Bolt submits the listener."""

    def __init__(self, ack_first: AckFirst, threads: int = LISTENER_THREADS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="slack-listener")
        self._pending = threading.local()
        self.ack_first = ack_first

    def expect_ack(self) -> threading.Event:
        acked = threading.Event()
        self._pending.acked = acked
        return acked

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        acked: threading.Event | None = self._pending.__dict__.pop("acked", None)
        if acked is None:
            return self._pool.submit(fn, *args, **kwargs)
        # Socket Mode has no WebApp to count the request: counted here too, from submit to ack.
        with self.ack_first.awaited():
            future = self._pool.submit(self._until_acked, fn, *args, **kwargs)
            future.add_done_callback(lambda _: acked.set())
            acked.wait(timeout=ACK_WAIT_SECONDS)
        return future

    def _until_acked(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn` on a listener thread that is on the ack path until `_SignallingAck` takes it off."""
        self.ack_first.on_ack_path(True)
        try:
            return fn(*args, **kwargs)
        finally:
            self.ack_first.on_ack_path(False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def build_app(
    *, services: Services, client: WebClient, signing_secret: str | None, ack_first: AckFirst | None = None
) -> App:
    executor = ListenerExecutor(ack_first or AckFirst())
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
    def refuse_impossible_payloads(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002
        """First of all: a shape Slack never sends gets one warning line and no listener (see guard)."""
        reason = guard.refusal(body)
        if reason is None:
            return next()
        log.warning("%s: %s", guard.REFUSED, reason)
        return BoltResponse(status=guard.refused_status(body), body="")

    @app.middleware
    def answer_on_ack(context: BoltContext, next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
        """The request's `ack` wakes the executor's wait (see the module's docstring)."""
        context["ack"] = _SignallingAck(executor.expect_ack(), executor.ack_first)
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
