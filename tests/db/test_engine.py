"""Sessions on real SQLite and PostgreSQL: a thread's nested reads share its open session, SQLite's writers
of one process take turns in arrival order, and settings cached by revision still show another replica's
save at once."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from sqlalchemy import event
from sqlmodel import Session, select

from bot.clock import SystemClock
from bot.db import repo
from bot.db.engine import Database, WriterQueue
from bot.db.tables import Post
from bot.domain.workspace import WorkspaceSettings
from bot.services.workflow import Workflow
from tests.db.test_repo import NOW, add


def test_a_read_inside_a_transaction_reads_through_it_on_the_same_connection(db: Database) -> None:
    with db.write() as session:
        post_id = add_in(session)
        checked_out = db.engine.pool.checkedout()  # type: ignore[attr-defined]
        with db.read() as inner:
            assert inner is session
            assert inner.get(Post, post_id) is not None  # the transaction's own, uncommitted row
            assert db.engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]
    with db.read() as outer, db.read() as inner:
        assert inner is outer
    with db.read() as later:
        assert later is not outer
        assert later.exec(select(Post).where(Post.id == post_id)).one().id == post_id


def test_a_failed_transaction_leaves_no_session_behind_for_later_reads(db: Database) -> None:
    try:
        with db.write() as session:
            add_in(session)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.read() as session:
        assert session.exec(select(Post)).all() == []


def add_in(session: Session) -> int:
    post = repo.add_post(
        session,
        team_id="T1",
        author_id="U1",
        author_tz="UTC",
        approval_channel_id="C1",
        content=repo.VersionContent(
            text="hello",
            targets=[],
            media=[],
            queue=None,
            overrides=None,
            first_comment=None,
            content_hash="",
        ),
        requested_time=None,
        required_approvals=1,
        now=NOW,
    )
    assert post.id is not None
    return post.id


def take_and_note(
    lock: WriterQueue,
    order: list[str],
    name: str,
    *,
    urgent: bool = False,
    taken: threading.Event | None = None,
) -> None:
    lock.acquire(urgent=urgent)
    try:
        order.append(name)
        if taken is not None:
            taken.set()
    finally:
        lock.release()


def queue_up(lock: WriterQueue, order: list[str], writers: list[tuple[str, bool]]) -> list[threading.Thread]:
    """Start one thread per (name, urgent), each queued on the held lock before the next asks."""
    threads = []
    for name, urgent in writers:
        thread = threading.Thread(target=take_and_note, args=(lock, order, name), kwargs={"urgent": urgent})
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 10
        while lock.waiting < len(threads):
            assert time.monotonic() < deadline
            time.sleep(0.001)
    return threads


def test_waiting_writers_get_the_lock_in_the_order_they_asked() -> None:
    lock = WriterQueue()
    order: list[str] = []
    lock.acquire()
    threads = queue_up(lock, order, [(str(n), False) for n in range(6)])
    lock.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["0", "1", "2", "3", "4", "5"]


def test_a_writer_whose_ack_is_awaited_goes_ahead_of_background_writers_that_asked_before_it() -> None:
    now = [0.0]
    lock = WriterQueue(max_defer=0.05, monotonic=lambda: now[0])
    order: list[str] = []
    lock.acquire()
    writers = [("outbox", False), ("dispatcher", False), ("click", True), ("submission", True)]
    threads = queue_up(lock, order, writers)
    lock.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["click", "submission", "outbox", "dispatcher"]


def test_a_background_writer_that_waited_its_longest_goes_before_later_acks() -> None:
    now = [0.0]
    lock = WriterQueue(max_defer=0.05, monotonic=lambda: now[0])
    order: list[str] = []
    lock.acquire()
    threads = queue_up(lock, order, [("outbox", False), ("click", True), ("submission", True)])
    now[0] = 0.05  # the outbox has now waited max_defer
    lock.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["outbox", "click", "submission"]


def test_the_thread_holding_the_lock_may_take_it_again() -> None:
    lock = WriterQueue()
    lock.acquire()
    lock.acquire(urgent=True)
    lock.release()
    lock.release()
    taken = threading.Event()
    thread = threading.Thread(target=take_and_note, args=(lock, [], "next"), kwargs={"taken": taken})
    thread.start()
    assert taken.wait(timeout=10), "the lock was not free after the nested release"
    thread.join()


def test_sqlite_writers_of_one_process_take_turns_without_busy_errors(db: Database) -> None:
    if db.dialect != "sqlite":
        return
    errors: list[BaseException] = []

    def write_many() -> None:
        try:
            for _ in range(20):
                add(db)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with db.read() as session:
        assert len(session.exec(select(Post)).all()) == 160


def replica(db: Database) -> Workflow:
    """One replica's Workflow on the shared database (Slack is never called by these tests)."""
    return Workflow(
        db=db,
        client=WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/"),
        clock=SystemClock(),
        defaults=WorkspaceSettings(),
    )


def test_settings_saved_by_another_replica_are_seen_at_the_next_read(db: Database) -> None:
    one, other = replica(db), replica(db)
    assert other.settings("T1").approval_channel is None
    revision = one.save_settings("T1", WorkspaceSettings(approval_channel="C0ONE"), user_id="U1", revision=0)
    assert other.settings("T1").approval_channel == "C0ONE"
    one.save_settings("T1", WorkspaceSettings(approval_channel="C0TWO"), user_id="U1", revision=revision)
    assert other.settings("T1").approval_channel == "C0TWO"
    assert other.settings_with_revision("T1")[1] == revision + 1


class AckPath:
    """The database's priority seam as `bot.ack_first` fills it: threads marked as acking are urgent."""

    def __init__(self) -> None:
        self._local = threading.local()

    def give_way(self) -> None:
        pass

    def urgent(self) -> bool:
        return bool(getattr(self._local, "acking", False))

    def mark(self) -> None:
        self._local.acking = True


def test_on_sqlite_a_transaction_for_an_ack_commits_before_queued_background_ones(db: Database) -> None:
    if db.dialect != "sqlite":
        return
    path = AckPath()
    db.priority = path
    # Background writers may be overtaken for longer than the default 50 ms on a slow CI machine.
    db._writers = WriterQueue(max_defer=60.0)
    order: list[str] = []

    def write(name: str, acking: bool) -> None:
        if acking:
            path.mark()
        with db.write() as session:
            add_in(session)
            order.append(name)

    threads = []
    with db.write():  # holds the write lock while the others queue
        for name, acking in [("outbox", False), ("dispatcher", False), ("approve click", True)]:
            threads.append(threading.Thread(target=write, args=(name, acking)))
            threads[-1].start()
            deadline = time.monotonic() + 10
            while db._writers is not None and db._writers.waiting < len(threads):
                assert time.monotonic() < deadline
                time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["approve click", "outbox", "dispatcher"]


def test_settings_are_read_once_per_session_and_again_in_the_next(db: Database) -> None:
    one, other = replica(db), replica(db)
    revision = one.save_settings("T1", WorkspaceSettings(approval_channel="C0ONE"), user_id="U1", revision=0)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.read():
            assert other.settings("T1").approval_channel == "C0ONE"
            first_read = len(statements)
            assert other.settings("T1").approval_channel == "C0ONE"
            assert len(statements) == first_read  # the second ask ran no query
        one.save_settings("T1", WorkspaceSettings(approval_channel="C0TWO"), user_id="U1", revision=revision)
        with db.read():
            assert other.settings("T1").approval_channel == "C0TWO"
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
