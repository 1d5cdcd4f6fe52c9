"""Issue 6, benchmark 1: how long Postgate takes to acknowledge slash commands, button clicks and modal
submissions under load, beside the fastest bare Bolt apps that only acknowledge.

    python -m bench.ack_latency [--size small|full] [--database sqlite|postgres] [--clients 20] [--rate R]

* Requests: correctly signed, built with the fake Slack client (tests/fakes/slack_client.py) as Slack
  shapes them, the same number of each kind, shuffled:
  - slash commands: `/post` (opens the composer) and `/post list`;
  - button clicks: *Approve* on an approval request by the approver, each on a different pending post (a
    real decision, which approves the post), and *Approve* by someone who is not an approver (refused, told
    in an ephemeral message);
  - modal submissions: the composer creating a post (scheduled two days ahead, so nothing is published
    during the run), and one whose time is in the past (answered with `response_action: errors`).
* Two phases, each with its own requests (`--size`: 60, 600 or 3,000 of each kind per phase):
  - paced: Poisson arrivals at `--rate` per second (default 30 at full size; the same times for every
    target), at most `--clients` in flight: a steady load below every target's capacity. The issue's goal
    is judged here.
  - flat out: `--clients` clients, each sending its next request as soon as its last one is answered: the
    latency at each target's capacity, and the capacity (requests per second).
* The figure is client-side: from sending a request to its HTTP response (the ack), by httpx, one thread
  and one keep-alive connection per client, in a process of its own (so the fake Slack and the fake
  providers, which Postgate calls, do not share its interpreter). Each table line also gives how late
  requests left against their time (p99), and the CPU time of the server and of the generator per request.
* Targets, each its own process on 127.0.0.1, each sent the same requests (floors ack every one):
  - `trivial`: answers 200 at once (bench/floor_trivial.py): the load generator's own share of every
    figure, and in the flat-out phase its capacity;
  - `bolt-sync-waitress`: a bare sync `App` on Postgate's own server setup (`bot.web.make_server`);
  - `bolt-sync-waitress-pbr`: the same with `process_before_response=True` (Bolt does not poll for the ack);
  - `bolt-async-uvicorn`: a bare `AsyncApp` on uvicorn (bench/floor_async.py);
  - `bolt-sync-starlette` (flat out only): the sync `App` behind Bolt's Starlette adapter on uvicorn,
    which dispatches on the event loop and so queues: shown, not a floor;
  - `postgate`: `python -m bot run` in HTTP mode with the fake Slack and a fake Publora.
* Goal (issue 6): Postgate's p99 within 1.5x the fastest floor, far under Slack's 3 s, none over 1 s.

Before Postgate is measured, the posts the approve clicks decide are drafted through the composer and
their approval requests delivered. Afterwards the run checks that every request did its work (composers
opened, refusals told, lists answered, decisions stored, posts created). Figures go to
`bench/results/ack_latency-<database>-<size>.json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.data_scale import RESULTS, fresh_database, machine

GOAL_RATIO = 1.5
GOAL_MAX_S = 1.0
SLACK_DEADLINE_S = 3.0
REPO = Path(__file__).resolve().parent.parent
GENERAL = "C0GENERAL"
FORM = "application/x-www-form-urlencoded"
LIST_MARK = "drafts pending"  # in the text of every `/post list` answer
SEEDING_CLIENTS = 4
KINDS = ("slash", "click", "view")
PHASES = ("paced", "flat")
# Each kind's requests, split between its cases (fractions of the kind's count).
CASES = {
    "slash": (("post", 0.5), ("list", 0.5)),
    "click": (("approve", 2 / 3), ("refused", 1 / 3)),
    "view": (("create", 2 / 3), ("invalid", 1 / 3)),
}


@dataclass(frozen=True)
class Size:
    per_kind: int  # requests of each kind, per phase
    warmup: int  # unmeasured requests first, to each target
    rate: float  # the paced phase's arrivals per second, unless --rate says otherwise


# The small size only keeps the bench working (CI), so it paces faster to stay well under a minute.
SIZES = {
    "small": Size(per_kind=60, warmup=20, rate=60.0),
    # For working on the ack path: a minute or two per target, the full size's rate.
    "medium": Size(per_kind=600, warmup=100, rate=30.0),
    "full": Size(per_kind=3000, warmup=200, rate=30.0),
}


@dataclass(frozen=True)
class Request:
    kind: str
    case: str
    body: str
    content_type: str = FORM


# --- the load generator (its own process) -------------------------------------------------------------


def generate(job: dict[str, Any]) -> dict[str, Any]:
    """Send `job["warmup"]` then `job["requests"]` from `job["clients"]` threads, each with one keep-alive
    connection, signing each request just before it goes. With `job["offsets"]` (seconds from the start,
    one per request) each request waits for its time and for a free client; without, each client sends
    its next request as soon as its previous one is answered. One (status, ms, answer, lag ms) per request,
    the lag being how late it left against its time."""
    from tests.fakes.slack_client import sign

    url, secret = job["url"], job["secret"]

    def run(
        requests: list[dict[str, Any]], offsets: list[float] | None
    ) -> list[tuple[int, float, str, float]]:
        results: list[tuple[int, float, str, float]] = [(0, 0.0, "", 0.0)] * len(requests)
        counter = itertools.count()
        origin = time.perf_counter() + 0.1

        def client_loop() -> None:
            with httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=1)) as http:
                while (i := next(counter)) < len(requests):
                    request = requests[i]
                    due = origin + offsets[i] if offsets is not None else time.perf_counter()
                    if due > time.perf_counter():
                        time.sleep(due - time.perf_counter())
                    body = request["body"].encode()
                    timestamp = int(time.time())
                    headers = {
                        "Content-Type": request["content_type"],
                        "X-Slack-Request-Timestamp": str(timestamp),
                        "X-Slack-Signature": sign(secret, timestamp, body),
                        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                    }
                    started = time.perf_counter()
                    lag = (started - due) * 1000
                    try:
                        response = http.post(url, content=body, headers=headers)
                        ms = (time.perf_counter() - started) * 1000
                        results[i] = (response.status_code, ms, response.text[:300], lag)
                    except httpx.HTTPError as error:
                        ms = (time.perf_counter() - started) * 1000
                        results[i] = (0, ms, type(error).__name__, lag)

        threads = [threading.Thread(target=client_loop) for _ in range(job["clients"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    warmup = run(job["warmup"], None)
    server_cpu, cpu, wall = cpu_seconds(job["pid"]), time.process_time(), time.perf_counter()
    results = run(job["requests"], job["offsets"])
    return {
        "warmup": warmup,
        "results": results,
        "wall_s": time.perf_counter() - wall,
        "generator_cpu_s": time.process_time() - cpu,
        "server_cpu_s": cpu_seconds(job["pid"]) - server_cpu,
    }


def run_generator(job: dict[str, Any], workdir: Path, name: str) -> dict[str, Any]:
    job_path, out_path = workdir / f"job-{name}.json", workdir / f"out-{name}.json"
    job_path.write_text(json.dumps(job))
    subprocess.run(
        [sys.executable, "-m", "bench.ack_latency", "--generate", str(job_path), "--out", str(out_path)],
        cwd=REPO,
        check=True,
        timeout=3600,
    )
    return dict(json.loads(out_path.read_text()))


# --- targets ------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Floor:
    """A floor server (a bench/ script) as its own process, up once `/healthz` answers."""

    def __init__(self, module: str, args: list[str], workdir: Path, slack: Any) -> None:
        from tests.e2e.harness import SIGNING_SECRET, free_port

        self.port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": slack.url,
        }
        self.log = workdir / f"{module.rsplit('.', 1)[1]}-{self.port}.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, "--port", str(self.port), *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{module} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{module} did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


#: name → (module, arguments, is a floor, phases it runs in)
FLOORS: dict[str, tuple[str, list[str], bool, tuple[str, ...]]] = {
    "trivial": ("bench.floor_trivial", [], False, ("paced", "flat")),
    "bolt-sync-waitress": ("bench.floor_sync", ["--server", "waitress"], True, ("paced", "flat")),
    "bolt-sync-waitress-pbr": (
        "bench.floor_sync",
        ["--server", "waitress", "--process-before-response"],
        True,
        ("paced", "flat"),
    ),
    "bolt-async-uvicorn": ("bench.floor_async", [], True, ("paced", "flat")),
    # Its queueing shows under the flat-out load; it is no floor, so it is spared the long paced phase.
    "bolt-sync-starlette": ("bench.floor_sync", ["--server", "starlette"], False, ("flat",)),
}


# --- figures ------------------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(latencies_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1),
        "over_1s": sum(1 for ms in ordered if ms > 1000),
    }


def figures(requests: list[Request], out: dict[str, Any]) -> dict[str, Any]:
    by: dict[str, list[float]] = {}
    lags: list[float] = []
    for request, (_status, ms, _answer, lag) in zip(requests, out["results"], strict=True):
        for key in ("all", request.kind, f"{request.kind}/{request.case}"):
            by.setdefault(key, []).append(ms)
        lags.append(lag)
    n = len(requests)
    ordered_lags = sorted(lags)
    return {
        "latency": {key: summary(values) for key, values in by.items()},
        "throughput_rps": round(n / out["wall_s"], 1),
        "wall_s": round(out["wall_s"], 2),
        "send_lag_p99_ms": round(percentile(ordered_lags, 0.99), 1),
        "generator_cpu_ms_per_request": round(out["generator_cpu_s"] / n * 1000, 3),
        "generator_cpu_share": round(out["generator_cpu_s"] / out["wall_s"], 2),
        "server_cpu_ms_per_request": round(out["server_cpu_s"] / n * 1000, 3),
    }


# --- Postgate's side: the world, the seeding and the requests -------------------------------------------


class World:
    """The fake Slack and providers, Postgate's environment, and the Slack client that shapes payloads."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        from tests.e2e.harness import SIGNING_SECRET
        from tests.e2e.test_providers import app_env, make_fakes

        self.workdir = workdir
        self.fakes = make_fakes()
        self.slack = self.fakes.slack
        # Payloads are built before the run; a composer opened from one is still opened within Slack's rules.
        self.slack.trigger_ttl = 3600
        self.account = self.fakes.publora.add_connection(
            "linkedin", "acme", username="acme", display_name="Acme on LinkedIn"
        )
        self.env = app_env(self.fakes, database_url)
        self.secret = SIGNING_SECRET
        self.database_url = database_url
        self.app: Any = None
        self.client: Any = None

    def start(self) -> None:
        from tests.e2e.harness import AppProcess
        from tests.fakes.slack_client import SlackClient

        self.app = AppProcess(env=self.env, log_path=self.workdir / "postgate.log", cwd=self.workdir).start()
        self.client = SlackClient(app_url=self.app.events_url, signing_secret=self.secret, fake=self.slack)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.app is not None:
            self.app.stop()
        for fake in (self.fakes.publora, self.fakes.publer, self.fakes.postoria, self.slack):
            fake.stop()

    def open_composer(self, user: str) -> dict[str, Any]:
        before = {v["id"] for v in self.slack.views(user)}
        assert self.client.slash_command(user, "/post", "", channel_id=GENERAL).status_code == 200
        return self.slack.wait_for(
            lambda: next(
                (
                    v
                    for v in self.slack.views(user)
                    if v["callback_id"] == "postgate_compose"
                    and v["id"] not in before
                    and any(b.get("block_id") == "targets" for b in v["blocks"])
                ),
                None,
            ),
            timeout=30,
        )

    def target_option(self, view: dict[str, Any]) -> str:
        block = next(b for b in view["blocks"] if b.get("block_id") == "targets")
        for group in block["element"]["option_groups"]:
            for option in group["options"]:
                if option["value"].endswith("|" + self.account):
                    return str(option["value"])
        raise AssertionError(f"{self.account} not offered in the composer")


