"""The log's head is shared only with askers whose moment came before the
read began: a request never uses a head read before it arrived."""

from __future__ import annotations

import threading
import time

import pytest

from application.log_head import LogHead


class SlowLog:
    """A head that moves on each read; a read waits until it is let go."""

    def __init__(self) -> None:
        self.reads = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def read(self) -> int:
        self.reads += 1
        self.started.set()
        self.release.wait(10)
        return self.reads * 10


def test_a_read_in_flight_serves_only_those_who_asked_before_it_began() -> None:
    log = SlowLog()
    head = LogHead(log.read)
    before = time.monotonic()
    answers: dict[str, int] = {}
    first = threading.Thread(target=lambda: answers.__setitem__("first", head.now()))
    first.start()
    assert log.started.wait(10)
    sharer = threading.Thread(target=lambda: answers.__setitem__("sharer", head.since(before - 1)))
    later = threading.Thread(target=lambda: answers.__setitem__("later", head.now()))
    sharer.start()
    later.start()
    time.sleep(0.05)  # both wait on the read in flight
    assert log.reads == 1
    log.release.set()
    for thread in (first, sharer, later):
        thread.join(10)
    assert answers["first"] == 10
    assert answers["sharer"] in (10, 20)  # its moment came before the read began: shared, no read of its own
    assert answers["later"] == 20  # it asked after the read began: a read of its own
    assert log.reads == 2
    assert head.since(before) == 20  # the newest read serves any moment before it
    assert log.reads == 2


def test_a_failed_read_lets_the_next_asker_read() -> None:
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("gone")
        return 7

    head = LogHead(flaky)
    with pytest.raises(ConnectionError):
        head.now()
    assert head.now() == 7


def test_a_head_another_query_read_serves_only_moments_before_that_query_began() -> None:
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return 100 + len(reads)

    head = LogHead(read)
    asked = time.monotonic()
    began = time.monotonic()
    head.observed(50, began)  # e.g. a standing read that carried the head
    assert head.since(asked) == 50 and not reads  # asked before the query began: no read of its own
    assert head.since(began) == 101  # not before it: a read of its own
    head.observed(40, began)  # an older observation does not replace a newer value
    assert head.since(asked) == 101 and len(reads) == 1
