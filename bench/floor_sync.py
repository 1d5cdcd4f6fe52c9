"""A floor for `bench.ack_latency`: a bare slack_bolt sync `App` that only acknowledges every slash
command, action and view submission, and does nothing else.

    python -m bench.floor_sync --port PORT [--server waitress|starlette] [--process-before-response]

* `--server waitress` (default): served exactly as Postgate serves Slack, by `bot.web.make_server`
  (waitress, the same thread count and settings), through Bolt's WSGI adapter.
* `--server starlette`: the same App behind Bolt's Starlette adapter on uvicorn. That adapter calls the
  sync `App.dispatch` on the event loop, so requests queue one behind another: shown for comparison, not
  a floor.
* `--process-before-response`: Bolt runs the listener in the request thread and answers when it returns,
  instead of running it on its listener executor and polling every 10 ms for the ack.

The signing secret comes from `SLACK_SIGNING_SECRET`, the bot token and the Web API (the benchmark's
fake Slack, which answers the one `auth.test` Bolt makes) from `SLACK_BOT_TOKEN` and `SLACK_API_URL`.
Requests are verified as Bolt always does. `GET /healthz` answers 200 so the benchmark knows when the
server is up. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

ANYTHING = re.compile(".*")


def ack_only_app(*, process_before_response: bool = False) -> App:
    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        # Like Postgate's: Bolt calls auth.test once, on the first request (not at start).
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        token_verification_enabled=False,
        process_before_response=process_before_response,
    )

    def only_ack(ack: Ack) -> None:
        ack()

    app.command(ANYTHING)(only_ack)
    app.action(ANYTHING)(only_ack)
    app.view(ANYTHING)(only_ack)
    app.shortcut(ANYTHING)(only_ack)
    return app


def serve_waitress(app: App, port: int) -> None:
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.web import make_server

    slack = SlackRequestHandler(app)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        return slack(environ, start_response)

    make_server(wsgi, host="127.0.0.1", port=port).run()


def serve_starlette(app: App, port: int) -> None:
    import uvicorn
    from slack_bolt.adapter.starlette import SlackRequestHandler
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    slack = SlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await slack.handle(request)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    asgi = Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_sync", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=("waitress", "starlette"), default="waitress")
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args(argv)
    app = ack_only_app(process_before_response=args.process_before_response)
    if args.server == "waitress":
        serve_waitress(app, args.port)
    else:
        serve_starlette(app, args.port)


if __name__ == "__main__":
    main()
