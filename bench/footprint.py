"""Issue 6, benchmark 5: Postgate's footprint. Start-up time and resident memory of `python -m bot run`.

* Start-up: from spawning the process to the first healthy `GET /healthz` (polled every 10 ms). The first
  start on an empty database (it runs every migration) is reported apart; the figure is the median of the
  starts after it. What the start-up imports is shown too (`python -X importtime`).
* Memory: VmRSS (resident now) and VmHWM (the high-water mark) from /proc/<pid>/status, idle after start,
  then after a burst of work: posts drafted in the composer, approved in the channel and published
  through the fake Publora, plus App Home openings and `/post list` commands, all as signed requests
  from the fake Slack client.
* The floor beside it: a bare slack_bolt `App` that only acknowledges, on the same WSGI server (waitress,
  16 threads), started, measured idle and after the same number of signed requests.

    python -m bench.footprint [--size small|full] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.data_scale import RESULTS, fresh_database, machine

GOAL_RSS_MB = 150.0
GOAL_START_S = 3.0
GENERAL = "C0GENERAL"
WORKERS = 4  # concurrent Slack users during the burst


@dataclass(frozen=True)
class Size:
    starts: int
    posts: int
    #: Signed requests beyond the ones drafting and approving the posts (Home openings, `/post list`).
    extra_requests: int


SIZES = {
    "small": Size(starts=3, posts=20, extra_requests=40),
    "full": Size(starts=5, posts=500, extra_requests=1_000),
}

# The floor: a Bolt app that only acknowledges, served like Postgate serves Slack (waitress, 16 threads).
BARE_BOLT = """
import os, re
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import serve

app = App(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    token_verification_enabled=False,
)
app.command(re.compile(".*"))(lambda ack: ack())
app.action(re.compile(".*"))(lambda ack: ack())
app.view(re.compile(".*"))(lambda ack: ack())
app.event("app_home_opened")(lambda: None)
slack = SlackRequestHandler(app)


def wsgi(environ, start_response):
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']
    return slack(environ, start_response)


serve(wsgi, host="127.0.0.1", port=int(os.environ["PORT"]), threads=16)
"""


# --- processes --------------------------------------------------------------------------------------


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": figures["VmRSS"], "hwm_mb": figures["VmHWM"]}


class Spawned:
    """A server process and how long it took from spawn to its first healthy `GET /healthz`."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, cwd: Path, log: Path) -> None:
        self.port = port
        self.log = log
        started = time.perf_counter()
        with log.open("ab") as out:
            self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        with httpx.Client(timeout=1) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{argv} exited with {self.process.returncode}:\n{log.read_text()[-3000:]}"
                    )
                try:
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{argv} did not become healthy:\n{log.read_text()[-3000:]}")
                time.sleep(0.01)
        self.start_seconds = time.perf_counter() - started

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def memory(self) -> dict[str, float]:
        return memory(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def postgate(env: dict[str, str], workdir: Path) -> Spawned:
    from tests.e2e.harness import AppProcess

    # AppProcess builds the environment a Postgate process gets in the end-to-end tests (port, host,
    # signing secret); the process is spawned here to time it to the millisecond.
    shape = AppProcess(env=env, log_path=workdir / "postgate.log", cwd=workdir)
    return Spawned([sys.executable, "-m", "bot", "run"], shape.env, shape.port, workdir, shape.log_path)


def bare_bolt(env: dict[str, str], workdir: Path) -> Spawned:
    from tests.e2e.harness import SIGNING_SECRET, free_port

    port = free_port()
    floor_env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": env["SLACK_BOT_TOKEN"],
        "SLACK_API_URL": env["SLACK_API_URL"],
    }
    return Spawned([sys.executable, "-c", BARE_BOLT], floor_env, port, workdir, workdir / "bare-bolt.log")


# --- import time ------------------------------------------------------------------------------------


