"""A buffer of usage events sent in batches by a background thread: when it
holds `max_batch` events, when the oldest has waited `flush_interval_seconds`,
and on flush() or close(). A batch that fails after the transport's retries
stays at the head of the buffer and is sent again, with the same ids, at the
next flush: the server answers `duplicate` for whatever it had recorded."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tally_client.errors import TallyError

logger = logging.getLogger("tally_client")
MAX_BATCH_EVENTS = 1000  # the server's limit per request
MAX_BUFFERED_EVENTS = 100_000  # past this, record() raises rather than grow without end

SendBatch = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class BufferStats:
    batches_sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    failed_flushes: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)  # the latest 100 rejected results
    last_error: Exception | None = None


class UsageBuffer:
    def __init__(
        self,
        send: SendBatch,
        *,
        max_batch: int = 500,
        flush_interval_seconds: float = 1.0,
        max_buffered: int = MAX_BUFFERED_EVENTS,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH_EVENTS:
            raise ValueError(f"max_batch must be 1-{MAX_BATCH_EVENTS}")
        if flush_interval_seconds <= 0:
            raise ValueError("flush_interval_seconds must be positive")
        self._send = send
        self.max_batch = max_batch
        self._batch_size = max_batch  # halved while the server answers 413 (a batch over its byte limit)
        self.flush_interval_seconds = flush_interval_seconds
        self.max_buffered = max_buffered
        self.on_error = on_error
        self.stats = BufferStats()
        self._pending: list[dict[str, Any]] = []
        self._oldest_at: float | None = None
        self._wake = threading.Condition()
        self._sending = threading.Lock()  # one batch in flight at a time, in order
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="tally-usage-buffer", daemon=True)
        self._thread.start()

    def add(self, event: dict[str, Any]) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError("the usage buffer is closed")
            if len(self._pending) >= self.max_buffered:
                raise TallyError(0, "buffer_full", f"{self.max_buffered} events wait unsent; is tally reachable?")
            self._pending.append(event)
            if self._oldest_at is None:  # the thread slept without a deadline: it has one now
                self._oldest_at = time.monotonic()
                self._wake.notify()
            elif len(self._pending) >= self.max_batch:
                self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._pending)

    def flush(self) -> None:
        """Send everything buffered now; raises the last failure if a batch could not be sent."""
        while self._send_one(raise_errors=True):
            pass

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._due():
                    self._wake.wait(self._wait_seconds())
                if self._closed:
                    return
            self._send_one(raise_errors=False)

    def _due(self) -> bool:
        if len(self._pending) >= self.max_batch:
            return True
        return self._oldest_at is not None and time.monotonic() - self._oldest_at >= self.flush_interval_seconds

    def _wait_seconds(self) -> float | None:
        if self._oldest_at is None:
            return None
        return max(0.0, self.flush_interval_seconds - (time.monotonic() - self._oldest_at))

    def _send_one(self, *, raise_errors: bool) -> bool:
        """Send the oldest batch; True when one was sent."""
        with self._sending:
            with self._wake:
                batch = self._pending[: self._batch_size]
            if not batch:
                return False
            try:
                results = self._send(batch)
            except Exception as error:
                if isinstance(error, TallyError) and error.status == 413 and len(batch) > 1:
                    self._batch_size = max(1, len(batch) // 2)  # over the server's byte limit: smaller batches
                    return True
                self._failed(error)
                if raise_errors:
                    raise
                with self._wake:  # the next attempt after another interval, not at once
                    self._oldest_at = time.monotonic()
                return False
            with self._wake:
                del self._pending[: len(batch)]
                self._oldest_at = time.monotonic() if self._pending else None
            self._count(results)
            return True

    def _failed(self, error: Exception) -> None:
        self.stats.failed_flushes += 1
        self.stats.last_error = error
        logger.warning("a usage batch could not be sent; it stays buffered for the next flush: %s", error)
        if self.on_error is not None:
            self.on_error(error)

    def _count(self, results: list[dict[str, Any]]) -> None:
        self.stats.batches_sent += 1
        for result in results:
            status = result.get("status")
            if status == "accepted":
                self.stats.accepted += 1
            elif status == "duplicate":
                self.stats.duplicate += 1
            else:
                self.stats.rejected += 1
                self.stats.rejections = [*self.stats.rejections[-99:], result]
