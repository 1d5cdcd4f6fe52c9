"""deploy/docker-compose.yml cannot run here (no registry images), so this checks what it promises against
what the rest of the suite proves: only commands the tests run, PostgreSQL for every replica, HTTP mode,
rate budgets shared out so the replicas together stay within each provider's limit, and a load balancer
that knows every replica."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.providers.ratelimit import RateLimit
from bot.settings import DEFAULT_POSTORIA_RATE_LIMIT, DEFAULT_PUBLER_RATE_LIMIT

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
# The commands the suite runs as processes: `migrate` in tests/db/test_migrations.py and
# tests/test_settings_and_cli.py, `run` in every e2e test (tests/e2e/harness.py).
TESTED_COMMANDS = {("postgate", "migrate"), ("postgate", "run")}


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def postgate_services() -> dict[str, dict]:  # type: ignore[type-arg]
    return {name: s for name, s in compose()["services"].items() if s.get("build") == ".."}


def test_every_postgate_command_is_one_the_tests_run() -> None:
    services = postgate_services()
    assert {tuple(s["command"]) for s in services.values()} <= TESTED_COMMANDS
    replicas = [name for name, s in services.items() if tuple(s["command"]) == ("postgate", "run")]
    assert len(replicas) >= 2
    for name in replicas:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_replicas_share_one_postgresql_database_in_http_mode() -> None:
    services = postgate_services()
    urls = {s["environment"]["DATABASE_URL"] for s in services.values()}
    assert len(urls) == 1 and urls.pop().startswith("postgresql+psycopg://")
    for service in services.values():
        assert "SLACK_APP_TOKEN" not in service["environment"]  # Socket Mode does not spread over replicas


def test_every_replica_is_given_the_whole_deployments_rate_limit() -> None:
    # The replicas share one budget per provider through PostgreSQL (bot.db.rate_budget), so a share per
    # replica would only leave most of the provider's limit unused.
    services = postgate_services()
    replicas = [s for s in services.values() if tuple(s["command"]) == ("postgate", "run")]
    assert len(replicas) >= 2
    for name, documented in (
        ("PUBLER_RATE_LIMIT", DEFAULT_PUBLER_RATE_LIMIT),
        ("POSTORIA_RATE_LIMIT", DEFAULT_POSTORIA_RATE_LIMIT),
    ):
        for service in replicas:
            assert RateLimit.parse(service["environment"][name]) == RateLimit.parse(documented)


def test_the_load_balancer_sends_to_every_replica_and_checks_their_health() -> None:
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    replicas = [n for n, s in postgate_services().items() if tuple(s["command"]) == ("postgate", "run")]
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams is not None
    assert sorted(u.split(":")[0] for u in upstreams.group(1).split()) == sorted(replicas)
    assert "health_uri /healthz" in caddyfile and "lb_try_duration" in caddyfile
