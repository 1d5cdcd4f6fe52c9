"""A floor for `bench.ack_latency`: a bare slack_bolt `AsyncApp` that only acknowledges every slash
command, action and view submission, served on uvicorn through Bolt's plain ASGI adapter.

    python -m bench.floor_async --port PORT

The signing secret comes from `SLACK_SIGNING_SECRET`, the bot token and the Web API (the benchmark's
fake Slack, which answers the one `auth.test` Bolt makes) from `SLACK_BOT_TOKEN` and `SLACK_API_URL`.
Requests are verified as Bolt always does. `GET /healthz` answers 200 so the benchmark knows when the
server is up. Binds 127.0.0.1 only. Needs the `bench` extra (uvicorn, aiohttp).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

ANYTHING = re.compile(".*")
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def ack_only_app() -> AsyncApp:
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        # Bolt calls auth.test once, on the first request.
        client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    )

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    app.command(ANYTHING)(only_ack)
    app.action(ANYTHING)(only_ack)
    app.view(ANYTHING)(only_ack)
    app.shortcut(ANYTHING)(only_ack)
    return app


def asgi_app(app: AsyncApp) -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler

    slack = AsyncSlackRequestHandler(app)

    async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b'{"status": "ok"}'})
            return
        await slack(scope, receive, send)

    return asgi


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.floor_async", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        asgi_app(ack_only_app()), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