class Requests:
    """Builds every request of the run with the fake Slack client."""

    def __init__(self, world: World) -> None:
        from tests.e2e.test_providers import ANA, AUTHOR, EVE

        self.world = world
        self.author, self.approver, self.outsider = AUTHOR, ANA, EVE
        self.view = world.open_composer(AUTHOR)
        self.option = world.target_option(self.view)
        self.numbers = itertools.count(1)

    def slash(self, case: str) -> Request:
        user, text = (self.author, "") if case == "post" else (self.approver, "list")
        form = self.world.client.slash_command_form(user, "/post", text, channel_id=GENERAL)
        return Request("slash", case, urlencode(form))

    def submission(self, case: str) -> Request:
        number = next(self.numbers)
        if case == "create":
            at = datetime.now(UTC) + timedelta(days=2, minutes=number % 600)
        else:
            at = datetime.now(UTC) - timedelta(days=1)
        inputs = {
            "text": f"Benchmark post {number}: our launch notes, with a link https://example.com/{number}",
            "targets": [self.option],
            "when": "at_time",
            "publish_at": int(at.timestamp()),
        }
        payload = self.world.client.submission_payload(self.author, self.view["id"], inputs)
        return Request("view", case, self.world.client.interaction_body(payload).decode())

    def click(self, case: str, root: dict[str, Any]) -> Request:
        from tests.e2e.test_providers import APPROVALS

        user = self.approver if case == "approve" else self.outsider
        payload = self.world.client.click_payload(
            user, channel_id=APPROVALS, message=root, action_id="postgate_approve"
        )
        return Request("click", case, self.world.client.interaction_body(payload).decode())


