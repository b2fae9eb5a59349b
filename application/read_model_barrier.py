"""The read-model barrier: wait until the read model has applied the log up
to its head as it stands now. Use cases that decide from projected figures
(re-rating, billing runs, wallet policies) pass it first, so every event
recorded before they began is counted.

A process that is closing stops waiting: `close()` makes every wait, under
way or to come, answer "not caught up", so a re-rating or a billing run
defers as it does when the read model is behind (it runs again later),
instead of holding the shutdown for as long as its timeout. It returns once
the waits under way have ended, so none of them reads the read model after
the caller goes on to close it."""

from __future__ import annotations

import threading
import time

from application.event_store import EventStore
from application.ports import UsageHistory

POLL_SECONDS = 0.005  # how often a wait reads the read model's position; close() wakes it at once
CLOSE_WAIT_SECONDS = 5.0  # at most this long for the waits under way to end (their last read)


class ReadModelBarrier:
    def __init__(self, store: EventStore, usage_history: UsageHistory) -> None:
        self.store = store
        self.usage_history = usage_history
        self._closing = threading.Event()
        self._waits = 0
        self._waits_changed = threading.Condition()

    def caught_up(self, timeout_seconds: float) -> bool:
        """Whether the read model reached the log's present head within the
        timeout (False once the process is closing)."""
        with self._waits_changed:
            if self._closing.is_set():
                return False
            self._waits += 1
        try:
            return self._wait(timeout_seconds)
        finally:
            with self._waits_changed:
                self._waits -= 1
                self._waits_changed.notify_all()

    def close(self) -> None:
        with self._waits_changed:
            self._closing.set()
            self._waits_changed.wait_for(lambda: self._waits == 0, CLOSE_WAIT_SECONDS)

    def _wait(self, timeout_seconds: float) -> bool:
        head = self.store.head()
        deadline = time.monotonic() + timeout_seconds
        while self.usage_history.position() < head:
            left = deadline - time.monotonic()
            if left <= 0 or self._closing.wait(min(POLL_SECONDS, left)):
                return False
        return True
