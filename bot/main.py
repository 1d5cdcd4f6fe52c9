"""The composition root: builds Postgate's whole object graph from settings, and runs it.

Nothing is built at import time. Every seam (Slack client, HTTP transport, clock, database) is an argument
of `build`, so tests assemble the same graph with fakes.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Any

import httpx
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.ack_first import AckFirst
from bot.clock import Clock, SystemClock
from bot.db import repo
from bot.db.engine import Database, make_engine
from bot.db.migrate import upgrade
from bot.db.rate_budget import RateBudgetStore
from bot.db.single import DispatcherLock
from bot.domain import counting
from bot.errors import ConfigError
from bot.logs import redact_also
from bot.providers.base import Provider
from bot.providers.registry import LiveProviders, environment_credentials
from bot.scheduler.dispatcher import Dispatcher, DispatchTuning
from bot.scheduler.housekeeping import Housekeeper
from bot.scheduler.runner import SchedulerRunner
from bot.services.cancel import CancelService
from bot.services.container import Services
from bot.services.credentials import KeyRing, LiveWebhook, ProviderKeys, StoredCredentials
from bot.services.directory import AccountDirectory, UserDirectory
from bot.services.events import SlackEvents
from bot.services.history import HistoryService
from bot.services.home import HomeService
from bot.services.media import SlackMedia
from bot.services.outbox import SlackOutbox
from bot.services.posts import PostService
from bot.services.undelivered import UndeliveredService
from bot.services.webhooks import PubloraWebhooks
from bot.services.workflow import Workflow
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.views.serialize import look_up_validators_once
from bot.web import WebApp, make_server

log = logging.getLogger(__name__)
# How long start-up waits for the Socket Mode WebSocket once Slack has handed out its URL.
SOCKET_MODE_CONNECT_SECONDS = 5.0
# How long a thread may hold the GIL while another waits (CPython's default: 5 ms). A request thread whose
# ack is ready waits behind listeners still working after their ack and behind the scheduler; each
# hand-over used to cost it up to 5 ms (bench.ack_latency).
GIL_SWITCH_SECONDS = 0.001


@dataclass
class Postgate:
    settings: Settings
    db: Database
    clock: Clock
    providers: Mapping[str, Provider]
    services: Services
    outbox: SlackOutbox
    dispatcher: Dispatcher
    runner: SchedulerRunner
    bolt: App
    web: WebApp
    owner: str = ""


def slack_clients(settings: Settings) -> tuple[WebClient, WebClient]:
    """(interactive, background). The interactive client retries one 429 (inside the 3 s budget); the
    background one never sleeps, because the outbox reschedules on Slack's Retry-After instead."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    interactive = WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    background = WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler()],
    )
    return interactive, background


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    clients: tuple[WebClient, WebClient] | None = None,
    database: Database | None = None,
    providers: Mapping[str, Provider] | None = None,
    owner: str | None = None,
) -> Postgate:
    if not settings.approval_channel:
        raise ConfigError("POSTGATE_APPROVAL_CHANNEL is not set")
    look_up_validators_once()
    clock = clock or SystemClock()
    owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    db = database or Database(make_engine(settings.database_url))
    ack_first = AckFirst()
    db.priority = ack_first
    interactive, background = clients or slack_clients(settings)
    # Keys entered in Slack take over from the environment's; `run` reads them once migrations are done.
    stored = StoredCredentials(db=db, keyring=KeyRing.from_setting(settings.secret_key), redact=redact_also)
    live = (
        LiveProviders.fixed(providers, settings)
        if providers is not None
        else LiveProviders(
            settings,
            source=stored,
            transport=transport,
            clock=clock,
            # Replicas share one budget per provider in PostgreSQL; SQLite has one dispatcher.
            budget_store=RateBudgetStore(db) if db.dialect == "postgresql" else None,
        )
    )
    providers = live
    accounts = AccountDirectory(providers)
    live.on_change(accounts.invalidate)
    users = UserDirectory(interactive)
    workflow = Workflow(
        db=db,
        client=interactive,
        clock=clock,
        defaults=settings.workspace_defaults(),
        env_admins=settings.admins,
    )
    outbox = SlackOutbox(
        db=db,
        client=background,
        clock=clock,
        owner=owner,
        progress=lambda snapshot: workflow.progress(
            snapshot.team_id,
            targets=snapshot.policy_targets,
            approvals=list(snapshot.approvals),
            author_id=snapshot.author_id,
        ),
    )
    runner_ref: dict[str, SchedulerRunner] = {}
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    media = SlackMedia(client=background, token=token)
    dispatcher = Dispatcher(
        db=db,
        providers=providers,
        accounts=accounts,
        clock=clock,
        owner=owner,
        media=media,
        tuning=DispatchTuning(
            follow_poll=timedelta(seconds=settings.follow_poll_seconds),
            lease=timedelta(seconds=settings.dispatch_lease_seconds),
            workers=settings.dispatch_workers,
            retry_base=timedelta(seconds=settings.retry_base_seconds),
        ),
        on_outbox=lambda: runner_ref["runner"].wake_outbox(),
    )
    events = SlackEvents(db=db, clock=clock)
    housekeeper = Housekeeper(
        events=events,
        db=db,
        clock=clock,
        workflow=workflow,
        default_channel=settings.approval_channel,
        on_outbox=lambda: runner_ref["runner"].wake_outbox(),
    )
    runner = SchedulerRunner(
        dispatch_step=dispatcher.run_once,
        dispatch_next_due=dispatcher.next_due_time,
        outbox_step=outbox.deliver_due,
        outbox_next_due=outbox.next_due_time,
        housekeeping_step=housekeeper.run_once,
        housekeeping_next_due=housekeeper.next_due_time,
        clock=clock,
        sweep_seconds=settings.sweep_seconds,
    )
    runner_ref["runner"] = runner
    posts = PostService(
        db=db, clock=clock, workflow=workflow, default_channel=settings.approval_channel, waker=runner
    )
    cancels = CancelService(db=db, clock=clock, workflow=workflow, providers=providers, waker=runner)
    services = Services(
        posts=posts,
        cancels=cancels,
        accounts=accounts,
        users=users,
        clock=clock,
        workflow=workflow,
        history=HistoryService(db=db, client=interactive, posts=posts),
        home=HomeService(db=db, clock=clock, posts=posts, workflow=workflow, users=users),
        events=events,
        credentials=ProviderKeys(
            stored=stored,
            providers=live,
            environment=environment_credentials(settings),
            clock=clock,
            redact=redact_also,
        ),
        undelivered=UndeliveredService(db=db, clock=clock, on_resend=runner.wake_outbox),
    )
    signing_secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    bolt = build_app(
        services=services, client=interactive, signing_secret=signing_secret, ack_first=ack_first
    )

    def health() -> dict[str, bool]:
        return {"database": db.ping(), "scheduler": runner.running}

    webhooks = {}
    if settings.publora_webhook_secret is not None or settings.secret_key is not None:
        # The secret in force now: the environment's, or one entered in Slack with Publora's key.
        webhooks["publora"] = LiveWebhook(
            secret=lambda: live.webhook_secret("publora"),
            handler=lambda secret: PubloraWebhooks(secret=secret, db=db, clock=clock, waker=runner),
        )
    web = WebApp(
        health=health,
        slack_handler=None if settings.socket_mode else SlackRequestHandler(bolt),
        signing_secret=None if settings.socket_mode else signing_secret,
        webhooks=webhooks,
        ack_first=ack_first,
    )
    return Postgate(
        settings=settings,
        db=db,
        clock=clock,
        providers=providers,
        services=services,
        outbox=outbox,
        dispatcher=dispatcher,
        runner=runner,
        bolt=bolt,
        web=web,
        owner=owner,
    )