def split(count: int, cases: tuple[tuple[str, float], ...]) -> list[str]:
    """`count` case names in the given proportions (the last case takes the rounding)."""
    names: list[str] = []
    for name, share in cases[:-1]:
        names += [name] * round(count * share)
    return names + [cases[-1][0]] * (count - len(names))


def seed_posts(world: World, requests: Requests, count: int, clients: int) -> list[dict[str, Any]]:
    """Draft `count` posts through the composer (not measured) and wait for their approval requests. A few
    at a time: thousands of drafts flat out make some acks late on SQLite, which is measured later, not
    here."""
    from tests.e2e.test_providers import APPROVALS

    before = len(world.slack.messages(APPROVALS))
    bodies = [requests.submission("create").body.encode() for _ in range(count)]

    def send(body: bytes) -> int:
        return int(world.client.send_raw(body).status_code)

    with ThreadPoolExecutor(max_workers=min(clients, SEEDING_CLIENTS)) as pool:
        statuses = list(pool.map(send, bodies))
    assert statuses == [200] * count, f"seeding failed: {sorted(set(statuses))}"
    deadline = time.monotonic() + 60 + count * 0.1
    while time.monotonic() < deadline:
        roots = world.slack.messages(APPROVALS)
        if len(roots) >= before + count:
            return roots[before:]
        time.sleep(0.5)
    raise RuntimeError(f"only {len(roots) - before} of {count} approval requests arrived")


