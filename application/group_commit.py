"""Group commit: the saves of concurrent requests appended together.

Each append to the log is one transaction, and on PostgreSQL one lock of the
events table and one flush of the write-ahead log: about a millisecond or
more that every authorization would otherwise pay one after another. Here a
request that saves while another append is under way waits, and the next
append takes every save that arrived meanwhile, in one transaction (as
TigerBeetle batches). Nothing is delayed on purpose: with one request at a
time each append holds one save.

What each request saved is decided before it joins, under its customer's
lock, so one batch holds at most one decision per customer of this process;
another process's append is caught, as before, by the conflict on the
aggregate's version. When a batch is refused for a conflict, its saves are
appended one by one, so only the one that conflicted is told (and decides
again); the others stand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError


class _Save:
    __slots__ = ("done", "error", "events", "objects")

    def __init__(self, objects: tuple[Any, ...]) -> None:
        self.objects = objects
        # The new events, kept apart: saving collects them from the aggregates,
        # so a refused batch's saves are appended again as these events.
        self.events = [event for obj in objects for event in obj.pending_events]
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, save: Callable[..., Any]) -> None:
        self._save = save
        self._changed = threading.Condition()
        self._waiting: list[_Save] = []
        self._appending = False
        self.appends = 0  # how many appends, and...
        self.saves = 0  # ...how many saves they held (for the benchmark's report)

    def save(self, *objects: Any) -> None:
        """Save these aggregates' new events, with other requests' in one
        append when they arrive together; raises what saving them alone would."""
        mine = _Save(objects)
        with self._changed:
            self._waiting.append(mine)
            while not mine.done:
                if self._appending:
                    self._changed.wait()
                    continue
                batch, self._waiting = self._waiting, []
                self._appending = True
                self._changed.release()
                try:
                    self._append(batch)
                finally:
                    self._changed.acquire()
                    self._appending = False
                    for save in batch:
                        save.done = True
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error

    def _append(self, batch: list[_Save]) -> None:
        self.appends += 1
        self.saves += len(batch)
        try:
            self._save(*(obj for save in batch for obj in save.objects))
            return
        except IntegrityError as error:
            if len(batch) == 1:
                batch[0].error = error
                return
        except BaseException as error:  # the store failed: every save in the batch is told
            for save in batch:
                save.error = error
            return
        for save in batch:  # a conflict: find whose, saving each alone
            try:
                self._save(*save.events)
            except BaseException as error:
                save.error = error
