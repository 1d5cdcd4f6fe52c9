"""Punctuality benchmark (issue 6, item 2): how late Postgate hands a due post to the provider.

Postgate runs as its own process (`python -m bot run`, HTTP mode) against fake Slack and a fake Publora
on loopback. Lateness is the time the fake Publora received a post's create request minus the post's due
time. Two scenarios, each with a fresh database and a fresh app process:

* single posts: posts due one at a time, a couple of seconds apart (goal: p99 lateness under 1 s);
* burst: posts all due within the same second (1,000 at full size) on an unthrottled Publora that
  answers every create after a fixed delay: lateness, drain time, throughput beside the floor a bounded
  worker pool allows (workers / the fake's measured per-request latency), and whether the creates
  arrived in due-time order;
* link: posts due a few seconds apart that the fake Publora publishes at their time, without webhooks:
  the time from the fake's `publishedAt` to the thread reply with the link in the fake Slack (what the
  team waits for after the post is live).

The composer refuses times less than a minute ahead, so the posts are drafted and approved before the
app starts, in this process, through Postgate's own `PostService.create` and `PostService.approve` (the
code behind the composer and the Approve button); their Slack messages are delivered then too. The app
process alone dispatches them, over HTTP, to the fake Publora.

    python -m bench.punctuality [--size small|full] [--database sqlite|postgres]

The helpers here (databases, seeding, the app, percentiles, results) are shared with `bench.rate_ceiling`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, func, select

from bot.db.engine import Database, make_engine
from bot.db.migrate import upgrade
from bot.db.tables import OutboxMessage, Post, PublishAttempt
from bot.domain.model import Account, Draft, PostStatus
from bot.domain.networks import Network
from bot.main import build
from bot.scheduler.dispatcher import DispatchTuning
from bot.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.e2e.harness import AppProcess, message_text
from tests.e2e.test_providers import ANA, APPROVALS, AUTHOR, Fakes, app_env, make_fakes

RESULTS_DIR = Path(__file__).parent / "results"
TEAM = "T0POSTGATE"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

SIZES: dict[str, dict[str, Any]] = {
    "small": {"singles": 5, "single_gap": 1.0, "burst": 60, "links": 3, "link_gap": 2.0},
    "full": {"singles": 30, "single_gap": 2.0, "burst": 1000, "links": 20, "link_gap": 3.0},
}
# What the fake Publora takes to answer a create: a stand-in for a real API's answer time, so the floor
# (workers / latency) is the provider's and not the loopback's.
DEFAULT_LATENCY = 0.1
# The settings Postgate ships with: the benchmark measures the defaults, not tuned-down test values.
SHIPPED = {"POSTGATE_SWEEP_SECONDS": "30", "POSTGATE_FOLLOW_POLL_SECONDS": "30"}
#: The dispatcher's pool width unless `--workers` says otherwise: Postgate's own default.
DEFAULT_WORKERS = DispatchTuning().workers
SCENARIOS = ("single", "burst", "links")


# --- shared helpers -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "note": "shared machine: other test runs may have used its 2 cores at the same time",
    }


@contextmanager
def database_url(kind: str, workdir: Path) -> Iterator[str]:
    """An empty database for one scenario: a SQLite file, or a fresh PostgreSQL database dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'postgate.db'}"
        return
    admin = os.environ.get("POSTGATE_TEST_POSTGRES_URL") or POSTGRES_ADMIN_URL
    url, name = fresh_postgres_database(admin)
    try:
        yield url
    finally:
        drop_postgres_database(admin, name)


@dataclass(frozen=True)
class Planned:
    """A post to seed: due at `due`, to one account."""

    due: datetime
    account: Account
    text: str


