"""A step function run in a thread until stopped: the shape of every
log-following worker here (the projection follower, each policy).
A failed step is retried after a pause, never skipped; an idle step waits
for a wake-up or the idle interval. A step that says more is waiting (a
full page) runs again at once; one that reached the end waits, so a
follower woken by each append reads the log once per append, not twice.
Each loop keeps its own health record
(projections/part_health.py), so a part that keeps failing is seen, and one
part's failures never hold up another's steps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from projections.part_health import PartHealth

logger = logging.getLogger(__name__)
FAILURE_PAUSE_SECONDS = 1.0
STOP_WAIT_SECONDS = 10.0


class StepLoop:
    def __init__(
        self,
        step: Callable[[], int],
        name: str,
        idle_seconds: float,
        health: PartHealth | None = None,
        more_after: Callable[[int], bool] | None = None,
        gather_seconds: float = 0.0,
    ) -> None:
        """`more_after(done)`: whether a step that did `done` left more to do
        at once (default: it did anything). `gather_seconds`: how long a loop
        woken from idle waits before its step, so that work arriving together
        (a gateway call's hold and usage, a burst of requests) is taken in one
        step rather than one step each."""
        assert idle_seconds > 0, "an idle loop waits"
        assert gather_seconds >= 0, "a wait is not negative"
        self.gather_seconds = gather_seconds
        self.step = step
        self.more_after = more_after if more_after is not None else (lambda done: done > 0)
        self.name = name
        self.idle_seconds = idle_seconds
        self.health = health if health is not None else PartHealth(name)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        assert self._thread is None, "started once"
        self.health.loop_started()
        self._thread = threading.Thread(target=self._run, name=f"tally-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT_SECONDS)

    def run_once(self) -> int:
        """One step with its bookkeeping: how much it did, or -1 when it failed
        (the failure is recorded and logged, not raised)."""
        self.health.step_started()
        try:
            done = self.step()
        except Exception as error:  # retried from where it stood, never skipped
            self._record_failure(error)
            return -1
        failures = self.health.state().consecutive_failures
        self.health.step_succeeded(done)
        if failures:
            logger.warning("%s: recovered after %s failed steps", self.name, failures)
        return done

    def _record_failure(self, error: Exception) -> None:
        # The first failure of a run is logged with its traceback; the repeats,
        # about one a second for as long as the fault lasts, in one line each.
        # A step cut short by the shutdown (its pool closed under it after the
        # stop's wait ran out) is no fault: one line, not a traceback.
        if self._stop.is_set():
            logger.info(
                "%s: stopped during a step (%s); it runs again from where it stood", self.name, type(error).__name__
            )
        elif self.health.state().consecutive_failures == 0:
            logger.exception("%s: a step failed; retrying", self.name)
        else:
            logger.warning("%s: a step failed again: %s: %s", self.name, type(error).__name__, error)
        self.health.step_failed(error)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                # Cleared before the step, not after the wait: a wake-up that
                # comes while the step runs (or just before its read) is kept,
                # and the next step runs at once.
                self._wake.clear()
                done = self.run_once()
                if done < 0:
                    self._stop.wait(FAILURE_PAUSE_SECONDS)
                if done < 0 or not self.more_after(done):
                    woken = self._wake.wait(self.idle_seconds)
                    if woken and self.gather_seconds:
                        self._stop.wait(self.gather_seconds)
        finally:
            self.health.loop_exited(deliberately=self._stop.is_set())


def stop_loops(loops: Iterable[StepLoop]) -> None:
    """Stop several loops: every one is told first, so they wind down together."""
    stopping = list(loops)
    for loop in stopping:
        loop.request_stop()
    for loop in stopping:
        loop.stop()
