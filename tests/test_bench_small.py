"""Every benchmark in `bench/` still runs, at its small size: each test runs one as its command would and
checks that it produced sane figures (counts, shapes, the JSON file), never how fast anything was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_data_scale_runs_at_small_size(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from bench import data_scale

    if database == "postgres":
        request.getfixturevalue("postgres_url")  # skips without PostgreSQL
    assert data_scale.main(["--size", "small", "--database", database, "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / f"data_scale-{database}-small.json").read_text())

    seed = result["seed"]
    assert seed["rows"]["post"] == sum(seed["posts_by_status"].values()) == data_scale.SIZES["small"].posts
    assert seed["posts_by_status"]["pending_approval"] == data_scale.SIZES["small"].pending
    for name, figures in [*result["in_process"].items(), *result["http"].items()]:
        assert figures["calls"] == data_scale.SIZES["small"].calls, name
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"], name
    # A handful of statements per request, whatever the number of posts it shows.
    for name in ("app_home_approver", "app_home_author", "post_list_approver", "post_list_author"):
        assert 0 < result["in_process"][name]["statements"] <= 30, name
    assert set(result["http"]) == {
        "app_home_approver",
        "app_home_author",
        "post_list_approver",
        "post_list_author",
    }
    for name, plans in result["plans"].items():
        assert plans and all(plan["plan"] for plan in plans), name
        if database == "sqlite":  # no statistics, so the plans do not depend on the table sizes
            assert not any("post" in plan["full_scans"] for plan in plans), (name, plans)
    assert result["plans"]["claim_due_posts.batch_due"][0]["indexes"]


def test_footprint_runs_at_small_size(tmp_path: Path) -> None:
    from bench import footprint

    assert footprint.main(["--size", "small", "--database", "sqlite", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "footprint-sqlite-small.json").read_text())

    size = footprint.SIZES["small"]
    assert len(result["startup"]["starts_s"]) == size.starts
    assert result["startup"]["first_start_with_migrations_s"] > 0 and result["startup"]["median_s"] > 0
    burst = result["burst"]
    assert burst["posts_published"] == size.posts
    assert burst["signed_requests"] == {
        "slash_commands": size.posts + size.extra_requests // 2,
        "view_submissions": size.posts,
        "button_clicks": size.posts,
        "events": size.extra_requests // 2,
    }
    assert result["floor"]["requests"] == burst["signed_requests_total"]
    for figures in (*result["memory"].values(), result["floor"]["idle"], result["floor"]["after_burst"]):
        assert 0 < figures["rss_mb"] <= figures["hwm_mb"]
    assert result["import_time"]["run"]["total_ms"] > result["import_time"]["help"]["total_ms"] > 0


def test_punctuality_runs_at_small_size(tmp_path: Path) -> None:
    from bench import punctuality

    assert punctuality.main(["--size", "small", "--database", "sqlite", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "punctuality-sqlite-small.json").read_text())

    size = punctuality.SIZES["small"]
    single, burst = result["single"], result["burst"]
    assert single["posts"] == single["submitted"] == size["singles"]
    assert burst["posts"] == burst["submitted"] == size["burst"]
    assert single["extra_creates"] == burst["extra_creates"] == 0
    for lateness in (single["lateness_s"], burst["lateness_s"]):
        assert lateness["p50"] <= lateness["p95"] <= lateness["p99"] <= lateness["max"]
    assert burst["throughput_posts_per_s"] > 0 and burst["floor"]["floor_posts_per_s"] > 0
    assert 0 <= burst["order"]["displaced_beyond_pool_width"] <= burst["posts"]
    assert single["app_log"]["tracebacks"] == burst["app_log"]["tracebacks"] == 0
    links = result["links"]
    assert links["posts"] == links["reported_in_thread"] == links["published_at_fake"] == size["links"]
    delays = links["live_to_thread_s"]
    assert 0 < delays["p50"] <= delays["p90"] <= delays["p99"] <= delays["max"]
    assert links["app_log"]["tracebacks"] == 0


def test_rate_ceiling_runs_at_small_size(tmp_path: Path) -> None:
    from bench import rate_ceiling

    assert rate_ceiling.main(["--size", "small", "--database", "sqlite", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "rate_ceiling-sqlite-small.json").read_text())

    runs = {run["provider"]: run for run in result["runs"]}
    assert set(runs) == {"publer", "postoria"}
    for scenario in rate_ceiling.SIZES["small"]:
        run = runs[scenario.provider]
        assert run["published"] == run["posts"] == scenario.posts
        assert run["busiest_window"] <= scenario.limit  # the fake would have answered 429 beyond it
        assert run["rate_limited_429"] == 0
        assert sum(run["window_counts"]) >= 2 * scenario.posts  # a create and a status check per post
        assert run["app_log"]["tracebacks"] == 0


@pytest.mark.postgres
def test_rate_ceiling_with_three_replicas_stays_under_one_shared_limit(
    tmp_path: Path, postgres_url: str
) -> None:
    from bench import rate_ceiling

    argv = ["--size", "small", "--database", "postgres", "--replicas", "3", "--results-dir", str(tmp_path)]
    assert rate_ceiling.main(argv) == 0
    result = json.loads((tmp_path / "rate_ceiling-3replicas-postgres-small.json").read_text())

    assert result["replicas"] == 3
    for run in result["runs"]:
        assert run["published"] == run["posts"]
        # Each replica is configured with the whole limit; three in-process budgets would spend 3×.
        assert run["busiest_window"] <= rate_ceiling.SIZES["small"][0].limit
        assert run["rate_limited_429"] == 0
        assert run["app_log"]["tracebacks"] == 0


def test_ack_latency_runs_at_small_size(tmp_path: Path) -> None:
    from bench import ack_latency

    assert ack_latency.main(["--size", "small", "--database", "sqlite", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "ack_latency-sqlite-small.json").read_text())

    per_kind = ack_latency.SIZES["small"].per_kind
    assert sum(result["mix"].values()) == 3 * per_kind
    for phase, targets in result["phases"].items():
        expected = {name for name, floor in ack_latency.FLOORS.items() if phase in floor[3]} | {"postgate"}
        assert set(targets) == expected, phase
        for name, figures in targets.items():
            assert figures["problems"] == [], (phase, name)  # every request answered 200, as it should be
            for kind in ack_latency.KINDS:
                latency = figures["latency"][kind]
                assert latency["count"] == per_kind, (phase, name, kind)
                assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    # Every request did what a user would see: composers opened, refusals and lists told, decisions stored.
    effects = result["postgate_effects"]
    assert effects["ok"], effects
    assert result["goal"]["fastest_floor"] in ack_latency.FLOORS
