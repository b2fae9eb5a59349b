"""A part's health record in memory shared between processes: the projector
process's follower writes it, the server that started the process reads it
for /healthz and /metrics. Created by the parent and handed to the child
when it is spawned."""

from __future__ import annotations

import ctypes
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext

from projections.part_health import Clock, PartHealth, PartState

NUMBERS = (
    "started",
    "running",
    "consecutive_failures",
    "failures_total",
    "steps_total",
    "last_failure_at",
    "last_success_at",
    "last_progress_at",
    "step_started_at",
)  # each a double: a count, a flag (0 or 1), or a time (NaN for none yet)
ERROR_BYTES = 1024  # the error's type and message, cut to fit
SEPARATOR = "\n"  # between type and message; a message is one line
# A process killed while it holds the lock leaves it taken for good. The
# lock is held for microseconds, so waiting longer than this means it is
# orphaned: go on without it. The record has one writer, the projector's
# follower thread; the worst a reader then sees is a half-written record,
# while a health check that waits for the lock would never answer.
LOCK_WAIT_SECONDS = 0.2


class SharedPartHealth(PartHealth):
    def __init__(self, name: str, context: BaseContext, clock: Clock = time.time) -> None:
        # The base's record and thread lock are not made: the record lives in
        # the arrays below, and every object here must pass to a spawned child.
        self.name = name
        self.clock = clock
        self._shared_lock = context.Lock()
        self._numbers = context.RawArray(ctypes.c_double, len(NUMBERS))
        self._error = context.RawArray(ctypes.c_char, ERROR_BYTES)
        self._store(PartState(name))

    @contextmanager
    def _guard(self) -> Iterator[None]:
        held = self._shared_lock.acquire(timeout=LOCK_WAIT_SECONDS)
        try:
            yield
        finally:
            if held:
                self._shared_lock.release()

    def _load(self) -> PartState:
        values = dict(zip(NUMBERS, self._numbers, strict=True))
        error_type, _, error_message = self._error.value.decode("utf-8", "replace").partition(SEPARATOR)

        def moment(field: str) -> float | None:
            return None if math.isnan(values[field]) else values[field]

        return PartState(
            self.name,
            started=values["started"] != 0,
            running=values["running"] != 0,
            consecutive_failures=int(values["consecutive_failures"]),
            failures_total=int(values["failures_total"]),
            steps_total=int(values["steps_total"]),
            error_type=error_type,
            error_message=error_message,
            last_failure_at=moment("last_failure_at"),
            last_success_at=moment("last_success_at"),
            last_progress_at=moment("last_progress_at"),
            step_started_at=moment("step_started_at"),
        )

    def _store(self, state: PartState) -> None:
        for index, field in enumerate(NUMBERS):
            value = getattr(state, field)
            self._numbers[index] = math.nan if value is None else float(value)
        text = f"{state.error_type}{SEPARATOR}{state.error_message}".encode()
        # Cut to the array, less one byte for the terminating zero; a cut
        # character is replaced when read.
        self._error.value = text[: ERROR_BYTES - 1]