class _Stop(SystemExit):
    """Raised by the SIGTERM/SIGINT handler. A SystemExit, because waitress's loop catches and logs any
    other exception raised inside one of its handlers ("uncaptured python exception") and goes on
    serving; SystemExit is re-raised there, and its `run()` returns on it after stopping its threads."""


def run(settings: Settings) -> int:
    """`postgate run`: migrate, start the scheduler, then serve Slack (Socket Mode or HTTP) until SIGTERM."""
    missing = settings.missing_for_run()
    if missing:
        raise ConfigError("Postgate cannot start; set " + ", ".join(missing) + " (see .env.example).")
    app = build(settings)
    upgrade(app.db.engine)
    try:
        app.services.credentials.start()
    except ConfigError:
        app.db.dispose()
        raise
    if not app.providers:
        log.warning(
            "no provider has a key yet: an admin can enter one in Postgate's settings in Slack "
            "(App Home → Settings → Provider keys)"
        )
    lock = DispatcherLock.for_engine(app.db.engine)
    dispatching = lock is None or lock.acquire()
    if not dispatching:
        assert lock is not None
        log.error(
            "another Postgate process (pid %s) is already dispatching from this SQLite database, so this one "
            "will not publish, remind or send digests while it runs; it answers Slack and takes over if "
            "that process stops. Run one process per SQLite file, or PostgreSQL for several replicas.",
            lock.holder(),
        )
    socket_handler = _connect_socket_mode(app) if settings.socket_mode else None
    app.runner.start(dispatching=dispatching, may_dispatch=lock.acquire if lock is not None else None)
    server = make_server(app.web, host=settings.host, port=settings.port)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    # What start-up built (modules, the app graph) lives as long as the process: moved out of the cyclic
    # collector's way, so its full collections, which stop every thread, scan only what requests create.
    gc.collect()
    gc.freeze()
    # X's counting library is loaded after start-up instead of during it (bot.domain.counting).
    threading.Thread(target=counting.warm_up, name="warm-up", daemon=True).start()
    if socket_handler is not None:
        log.info("connected to Slack in Socket Mode; health on :%s/healthz", settings.port)
    else:
        log.info("serving Slack on http://%s:%s/slack/events", settings.host, settings.port)

    stopping: list[str] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signal.Signals(signum).name)
        raise _Stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except _Stop:
        pass
    finally:
        log.info("stopping (%s)", stopping[0] if stopping else "the server ended")
        if socket_handler is not None:
            socket_handler.close()
        server.close()
        clean = drain(app, deadline=settings.shutdown_seconds)
        app.db.dispose()
        if lock is not None:
            lock.release()
        if not clean:
            # The hung provider call runs on a worker thread the interpreter would wait for at exit;
            # its post is already handed back, so leave now, as the deadline promised.
            logging.shutdown()
            os._exit(0)
    return 0


