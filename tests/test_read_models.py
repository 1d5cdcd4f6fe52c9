"""The read models App Home and `/post list` are built from, loaded for many posts at once: each post's
snapshot is the one the single-post loader gives, and what people see in the lists is unchanged. Posts get
there through the real services (draft, decisions, edits, publication through the fake Publora, a failure
and its retry) on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.db import repo
from bot.db.engine import Database
from bot.domain.model import Account, Draft, PostStatus
from bot.domain.networks import Network
from bot.main import Postgate
from bot.services.snapshot import load_approval_states, load_snapshot, load_snapshots
from tests.conftest import FakeClock
from tests.fakes.publora import FakePublora
from tests.fakes.slack_api import FakeSlack
from tests.test_dispatch import AUTHOR, make_app, publora, slack  # noqa: F401 - fixtures

TEAM = "T0POSTGATE"
ANA, BEN = "U0ANA", "U0BEN"  # ANA approves (settings_for); BEN only writes posts


@dataclass
class Posts:
    app: Postgate
    clock: FakeClock
    pending: int
    edited: int
    changes: int
    rejected: int
    partial: int
    retried: int
    approved: int


@pytest.fixture
def posts(slack: FakeSlack, publora: FakePublora, db: Database) -> Iterator[Posts]:  # noqa: F811
    slack.add_user(BEN, "ben")
    # A little behind the real clock, which the fake Publora publishes on: it takes a time a few minutes
    # past as "now", and so publishes every submission at once.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4))
    app = make_app(slack, publora, db, clock)
    service = app.services.posts
    x = Account("publora", publora.add_connection("twitter", "1111", username="acme"), Network.X, "@acme")
    li = Account(
        "publora", publora.add_connection("linkedin", "2222", username="acme-li"), Network.LINKEDIN, "Acme"
    )

    def create(text: str, *, author: str = AUTHOR, at: datetime | None = None, only_li: bool = False) -> int:
        draft = Draft(text=text, targets=(li,) if only_li else (x, li), publish_at=at)
        return service.create(team_id=TEAM, author_id=author, author_tz="UTC", draft=draft)

    def publish(groups: int) -> None:
        app.dispatcher.run_once()
        publora.wait_for(
            lambda: (
                len(publora.groups()) == groups
                and all(
                    p["status"] in ("published", "failed")
                    for g in publora.groups().values()
                    for p in g["posts"]
                )
            )
        )
        clock.advance(minutes=1)
        app.dispatcher.run_once()

    pending = create("Waiting for Ana", author=BEN)
    create("Ana's own, which she may not approve", author=ANA)
    edited = create("First try")
    service.request_changes(team_id=TEAM, post_id=edited, user_id=ANA, comment="Shorter")
    service.edit(
        team_id=TEAM,
        post_id=edited,
        user_id=AUTHOR,
        version=1,
        draft=Draft(text="Second try", targets=(x,), publish_at=None),
    )
    changes = create("Needs a link", author=BEN)
    service.request_changes(team_id=TEAM, post_id=changes, user_id=ANA, comment="Add the link")
    rejected = create("Off-brand")
    service.reject(team_id=TEAM, post_id=rejected, user_id=ANA, reason="Not our voice")

    publora.fail_account(li.account_id)
    retried = create("Fails twice", author=BEN, only_li=True)
    partial = create("Half goes out")
    service.approve(team_id=TEAM, post_id=retried, user_id=ANA)
    service.approve(team_id=TEAM, post_id=partial, user_id=ANA)
    publish(groups=2)
    service.retry(team_id=TEAM, post_id=retried, user_id=BEN)  # a second publishing round
    publish(groups=3)

    approved = create("Next week", at=clock.now() + timedelta(days=3))
    service.approve(team_id=TEAM, post_id=approved, user_id=ANA)
    yield Posts(app, clock, pending, edited, changes, rejected, partial, retried, approved)


def statuses(posts: Posts) -> dict[int, PostStatus]:
    with posts.app.db.read() as session:
        return {
            post_id: PostStatus(repo.get_post(session, post_id).status)
            for post_id in (
                posts.pending,
                posts.edited,
                posts.changes,
                posts.rejected,
                posts.partial,
                posts.retried,
                posts.approved,
            )
        }


def test_many_posts_load_with_the_same_snapshots_as_one_by_one(posts: Posts) -> None:
    assert set(statuses(posts).values()) == {
        PostStatus.PENDING_APPROVAL,
        PostStatus.CHANGES_REQUESTED,
        PostStatus.REJECTED,
        PostStatus.PARTIALLY_PUBLISHED,
        PostStatus.FAILED,
        PostStatus.APPROVED,
    }
    with posts.app.db.read() as session:
        rows = [repo.get_post(session, post_id) for post_id in statuses(posts)]
        # In any order, with a post twice (App Home shows a post in two sections at times).
        wanted = [*reversed(rows), rows[2]]
        one_by_one = [load_snapshot(session, post) for post in wanted]
        at_once = load_snapshots(session, wanted)
        assert load_snapshots(session, []) == []
        retried_results = repo.results_for(session, post_id=posts.retried)
    assert at_once == one_by_one
    by_id = {s.id: s for s in at_once}
    # The records behind them are there: a decision on an older version does not count, the results of
    # an earlier publishing round are not shown, a partial publication shows both accounts.
    assert by_id[posts.edited].version == 2 and by_id[posts.edited].changes_requested_by is None
    assert by_id[posts.changes].changes_comment == "Add the link"
    assert by_id[posts.rejected].rejection_reason == "Not our voice"
    assert sorted(r.status for r in by_id[posts.partial].results) == ["failed", "published"]
    assert len(retried_results) == 2 and [r.status for r in by_id[posts.retried].results] == ["failed"]
    assert by_id[posts.approved].approvals == (ANA,)


def test_approval_states_agree_with_the_snapshots(posts: Posts) -> None:
    with posts.app.db.read() as session:
        rows = [repo.get_post(session, post_id) for post_id in statuses(posts)]
        snapshots = load_snapshots(session, rows)
        refs = [
            repo.PostRef(id=p.id or 0, team_id=p.team_id, author_id=p.author_id, version=p.version)
            for p in rows
        ]
        states = load_approval_states(session, refs)
    assert [(s.id, s.team_id, s.author_id, s.targets, s.approvals, s.policy_targets) for s in states] == [
        (s.id, s.team_id, s.author_id, s.targets, s.approvals, s.policy_targets) for s in snapshots
    ]


def test_app_home_and_the_list_show_what_waits_for_whom(posts: Posts) -> None:
    home = posts.app.services.home.home_for(team_id=TEAM, user_id=ANA)
    assert [p.text for p in home.awaiting_me] == ["Second try", "Waiting for Ana"]
    assert home.counts["awaiting_me"] == 2
    assert [p.id for p in home.recent] == [posts.partial]
    assert [p.id for p in home.attention] == [posts.retried]
    assert [p.id for p in home.schedule] == [posts.approved]
    assert home.counts["recent"] == 1

    author = posts.app.services.home.home_for(team_id=TEAM, user_id=AUTHOR)
    assert author.awaiting_me == [] and author.counts["awaiting_me"] == 0
    assert [p.id for p in author.mine] == [posts.edited]
    assert author.attention == []  # BEN's failure is not the author's

    lists = posts.app.services.posts.lists_for(team_id=TEAM, user_id=ANA)
    assert lists.is_approver
    assert [p.text for p in lists.awaiting_me] == ["Second try", "Waiting for Ana"]
    assert [p.id for p in lists.scheduled] == [posts.approved]
    ben = posts.app.services.posts.lists_for(team_id=TEAM, user_id=BEN)
    assert not ben.is_approver and ben.awaiting_me == []
    assert [p.id for p in ben.own_pending] == [posts.changes, posts.pending]


def test_recent_posts_are_the_newest_of_every_status_and_the_count_covers_a_week(posts: Posts) -> None:
    with posts.app.db.read() as session:

        def newest(*wanted: PostStatus, limit: int = 5, author_id: str | None = None) -> list[int]:
            found = repo.recently_finished(
                session, team_id=TEAM, statuses=wanted, limit=limit, author_id=author_id
            )
            return [p.id or 0 for p in found]

        finished = (PostStatus.REJECTED, PostStatus.FAILED, PostStatus.PARTIALLY_PUBLISHED)
        assert newest(*finished) == [posts.retried, posts.partial, posts.rejected]
        assert newest(*finished, limit=1) == [posts.retried]
        assert newest(*finished, author_id=BEN) == [posts.retried]
        assert newest(PostStatus.PUBLISHED) == []

    posts.clock.advance(days=8)
    home = posts.app.services.home.home_for(team_id=TEAM, user_id=ANA)
    assert home.counts["recent"] == 0
    assert [p.id for p in home.recent] == [posts.partial]  # still shown, counted no more
