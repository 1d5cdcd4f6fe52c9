"""Work nobody is waiting for gives way to Slack acks (bot.ack_first), without ever being starved."""

from __future__ import annotations

import threading
import time

from bot.ack_first import AckFirst


def background_gives_way(gate: AckFirst) -> threading.Event:
    """Start a thread that gives way once and sets the returned event when it went on."""
    went_on = threading.Event()

    def work() -> None:
        gate.give_way()
        went_on.set()

    threading.Thread(target=work, daemon=True).start()
    return went_on


def test_other_work_waits_while_an_ack_is_outstanding_and_goes_on_after_it() -> None:
    gate = AckFirst(max_wait=30)
    release = threading.Event()
    entered = threading.Event()

    def request() -> None:
        with gate.awaited():
            entered.set()
            release.wait(10)

    threading.Thread(target=request, daemon=True).start()
    assert entered.wait(10)
    went_on = background_gives_way(gate)
    assert not went_on.wait(0.3), "background work ran while an ack was outstanding"
    release.set()
    assert went_on.wait(10), "background work did not go on once the ack left"
    assert gate.outstanding == 0


def test_other_work_is_delayed_at_most_max_wait_however_many_acks_follow() -> None:
    gate = AckFirst(max_wait=0.2)
    stop = threading.Event()

    def endless_requests() -> None:
        while not stop.is_set():
            with gate.awaited():
                time.sleep(0.01)

    threading.Thread(target=endless_requests, daemon=True).start()
    try:
        went_on = background_gives_way(gate)
        assert went_on.wait(10), "background work was starved by a stream of acks"
    finally:
        stop.set()


def test_a_listener_on_the_ack_path_never_waits_for_other_acks() -> None:
    gate = AckFirst(max_wait=60)
    with gate.awaited():
        went_on = threading.Event()

        def listener() -> None:
            gate.on_ack_path(True)
            gate.give_way()
            went_on.set()

        threading.Thread(target=listener, daemon=True).start()
        assert went_on.wait(10), "a thread working towards an ack waited for acks"
