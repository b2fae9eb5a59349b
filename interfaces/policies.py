"""Runs log-following policies (the version watcher) in a thread beside the
projection follower, wherever the follower runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)
IDLE_SECONDS = 0.5


class PolicyRunner:
    def __init__(self, step: Callable[[], int], name: str) -> None:
        self.step = step
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.step()
            except Exception:  # retried from the same checkpoint, never skipped
                logger.exception("%s failed; retrying", self.name)
                handled = 0
                self._stop.wait(2.0)
            if handled == 0:
                self._stop.wait(IDLE_SECONDS)
