"""What each part (the follower, each policy) knows about its own health, and
the rules that turn a part red.

A part keeps its own record: its loop writes it, health checks read it from
other threads (or, for a follower in a child process, from the parent). A
part is red when its loop has stopped, when its last steps have all failed,
or when one step has been running too long. The follower is also red when
work waits in the log and its position has not moved for a while; that is
judged from outside it (`ProgressWatch`), so it holds for a follower that is
alive but stuck."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

# A reading of time.time(): seconds since the epoch, so the times can be shown
# and shared across processes. Never money.
EpochSeconds = float
Clock = Callable[[], EpochSeconds]
Status = Literal["ok", "retrying", "failing", "stalled", "stopped"]
ERROR_MESSAGE_LIMIT = 300  # the first line of an error, cut: health answers never carry a traceback


@dataclass(frozen=True)
class PartState:
    name: str
    started: bool = False
    running: bool = False
    consecutive_failures: int = 0
    failures_total: int = 0
    steps_total: int = 0
    error_type: str = ""
    error_message: str = ""
    last_failure_at: EpochSeconds | None = None
    last_success_at: EpochSeconds | None = None
    last_progress_at: EpochSeconds | None = None
    step_started_at: EpochSeconds | None = None  # set while a step runs


@dataclass(frozen=True)
class HealthLimits:
    failures_in_a_row: int  # consecutive failed steps that turn a part red
    step_seconds: float  # one step running this long is a part that has stopped
    stall_seconds: float  # the follower: work waiting this long at an unmoved position

    def __post_init__(self) -> None:
        if self.failures_in_a_row < 1 or self.step_seconds <= 0 or self.stall_seconds <= 0:
            raise ValueError(f"health limits must be positive: {self}")


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str | None = None  # why a part is red, for a person; None while it is green

    @property
    def healthy(self) -> bool:
        return self.reason is None


def error_text(error: BaseException) -> tuple[str, str]:
    """The error's type and the first line of its message, bounded."""
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else ""
    return type(error).__name__, message[:ERROR_MESSAGE_LIMIT]


class PartHealth:
    """One part's record, changed only under a lock. Subclasses keep it
    elsewhere (shared memory) by overriding `_load`, `_store` and `_guard`."""

    def __init__(self, name: str, clock: Clock = time.time) -> None:
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()
        self._state = PartState(name)

    def _guard(self) -> AbstractContextManager[Any]:
        return self._lock

    def _load(self) -> PartState:
        return self._state

    def _store(self, state: PartState) -> None:
        self._state = state

    def _update(self, **changes: Any) -> None:
        with self._guard():
            self._store(dataclasses.replace(self._load(), **changes))

    def state(self) -> PartState:
        with self._guard():
            return self._load()

    def loop_started(self) -> None:
        self._update(started=True, running=True)

    def loop_exited(self, *, deliberately: bool) -> None:
        """A loop told to stop is no part any more; one that ended by itself has stopped."""
        self._update(started=not deliberately, running=False, step_started_at=None)

    def step_started(self) -> None:
        self._update(step_started_at=self.clock())

    def step_succeeded(self, done: int) -> None:
        assert done >= 0, "a step reports how much it did"
        now = self.clock()
        with self._guard():
            state = self._load()
            self._store(
                dataclasses.replace(
                    state,
                    consecutive_failures=0,
                    steps_total=state.steps_total + 1,
                    last_success_at=now,
                    last_progress_at=now if done else state.last_progress_at,
                    step_started_at=None,
                )
            )

    def step_failed(self, error: BaseException) -> None:
        error_type, error_message = error_text(error)
        now = self.clock()
        with self._guard():
            state = self._load()
            self._store(
                dataclasses.replace(
                    state,
                    consecutive_failures=state.consecutive_failures + 1,
                    failures_total=state.failures_total + 1,
                    steps_total=state.steps_total + 1,
                    error_type=error_type,
                    error_message=error_message,
                    last_failure_at=now,
                    step_started_at=None,
                )
            )


def judge(state: PartState, limits: HealthLimits, now: EpochSeconds) -> Verdict:
    """A part's own record against the limits (the follower's stall is judged apart)."""
    if state.started and not state.running:
        return Verdict("stopped", "its loop has stopped")
    failures = state.consecutive_failures
    if failures >= limits.failures_in_a_row:
        return Verdict("failing", f"{failures} steps failed in a row ({state.error_type}: {state.error_message})")
    if state.step_started_at is not None and now - state.step_started_at >= limits.step_seconds:
        return Verdict("stalled", f"one step has been running for {now - state.step_started_at:.0f} s")
    return Verdict("retrying" if failures else "ok")


class ProgressWatch:
    """Whether the follower advances while work waits, seen from outside it:
    from the log's head and the read model's stored position. It remembers
    since when it has seen work waiting at the same position; having missed
    the moments between two looks, it can only under-estimate a stall, never
    report one that did not happen."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._position = -1
        self._waiting_since: EpochSeconds | None = None

    def waited_seconds(self, position: int, head: int) -> float:
        """How long work has waited at `position` (0 when none waits or it has just moved)."""
        now = self.clock()
        with self._lock:
            if head <= position:
                self._waiting_since = None
            elif position != self._position or self._waiting_since is None:
                self._waiting_since = now
            self._position = position
            return 0.0 if self._waiting_since is None else now - self._waiting_since