def wait_quiet(world: World, seconds: float = 1.0, timeout: float = 120.0) -> None:
    """Until Postgate has made no Slack call for `seconds` (its outbox has delivered what it owed)."""
    methods = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update")

    def seen() -> int:
        return sum(len(world.slack.arrivals(m)) for m in methods)

    deadline = time.monotonic() + timeout
    last, since = seen(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = seen()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return


@dataclass
class Plan:
    """Every request of the run: the warm-up, then one list per phase (shuffled, each kind
    `per_kind` times), and the paced phase's send times."""

    warmup: list[Request]
    phases: dict[str, list[Request]]
    offsets: list[float]

    def all_requests(self) -> list[Request]:
        return self.warmup + [r for requests in self.phases.values() for r in requests]


def build_plan(world: World, size: Size, clients: int, rate: float) -> Plan:
    requests = Requests(world)
    per_case = {kind: split(size.per_kind, CASES[kind]) for kind in KINDS}
    warm_cases = [("slash", "post"), ("slash", "list"), ("click", "approve"), ("click", "refused")]
    warm_cases += [("view", "create"), ("view", "invalid")]
    warm_plan = [warm_cases[i % len(warm_cases)] for i in range(size.warmup)]
    approvals = sum(1 for _, case in warm_plan if case == "approve")
    approvals += len(PHASES) * per_case["click"].count("approve")
    roots = seed_posts(world, requests, approvals, clients)
    decided = iter(roots)
    refused_on = itertools.cycle(roots)

    def one(kind: str, case: str) -> Request:
        if kind == "slash":
            return requests.slash(case)
        if kind == "view":
            return requests.submission(case)
        return requests.click(case, next(decided) if case == "approve" else next(refused_on))

    warmup = [one(kind, case) for kind, case in warm_plan]
    phases = {}
    for number, phase in enumerate(PHASES):
        measured = [one(kind, case) for kind in KINDS for case in per_case[kind]]
        random.Random(number).shuffle(measured)
        phases[phase] = measured
    # Poisson arrivals at `rate`, the same for every target.
    draw, at, offsets = random.Random(6), 0.0, []
    for _ in phases["paced"]:
        offsets.append(at)
        at += draw.expovariate(rate)
    return Plan(warmup=warmup, phases=phases, offsets=offsets)


# --- checks: every request did what it should -----------------------------------------------------------


def check_answers(requests: list[Request], out: dict[str, Any], *, postgate: bool) -> list[str]:
    problems = []
    for request, (status, _ms, answer, _lag) in zip(requests, out["results"], strict=True):
        if status != 200:
            problems.append(f"{request.kind}/{request.case}: HTTP {status} {answer[:100]}")
        elif postgate and request.case == "invalid" and '"errors"' not in answer:
            problems.append(f"view/invalid: no response_action errors in {answer[:100]!r}")
        elif postgate and request.case in ("create", "approve", "refused", "post") and answer.strip():
            problems.append(f"{request.kind}/{request.case}: unexpected ack body {answer[:100]!r}")
    return problems[:20]


def count_rows(database_url: str, sql: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def check_effects(
    world: World, counts: dict[str, int], baseline: dict[str, int], lists_in_acks: int
) -> dict[str, Any]:
    """What users would see once the run's after-ack work is done: composers opened, refusals told, lists
    answered (in the ack or through the response_url), approvals and posts stored. Waits (bounded) for
    Postgate to finish that work."""
    wanted = {
        "composers_opened": baseline["composers_opened"] + counts["post"],
        "refusals_told": baseline["refusals_told"] + counts["refused"],
        "lists_answered": baseline["lists_answered"] + counts["list"] - lists_in_acks,
        "approvals_stored": baseline["approvals_stored"] + counts["approve"],
        "posts_stored": baseline["posts_stored"] + counts["create"],
    }
    deadline = time.monotonic() + 120
    seen = effects(world)
    while time.monotonic() < deadline and any(seen[k] < v for k, v in wanted.items()):
        time.sleep(1)
        seen = effects(world)
    return {"wanted": wanted, "seen": seen, "ok": all(seen[k] == v for k, v in wanted.items())}


def effects(world: World) -> dict[str, int]:
    lists = sum(
        1 for c in world.slack.calls("response_url") if c["ok"] and LIST_MARK in json.dumps(c["params"])
    )
    return {
        "composers_opened": sum(1 for c in world.slack.calls("views.open") if c["ok"]),
        "refusals_told": len(world.slack.arrivals("chat.postEphemeral")),
        "lists_answered": lists,
        "approvals_stored": count_rows(
            world.database_url, "SELECT count(*) FROM decision WHERE kind = 'approve'"
        ),
        "posts_stored": count_rows(world.database_url, "SELECT count(*) FROM post"),
    }


# --- the run ------------------------------------------------------------------------------------------


def measure(
    url: str,
    pid: int,
    warmup: list[Request],
    requests: list[Request],
    offsets: list[float] | None,
    **common: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from tests.e2e.harness import SIGNING_SECRET

    job = {
        "url": url,
        "pid": pid,
        "secret": SIGNING_SECRET,
        "clients": common["clients"],
        "warmup": [r.__dict__ for r in warmup],
        "requests": [r.__dict__ for r in requests],
        "offsets": offsets,
    }
    before = cpu_times()
    out = run_generator(job, common["workdir"], f"{pid}-{len(warmup)}")
    figs = figures(requests, out)
    figs["cpu_steal_share"] = steal_share(before, cpu_times())
    return figs, out


def cpu_times() -> list[int]:
    """The machine's CPU time counters (the `cpu` line of /proc/stat)."""
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of the machine's CPU time taken by other guests of the host meanwhile (steal): on a shared
    virtual machine it explains runs that differ without any change of code."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return round(spent[7] / max(sum(spent[:8]), 1), 3)


def run(size_name: str, database: str, clients: int, rate: float, floors: list[str]) -> dict[str, Any]:
    size = SIZES[size_name]
    result: dict[str, Any] = {
        "bench": "ack_latency",
        "database": database,
        "size": size_name,
        "clients": clients,
        "paced_rate_rps": rate,
        "requests_per_kind": size.per_kind,
        "warmup_requests": size.warmup,
        "machine": machine(),
        "phases": {phase: {} for phase in PHASES},
    }
    workdir = Path(tempfile.mkdtemp(prefix="postgate-bench-ack-"))
    try:
        with fresh_database(database, workdir) as url:
            world = World(url, workdir)
            try:
                world.start()
                plan = build_plan(world, size, clients, rate)
                result["mix"] = _mix(plan.phases["paced"])
                common = {"clients": clients, "workdir": workdir}
                # Postgate first: the payloads' response_urls (as Slack's) expire 30 minutes after they
                # were made, and Postgate answers `/post list` through them.
                wait_quiet(world)
                baseline = effects(world)
                app, warmup, lists_in_acks = world.app, plan.warmup, 0
                for phase, requests in plan.phases.items():
                    offsets = plan.offsets if phase == "paced" else None
                    figs, out = measure(app.events_url, app.process.pid, warmup, requests, offsets, **common)
                    warmup = []
                    figs["floor"] = False
                    figs["problems"] = check_answers(requests, out, postgate=True)
                    result["phases"][phase]["postgate"] = figs
                    _progress(phase, "postgate", figs)
                    lists_in_acks += sum(LIST_MARK in a for _, _, a, _ in out["warmup"] + out["results"])
                    wait_quiet(world)
                counts = {
                    case: sum(1 for r in plan.all_requests() if r.case == case) for case in _all_cases()
                }
                result["postgate_effects"] = check_effects(world, counts, baseline, lists_in_acks)
                result["postgate_log_warnings"] = _warnings(world.app.logs())
                # Then the floors, while Postgate idles (its outbox has delivered what it owed).
                for name in floors:
                    module, args, is_floor, its_phases = FLOORS[name]
                    floor = Floor(module, args, workdir, world.slack)
                    try:
                        warmup = plan.warmup
                        for phase in its_phases:
                            requests = plan.phases[phase]
                            offsets = plan.offsets if phase == "paced" else None
                            figs, out = measure(
                                floor.events_url, floor.pid, warmup, requests, offsets, **common
                            )
                            warmup = []
                            figs["floor"] = is_floor
                            figs["problems"] = check_answers(requests, out, postgate=False)
                            result["phases"][phase][name] = figs
                            _progress(phase, name, figs)
                    finally:
                        floor.stop()
            finally:
                world.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["goal"] = verdict(result)
    return result


def _all_cases() -> list[str]:
    return [case for kind in KINDS for case, _ in CASES[kind]]


def _mix(measured: list[Request]) -> dict[str, int]:
    mix: dict[str, int] = {}
    for request in measured:
        key = f"{request.kind}/{request.case}"
        mix[key] = mix.get(key, 0) + 1
    return mix


def _warnings(logs: str) -> list[str]:
    lines = [line for line in logs.splitlines() if " WARNING " in line or " ERROR " in line]
    return lines[:20]


def _progress(phase: str, name: str, figs: dict[str, Any]) -> None:
    overall = figs["latency"]["all"]
    print(
        f"  [{time.monotonic() - _STARTED:4.0f} s] {phase:<6} {name:<24} p50 {overall['p50_ms']} ms, "
        f"p99 {overall['p99_ms']} ms, "
        f"max {overall['max_ms']} ms, {figs['throughput_rps']} req/s",
        file=sys.stderr,
        flush=True,
    )


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's goal, judged on the paced phase (a steady load below every target's capacity)."""
    targets = result["phases"]["paced"]
    floors = {n: t["latency"]["all"]["p99_ms"] for n, t in targets.items() if t["floor"]}
    postgate = targets.get("postgate")
    if not floors or postgate is None:
        return {}
    fastest = min(floors, key=lambda n: floors[n])
    p99 = postgate["latency"]["all"]["p99_ms"]
    ratio = p99 / floors[fastest] if floors[fastest] else math.inf
    everywhere = [t["postgate"] for t in result["phases"].values() if "postgate" in t]
    return {
        "fastest_floor": fastest,
        "fastest_floor_p99_ms": floors[fastest],
        "postgate_p99_ms": p99,
        "postgate_worst_kind_p99_ms": max(postgate["latency"][k]["p99_ms"] for k in KINDS),
        "ratio": round(ratio, 2),
        "within_ratio": ratio <= GOAL_RATIO,
        "under_slack_deadline": all(
            t["latency"]["all"]["max_ms"] < SLACK_DEADLINE_S * 1000 for t in everywhere
        ),
        "none_over_1s": all(t["latency"]["all"]["over_1s"] == 0 for t in everywhere),
        "all_answered": all(not t["problems"] for t in everywhere) and result["postgate_effects"]["ok"],
    }


_STARTED = time.monotonic()
PHASE_TITLES = {
    "paced": "Paced: Poisson arrivals at {rate} req/s, at most {clients} in flight (the goal's phase)",
    "flat": "Flat out: {clients} clients, each sending its next request as soon as the last is answered",
}


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Acknowledgement latency — {result['size']} size, {result['database']}, "
        f"{result['requests_per_kind']} requests per kind per phase (+{result['warmup_requests']} warm-up)",
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, "
        f"load average at start {m['load_average_at_start']}",
        "mix: " + ", ".join(f"{k} {v}" for k, v in result["mix"].items()),
    ]
    rows = ["all", *KINDS, *(f"{k}/{c}" for k in KINDS for c, _ in CASES[k])]
    for phase, targets in result["phases"].items():
        title = PHASE_TITLES[phase].format(rate=result["paced_rate_rps"], clients=result["clients"])
        lines += ["", title, ""]
        lines.append(
            f"{'target':<26} {'kind':<16} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>1 s':>5}"
        )
        for name, figs in sorted(targets.items(), key=lambda item: item[0] == "postgate"):  # Postgate last
            label = name if figs["floor"] or name == "postgate" else name + " *"
            for row in rows if name == "postgate" else ["all", *KINDS]:
                s = figs["latency"][row]
                lines.append(
                    f"{label:<26} {row:<16} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['p99_ms']:>8} "
                    f"{s['max_ms']:>8} {s['over_1s']:>5}"
                )
                label = ""
            lines.append(
                f"{'':<26} {figs['throughput_rps']} req/s, sent ≤ {figs['send_lag_p99_ms']} ms late (p99); "
                f"server CPU {figs['server_cpu_ms_per_request']} ms/req; generator CPU "
                f"{figs['generator_cpu_ms_per_request']} ms/req ({figs['generator_cpu_share']:.0%} of a "
                f"core); CPU stolen by other guests {figs.get('cpu_steal_share', 0):.0%}"
            )
            if figs["problems"]:
                lines.append(f"{'':<26} PROBLEMS: {figs['problems'][:3]}")
    lines.append("")
    lines.append(
        "* not a floor: trivial answers 200 at once (the load generator's own share of every figure);"
    )
    lines.append("  the Starlette adapter runs the sync App on the event loop, one request at a time.")
    effects = result.get("postgate_effects")
    if effects:
        lines.append(f"Postgate's after-ack work all done: {effects['ok']} (seen {effects['seen']})")
    goal = result.get("goal") or {}
    if goal:
        lines += [
            "",
            f"Goal (paced): Postgate p99 {goal['postgate_p99_ms']} ms vs the fastest floor "
            f"({goal['fastest_floor']}) {goal['fastest_floor_p99_ms']} ms = {goal['ratio']}x "
            f"(goal ≤ {GOAL_RATIO}x: {'met' if goal['within_ratio'] else 'NOT met'}); "
            f"none over 1 s in any phase: {'yes' if goal['none_over_1s'] else 'NO'}; "
            f"all under 3 s: {'yes' if goal['under_slack_deadline'] else 'NO'}; "
            f"every request did its work: {'yes' if goal['all_answered'] else 'NO'}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ack_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument(
        "--rate", type=float, help="the paced phase's arrivals per second (default: 30 full, 60 small)"
    )
    parser.add_argument(
        "--floors", default=",".join(FLOORS), help="comma-separated, from: " + ", ".join(FLOORS)
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate is not None:
        args.out.write_text(json.dumps(generate(json.loads(args.generate.read_text()))))
        return 0
    floors = [f for f in args.floors.split(",") if f]
    unknown = sorted(set(floors) - set(FLOORS))
    if unknown:
        parser.error(f"unknown floors {unknown}")
    rate = args.rate or SIZES[args.size].rate
    result = run(args.size, args.database, args.clients, rate, floors)
    print(render(result))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"ack_latency-{args.database}-{args.size}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