def drain(app: Postgate, *, deadline: float) -> bool:
    """Graceful stop within `deadline` seconds: take no new work, let in-flight submissions finish (or
    hand their posts back), and deliver the Slack messages already owed. False when work was cut off."""
    started = time.monotonic()
    clean = True
    app.runner.stop_taking_work()
    app.dispatcher.stop_claiming()
    waiter = threading.Thread(target=app.runner.shutdown, kwargs={"wait": True}, name="drain", daemon=True)
    waiter.start()
    waiter.join(timeout=deadline * 0.6)
    if waiter.is_alive():
        # A provider call is still out. Its post goes back now (lease expired) instead of when the lease
        # would have run out; whoever claims it next reconciles with the provider before resending.
        with app.db.write() as session:
            released = repo.release_leases(session, owner=app.owner, now=app.clock.now())
        log.warning(
            "stopping with submissions in flight; %s post(s) handed back for reconciliation", released
        )
        clean = False
    while time.monotonic() - started < deadline:
        try:
            more = app.outbox.deliver_due()
        except Exception:
            log.exception("flushing the Slack outbox at shutdown failed")
            break
        if not more:
            break
    pending = app.outbox.pending_count()
    if pending:
        log.info("%s Slack message(s) still owed; they are delivered after the next start", pending)
    return clean


def _connect_socket_mode(app: Postgate) -> Any:
    """Open the Socket Mode connection first, so a bad app token stops start-up with one clear message."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert app.settings.slack_app_token is not None
    handler = SocketModeHandler(app.bolt, app.settings.slack_app_token.get_secret_value())
    try:
        handler.connect()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
    except Exception as error:
        handler.close()  # type: ignore[no-untyped-call]
        app.db.dispose()
        raise ConfigError(
            f"could not open a Socket Mode connection to Slack ({type(error).__name__}). "
            "Check SLACK_APP_TOKEN (an xapp- token with connections:write), "
            "or unset it to serve HTTP on $PORT."
        ) from None
    # connect() raises when apps.connections.open fails, but a refused WebSocket handshake is only
    # logged (slack_sdk retries in the background): wait, bounded, for a live connection.
    deadline = time.monotonic() + SOCKET_MODE_CONNECT_SECONDS
    while not handler.client.is_connected():
        if time.monotonic() >= deadline:
            handler.close()  # type: ignore[no-untyped-call]
            app.db.dispose()
            raise ConfigError(
                "Slack accepted SLACK_APP_TOKEN but the Socket Mode WebSocket did not open within "
                f"{SOCKET_MODE_CONNECT_SECONDS:.0f} s; check outbound access to Slack, "
                "or unset SLACK_APP_TOKEN to serve HTTP on $PORT."
            )
        time.sleep(0.1)
    return handler
