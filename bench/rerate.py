"""Re-rating throughput: the events re-rated per second after a backdated
price version, measured on a store holding the ingestion workload. Every
event's price changes, so every event gets a Usage.Rerated with an
adjustment entry; the clock stops when the read model has applied them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bench.ingest import open_seeded
from bench.stores import BenchError
from bench.workload import PRICE_BOOK, Event, batches, rates

BACKDATED = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RerateResult:
    events: int
    rerated: int
    seconds: float
    rerate_seconds: float

    @property
    def rate(self) -> float:
        return self.rerated / self.seconds


def cheaper_rates() -> list[dict[str, object]]:
    """Every rate 10 % lower: each usage event's amounts change."""
    return [{**rate, "price": str(Decimal(str(rate["price"])) * Decimal("0.9"))} for rate in rates()]


def measure_rerate(url: str, events: list[Event], customers: int, batch: int, timeout: float) -> RerateResult:
    services = open_seeded(url, customers, start_follower=True)  # the default placement for the store
    try:
        for chunk in batches(events, batch):
            services.app.metering.record_usage(chunk)
        if not services.wait_projected(services.app.store.recorder.max_notification_id() or 0, timeout):
            raise BenchError("the projection did not catch up with the recorded usage")
        services.stop_policies()  # the bench calls rerate itself (where the watcher would), to time it
        services.app.catalog.publish_price_version(PRICE_BOOK, BACKDATED, cheaper_rates(), "manual")
        started = time.perf_counter()
        report = services.app.rerating.rerate(
            price_book=PRICE_BOOK, since=BACKDATED, reason="bench: backdated price cut"
        )
        rerated = time.perf_counter()
        head = services.app.store.recorder.max_notification_id() or 0
        if not services.wait_projected(head, timeout):
            raise BenchError("the projection did not apply the re-rating")
        seconds = time.perf_counter() - started
        if report.rerated != len(events):
            raise BenchError(f"expected {len(events)} re-rated events, got {report}")
        return RerateResult(len(events), report.rerated, seconds, rerated - started)
    finally:
        services.close()
