"""Issue 6, benchmark 4: App Home, `/post list` and the dispatcher's claim queries with many posts.

Seeds a fresh database: Postgate's own migrations, then bulk inserts into its tables of rows shaped the way
the app writes them (posts in every status, mostly final, a few hundred waiting or scheduled; versions,
decisions, publish attempts, per-account results, the audit trail and the delivered outbox). Then measures:

* in-process, on the object graph `bot.main.build` makes: each request's server-side work (App Home: the
  read model and the rendered view, up to the `views.publish` call; `/post list`: the lists and the message
  the acknowledgement carries), its parts, and how many SQL statements it runs;
* over HTTP, against `python -m bot run` as its own process and the fake Slack: from the signed request to
  the `views.publish` call reaching the fake Slack (App Home), or to the list reaching Slack (`/post list`:
  in the acknowledgement, or posted to the command's response_url after it);
* the plan of every statement those requests run (EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS)
  on PostgreSQL) and the indexes it uses.

    python -m bench.data_scale [--size small|full] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, text
from sqlmodel import Session

from bot.db import repo
from bot.db.engine import Database, for_writing, make_engine
from bot.db.migrate import upgrade
from bot.db.tables import (
    AccountResult,
    AuditEvent,
    Decision,
    OutboxMessage,
    Post,
    PostVersion,
    PublishAttempt,
)
from bot.domain.model import PostStatus
from bot.services.snapshot import content_hash

RESULTS = Path(__file__).parent / "results"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_MS = 50.0
TEAM = "T0POSTGATE"  # the fake Slack's workspace
CHANNEL = "C0APPROVALS"
AUTHOR, APPROVER = "U0AUTHOR", "U0ANA"  # users the fake Slack knows (tests/e2e/test_providers.make_fakes)
OWNER = "bench-dispatcher"


@dataclass(frozen=True)
class Size:
    posts: int
    authors: int
    #: Posts still in play; every other post is final (published, rejected, …).
    pending: int
    changes_requested: int
    approved: int
    submitted: int
    missed: int
    #: Timed calls per in-process measure and per HTTP measure (after two warm-up calls).
    calls: int


SIZES = {
    "small": Size(
        posts=2_000,
        authors=20,
        pending=60,
        changes_requested=10,
        approved=40,
        submitted=10,
        missed=10,
        calls=10,
    ),
    "full": Size(
        posts=100_000,
        authors=200,
        pending=300,
        changes_requested=60,
        approved=300,
        submitted=60,
        missed=200,
        # Enough for a p95 that is not just the second-slowest call on a machine shared with others.
        calls=100,
    ),
}

# Shares of the final posts; the rest are published.
FINAL_SHARES = {
    PostStatus.REJECTED: 0.06,
    PostStatus.WITHDRAWN: 0.03,
    PostStatus.CANCELLED: 0.015,
    PostStatus.PARTIALLY_PUBLISHED: 0.008,
    PostStatus.FAILED: 0.008,
    PostStatus.NEEDS_ATTENTION: 0.001,
}

ACCOUNTS: list[dict[str, Any]] = [
    {"provider": "publora", "account_id": "pl-tw-1111", "network": "twitter", "name": "Acme on X"},
    {"provider": "publora", "account_id": "pl-li-2222", "network": "linkedin", "name": "Acme Inc"},
    {"provider": "publora", "account_id": "pl-th-3333", "network": "threads", "name": "acme.threads"},
    {"provider": "publer", "account_id": "pb-ig-4444", "network": "instagram", "name": "acme.ig"},
    {"provider": "publer", "account_id": "pb-fb-5555", "network": "facebook", "name": "Acme Page"},
    {"provider": "postoria", "account_id": "77", "network": "bluesky", "name": "acme.bsky.social"},
    {"provider": "postoria", "account_id": "78", "network": "mastodon", "name": "@acme@mastodon.social"},
]

SENTENCES = [
    "We just shipped the new dashboard: faster charts, saved filters and a dark mode people asked for.",
    "Join us on Thursday for a live Q&A with the team behind the release.",
    "Three lessons from a year of running our support team fully remote.",
    "Our spring collection is here. Limited sizes, so be quick!",
    "Hiring: senior backend engineer, Berlin or remote (EU time zones). Link in the comments.",
    "Thank you to the 10,000 customers who trusted us this year.",
    "Read the case study: how a 12-person team cut their release time in half.",
    "Maintenance window tonight 22:00-23:00 UTC; the API stays up, the web app may blink.",
]


# --- seeding ------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    posts: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    results: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    outbox: list[dict[str, Any]]

    @classmethod
    def empty(cls) -> _Rows:
        return cls([], [], [], [], [], [], [])

    def tables(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        return [
            (Post.__table__, self.posts),  # type: ignore[attr-defined]
            (PostVersion.__table__, self.versions),  # type: ignore[attr-defined]
            (Decision.__table__, self.decisions),  # type: ignore[attr-defined]
            (PublishAttempt.__table__, self.attempts),  # type: ignore[attr-defined]
            (AccountResult.__table__, self.results),  # type: ignore[attr-defined]
            (AuditEvent.__table__, self.audit),  # type: ignore[attr-defined]
            (OutboxMessage.__table__, self.outbox),  # type: ignore[attr-defined]
        ]


def _insert(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL (several times faster than multi-row INSERTs), else executemany."""
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    from psycopg.types.json import Json
    from sqlalchemy import JSON

    names = list(rows[0])
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [Json(row[n]) if n in json_columns and row[n] is not None else row[n] for n in names]
            )


