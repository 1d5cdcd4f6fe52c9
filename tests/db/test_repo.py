"""Repository behaviour on real SQLite and PostgreSQL: UTC round trips, compare-and-set claims, leases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.db import repo
from bot.db.engine import Database
from bot.db.tables import Post
from bot.domain.model import PostStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def add(db: Database, *, status: PostStatus = PostStatus.APPROVED, due: datetime | None = NOW) -> int:
    with db.write() as session:
        post = repo.add_post(
            session,
            team_id="T1",
            author_id="U1",
            author_tz="Europe/Berlin",
            approval_channel_id="C1",
            content=repo.VersionContent(
                text="hello",
                targets=[{"provider": "dry_run", "account_id": "a", "network": "twitter", "name": "A"}],
                media=[],
                queue=None,
                overrides=None,
                first_comment=None,
                content_hash="0" * 64,
            ),
            requested_time=None,
            required_approvals=1,
            now=NOW,
        )
        post.status = status
        post.publish_at = due
        post.next_action_at = due
        session.add(post)
        session.flush()
        assert post.id is not None
        return post.id


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    from zoneinfo import ZoneInfo

    post_id = add(db, due=datetime(2026, 11, 21, 14, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    with db.read() as session:
        post = repo.get_post(session, post_id)
    assert post.publish_at == datetime(2026, 11, 21, 13, 30, tzinfo=UTC)
    assert post.publish_at.tzinfo is not None and post.created_at.tzinfo is not None


def test_claim_takes_due_posts_once_and_leaves_future_ones(db: Database) -> None:
    due = add(db)
    add(db, due=NOW + timedelta(minutes=5))
    add(db, status=PostStatus.PENDING_APPROVAL)
    with db.write() as session:
        first = repo.claim_due_posts(session, now=NOW, owner="a", lease=timedelta(minutes=5), limit=10)
    with db.write() as session:
        second = repo.claim_due_posts(session, now=NOW, owner="b", lease=timedelta(minutes=5), limit=10)
    assert [c.post_id for c in first] == [due]
    assert second == []


def test_an_expired_lease_is_claimed_again_and_fences_out_the_old_owner(db: Database) -> None:
    post_id = add(db)
    with db.write() as session:
        [old] = repo.claim_due_posts(session, now=NOW, owner="a", lease=timedelta(minutes=5), limit=10)
    later = NOW + timedelta(minutes=6)
    with db.write() as session:
        [new] = repo.claim_due_posts(session, now=later, owner="b", lease=timedelta(minutes=5), limit=10)
    assert new.post_id == post_id and new.claims == old.claims + 1
    with db.write() as session:
        assert repo.fenced_post(session, old) is None
        assert repo.fenced_post(session, new) is not None


def test_concurrent_claims_never_hand_out_a_post_twice(db: Database) -> None:
    ids = {add(db) for _ in range(30)}
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(owner: str) -> None:
        for _ in range(10):
            with db.write() as session:
                got = repo.claim_due_posts(session, now=NOW, owner=owner, lease=timedelta(minutes=5), limit=3)
            with lock:
                claimed.extend(c.post_id for c in got)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_next_due_time_is_the_earliest_pending_action(db: Database) -> None:
    add(db, due=NOW + timedelta(minutes=9))
    add(db, due=NOW + timedelta(minutes=3))
    add(db, status=PostStatus.PENDING_APPROVAL, due=NOW)
    with db.read() as session:
        assert repo.next_due_time(session) == NOW + timedelta(minutes=3)


def test_audit_rows_record_actor_and_time(db: Database) -> None:
    post_id = add(db)
    with db.read() as session:
        [created] = repo.list_audit(session, post_id=post_id)
        assert (created.actor, created.action, created.created_at) == ("U1", "created", NOW)
        assert session.exec(select(Post)).first() is not None
