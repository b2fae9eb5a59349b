"""Saves that arrive while an append is under way go together in the next
one; a batch refused for a conflict is saved again one by one, so only the
save that conflicted is told."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from application.group_commit import GroupCommit


class Thing:
    def __init__(self, name: str) -> None:
        self.pending_events = [name]


class Log:
    def __init__(self) -> None:
        self.appends: list[list[str]] = []
        self.first_started = threading.Event()
        self.go = threading.Event()

    def save(self, *objects: Any) -> None:
        names = [o for obj in objects for o in (obj.pending_events if isinstance(obj, Thing) else [obj])]
        if not self.appends and not self.first_started.is_set():
            self.first_started.set()
            self.go.wait(10)
        if "taken" in names:
            raise IntegrityError("another writer moved it")
        self.appends.append(names)


def test_saves_arriving_during_an_append_go_together_and_a_conflict_fails_only_its_own() -> None:
    log = Log()
    commits = GroupCommit(log.save)
    outcomes: dict[str, str] = {}

    def save(name: str) -> None:
        try:
            commits.save(Thing(name))
            outcomes[name] = "saved"
        except IntegrityError:
            outcomes[name] = "conflict"

    first = threading.Thread(target=save, args=("first",))
    first.start()
    assert log.first_started.wait(10)
    others = [threading.Thread(target=save, args=(name,)) for name in ("a", "taken", "b")]
    for thread in others:
        thread.start()
    deadline = time.monotonic() + 10
    while len(commits._waiting) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    log.go.set()
    for thread in (first, *others):
        thread.join(10)
    assert outcomes == {"first": "saved", "a": "saved", "taken": "conflict", "b": "saved"}
    assert log.appends[0] == ["first"]
    assert log.appends[1:] in ([["a"], ["b"]], [["b"], ["a"]])  # again one by one, after the batch was refused
    assert (commits.appends, commits.saves) == (2, 4)


def test_a_store_failure_reaches_every_save_of_its_batch() -> None:
    def broken(*objects: Any) -> None:
        raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        GroupCommit(broken).save(Thing("x"))