class Seeder:
    """Generates the rows deterministically (seeded RNG) and bulk-inserts them in chunks of posts."""

    CHUNK = 2_000

    def __init__(self, size: Size, *, now: datetime, seed: int = 6) -> None:
        self.size = size
        self.now = now
        self.rng = random.Random(seed)
        self.authors = [AUTHOR] + [f"U0W{n:05d}" for n in range(1, size.authors)]
        self.approvers = [APPROVER, APPROVER, APPROVER, "U0APPR2", "U0APPR3"]
        self.ids = Counter[str]()
        self.statuses = Counter[str]()

    def plan(self) -> list[PostStatus]:
        """Every post's status by id: final posts are older; the ones still in play are among the newest."""
        size, rng = self.size, self.rng
        active = (
            [PostStatus.PENDING_APPROVAL] * size.pending
            + [PostStatus.CHANGES_REQUESTED] * size.changes_requested
            + [PostStatus.APPROVED] * size.approved
            + [PostStatus.SUBMITTED] * size.submitted
            + [PostStatus.MISSED] * size.missed
        )
        finals_count = size.posts - len(active)
        finals: list[PostStatus] = []
        for status, share in FINAL_SHARES.items():
            finals += [status] * int(finals_count * share)
        finals += [PostStatus.PUBLISHED] * (finals_count - len(finals))
        rng.shuffle(finals)
        # The newest stretch mixes posts still in play with ones that finished lately.
        tail_length = min(len(finals), len(active) * 2)
        tail = active + finals[len(finals) - tail_length :]
        rng.shuffle(tail)
        return finals[: len(finals) - tail_length] + tail

    def _next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _author_for(self, status: PostStatus) -> str:
        if status in (PostStatus.PENDING_APPROVAL, PostStatus.CHANGES_REQUESTED) and self.rng.random() < 0.08:
            return AUTHOR
        return self.rng.choice(self.authors)

    def _past(self, moment: datetime) -> datetime:
        return min(moment, self.now - timedelta(minutes=1))

    def seed(self, engine: Engine) -> dict[str, Any]:
        started = time.perf_counter()
        statuses = self.plan()
        span = timedelta(days=730)
        for first in range(0, len(statuses), self.CHUNK):
            rows = _Rows.empty()
            for offset, status in enumerate(statuses[first : first + self.CHUNK]):
                position = first + offset
                created = self.now - span + span * (position / len(statuses)) - timedelta(days=1)
                self._post(rows, status, created)
            with for_writing(engine).begin() as connection:
                for table, batch in rows.tables():
                    if batch:
                        _insert(connection, table, batch)
        self._after_seeding(engine)
        return {
            "seconds": round(time.perf_counter() - started, 1),
            "rows": dict(self.ids),
            "posts_by_status": dict(sorted(self.statuses.items(), key=lambda kv: -kv[1])),
        }

    def _after_seeding(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            return  # SQLite: left without ANALYZE, as Postgate leaves it in production
        with engine.begin() as connection:
            # The ids were given explicitly: move each sequence past them, as the app's inserts need.
            for table in self.ids:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
        # What autovacuum does after a bulk load (statistics, visibility map), done now.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))

    def _post(self, rows: _Rows, status: PostStatus, created: datetime) -> None:
        rng, now = self.rng, self.now
        post_id = self._next_id("post")
        self.statuses[status.value] += 1
        author = self._author_for(status)
        targets = rng.sample(ACCOUNTS, rng.choice((1, 1, 2, 2, 3)))
        versions = 2 if rng.random() < 0.15 else 1
        approver = rng.choice(self.approvers)
        requested = created + timedelta(hours=rng.uniform(1, 72)) if rng.random() < 0.6 else None
        approved_at = created + timedelta(minutes=rng.uniform(10, 360))
        ts = f"{created.timestamp():.6f}"
        post: dict[str, Any] = {
            "id": post_id,
            "team_id": TEAM,
            "author_id": author,
            "author_tz": rng.choice(("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")),
            "approval_channel_id": CHANNEL,
            "message_ts": ts,
            "permalink": f"https://postgate-test.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}",
            "status": status.value,
            "version": versions,
            "required_approvals": 1,
            "requested_time": requested,
            "publish_at": None,
            "next_action_at": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "claims": 0,
            "polls": 0,
            "last_error": None,
            "created_at": created,
            "updated_at": created,
            "finished_at": None,
            "approved_version": None,
            "approved_hash": None,
            "attempt_round": 1,
            "next_reminder_at": None,
            "reminders_sent": 0,
        }
        hashes = [self._version(rows, post_id, n, author, targets, created) for n in range(1, versions + 1)]
        audit = [("created", None, PostStatus.PENDING_APPROVAL.value, created)]
        outbox = ["approval_request", "author_confirmation"]
        if versions == 2:
            changes_at = created + timedelta(minutes=5)
            self._decision(rows, post_id, 1, approver, "request_changes", "Shorter, please.", changes_at)
            audit += [
                ("changes_requested", "pending_approval", "changes_requested", changes_at),
                ("edited", "changes_requested", "pending_approval", changes_at + timedelta(minutes=5)),
            ]
            outbox += ["root_refresh", "thread_reply", "dm", "root_refresh", "thread_reply"]
            approved_at += timedelta(minutes=10)

        def approve() -> None:
            self._decision(rows, post_id, versions, approver, "approve", None, approved_at)
            post.update(approved_version=versions, approved_hash=hashes[-1])
            audit.append(("approved", "pending_approval", "approved", approved_at))
            outbox.extend(["root_refresh", "thread_reply", "dm"])

        if status is PostStatus.PENDING_APPROVAL:
            post["requested_time"] = (
                now + timedelta(hours=rng.uniform(2, 14 * 24)) if rng.random() < 0.5 else None
            )
        elif status is PostStatus.CHANGES_REQUESTED:
            at = self._past(created + timedelta(minutes=30))
            self._decision(rows, post_id, versions, approver, "request_changes", "Add the link.", at)
            audit.append(("changes_requested", "pending_approval", "changes_requested", at))
            outbox += ["root_refresh", "thread_reply", "dm"]
        elif status is PostStatus.MISSED:
            post["requested_time"] = self._past(created + timedelta(hours=rng.uniform(1, 20)))
            audit.append(("missed", "pending_approval", "missed", post["requested_time"]))
            outbox += ["root_refresh", "thread_reply", "dm"]
        elif status is PostStatus.REJECTED:
            at = self._past(approved_at)
            self._decision(rows, post_id, versions, approver, "reject", "Off-brand.", at)
            post["finished_at"] = at
            audit.append(("rejected", "pending_approval", "rejected", at))
            outbox += ["root_refresh", "thread_reply", "dm"]
        elif status is PostStatus.WITHDRAWN:
            post["finished_at"] = self._past(created + timedelta(minutes=rng.uniform(1, 120)))
            audit.append(("withdrawn", "pending_approval", "withdrawn", post["finished_at"]))
            outbox += ["root_refresh", "thread_reply"]
        elif status is PostStatus.CANCELLED:
            approved_at = self._past(approved_at)
            approve()
            post["finished_at"] = self._past(approved_at + timedelta(minutes=rng.uniform(1, 600)))
            audit.append(("cancelled", "approved", "cancelled", post["finished_at"]))
            outbox += ["root_refresh", "thread_reply", "dm"]
        elif status is PostStatus.APPROVED:
            approved_at = self._past(approved_at)
            approve()
            post["publish_at"] = post["next_action_at"] = now + timedelta(
                minutes=rng.uniform(10, 30 * 24 * 60)
            )
            post["requested_time"] = post["publish_at"] if rng.random() < 0.8 else None
        elif status is PostStatus.SUBMITTED:
            approved_at = self._past(approved_at)
            approve()
            post["publish_at"] = now + timedelta(hours=rng.uniform(1, 7 * 24))
            post["next_action_at"] = post["publish_at"] + timedelta(seconds=30)
            post["claims"] = 1
            self._attempts(rows, post, targets, approved_at, outcome="accepted")
            audit.append(("handed_to_provider", "publishing", "submitted", approved_at))
            outbox.append("root_refresh")
        else:  # published, partially published, failed, needs attention
            approved_at = self._past(approved_at)
            approve()
            publish_at = self._past(max(requested or approved_at, approved_at))
            finished = self._past(publish_at + timedelta(seconds=rng.uniform(20, 600)))
            post.update(publish_at=publish_at, finished_at=finished, claims=1, polls=rng.randint(1, 3))
            self._attempts(rows, post, targets, publish_at, outcome=status.value)
            if status is not PostStatus.PUBLISHED:
                post["last_error"] = "The provider refused the post: media too large for this network."
            audit.append(("handed_to_provider", "publishing", "submitted", publish_at))
            audit.append((status.value, "submitted", status.value, finished))
            outbox += ["root_refresh", "root_refresh", "thread_reply", "dm"]
        post["updated_at"] = max([post["updated_at"]] + [a[3] for a in audit])
        rows.posts.append(post)
        for action, before, after, at in audit:
            rows.audit.append(
                {
                    "id": self._next_id("audit_event"),
                    "post_id": post_id,
                    "actor": author if action in ("created", "edited", "withdrawn") else approver,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "detail": None,
                    "created_at": at,
                }
            )
        sent = self._past(post["updated_at"])
        for kind in outbox:
            rows.outbox.append(
                {
                    "id": self._next_id("outbox_message"),
                    "post_id": post_id,
                    "kind": kind,
                    "payload": {"message": {"text": f"Post #{post_id}: {kind.replace('_', ' ')}"}}
                    if kind in ("thread_reply", "dm")
                    else {},
                    "status": "sent",
                    "attempts": 1,
                    "next_attempt_at": sent,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "last_error": None,
                    "created_at": sent,
                    "sent_at": sent,
                }
            )

    def _version(
        self,
        rows: _Rows,
        post_id: int,
        number: int,
        author: str,
        targets: list[dict[str, Any]],
        created: datetime,
    ) -> str:
        body = " ".join(self.rng.sample(SENTENCES, 2))
        content = f"#{post_id} {body}" + (" (edited)" if number > 1 else "")
        fingerprint = content_hash(
            text=content, targets=targets, media=[], queue=None, overrides=None, first_comment=None
        )
        rows.versions.append(
            {
                "id": self._next_id("post_version"),
                "post_id": post_id,
                "version": number,
                "text": content,
                "targets": targets,
                "media": [],
                "queue": None,
                "overrides": None,
                "first_comment": None,
                "content_hash": fingerprint,
                "created_by": author,
                "created_at": created + timedelta(minutes=10 * (number - 1)),
            }
        )
        return fingerprint

    def _decision(
        self, rows: _Rows, post_id: int, version: int, user: str, kind: str, comment: str | None, at: datetime
    ) -> None:
        rows.decisions.append(
            {
                "id": self._next_id("decision"),
                "post_id": post_id,
                "version": version,
                "user_id": user,
                "kind": kind,
                "comment": comment,
                "created_at": at,
            }
        )

    def _attempts(
        self, rows: _Rows, post: dict[str, Any], targets: list[dict[str, Any]], at: datetime, *, outcome: str
    ) -> None:
        by_provider: dict[str, list[str]] = {}
        for target in targets:
            by_provider.setdefault(target["provider"], []).append(target["account_id"])
        finished = post["finished_at"]
        for index, (provider, accounts) in enumerate(sorted(by_provider.items())):
            attempt_id = self._next_id("publish_attempt")
            failed = outcome == "failed" or (outcome == "partially_published" and index == 0)
            attempt_status = {
                "accepted": "accepted",
                "needs_attention": "unknown",
            }.get(outcome, "failed" if failed else "finished")
            rows.attempts.append(
                {
                    "id": attempt_id,
                    "post_id": post["id"],
                    "version": post["version"],
                    "round": 1,
                    "provider": provider,
                    "variant": "",
                    "text": None,
                    "first_comment": None,
                    "account_ids": accounts,
                    "idempotency_key": f"pg-{post['id']}-{post['version']}-{provider}-{attempt_id}",
                    "publish_time": post["publish_at"] or at,
                    "status": attempt_status,
                    "tries": 1,
                    "maybe_received": False,
                    "external_id": f"{provider}-{attempt_id:08d}",
                    "error": "media too large" if failed else None,
                    "created_at": at,
                    "submitted_at": at,
                    "finished_at": finished if attempt_status in ("finished", "failed") else None,
                    "last_try_at": at,
                }
            )
            if attempt_status not in ("finished", "failed"):
                continue
            for account in accounts:
                rows.results.append(
                    {
                        "id": self._next_id("account_result"),
                        "attempt_id": attempt_id,
                        "post_id": post["id"],
                        "account_id": account,
                        "status": "failed" if failed else "published",
                        "url": None
                        if failed
                        else f"https://social.example/{provider}/{account}/{attempt_id}",
                        "error": "media too large" if failed else None,
                        "updated_at": finished,
                    }
                )


# --- measuring ----------------------------------------------------------------------------------------


class StatementLog:
    """Every SQL statement the engine sends while `recording`, with its parameters (for EXPLAIN)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.recording = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if self.recording:
            self.statements.append((statement, parameters))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
        "calls": len(ordered),
    }


def timed(fn: Callable[[], Any], calls: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def rolled_back(db: Database, work: Callable[[Session], Any]) -> Callable[[], Any]:
    """`work` in a writing transaction that is rolled back, so a claim can be timed again and again."""

    def run() -> Any:
        with Session(for_writing(db.engine)) as session:
            try:
                return work(session)
            finally:
                session.rollback()

    return run


_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)|USING (INTEGER PRIMARY KEY)")
_PG_INDEX = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """The plan of each distinct statement, with the indexes it uses and any full scan or sort it needs."""
    seen: set[str] = set()
    plans = []
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            for statement, parameters in statements:
                if statement in seen or not statement.lstrip().upper().startswith(
                    ("SELECT", "UPDATE", "WITH")
                ):
                    continue
                seen.add(statement)
                plans.append(_plan(connection, statement, parameters))
        finally:
            transaction.rollback()  # EXPLAIN ANALYZE runs an UPDATE for real on PostgreSQL
    return plans


def _plan(connection: Any, statement: str, parameters: Any) -> dict[str, Any]:
    sql = " ".join(statement.split())
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        depth: dict[int, int] = {0: -1}
        lines = []
        for node_id, parent, _unused, detail in rows:
            depth[node_id] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node_id] + str(detail))
        indexes = sorted({m.group(1) or m.group(2) for line in lines for m in _SQLITE_INDEX.finditer(line)})
        full_scans = sorted(
            {line.split()[1] for line in lines if line.strip().startswith("SCAN ") and "USING" not in line}
        )
        sorts = any("TEMP B-TREE" in line for line in lines)
    else:
        rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        lines = [str(row[0]) for row in rows]
        indexes = sorted({m.group(1) for line in lines for m in _PG_INDEX.finditer(line)})
        full_scans = sorted(
            {line.split("Seq Scan on ")[1].split()[0] for line in lines if "Seq Scan on " in line}
        )
        sorts = any(re.search(r"->\s+(Incremental )?Sort|^\s*Sort", line) for line in lines)
    return {"sql": sql, "indexes": indexes, "full_scans": full_scans, "sorts": sorts, "plan": lines}


# --- the run ------------------------------------------------------------------------------------------


def _proc_field(path: str, prefix: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), "")


def machine() -> dict[str, Any]:
    cpu = _proc_field("/proc/cpuinfo", "model name")
    memory = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


@contextmanager
def fresh_database(database: str, workdir: Path) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'postgate.db'}"
        return
    from tests.conftest import drop_postgres_database, fresh_postgres_database

    admin = os.environ.get("POSTGATE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    url, name = fresh_postgres_database(admin)
    try:
        yield url
    finally:
        drop_postgres_database(admin, name)


def run(size_name: str, database: str) -> dict[str, Any]:
    # Imported here: the fakes and the app graph are only needed once a run starts.
    from bot.main import build
    from bot.settings import Settings
    from bot.slack.listeners.common import publish_home
    from bot.slack.views.home import build_home
    from bot.slack.views.lists import build_list_message
    from tests.e2e.test_providers import app_env, make_fakes

    size = SIZES[size_name]
    result: dict[str, Any] = {
        "bench": "data_scale",
        "database": database,
        "size": size_name,
        "machine": machine(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="postgate-bench-"))
    fakes = make_fakes()
    try:
        with fresh_database(database, workdir) as url:
            engine = make_engine(url)
            db = Database(engine)
            upgrade(engine)
            now = datetime.now(UTC)
            result["seed"] = Seeder(size, now=now).seed(engine)
            if engine.dialect.name == "postgresql":
                with engine.connect() as connection:
                    result["machine"]["postgresql"] = connection.execute(text("SHOW server_version")).scalar()
            env = app_env(fakes, url)
            app = build(Settings(_env_file=None, **env), database=db)  # type: ignore[call-arg]
            # As `postgate run` does once started (bot.main.run): start-up's objects out of the GC's way.
            gc.collect()
            gc.freeze()
            services, client = app.services, app.bolt.client
            log = StatementLog(engine)

            def claims(due_at: datetime, which: Callable[..., list[repo.Claim]]) -> Callable[[], Any]:
                return rolled_back(
                    db,
                    lambda s: which(s, now=due_at, owner=OWNER, lease=timedelta(seconds=120), limit=20),
                )

            later = now + timedelta(days=31)
            measures: dict[str, Callable[[], Any]] = {
                # The server's part of App Home: the read model and the view, up to the views.publish call.
                "app_home_approver": lambda: build_home(
                    services.home.home_for(team_id=TEAM, user_id=APPROVER)
                ).to_dict(),
                "app_home_approver.read_model": lambda: services.home.home_for(
                    team_id=TEAM, user_id=APPROVER
                ),
                "app_home_approver.render": _render(
                    build_home, services.home.home_for(team_id=TEAM, user_id=APPROVER)
                ),
                # Slack's part (here the fake Slack's, which validates the view): the views.publish call.
                "app_home_approver.views_publish": _publish(
                    client, build_home(services.home.home_for(team_id=TEAM, user_id=APPROVER))
                ),
                # The whole listener body, views.publish included.
                "app_home_approver.handler": lambda: publish_home(
                    client, services, team_id=TEAM, user_id=APPROVER
                ),
                "app_home_author": lambda: build_home(
                    services.home.home_for(team_id=TEAM, user_id=AUTHOR)
                ).to_dict(),
                "app_home_author.read_model": lambda: services.home.home_for(team_id=TEAM, user_id=AUTHOR),
                "app_home_author.handler": lambda: publish_home(
                    client, services, team_id=TEAM, user_id=AUTHOR
                ),
                "post_list_approver": lambda: build_list_message(
                    services.posts.lists_for(team_id=TEAM, user_id=APPROVER)
                ),
                "post_list_author": lambda: build_list_message(
                    services.posts.lists_for(team_id=TEAM, user_id=AUTHOR)
                ),
                "claim_due_posts.none_due": claims(now, repo.claim_due_posts),
                "claim_due_posts.batch_due": claims(later, repo.claim_due_posts),
                "claim_follow_ups.none_due": claims(now, repo.claim_follow_ups),
                "claim_follow_ups.batch_due": claims(later, repo.claim_follow_ups),
                "next_due_time": lambda: app.dispatcher.next_due_time(),
            }
            in_process: dict[str, Any] = {}
            plans: dict[str, Any] = {}
            for name, fn in measures.items():
                with log.record() as statements:
                    outcome = fn()
                in_process[name] = summary(timed(fn, size.calls)) | {"statements": len(statements)}
                if isinstance(outcome, list):
                    in_process[name]["rows"] = len(outcome)
                if "." not in name or name.startswith(("claim", "next")):
                    plans[name] = explain(engine, statements)
            result["in_process"] = in_process
            result["plans"] = plans
            log.close()
            app.db.dispose()
            result["http"] = over_http(fakes, env, workdir, size.calls)
            engine.dispose()
    finally:
        for fake in (fakes.slack, fakes.publora, fakes.publer, fakes.postoria):
            fake.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    headline = {
        k: v["p95_ms"]
        for k, v in result["in_process"].items()
        if "." not in k or k.startswith(("claim", "next"))
    } | {f"http.{k}": v["p95_ms"] for k, v in result["http"].items()}
    result["goal_ms"] = GOAL_MS
    result["meets_goal"] = {k: v < GOAL_MS for k, v in headline.items()}
    return result


def _render(build_home: Callable[[Any], Any], data: Any) -> Callable[[], Any]:
    return lambda: build_home(data).to_dict()


def _publish(client: Any, view: Any) -> Callable[[], Any]:
    return lambda: client.views_publish(user_id=APPROVER, view=view)


def over_http(fakes: Any, env: dict[str, str], workdir: Path, calls: int) -> dict[str, Any]:
    """App Home and `/post list` against `python -m bot run`: the time the app took to answer, seen from
    Slack's side (request sent → `views.publish`, or the list, arrives at the fake Slack)."""
    from urllib.parse import urlencode

    from tests.e2e.harness import SIGNING_SECRET, AppProcess
    from tests.fakes.slack_client import SlackClient

    process = AppProcess(env=env, log_path=workdir / "postgate.log", cwd=workdir).start(timeout=60)
    client = SlackClient(app_url=process.events_url, signing_secret=SIGNING_SECRET, fake=fakes.slack)
    out: dict[str, Any] = {}
    try:
        for user, label in ((APPROVER, "approver"), (AUTHOR, "author")):
            samples = []
            for index in range(calls + 2):
                before = len(fakes.slack.arrivals("views.publish"))
                home = {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
                started = time.monotonic()
                response = client.event(home)
                assert response.status_code == 200, response.text
                arrived = _wait_for_arrival(fakes.slack, "views.publish", before)
                if index >= 2:
                    samples.append((arrived - started) * 1000)
            out[f"app_home_{label}"] = summary(samples)
        for user, label in ((APPROVER, "approver"), (AUTHOR, "author")):
            samples = []
            for index in range(calls + 2):
                form = client.slash_command_form(user, "/post", "list", channel_id="C0GENERAL")
                body = urlencode(form).encode()
                before = len(fakes.slack.arrivals("response_url"))
                started = time.monotonic()
                response = client.send_raw(body)
                acked = time.monotonic()
                assert response.status_code == 200, response.text
                # The list comes in the acknowledgement, or after it through the command's response_url.
                if b'"blocks"' in response.content:
                    done = acked
                else:
                    done = _wait_for_arrival(fakes.slack, "response_url", before)
                if index >= 2:
                    samples.append((done - started) * 1000)
            out[f"post_list_{label}"] = summary(samples)
    finally:
        client.close()
        process.stop()
    return out


def _wait_for_arrival(slack: Any, method: str, before: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = slack.arrivals(method)
        if len(arrivals) > before:
            return float(arrivals[before])
        time.sleep(0.0005)
    raise AssertionError(f"no {method} within {timeout} s")


# --- output -------------------------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    seed = result["seed"]
    lines = [
        f"data_scale: {result['database']}, size {result['size']}; "
        f"{seed['rows'].get('post', 0):,} posts seeded in {seed['seconds']} s "
        f"({sum(seed['rows'].values()):,} rows); machine: {result['machine']['cores']} cores, "
        f"{result['machine']['cpu']}",
        "posts by status: " + ", ".join(f"{k} {v:,}" for k, v in seed["posts_by_status"].items()),
        "",
        f"{'in-process (server-side)':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'SQL':>5}"
        f"  goal < {GOAL_MS:.0f} ms",
    ]
    for name, figures in result["in_process"].items():
        verdict = ""
        if "." not in name or name.startswith(("claim", "next")):
            verdict = "ok" if figures["p95_ms"] < GOAL_MS else "OVER"
        lines.append(
            f"{name:<34} {figures['p50_ms']:>8.2f} {figures['p95_ms']:>8.2f} {figures['max_ms']:>8.2f} "
            f"{figures['statements']:>5}  {verdict}"
        )
    lines += ["", f"{'over HTTP (python -m bot run)':<34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"]
    for name, figures in result["http"].items():
        verdict = "ok" if figures["p95_ms"] < GOAL_MS else "OVER"
        lines.append(
            f"{name:<34} {figures['p50_ms']:>8.2f} {figures['p95_ms']:>8.2f} {figures['max_ms']:>8.2f}"
            f"{'':>8}{verdict}"
        )
    lines += ["", "query plans (indexes used; FULL SCAN / sort flagged):"]
    for name, plans in result["plans"].items():
        lines.append(f"== {name}")
        for plan in plans:
            flags = []
            if plan["full_scans"]:
                flags.append("FULL SCAN " + ",".join(plan["full_scans"]))
            if plan["sorts"]:
                flags.append("sort")
            lines.append(
                f"  - {plan['sql'][:150]}{'…' if len(plan['sql']) > 150 else ''}\n"
                f"    indexes: {', '.join(plan['indexes']) or '(none)'}"
                + (f"  [{'; '.join(flags)}]" if flags else "")
            )
            lines += [f"      {line}" for line in plan["plan"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    result = run(args.size, args.database)
    print(render(result))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"data_scale-{args.database}-{args.size}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
