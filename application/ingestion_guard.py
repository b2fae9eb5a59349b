"""Backpressure on batch ingestion: usage is refused for a moment, with a
retry hint, while the read model is far behind the log.

The writer can take usage faster than the projector applies it (on
PostgreSQL over HTTP, measured: POSTs at 7,700-8,600 events/s, the view
following at 5,300). Sustained, the view would fall behind without bound,
and once it is application/log_tail.py's MAX_EVENTS behind, every
authorization is refused as unavailable. Refusing new batches earlier, at
`max_behind`, slows producers to what the views follow (a client retries
after the hint; the Python client does on its own) and keeps decisions
possible. Nothing accepted is ever dropped: a refused batch is not recorded
at all, and its retry is deduplicated by id as any retry is.

Only batches sent to the API are refused. A gateway records its call's usage
after the provider answered; that is never refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application.errors import TallyError

CHECK_EVERY_SECONDS = 0.1  # how stale the measure of the lag may be (two reads, not one per batch)
RETRY_AFTER_SECONDS = 1


class IngestionBehind(TallyError):
    code = "rate_limited"
    status = 429
    title = "Usage is arriving faster than the ledger's views follow"
    retry_after_seconds = RETRY_AFTER_SECONDS


class IngestionGuard:
    def __init__(
        self,
        head: Callable[[], int],
        projected: Callable[[], int],
        max_behind: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.head = head
        self.projected = projected
        self.max_behind = max_behind
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._checked_at: float | None = None  # time.monotonic() of the last measure (seconds, not money)
        self._behind = 0

    def check(self) -> None:
        """Raises IngestionBehind while the read model is more than
        `max_behind` events behind the log (measured at most every
        CHECK_EVERY_SECONDS)."""
        with self._lock:
            now = self.monotonic()
            if self._checked_at is None or now - self._checked_at >= CHECK_EVERY_SECONDS:
                projected = self.projected()  # read first: the head read after it is at least as far on
                self._behind = self.head() - projected
                self._checked_at = now
            behind = self._behind
        if behind > self.max_behind:
            raise IngestionBehind(
                f"the ledger's views are {behind} events behind the log (at most {self.max_behind}); "
                f"usage is taken again when they catch up: retry after {RETRY_AFTER_SECONDS} s"
            )
