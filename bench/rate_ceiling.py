"""Rate-limit ceiling benchmark (issue 6, item 3): a burst of due posts on a rate-limited provider.

Postgate runs as its own process against fake Slack and a fake Publer (100 requests / 2 minutes per user,
polls included) or a fake Postoria (300 / 5 minutes) that answer 429 beyond their limit. Posts all due at
the same instant are seeded (approved) before the app starts, as in `bench.punctuality`; the app submits
them and follows each until it is live. Every request counts: account listings, creates, job polls and
post listings.

The clock is compressed: the fakes' windows and Postgate's budget (PUBLER_RATE_LIMIT, POSTORIA_RATE_LIMIT)
are shortened by the same factor, and so are the dispatcher's own periods (status polls, sweeps, the
retry back-off), so a run that takes a real provider hours takes minutes. The figures in seconds map to
real time by multiplying by the factor; requests per window map unchanged.

    python -m bench.rate_ceiling [--size small|full] [--database sqlite|postgres] [--replicas N]

With `--replicas N` (PostgreSQL only) N app processes share the database and, through it, one request
budget per provider: each is configured with the provider's whole limit, and together they must stay
under it.

Figures: 429s received (goal 0), requests per window achieved against the limit (goal within 10%),
time until every post was handed over and until every post was live, posts per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, func, select

from bench.punctuality import (
    RESULTS_DIR,
    Planned,
    database_url,
    lead_time,
    log_problems,
    machine,
    percentiles,
    seed_approved,
    start_app,
    stop_fakes,
    wait_until,
    write_result,
)
from bot.db.engine import Database, make_engine
from bot.db.tables import Post
from bot.domain.model import Account, PostStatus
from bot.domain.networks import Network
from tests.e2e.test_providers import Fakes, app_env, make_fakes

FINAL = (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED, PostStatus.FAILED, PostStatus.NEEDS_ATTENTION)


@dataclass(frozen=True)
class Scenario:
    """One provider's run: its real limit, and how the benchmark compresses it."""

    provider: str
    limit: int  # requests per window, as the provider counts them
    window: float  # seconds of the real provider's window
    scale: float  # how many times faster than real time the run goes
    posts: int
    accounts: int

    @property
    def fake_window(self) -> float:
        return self.window / self.scale


# Real limits: Publer 100 / 120 s, Postoria 300 / 300 s. Full size: 10× compressed, 500 posts. Small size
# (CI) keeps the shape with 10 requests per 2 s window and 12 posts.
SIZES: dict[str, list[Scenario]] = {
    "full": [
        Scenario("publer", 100, 120.0, 10.0, 500, 25),
        Scenario("postoria", 300, 300.0, 10.0, 500, 25),
    ],
    "small": [
        Scenario("publer", 10, 120.0, 60.0, 12, 3),
        Scenario("postoria", 10, 300.0, 150.0, 12, 3),
    ],
}
# Postgate's own periods, real values (its defaults), divided by the scale in a run.
REAL_PERIODS = {
    "POSTGATE_FOLLOW_POLL_SECONDS": 30.0,
    "POSTGATE_SWEEP_SECONDS": 30.0,
    "POSTGATE_RETRY_BASE_SECONDS": 15.0,
}


def scaled_env(scenario: Scenario) -> dict[str, str]:
    env = {name: f"{value / scenario.scale:g}" for name, value in REAL_PERIODS.items()}
    env[f"{scenario.provider.upper()}_RATE_LIMIT"] = f"{scenario.limit}/{scenario.fake_window:g}s"
    return env


def add_accounts(fakes: Fakes, scenario: Scenario) -> list[Account]:
    accounts = []
    for n in range(scenario.accounts):
        if scenario.provider == "publer":
            account_id = fakes.publer.add_account("twitter", f"@acme{n}")
        else:
            account_id = str(fakes.postoria.add_account("x", f"acme{n}")["id"])
        accounts.append(Account(scenario.provider, account_id, Network.X, f"@acme{n}"))
    return accounts


def statuses(url: str) -> tuple[dict[str, int], list[float]]:
    """(posts per status, the UNIX times the finished posts finished)."""
    db = Database(make_engine(url))
    try:
        with db.read() as session:
            counts = dict(session.exec(select(Post.status, func.count()).group_by(col(Post.status))).all())
            finished = [
                at.timestamp()
                for at in session.exec(select(Post.finished_at).where(col(Post.finished_at).is_not(None)))
                if at is not None
            ]
    finally:
        db.dispose()
    return {str(k): int(v) for k, v in counts.items()}, finished


