"""Filling a scratch view with several processes: a replay's pages read,
decoded and folded side by side, written one after another in log order.

A page's fold reads nothing of the view (projections/ledger_view.py): it
turns events into changes, and applying changes in log order gives the same
view whatever the pages' bounds (the live follower's pages are of every size,
a rebuild's are full, and the audit finds them equal). So page k, the log's
positions (start + k*size, start + (k+1)*size], can be read and folded by any
process at any time, and only its write must wait for page k-1's commit.
Each of `workers` processes (this one among them) takes every workers-th
page: while one writes its page, the others fold theirs.

Why processes: the fold is Python, and threads share one interpreter lock
(a writer thread beside the fold gained nothing: docs/performance.md,
section 17). Each worker opens the store itself (`open_source`, pickled to
a spawned process) and writes through its own connection; the turn is a
position in shared memory, so the tracking row still moves from each page's
start to its end exactly once, as the follower's check asserts."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any, Protocol

from eventsourcing.persistence import ApplicationRecorder, Notification

from projections.database import Database
from projections.follower import Follower, Progress

WAIT_SLICE = 0.5  # seconds between looks at whether a worker or the parent has gone


class LogSource(Protocol):
    """What a worker reads and writes through: the log, its decoder, the view's database."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def database(self) -> Database: ...

    def decode(self, notification: Notification) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ParallelFill:
    """How to fill a scratch view with `workers` processes. `open_source` is
    called in each spawned worker (so it must pickle: a module-level function,
    or a partial of one) and opens the same store as the caller's. Logs of
    fewer than `min_events` positions are filled by the caller alone: a
    spawned worker takes about a second to start."""

    open_source: Callable[[], LogSource]
    workers: int
    min_events: int = 20_000

    def applies(self, positions: int) -> bool:
        return self.workers > 1 and positions >= self.min_events


class FillFailed(RuntimeError):
    """A worker stopped without saying why (killed, or its error would not pickle)."""


@dataclass
class _Shared:
    """The turn (the position the view has been written up to), the events
    applied, and whether someone failed; guarded by `condition`."""

    condition: Any
    turn: Any
    applied: Any
    failed: Any


def fill(follower: Follower, parallel: ParallelFill, target: int, progress: Progress | None = None) -> None:
    """Bring `follower`'s (scratch) view from its position to `target` with
    `parallel.workers` processes, this one among them."""
    start, size = follower.position, follower.page_size
    context = multiprocessing.get_context("spawn")
    condition = context.Condition()
    shared = _Shared(condition, context.RawValue("q", start), context.RawValue("q", 0), context.RawValue("b", 0))
    workers: list[tuple[SpawnProcess, Connection]] = []
    reported = 0

    def report() -> None:
        nonlocal reported
        with condition:
            applied = int(shared.applied.value)
        if progress is not None and applied > reported:
            progress(applied - reported)
        reported = applied

    def watch() -> None:
        """While this process waits: report progress, notice a worker gone."""
        report()
        for process, _ in workers:
            if process.exitcode not in (None, 0):
                _fail(shared)

    try:
        for index in range(1, parallel.workers):
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(parallel.open_source, follower.prefix, size, start, target, index, parallel.workers),
                kwargs={"shared": shared, "errors": sending, "parent": os.getpid()},
                name=f"tally-fill-{index}",
            )
            process.start()
            sending.close()
            workers.append((process, receiving))
        _fill_pages(follower, start, target, 0, parallel.workers, shared, watch)
        _await(shared, target, watch)
    except BaseException:
        _fail(shared)
        _stop(workers, terminate=True)
        raise
    sent = _stop(workers, terminate=False)
    report()
    if shared.failed.value:
        raise _error_of(workers, sent)
    follower.advance(target)


def _worker(
    open_source: Callable[[], LogSource],
    prefix: str,
    size: int,
    start: int,
    target: int,
    index: int,
    workers: int,
    *,
    shared: _Shared,
    errors: Connection,
    parent: int,
) -> None:
    def watch() -> None:
        if os.getppid() != parent:  # the parent has gone: nobody will use what this writes
            _fail(shared)

    try:
        source = open_source()
        try:
            follower = Follower(source.recorder, source.decode, source.database, prefix, size)
            _fill_pages(follower, start, target, index, workers, shared, watch)
        finally:
            source.close()
    except BaseException as error:
        _fail(shared)
        try:
            errors.send(error)
        except Exception:  # it will not pickle: say what it was
            errors.send(FillFailed(f"a replay worker failed: {error!r}"))
        raise SystemExit(1) from None
    finally:
        errors.close()


def _fill_pages(
    follower: Follower, start: int, target: int, index: int, workers: int, shared: _Shared, watch: Callable[[], None]
) -> None:
    """This process's pages, index, index + workers, ...: each read and folded
    at once, written when the view has reached its start."""
    size = follower.page_size
    for first in range(start + index * size, target, workers * size):
        last = min(first + size, target)
        page = follower.recorder.select_notifications(first, size, stop=last, inclusive_of_start=False)
        changes = follower.fold(page)
        if not _await(shared, first, watch):
            return
        if not follower.apply(first, last, changes):  # only this process writes the page, after the turn
            raise FillFailed(f"the view was not at {first} when the page after it came to be written")
        with shared.condition:
            shared.turn.value = last
            shared.applied.value += len(page)
            shared.condition.notify_all()
        watch()


def _await(shared: _Shared, position: int, watch: Callable[[], None]) -> bool:
    """Wait until the view has been written up to `position`; False if someone failed first."""
    while True:
        with shared.condition:
            shared.condition.wait_for(lambda: shared.turn.value >= position or shared.failed.value, WAIT_SLICE)
            if shared.failed.value:
                return False
            if shared.turn.value >= position:
                return True
        watch()


def _fail(shared: _Shared) -> None:
    with shared.condition:
        shared.failed.value = 1
        shared.condition.notify_all()


def _stop(workers: list[tuple[SpawnProcess, Connection]], *, terminate: bool) -> list[BaseException]:
    """End the workers (terminated first when `terminate`) and return the
    errors they sent. Each one's pipe is read until it closes (the worker has
    exited), so a worker sending its error never waits on a parent that waits
    on it."""
    sent: list[BaseException] = []
    for process, errors in workers:
        if terminate and process.is_alive():
            process.terminate()
        while True:
            try:
                sent.append(errors.recv())
            except (EOFError, OSError):
                break
        process.join()
    return sent


def _error_of(workers: list[tuple[SpawnProcess, Connection]], sent: list[BaseException]) -> BaseException:
    """The first error a worker sent, else what an exit code says."""
    if sent:
        return sent[0]
    for process, _ in workers:
        if process.exitcode not in (None, 0):
            return FillFailed(f"a replay worker stopped (exit code {process.exitcode})")
    return FillFailed("a replay worker failed")