def import_time(code: list[str]) -> dict[str, Any]:
    """`python -X importtime <code>`: total import time and the heaviest top-level imports (ms)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *code],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
        check=False,
    )
    tops: list[tuple[str, float]] = []
    total = 0.0
    heavy: list[tuple[str, float]] = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        cumulative_ms = int(match.group(2)) / 1000
        depth = len(match.group(3)) // 2
        name = match.group(4)
        if depth == 0:
            tops.append((name, cumulative_ms))
            total += cumulative_ms
        if depth <= 2:
            heavy.append((name, cumulative_ms))
    heavy.sort(key=lambda item: -item[1])
    return {
        "command": "python -X importtime " + " ".join(code),
        "total_ms": round(total, 1),
        "top_level": [{"module": n, "ms": round(ms, 1)} for n, ms in sorted(tops, key=lambda t: -t[1])[:8]],
        "heaviest": [{"module": n, "ms": round(ms, 1)} for n, ms in heavy[:12]],
    }


# --- the burst ----------------------------------------------------------------------------------------


def burst(fakes: Any, url: str, posts: int, extra: int) -> dict[str, Any]:
    """`posts` posts drafted, approved and published, then `extra` App Home openings and `/post list`s."""
    from tests.e2e.harness import SIGNING_SECRET
    from tests.e2e.test_providers import ANA, APPROVALS, AUTHOR, EVE
    from tests.fakes.slack_client import SlackClient

    slack, publora = fakes.slack, fakes.publora
    authors = [AUTHOR, EVE] + [f"U0BENCH{n}" for n in range(WORKERS - 2)]
    for author in authors[2:]:
        slack.add_user(author, author.lower(), tz="UTC")
    account = publora.add_connection("twitter", "9999", username="bench", display_name="Bench on X")
    local = threading.local()
    clients: list[SlackClient] = []
    lock = threading.Lock()
    requests = {"slash_commands": 0, "view_submissions": 0, "button_clicks": 0, "events": 0}

    def client() -> SlackClient:
        if not hasattr(local, "client"):
            local.client = SlackClient(app_url=url, signing_secret=SIGNING_SECRET, fake=slack, timeout=30)
            with lock:
                clients.append(local.client)
        return local.client

    def count(kind: str) -> None:
        with lock:
            requests[kind] += 1

    def draft(index: int) -> None:
        user = authors[index % len(authors)]
        before = {v["id"] for v in slack.views(user)}
        response = client().slash_command(user, "/post", "", channel_id=GENERAL)
        count("slash_commands")
        assert response.status_code == 200, response.text
        view = slack.wait_for(
            lambda: next(
                (
                    v
                    for v in slack.views(user)
                    if v["callback_id"] == "postgate_compose"
                    and v["id"] not in before
                    and any(b.get("block_id") == "targets" for b in v["blocks"])
                ),
                None,
            ),
            timeout=30,
            interval=0.01,
        )
        targets = next(b for b in view["blocks"] if b.get("block_id") == "targets")
        option = next(
            o["value"]
            for group in targets["element"]["option_groups"]
            for o in group["options"]
            if o["value"].endswith("|" + account)
        )
        values = {"text": f"Footprint post {index}", "targets": [option], "when": "on_approval"}
        response = client().submit_view(user, view["id"], values)
        count("view_submissions")
        assert response.status_code == 200 and response.content in (b"", b"{}"), response.text

    def approve(root: dict[str, Any]) -> None:
        client().click(ANA, channel_id=APPROVALS, message=root, action_id="postgate_approve")
        count("button_clicks")

    def other(index: int) -> None:
        user = (ANA, AUTHOR)[index % 2]
        if index % 4 < 2:
            home = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
            assert client().event(home).status_code == 200
            count("events")
        else:
            form = client().slash_command_form(user, "/post", "list", channel_id=GENERAL)
            assert client().send_raw(urlencode(form).encode()).status_code == 200
            count("slash_commands")

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            # One author per worker: a user has one composer open at a time.
            list(pool.map(lambda w: [draft(i) for i in range(w, posts, WORKERS)], range(WORKERS)))
            roots = slack.wait_for(
                lambda: (lambda m: m if len(m) >= posts else None)(slack.messages(APPROVALS)), timeout=120
            )
            list(pool.map(approve, roots))
            list(pool.map(other, range(extra)))
        drafted = time.perf_counter() - started
        publora.wait_for(lambda: len(publora.published()) >= posts, timeout=60 + posts * 0.5)
        total = time.perf_counter() - started
    finally:
        for each in clients:
            each.close()
    return {
        "posts_published": len(publora.published()),
        "signed_requests": requests,
        "signed_requests_total": sum(requests.values()),
        "requests_seconds": round(drafted, 1),
        "until_all_published_seconds": round(total, 1),
    }


def floor_burst(url: str, fakes: Any, count: int) -> None:
    """`count` signed requests to the bare Bolt app: slash commands, clicks and Home events."""
    from tests.e2e.harness import SIGNING_SECRET
    from tests.e2e.test_providers import ANA, APPROVALS
    from tests.fakes.slack_client import SlackClient

    message = {
        "type": "message",
        "ts": "1700000000.000100",
        "text": "approval request",
        "blocks": [
            {
                "type": "actions",
                "block_id": "decide",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "postgate_approve",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "value": "1:1",
                    }
                ],
            }
        ],
    }

    def one(index: int) -> None:
        with SlackClient(app_url=url, signing_secret=SIGNING_SECRET, fake=fakes.slack) as client:
            for n in range(index, count, WORKERS):
                if n % 3 == 0:
                    response = client.slash_command(ANA, "/post", "list", channel_id=GENERAL)
                elif n % 3 == 1:
                    response = client.click(
                        ANA, channel_id=APPROVALS, message=message, action_id="postgate_approve"
                    )
                else:
                    home = {"type": "app_home_opened", "user": ANA, "channel": "D0ANA", "tab": "home"}
                    response = client.event(home)
                assert response.status_code == 200, response.text

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, range(WORKERS)))


# --- the run ------------------------------------------------------------------------------------------


def settle(seconds: float = 2.0) -> None:
    """Let start-up work finish (the first sweep, connections) before reading idle memory."""
    time.sleep(seconds)


@contextmanager
def fakes_started() -> Iterator[Any]:
    from tests.e2e.test_providers import make_fakes

    fakes = make_fakes()
    try:
        yield fakes
    finally:
        for fake in (fakes.slack, fakes.publora, fakes.publer, fakes.postoria):
            fake.stop()


def run(size_name: str, database: str) -> dict[str, Any]:
    from tests.e2e.test_providers import app_env

    size = SIZES[size_name]
    result: dict[str, Any] = {
        "bench": "footprint",
        "database": database,
        "size": size_name,
        "machine": machine(),
    }
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        phases[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    result["import_time"] = {
        "help": import_time(["-m", "bot", "--help"]),
        "run": import_time(["-c", "import bot.main"]),
    }
    phase("import_time")
    workdir = Path(tempfile.mkdtemp(prefix="postgate-footprint-"))
    try:
        with fakes_started() as fakes, fresh_database(database, workdir) as url:
            env = app_env(fakes, url)
            app = postgate(env, workdir)
            first = app.start_seconds
            app.stop()
            starts = []
            for _ in range(size.starts):
                app = postgate(env, workdir)
                starts.append(app.start_seconds)
                if len(starts) < size.starts:
                    app.stop()
            phase("starts")
            result["startup"] = {
                "first_start_with_migrations_s": round(first, 3),
                "starts_s": [round(s, 3) for s in starts],
                "median_s": round(statistics.median(starts), 3),
            }
            try:
                settle()
                idle = app.memory()
                work = burst(fakes, app.events_url, size.posts, size.extra_requests)
                after = app.memory()
                settle(5.0)
                result["memory"] = {"idle": idle, "after_burst": after, "after_burst_settled": app.memory()}
                result["burst"] = work
            finally:
                app.stop()
            phase("burst")
            result["app_log_errors"] = [
                line for line in app.log.read_text(errors="replace").splitlines() if " ERROR " in line
            ][:10]

            floor = bare_bolt(env, workdir)
            try:
                settle()
                floor_idle = floor.memory()
                floor_burst(floor.events_url, fakes, result["burst"]["signed_requests_total"])
                result["floor"] = {
                    "what": "bare slack_bolt App, ack only, waitress 16 threads",
                    "startup_s": round(floor.start_seconds, 3),
                    "idle": floor_idle,
                    "after_burst": floor.memory(),
                    "requests": result["burst"]["signed_requests_total"],
                }
            finally:
                floor.stop()
            phase("floor")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["phase_seconds"] = phases
    peak = max(result["memory"]["after_burst"]["hwm_mb"], result["memory"]["after_burst_settled"]["hwm_mb"])
    result["goals"] = {
        "rss_mb": GOAL_RSS_MB,
        "startup_s": GOAL_START_S,
        "rss_met": peak < GOAL_RSS_MB,
        "startup_met": result["startup"]["median_s"] < GOAL_START_S,
    }
    return result


def render(result: dict[str, Any]) -> str:
    start, mem, floor, work = result["startup"], result["memory"], result["floor"], result["burst"]
    box = result["machine"]
    met = {True: "ok", False: "NOT MET"}
    kinds = ", ".join(f"{k} {v}" for k, v in work["signed_requests"].items())
    lines = [
        f"footprint: {result['database']}, size {result['size']}; "
        f"machine: {box['cores']} cores, {box['cpu']}, load {box['load_average_at_start']}",
        "",
        f"{'':<38} {'Postgate':>12} {'bare Bolt':>12}   goal",
        f"{'start-up to healthy /healthz (median)':<38} {start['median_s']:>10.2f} s "
        f"{floor['startup_s']:>10.2f} s   < {GOAL_START_S:.0f} s {met[result['goals']['startup_met']]}",
        f"{'  first start (runs the migrations)':<38} {start['first_start_with_migrations_s']:>10.2f} s",
        f"{'  every start':<38} {', '.join(f'{s:.2f}' for s in start['starts_s'])} s",
        f"{'RSS idle':<38} {mem['idle']['rss_mb']:>9.1f} MB {floor['idle']['rss_mb']:>9.1f} MB",
        f"{'RSS after the burst':<38} {mem['after_burst']['rss_mb']:>9.1f} MB "
        f"{floor['after_burst']['rss_mb']:>9.1f} MB",
        f"{'RSS after the burst, 5 s later':<38} {mem['after_burst_settled']['rss_mb']:>9.1f} MB",
        f"{'peak RSS (VmHWM)':<38} {mem['after_burst_settled']['hwm_mb']:>9.1f} MB "
        f"{floor['after_burst']['hwm_mb']:>9.1f} MB   < {GOAL_RSS_MB:.0f} MB "
        f"{met[result['goals']['rss_met']]}",
        "",
        f"burst: {work['posts_published']} posts published through the fake Publora; "
        f"{work['signed_requests_total']:,} signed requests ({kinds}) in {work['requests_seconds']} s, "
        f"all published after {work['until_all_published_seconds']} s; "
        f"the bare Bolt app got {floor['requests']:,} signed requests",
    ]
    for key, label in (("help", "`postgate --help`"), ("run", "`postgate run` (import bot.main)")):
        figures = result["import_time"][key]
        heaviest = ", ".join(f"{m['module']} {m['ms']:.0f}" for m in figures["heaviest"][:8])
        lines.append(f"imports of {label}: {figures['total_ms']:.0f} ms; heaviest (ms): {heaviest}")
    if result["app_log_errors"]:
        shown = " | ".join(line[:200] for line in result["app_log_errors"][:3])
        lines.append(
            f"ERROR lines in Postgate's log ({len(result['app_log_errors'])}, first 10 kept): {shown}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    result = run(args.size, args.database)
    print(render(result))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"footprint-{args.database}-{args.size}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