def busiest_window(times: Sequence[float], window: float) -> int:
    """The most requests any `window`-long stretch held (what a sliding-window limit compares)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def run_scenario(kind: str, scenario: Scenario, workdir: Path, replicas: int = 1) -> dict[str, Any]:
    limit = (scenario.limit, scenario.fake_window)
    fakes = make_fakes(**{scenario.provider: {"rate_limit": limit}})
    fake = fakes.publer if scenario.provider == "publer" else fakes.postoria
    try:
        accounts = add_accounts(fakes, scenario)
        with database_url(kind, workdir) as url:
            env = app_env(fakes, url, **scaled_env(scenario))
            due = datetime.fromtimestamp(
                int(time.time() + lead_time(kind, fakes, accounts[0], scenario.posts)) + 1, UTC
            )
            planned = [
                Planned(due, accounts[i % len(accounts)], f"Rate ceiling post {i + 1} on {scenario.provider}")
                for i in range(scenario.posts)
            ]
            seed_approved(env, planned)
            apps = []
            for index in range(replicas):
                app, ready = start_app(env, workdir, f"{scenario.provider}-{index}")
                apps.append(app)
            try:

                def finished() -> bool:
                    counts, _ = statuses(url)
                    return sum(counts.get(s.value, 0) for s in FINAL) >= scenario.posts

                # Generous: three times what the requests would need at the ceiling, plus start-up.
                needed = 4 * scenario.posts / scenario.limit * scenario.fake_window
                done = wait_until(finished, due.timestamp() - time.time() + 30 + 3 * needed, interval=1.0)
                counts, finished_at = statuses(url)
                found = [log_problems(app) for app in apps]
                problems = {kind: sum(f[kind] for f in found) for kind in found[0]}
            finally:
                for app in apps:
                    app.stop()
            requests = fake.requests()
            limited = fake.rate_limited
    finally:
        stop_fakes(fakes)
    result = summarise(
        scenario, due.timestamp(), ready, requests, limited, counts, finished_at, done, problems
    )
    result["replicas"] = replicas
    return result


def summarise(
    scenario: Scenario,
    due: float,
    ready: float,
    requests: list[dict[str, Any]],
    limited: int,
    counts: dict[str, int],
    finished_at: list[float],
    done: bool,
    problems: dict[str, int],
) -> dict[str, Any]:
    window = scenario.fake_window
    times = sorted(r["at"] for r in requests)
    creates = sorted(r["at"] for r in requests if _is_create(scenario.provider, r))
    kinds: dict[str, int] = {}
    for request in requests:
        kinds[request["endpoint"]] = kinds.get(request["endpoint"], 0) + 1
    # The burst's requests, in windows of the fake's length from the first of them. Every window but the
    # last (which holds whatever was left) had more work waiting than the budget allowed, so at the
    # ceiling each holds `limit` requests.
    busy = [t for t in times if t >= due]
    counts_per_window = _per_window(busy, window)
    full = counts_per_window[:-1]
    per_window = sum(full) / len(full) if full else None
    live = counts.get(PostStatus.PUBLISHED.value, 0)
    last_finish = max(finished_at) if finished_at else None
    handed_over = (creates[-1] - due) if creates else None
    return {
        "provider": scenario.provider,
        "posts": scenario.posts,
        "accounts": scenario.accounts,
        "real_limit": f"{scenario.limit} requests / {scenario.window:g} s",
        "scale": scenario.scale,
        "fake_limit": f"{scenario.limit} requests / {window:g} s",
        "app_ready_before_due_s": due - ready,
        "rate_limited_429": limited,
        "requests": len(requests),
        "requests_by_endpoint": kinds,
        "requests_per_post": len(busy) / scenario.posts,
        "busiest_window": busiest_window(times, window),
        "window_counts": counts_per_window,
        "requests_per_window": per_window,
        "ceiling_per_window": scenario.limit,
        "share_of_ceiling": per_window / scenario.limit if per_window is not None else None,
        "all_handed_over_s": handed_over,
        "all_final_s": (last_finish - due) if last_finish is not None and done else None,
        "create_lateness_s": percentiles([t - due for t in creates]),
        "posts_per_s": live / (last_finish - due) if last_finish and last_finish > due else None,
        "statuses": counts,
        "published": live,
        "finished_in_time": done,
        "goal": "0 429s; requests per window within 10% of the limit",
        "goal_met": limited == 0 and per_window is not None and per_window >= 0.9 * scenario.limit,
        "app_log": problems,
    }


def _per_window(times: Sequence[float], window: float) -> list[int]:
    """How many of `times` fell in each `window`-long stretch, from the first of them."""
    if not times:
        return []
    first = min(times)
    counts = [0] * (int((max(times) - first) // window) + 1)
    for at in times:
        counts[int((at - first) // window)] += 1
    return counts


def _is_create(provider: str, request: dict[str, Any]) -> bool:
    if provider == "publer":
        return request["method"] == "POST" and str(request["endpoint"]).startswith("posts/schedule")
    return bool(request["endpoint"] == "create-post")


def print_report(result: dict[str, Any]) -> None:
    print(f"Rate-limit ceiling — {result['database']}, size {result['size']}")
    print(f"  posts: {result['how_posts_were_created']}")
    print(f"  clock: {result['clock']}")
    for run in result["runs"]:
        scale = run["scale"]
        print()
        print(
            f"{run['provider'].capitalize()}: {run['posts']} posts due at once, {run['accounts']} accounts, "
            f"{run.get('replicas', 1)} replica(s); "
            f"real limit {run['real_limit']}, fake {run['fake_limit']} ({scale:g}× clock)"
        )
        rows = [
            ("429s received", f"{run['rate_limited_429']}", "goal 0"),
            (
                "requests per full window",
                _num(run["requests_per_window"], ".1f"),
                f"ceiling {run['ceiling_per_window']} (share {_num(run['share_of_ceiling'], '.1%')})",
            ),
            ("busiest window", f"{run['busiest_window']}", f"limit {run['ceiling_per_window']}"),
            ("requests / post", f"{run['requests_per_post']:.2f}", _endpoints(run["requests_by_endpoint"])),
            ("all handed over", _secs(run["all_handed_over_s"], scale), ""),
            ("all live or final", _secs(run["all_final_s"], scale), ""),
            (
                "posts live per second",
                _num(run["posts_per_s"], ".2f"),
                f"= {_num(run['posts_per_s'] and run['posts_per_s'] * 60 / scale, '.1f')} per real minute",
            ),
            ("published", f"{run['published']}/{run['posts']}", str(run["statuses"])),
        ]
        for name, value, note in rows:
            print(f"  {name:<24} {value:>16}   {note}")
        print(f"  goal met: {'yes' if run['goal_met'] else 'NO'}")
        if run["app_ready_before_due_s"] < 1:
            early = run["app_ready_before_due_s"]
            print(f"  WARNING: the app was ready only {early:.1f} s before the posts were due")
        if run["app_log"]["tracebacks"]:
            print(f"  WARNING: {run['app_log']['tracebacks']} tracebacks in the app's log")


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _secs(value: float | None, scale: float) -> str:
    return "—" if value is None else f"{value:.1f} s (real {value * scale / 60:.1f} min)"


def _endpoints(kinds: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))


def run(size: str, database: str, results_dir: Path = RESULTS_DIR, replicas: int = 1) -> dict[str, Any]:
    if replicas > 1 and database != "postgres":
        raise SystemExit("several replicas need --database postgres (SQLite has one dispatcher)")
    runs = []
    with tempfile.TemporaryDirectory(prefix="postgate-bench-") as tmp:
        for scenario in SIZES[size]:
            workdir = Path(tmp) / scenario.provider
            workdir.mkdir()
            runs.append(run_scenario(database, scenario, workdir, replicas))
    command = f"python -m bench.rate_ceiling --size {size} --database {database}"
    result = {
        "bench": "rate_ceiling",
        "command": command + (f" --replicas {replicas}" if replicas > 1 else ""),
        "database": database,
        "replicas": replicas,
        "size": size,
        "machine": machine(),
        "how_posts_were_created": (
            "drafted and approved before the app started, through Postgate's PostService.create and "
            "PostService.approve; the app process then submitted and followed them over HTTP"
        ),
        "clock": (
            "compressed: the fake's window, Postgate's budget for it and Postgate's status-poll, sweep and "
            "retry periods are divided by the scale; seconds × scale = real seconds, requests per window "
            "are unchanged"
        ),
        "runs": runs,
    }
    name = "rate_ceiling" if replicas == 1 else f"rate_ceiling-{replicas}replicas"
    result["json"] = str(write_result(name, database, size, result, results_dir))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--replicas", type=int, default=1, help="app processes sharing the database")
    args = parser.parse_args(argv)
    result = run(args.size, args.database, args.results_dir, args.replicas)
    print_report(result)
    print(f"\nfigures written to {result['json']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