def seed_approved(env: dict[str, str], planned: Sequence[Planned]) -> list[int]:
    """Draft and approve each post through Postgate's own services, then deliver the Slack messages they
    owe, so the app starts with approved posts and an empty outbox. Returns the post ids, in order."""
    settings = Settings.model_validate(env)
    db = Database(make_engine(settings.database_url))
    upgrade(db.engine)
    app = build(settings, database=db)
    ids: list[int] = []
    try:
        for post in planned:
            draft = Draft(text=post.text, targets=(post.account,), publish_at=post.due)
            post_id = app.services.posts.create(team_id=TEAM, author_id=AUTHOR, author_tz="UTC", draft=draft)
            app.services.posts.approve(team_id=TEAM, post_id=post_id, user_id=ANA)
            ids.append(post_id)
        for _ in range(10 * len(planned) + 10):
            more = app.outbox.deliver_due()
            with db.read() as session:
                pending = session.exec(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
                ).one()
            if not more and not pending:
                break
    finally:
        db.dispose()
    return ids


def lead_time(kind: str, fakes: Fakes, account: Account, posts: int) -> float:
    """Seconds from now to the first due time: enough to seed `posts` posts and start the app. Seeding is
    timed on a scratch database first, because this machine's speed varies with what else runs on it."""
    sample = 10
    with (
        tempfile.TemporaryDirectory(prefix="postgate-calibrate-") as tmp,
        database_url(kind, Path(tmp)) as url,
    ):
        env = app_env(fakes, url)
        later = datetime.now(UTC) + timedelta(hours=1)
        seed_approved(env, [Planned(later, account, "calibration warm-up")])  # migrates the database
        started = time.perf_counter()
        seed_approved(env, [Planned(later, account, f"calibration {i}") for i in range(sample)])
        per_post = (time.perf_counter() - started) / sample
    return 6.0 + 1.3 * per_post * posts


def start_app(env: dict[str, str], workdir: Path, name: str) -> tuple[AppProcess, float]:
    """Start Postgate; returns it and the UNIX time it answered /healthz."""
    app = AppProcess(env=env, log_path=workdir / f"{name}.log", cwd=workdir).start(timeout=60.0)
    return app, time.time()


def log_problems(app: AppProcess) -> dict[str, int]:
    text = app.logs()
    return {"tracebacks": text.count("Traceback"), "error_lines": text.count(" ERROR ")}


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max (nearest rank), min and mean, in the values' unit."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(-(-p * len(ordered) // 100)) - 1))]

    return {
        "min": ordered[0],
        "p50": rank(50),
        "p90": rank(90),
        "p95": rank(95),
        "p99": rank(99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def write_result(name: str, database: str, size: str, data: dict[str, Any], results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}-{database}-{size}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def handed_over(url: str) -> int:
    """Posts no longer waiting to be submitted (read from the database: asking the fake, which runs in
    this process, for its whole request log every second would slow the very server being measured)."""
    db = Database(make_engine(url))
    try:
        with db.read() as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(Post)
                    .where(col(Post.status).not_in([PostStatus.APPROVED, PostStatus.PUBLISHING]))
                ).one()
            )
    finally:
        db.dispose()


