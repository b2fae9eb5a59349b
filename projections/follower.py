"""The follower: reads the notification log a page at a time and applies each
page to the read model in one transaction together with its tracking
position, so every event is applied exactly once and a crash resumes where
the last commit stopped.

One transaction per page, not per event: a transaction per event would cap
a follower at the rate of commits (about a thousand a second on PostgreSQL
with durable commits), far below what the writer appends. Several followers of the
same view may run (one per server process): the tracking row is locked inside
the transaction and checked, so a page is applied by one of them only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification

from projections.database import Database
from projections.ledger_view import UNREAD_TOPICS, Changes, LedgerView
from projections.loop import StepLoop
from projections.part_health import PartHealth
from projections.schema import VIEW_NAME

PAGE_SIZE = 2000
# Pages of up to this many events (a request's or a few, while the view
# keeps up) are written pipelined: their reads, writes and commit cost two
# round trips instead of one per statement. Bigger pages take COPY.
PIPELINED_PAGE = 32
IDLE_POLL_SECONDS = 0.05
PART_NAME = "follower"

Decode = Callable[[Notification], Any]
Progress = Callable[[int], None]


class Follower:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        decode: Decode,
        database: Database,
        prefix: str,
        page_size: int = PAGE_SIZE,
        health: PartHealth | None = None,
        gather_seconds: float = 0.0,
    ) -> None:
        assert 0 < page_size <= 10_000, "a page is bounded"
        self.recorder = recorder
        self.decode = decode
        self.database = database
        self.prefix = prefix
        self.view = LedgerView(prefix, database.dialect)
        self.page_size = page_size
        self.position = self._stored_position()
        self._advanced = threading.Condition()
        # The record may live in memory shared with another process: a
        # projector process's follower reports to the server that started it.
        # A page shorter than a full one reached the log's end as of its read:
        # the next step waits for a wake-up (an append) or the idle poll.
        # Woken from idle, it waits gather_seconds first, so the appends of that
        # moment are applied in one transaction (settings.projector_gather_ms).
        self._loop = StepLoop(
            self.step,
            PART_NAME,
            IDLE_POLL_SECONDS,
            health,
            more_after=lambda done: done >= self.page_size,
            gather_seconds=gather_seconds,
        )
        self.health = self._loop.health

    def _stored_position(self) -> int:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(f"SELECT position FROM {self.prefix}tracking WHERE name = ?", (VIEW_NAME,))
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def step(self, stop: int | None = None) -> int:
        """Apply the next page; returns how many events it applied."""
        start = self.position
        page = self.recorder.select_notifications(start, self.page_size, stop=stop, inclusive_of_start=False)
        if not page:
            return 0
        end = page[-1].id
        assert end > start, "the log only moves forward"
        if not self.apply(start, end, self.fold(page), pipelined=len(page) <= PIPELINED_PAGE):
            return 0
        self.advance(end)
        return len(page)

    def fold(self, page: Sequence[Notification]) -> Changes:
        """A page of the log folded into the view's changes: reads nothing of
        the view, so pages can be folded apart (a parallel fill) and applied
        in order."""
        unread = UNREAD_TOPICS  # passed over, not decoded: folded, they would change nothing
        return self.view.fold([(n.id, self.decode(n)) for n in page if n.topic not in unread])

    def apply(self, start: int, end: int, changes: Changes, *, pipelined: bool = False) -> bool:
        """Write a page's changes and move the tracking position from `start`
        to `end`, in one transaction. False when the view is not at `start`
        (another follower applied the page): this one resyncs and writes nothing."""
        with self.database.transaction(write=True, pipelined=pipelined) as cursor:
            if self.database.dialect.relaxed_commit:  # rebuildable from the log: no wait for the disk
                cursor.execute(self.database.dialect.relaxed_commit)
            cursor.execute(
                f"SELECT position FROM {self.prefix}tracking WHERE name = ? {self.database.dialect.lock_row}",
                (VIEW_NAME,),
            )
            stored = int(cursor.fetchone()[0])
            if stored != start:
                self.position = stored  # another follower applied it; resync, lose nothing
                return False
            self.view.write(cursor, changes)
            cursor.execute(f"UPDATE {self.prefix}tracking SET position = ? WHERE name = ?", (end, VIEW_NAME))
        return True

    def advance(self, position: int) -> None:
        with self._advanced:
            self.position = position
            self._advanced.notify_all()

    def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Apply pages up to `until` (default: the log's end when called)."""
        target = until if until is not None else (self.recorder.max_notification_id() or 0)
        applied = 0
        while self.position < target:
            before = self.position
            count = self.step(stop=target)
            if self.position == before:
                break  # only gaps left below the target (ids of rolled-back appends)
            applied += count
            if progress is not None:
                progress(count)
        return applied

    def wait(self, position: int, timeout_seconds: float) -> bool:
        """Read-your-writes: block until the view has applied `position`."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.position >= position, timeout_seconds)

    def notify(self, _position: int) -> None:
        self._loop.wake()

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
