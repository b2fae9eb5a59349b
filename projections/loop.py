"""A step function run in a thread until stopped: the shape of every
log-following worker here (the projection follower, the version watcher).
A failed step is retried after a pause, never skipped; an idle step waits
for a wake-up or the idle interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)
FAILURE_PAUSE_SECONDS = 1.0


class StepLoop:
    def __init__(self, step: Callable[[], int], name: str, idle_seconds: float) -> None:
        assert idle_seconds > 0, "an idle loop waits"
        self.step = step
        self.name = name
        self.idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        assert self._thread is None, "started once"
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.step()
            except Exception:  # retried from where it stood, never skipped
                logger.exception("%s: a step failed; retrying", self.name)
                done = 0
                self._stop.wait(FAILURE_PAUSE_SECONDS)
            if done == 0:
                self._wake.wait(self.idle_seconds)
                self._wake.clear()
