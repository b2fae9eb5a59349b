"""The log's head, read once for many askers.

A decision must count every event committed before its request arrived, so
the head it uses must come from a query that began after that moment; any
such query will do, whoever sent it. Concurrent requests therefore share
reads: an asker waits for a read in flight only if it began after the
moment the asker names, and otherwise starts the next read itself (one at a
time), which every asker waiting meanwhile then uses too. A request that
reads the head several times (its reference data, then the log's tail)
queries the store once, and a query that reads the head beside something
else (the standing an authorization is decided on) spares the head's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application.ports import Moment


class LogHead:
    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read
        self._changed = threading.Condition()
        self._value = 0
        self._value_began: Moment | None = None  # when the query that read _value began
        self._running_began: Moment | None = None  # when the query in flight began

    def now(self) -> int:
        """The head as of now: from a query that begins after this call."""
        return self.since(time.monotonic())

    def since(self, moment: Moment) -> int:
        """The head from a query that began after `moment` (time.monotonic())."""
        with self._changed:
            while True:
                if self._value_began is not None and self._value_began > moment:
                    return self._value
                if self._running_began is None:
                    return self._read_now()
                self._changed.wait()  # a read in flight: use it if it began after `moment`, else start the next

    def observed(self, value: int, began: Moment) -> None:
        """Another query read the head as `value`, and began after `began`
        (time.monotonic(), taken before it was sent): it serves askers as a
        read of its own would (e.g. a standing read that carries the head
        from its snapshot)."""
        with self._changed:
            if self._value_began is None or began > self._value_began:
                self._value, self._value_began = value, began
                self._changed.notify_all()

    def _read_now(self) -> int:
        """Read under the condition's lock, released during the query."""
        began = self._running_began = time.monotonic()
        self._changed.release()
        try:
            value = self._read()
        finally:
            self._changed.acquire()
            self._running_began = None
            self._changed.notify_all()
        if self._value_began is None or began > self._value_began:
            self._value, self._value_began = value, began
        return value