def wait_until(predicate: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def post_id_of(request: dict[str, Any]) -> int | None:
    """The post a create belongs to, from the Idempotency-Key the dispatcher makes (postgate-<id>-…)."""
    key = request["headers"].get("idempotency-key") or ""
    parts = key.split("-")
    if len(parts) > 2 and parts[0] == "postgate" and parts[1].isdigit():
        return int(parts[1])
    return None


# --- the fake's own speed ------------------------------------------------------------------------


def measure_latency(fakes: Fakes, account: str, *, requests: int, workers: int) -> dict[str, float]:
    """The fake Publora's create latency seen from a bare HTTP client, one request at a time, and the
    throughput `workers` such clients reach together: the best any dispatcher could do here."""
    url = f"{fakes.publora.url}/create-post"
    key = fakes.publora.api_key
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    def create(client: httpx.Client, n: str) -> float:
        body = {"content": f"latency probe {n}", "platforms": [account], "scheduledTime": when}
        started = time.perf_counter()
        response = client.post(
            url, json=body, headers={"x-publora-key": key, "Idempotency-Key": f"bench-{n}"}
        )
        response.raise_for_status()
        return time.perf_counter() - started

    with httpx.Client() as client:
        create(client, "warm-up")
        sequential = [create(client, f"seq-{i}") for i in range(requests)]

    def worker(index: int) -> None:
        with httpx.Client() as client:
            for i in range(requests):
                create(client, f"par-{index}-{i}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latency = statistics.median(sequential)
    return {
        "latency_p50_s": latency,
        "latency_max_s": max(sequential),
        "floor_posts_per_s": workers / latency,
        "bare_clients_posts_per_s": workers * requests / elapsed,
    }


# --- scenarios ------------------------------------------------------------------------------------


def arrivals(fakes: Fakes, ids: set[int]) -> tuple[dict[int, float], int]:
    """(post id → arrival of its first create, creates beyond the first per post)."""
    first: dict[int, float] = {}
    extra = 0
    for request in fakes.publora.requests("create-post"):
        post_id = post_id_of(request)
        if post_id is None or post_id not in ids:
            continue
        if post_id in first:
            extra += 1
        else:
            first[post_id] = request["at"]
    return first, extra


def order_report(due: dict[int, float], arrived: dict[int, float], width: int) -> dict[str, int]:
    """How far arrival order strays from due-time order: inverted pairs, and posts displaced by more
    places than the worker pool is wide (a pool of `width` may reorder within itself)."""
    by_due = sorted(arrived, key=lambda p: (due[p], p))
    by_arrival = sorted(arrived, key=lambda p: (arrived[p], p))
    due_rank = {p: i for i, p in enumerate(by_due)}
    ranks = [due_rank[p] for p in by_arrival]
    inversions = sum(1 for i in range(len(ranks)) for j in range(i + 1, len(ranks)) if ranks[i] > ranks[j])
    displaced = [abs(i - r) for i, r in enumerate(ranks)]
    return {
        "inverted_pairs": inversions,
        "max_displacement": max(displaced, default=0),
        "displaced_beyond_pool_width": sum(1 for d in displaced if d > width),
    }


def run_singles(kind: str, count: int, gap: float, latency: float, workdir: Path) -> dict[str, Any]:
    fakes = make_fakes()
    fakes.publora.set_processing_delay("create-post", latency)
    try:
        account_id = fakes.publora.add_connection("twitter", "4242", username="acme")
        account = Account("publora", account_id, Network.X, "@acme")
        with database_url(kind, workdir) as url:
            env = app_env(fakes, url, **SHIPPED)
            first = datetime.fromtimestamp(int(time.time() + lead_time(kind, fakes, account, count)) + 1, UTC)
            planned = [
                Planned(first + timedelta(seconds=i * gap), account, f"Punctuality single post {i + 1}")
                for i in range(count)
            ]
            ids = seed_approved(env, planned)
            due = {i: p.due.timestamp() for i, p in zip(ids, planned, strict=True)}
            app, ready = start_app(env, workdir, "singles")
            try:
                wait_until(lambda: handed_over(url) >= count, max(due.values()) - time.time() + 30)
                arrived, extra = arrivals(fakes, set(ids))
                problems = log_problems(app)
            finally:
                app.stop()
    finally:
        stop_fakes(fakes)
    lateness = [arrived[p] - due[p] for p in arrived]
    return {
        "posts": count,
        "gap_s": gap,
        "submitted": len(arrived),
        "extra_creates": extra,
        "app_ready_before_first_due_s": min(due.values()) - ready,
        "lateness_s": percentiles(lateness),
        "goal": "p99 < 1 s",
        "goal_met": bool(lateness) and len(arrived) == count and percentiles(lateness)["p99"] < 1.0,
        "app_log": problems,
    }


def run_burst(kind: str, count: int, latency: float, workdir: Path, workers: int) -> dict[str, Any]:
    fakes = make_fakes()
    try:
        accounts = [
            Account(
                "publora",
                fakes.publora.add_connection("twitter", f"7{n:03d}", username=f"acme{n}"),
                Network.X,
                f"@acme{n}",
            )
            for n in range(10)
        ]
        probe = fakes.publora.add_connection("twitter", "9999", username="probe")
        fakes.publora.set_processing_delay("create-post", latency)
        floor = measure_latency(fakes, probe, requests=20, workers=workers)
        with database_url(kind, workdir) as url:
            env = app_env(fakes, url, **SHIPPED, POSTGATE_DISPATCH_WORKERS=str(workers))
            start = int(time.time() + lead_time(kind, fakes, accounts[0], count)) + 1
            # Distinct due times within one second, in an order unrelated to the order of drafting.
            slots = random.Random(6).sample(range(count), count)
            planned = [
                Planned(
                    datetime.fromtimestamp(start, UTC) + timedelta(seconds=slot / count),
                    accounts[i % len(accounts)],
                    f"Punctuality burst post {i + 1}",
                )
                for i, slot in enumerate(slots)
            ]
            seeding = time.time()
            ids = seed_approved(env, planned)
            seeded_in = time.time() - seeding
            due = {i: p.due.timestamp() for i, p in zip(ids, planned, strict=True)}
            app, ready = start_app(env, workdir, "burst")
            try:
                wait_until(
                    lambda: handed_over(url) >= count, max(due.values()) - time.time() + 60 + count / 5
                )
                arrived, extra = arrivals(fakes, set(ids))
                problems = log_problems(app)
            finally:
                app.stop()
    finally:
        stop_fakes(fakes)
    lateness = [arrived[p] - due[p] for p in arrived]
    first_due = min(due.values())
    times = sorted(arrived.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    throughput = (len(times) - 1) / span if span > 0 else 0.0
    return {
        "posts": count,
        "due_within_s": max(due.values()) - first_due,
        "accounts": len(accounts),
        "provider_latency_setting_s": latency,
        "seeded_in_s": seeded_in,
        "submitted": len(arrived),
        "extra_creates": extra,
        "app_ready_before_first_due_s": first_due - ready,
        "lateness_s": percentiles(lateness),
        "drain_s": (times[-1] - first_due) if times else None,
        "throughput_posts_per_s": throughput,
        "workers": workers,
        "floor": floor,
        "throughput_vs_floor": throughput / floor["floor_posts_per_s"],
        "order": order_report(due, arrived, workers),
        "creates_per_second": [
            sum(1 for t in times if first_due + k <= t < first_due + k + 1)
            for k in range(int(times[-1] - first_due) + 1 if times else 0)
        ],
        "app_log": problems,
    }


def published_at(fakes: Fakes) -> dict[str, float]:
    """Post group id → when the fake Publora put its post live (UNIX seconds, from `publishedAt`)."""
    live: dict[str, float] = {}
    for row in fakes.publora.published():
        stamp = datetime.fromisoformat(str(row["publishedAt"]).replace("Z", "+00:00")).timestamp()
        live.setdefault(row["postGroupId"], stamp)
    return live


def link_replies(fakes: Fakes) -> dict[int, float]:
    """Post id → when its thread got the reply with the link (the fake Slack's ts is wall-clock time)."""
    reported: dict[int, float] = {}
    for root in fakes.slack.messages(APPROVALS):
        number = re.search(r"Post #(\d+)", message_text(root))
        if number is None:
            continue
        for reply in fakes.slack.replies(APPROVALS, root["ts"]):
            if "Published." in message_text(reply) and "https://" in message_text(reply):
                reported[int(number.group(1))] = float(reply["ts"])
                break
    return reported


def run_links(kind: str, count: int, gap: float, workdir: Path) -> dict[str, Any]:
    """Live at the fake → link in the thread, for posts published at their time (no webhooks)."""
    fakes = make_fakes()
    try:
        account_id = fakes.publora.add_connection("twitter", "5151", username="acme")
        account = Account("publora", account_id, Network.X, "@acme")
        with database_url(kind, workdir) as url:
            env = app_env(fakes, url, **SHIPPED)
            env.pop("PUBLORA_WEBHOOK_SECRET", None)  # the case measured: no webhooks, status checks only
            first = datetime.fromtimestamp(int(time.time() + lead_time(kind, fakes, account, count)) + 1, UTC)
            planned = [
                Planned(first + timedelta(seconds=i * gap), account, f"Punctuality link post {i + 1}")
                for i in range(count)
            ]
            ids = seed_approved(env, planned)
            app, _ready = start_app(env, workdir, "links")
            try:
                poll = float(SHIPPED["POSTGATE_FOLLOW_POLL_SECONDS"])
                deadline = (first - datetime.now(UTC)).total_seconds() + count * gap + 3 * poll + 30
                wait_until(lambda: len(link_replies(fakes)) >= count, deadline)
                reported = link_replies(fakes)
                problems = log_problems(app)
            finally:
                app.stop()
            live = published_at(fakes)
            group_of = _group_ids(url)
    finally:
        stop_fakes(fakes)
    delays = [
        reported[post_id] - live[group_of[post_id]]
        for post_id in ids
        if post_id in reported and group_of.get(post_id) in live
    ]
    return {
        "posts": count,
        "gap_s": gap,
        "published_at_fake": len(live),
        "reported_in_thread": len(reported),
        "live_to_thread_s": percentiles(delays),
        "follow_poll_s": float(SHIPPED["POSTGATE_FOLLOW_POLL_SECONDS"]),
        "app_log": problems,
    }


def _group_ids(url: str) -> dict[int, str]:
    """Post id → the provider's id for it (Publora's postGroupId), from the app's own records."""
    db = Database(make_engine(url))
    try:
        with db.read() as session:
            rows = session.exec(select(PublishAttempt.post_id, PublishAttempt.external_id)).all()
    finally:
        db.dispose()
    return {int(post_id): str(external) for post_id, external in rows if external}


def stop_fakes(fakes: Fakes) -> None:
    for fake in (fakes.publora, fakes.publer, fakes.postoria, fakes.slack):
        fake.stop()


# --- report ---------------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    print(f"Punctuality — {result['database']}, size {result['size']}")
    print(f"  posts: {result['how_posts_were_created']}")
    if "single" in result:
        _print_single(result["single"])
    if "burst" in result:
        _print_burst(result["burst"])
    if "links" in result:
        _print_links(result["links"])
    for name in ("single", "burst", "links"):
        part = result.get(name)
        if part is None:
            continue
        early = part.get("app_ready_before_first_due_s")
        if early is not None and early < 1:
            print(f"  WARNING ({name}): the app was ready only {early:.1f} s before the first due time")
        if part["app_log"]["tracebacks"]:
            print(f"  WARNING ({name}): {part['app_log']['tracebacks']} tracebacks in the app's log")


def _print_single(single: dict[str, Any]) -> None:
    print()
    print(f"Single posts ({single['posts']} posts, {single['gap_s']:g} s apart; goal {single['goal']})")
    _print_lateness(single["lateness_s"])
    print(f"  submitted {single['submitted']}/{single['posts']}, extra creates {single['extra_creates']}")
    print(f"  goal met: {'yes' if single['goal_met'] else 'NO'}")


def _print_burst(burst: dict[str, Any]) -> None:
    print()
    print(
        f"Burst ({burst['posts']} posts due within {burst['due_within_s']:.3f} s, "
        f"{burst['accounts']} accounts, Publora answering after {burst['provider_latency_setting_s']:g} s)"
    )
    _print_lateness(burst["lateness_s"])
    floor = burst["floor"]
    print(f"  {'drain time':<34} {burst['drain_s']:>9.2f} s")
    print(f"  {'throughput':<34} {burst['throughput_posts_per_s']:>9.1f} posts/s")
    print(
        f"  {'floor: workers / latency':<34} {floor['floor_posts_per_s']:>9.1f} posts/s   "
        f"({burst['workers']} / {floor['latency_p50_s'] * 1000:.1f} ms)"
    )
    print(f"  {'bare clients, same pool width':<34} {floor['bare_clients_posts_per_s']:>9.1f} posts/s")
    if burst["throughput_vs_floor"] is not None:
        print(f"  {'throughput / floor':<34} {burst['throughput_vs_floor'] * 100:>9.0f} %")
    order = burst["order"]
    print(
        f"  order: {order['inverted_pairs']} inverted pairs, max displacement {order['max_displacement']}, "
        f"{order['displaced_beyond_pool_width']} posts displaced beyond the pool width ({burst['workers']})"
    )
    print(f"  submitted {burst['submitted']}/{burst['posts']}, extra creates {burst['extra_creates']}")


def _print_links(links: dict[str, Any]) -> None:
    print()
    print(
        f"Link in the thread ({links['posts']} posts {links['gap_s']:g} s apart, live at their time, "
        f"no webhooks, follow poll {links['follow_poll_s']:g} s)"
    )
    stats = links["live_to_thread_s"]
    print(f"  {'live → reply':<12}" + "".join(f"{k:>9}" for k in ("p50", "p90", "p99", "max")))
    print(
        f"  {'(s)':<12}"
        + "".join(f"{stats.get(k, float('nan')):>9.2f}" for k in ("p50", "p90", "p99", "max"))
    )
    print(
        f"  reported {links['reported_in_thread']}/{links['posts']} "
        f"(live at the fake: {links['published_at_fake']})"
    )


def _print_lateness(stats: dict[str, float]) -> None:
    print(f"  {'lateness':<12}" + "".join(f"{k:>9}" for k in ("p50", "p95", "p99", "max")))
    print(
        f"  {'(ms)':<12}"
        + "".join(f"{stats.get(k, float('nan')) * 1000:>9.1f}" for k in ("p50", "p95", "p99", "max"))
    )


def run(
    size: str,
    database: str,
    results_dir: Path = RESULTS_DIR,
    latency: float = DEFAULT_LATENCY,
    workers: int = DEFAULT_WORKERS,
    scenarios: Sequence[str] = SCENARIOS,
) -> dict[str, Any]:
    plan = SIZES[size]
    parts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="postgate-bench-") as tmp:
        workdir = Path(tmp)
        for name in scenarios:
            (workdir / name).mkdir()
        if "single" in scenarios:
            parts["single"] = run_singles(
                database, plan["singles"], plan["single_gap"], latency, workdir / "single"
            )
        if "burst" in scenarios:
            parts["burst"] = run_burst(database, plan["burst"], latency, workdir / "burst", workers)
        if "links" in scenarios:
            parts["links"] = run_links(database, plan["links"], plan["link_gap"], workdir / "links")
    result = {
        "bench": "punctuality",
        "command": f"python -m bench.punctuality --size {size} --database {database} --workers {workers}"
        + "".join(f" --only {name}" for name in scenarios if tuple(scenarios) != SCENARIOS),
        "database": database,
        "size": size,
        "machine": machine(),
        "how_posts_were_created": (
            "drafted and approved before the app started, through Postgate's PostService.create and "
            "PostService.approve (the composer's and the Approve button's code); the app process then "
            "dispatched them over HTTP to the fake Publora"
        ),
        "settings": {**SHIPPED, "POSTGATE_DISPATCH_WORKERS": str(workers)},
        **parts,
    }
    name = "punctuality" if workers == DEFAULT_WORKERS else f"punctuality-{workers}-workers"
    if tuple(scenarios) != SCENARIOS:
        name += "-" + "-".join(scenarios)
    result["json"] = str(write_result(name, database, size, result, results_dir))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--latency", type=float, default=DEFAULT_LATENCY, help="fake Publora's answer time (s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="POSTGATE_DISPATCH_WORKERS for the app (default: Postgate's default)",
    )
    parser.add_argument(
        "--only", choices=SCENARIOS, action="append", help="run only this scenario (may be repeated)"
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    scenarios = tuple(s for s in SCENARIOS if s in args.only) if args.only else SCENARIOS
    result = run(args.size, args.database, args.results_dir, args.latency, args.workers, scenarios)
    print_report(result)
    print(f"\nfigures written to {result['json']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
