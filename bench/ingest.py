"""Measurement 1: usage events through `Tally.record_usage` in-process, with
the projection follower running as it does in the server; "record" stops the
clock when the last batch is saved, "record+project" when the follower has
applied the last notification."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from bench.stores import BenchError
from bench.workload import GRANT, Event, batches, customer_id, seed
from infrastructure.settings import Settings
from interfaces.bootstrap import Services, bootstrap

ADMIN_KEY = "sk_bench_in_process"
SETUP_TIMEOUT = 300.0


@dataclass(frozen=True)
class IngestResult:
    events: int
    statuses: dict[str, int]
    record_seconds: float
    project_seconds: float
    setup_seconds: float
    batch_seconds: list[float]

    @property
    def record_rate(self) -> float:
        return self.events / self.record_seconds

    @property
    def end_to_end_rate(self) -> float:
        return self.events / self.project_seconds

    def decile_rates(self, batch: int) -> tuple[float, float]:
        """Recording rates over the first and the last tenth of the batches: a
        cost that grows with the log shows as a falling rate."""
        tenth = max(len(self.batch_seconds) // 10, 1)
        first, last = self.batch_seconds[:tenth], self.batch_seconds[-tenth:]
        return batch * len(first) / sum(first), batch * len(last) / sum(last)


def open_seeded(
    url: str, customers: int, *, start_follower: bool, probe: bool = False, projector: str = "auto"
) -> Services:
    """A fresh store with the workload's reference data, projected."""
    settings = Settings(database_url=url, admin_key=ADMIN_KEY, projector=projector)  # type: ignore[arg-type]
    services = bootstrap(settings, start_follower=start_follower)
    try:
        seed(services.app, customers, probe=probe)
        head = services.app.store.recorder.max_notification_id() or 0
        if start_follower:
            if not services.wait_projected(head, SETUP_TIMEOUT):
                raise BenchError(f"the projection did not reach the seeded position {head} in {SETUP_TIMEOUT:.0f} s")
        else:
            services.follower.catch_up(head)
    except BaseException:
        services.close()
        raise
    return services


def measure_ingest(
    url: str, events: list[Event], customers: int, batch: int, timeout: float, projector: str = "auto"
) -> IngestResult:
    started = time.perf_counter()
    services = open_seeded(url, customers, start_follower=True, projector=projector)
    try:
        setup_seconds = time.perf_counter() - started
        statuses: Counter[str] = Counter()
        start = time.perf_counter()
        deadline = start + timeout
        batch_seconds = []
        for chunk in batches(events, batch):
            before = time.perf_counter()
            statuses.update(result.status for result in services.app.metering.record_usage(chunk))
            batch_seconds.append(time.perf_counter() - before)
            if time.perf_counter() > deadline:
                raise BenchError(f"recording did not finish within {timeout:.0f} s")
        recorded = time.perf_counter()
        head = services.app.store.recorder.max_notification_id() or 0
        if not services.wait_projected(head, max(deadline - time.perf_counter(), 1.0)):
            raise BenchError(f"the projection stopped at {services.queries.position()} of {head} (timeout)")
        projected = time.perf_counter()
        _check(services, statuses, len(events))
        return IngestResult(
            len(events), dict(statuses), recorded - start, projected - start, setup_seconds, batch_seconds
        )
    finally:
        services.close()


def _check(services: Services, statuses: Counter[str], expected: int) -> None:
    if statuses["accepted"] != expected:
        raise BenchError(f"expected {expected} accepted events, got {dict(statuses)}")
    balance, _ = services.queries.balance(customer_id(0), "USD")
    if not balance < Decimal(GRANT):
        raise BenchError(f"customer {customer_id(0)}'s balance {balance} does not show its usage")
