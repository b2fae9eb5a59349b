"""Measurement 3: the lag from an event's acceptance (POST /v1/events answered
200) to its effect on GET /v1/customers/{id}/balance, under a paced
background load on other customers; and the read model's own lag, from the
same answer to the projection's position reaching the log's head read just
after it (what GraphQL's spend and daily views wait for: GET balance adds
the log's tail beyond the read model, so it does not)."""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from bench.server import Server, health, wait_projected
from bench.stores import BenchError
from bench.workload import PROBE, customer_id, usage_event

SAMPLE_TIMEOUT = 10.0
POLL_SECONDS = 0.002
PAUSE_SECONDS = 0.02
TICKS_PER_SECOND = 10
FULL_BATCH = 500
SETUP_TIMEOUT = 300.0


@dataclass(frozen=True)
class LagResult:
    samples_ms: list[float]
    timeouts: int
    accept_ms: list[float]
    read_ms: list[float]
    background_events: int
    background_seconds: float
    background_errors: list[str]
    projected_ms: list[float]
    backlog_events: int = 0  # full rate: how far the read model was behind when the load stopped
    drain_seconds: float = 0.0  # and how long it took to catch up

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 99)

    @property
    def background_rate(self) -> float:
        return self.background_events / self.background_seconds if self.background_seconds else 0.0


def percentile(values: list[float], rank: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[rank - 1]


class Background:
    """About `rate` events/s to the bulk customers, one batch per tick; with
    `full`, batches of FULL_BATCH back to back, as fast as the server answers."""

    def __init__(self, server: Server, rate: int, customers: int, limit_seconds: float, full: bool = False) -> None:
        self.server = server
        self.full = full
        self.per_tick = FULL_BATCH if full else max(rate // TICKS_PER_SECOND, 1) if rate else 0
        self.customers = customers
        self.limit_seconds = limit_seconds
        self.stop = threading.Event()
        self.sent = 0
        self.errors: list[str] = []
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, name="bench-background", daemon=True)

    def __enter__(self) -> Background:
        if self.per_tick:
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(SAMPLE_TIMEOUT * 3)

    def _run(self) -> None:
        generator = random.Random(11)
        start = time.perf_counter()
        tick = 1.0 / TICKS_PER_SECOND
        with self.server.client() as client:
            for number in range(int(self.limit_seconds * TICKS_PER_SECOND) * (100 if self.full else 1)):
                now = datetime.now(UTC)
                events = [
                    usage_event(
                        f"bg-{number:06d}-{i:04d}", customer_id(generator.randrange(self.customers)), now, generator
                    )
                    for i in range(self.per_tick)
                ]
                try:
                    response = client.post("/v1/events", json={"events": events})
                    response.raise_for_status()
                    self.sent += len(events)
                except httpx.HTTPError as error:
                    self.errors.append(repr(error))
                    if len(self.errors) > 10:
                        break
                pause = 0.0 if self.full else max(start + (number + 1) * tick - time.perf_counter(), 0.0)
                if self.stop.wait(pause):
                    break
        self.seconds = time.perf_counter() - start


class BalanceReader:
    """GET the probe's balance, keeping how long each read took."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.read_ms: list[float] = []

    def __call__(self) -> Decimal:
        start = time.perf_counter()
        response = self.client.get(f"/v1/customers/{PROBE}/balance")
        response.raise_for_status()
        self.read_ms.append((time.perf_counter() - start) * 1000)
        return Decimal(response.json()["balance"])


def measure_lag(
    server: Server, samples: int, background_rate: int, customers: int, timeout: float, full: bool = False
) -> LagResult:
    """With `full`, the background sends as fast as the server takes it; the
    read model may then fall further behind with every sample, so its lag is
    reported once, as the backlog when the load stops and the time to drain
    it, instead of per sample."""
    generator = random.Random(13 + full)
    prefix = "lagfull" if full else "lag"
    lags: list[float] = []
    accepts: list[float] = []
    projections: list[float] = []
    timeouts = 0
    with server.client(timeout=SAMPLE_TIMEOUT) as client:
        wait_projected(client, SETUP_TIMEOUT)
        balance = BalanceReader(client)
        seen = balance()
        deadline = time.perf_counter() + timeout
        with Background(server, background_rate, customers, timeout, full) as background:
            time.sleep(1.0)  # let the load reach its pace
            for number in range(samples):
                if time.perf_counter() > deadline:
                    raise BenchError(f"only {len(lags)} lag samples within {timeout:.0f} s")
                event = usage_event(f"{prefix}-{number:05d}", PROBE, datetime.now(UTC), generator)
                sent = time.perf_counter()
                response = client.post("/v1/events", json={"events": [event]})
                accepted = time.perf_counter()
                if response.status_code != 200 or response.json()["results"][0]["status"] != "accepted":
                    raise BenchError(f"probe event not accepted: {response.status_code} {response.text[:300]}")
                accepts.append((accepted - sent) * 1000)
                visible, seen = _wait_for_change(balance, seen, accepted + SAMPLE_TIMEOUT)
                if visible is None:
                    timeouts += 1
                else:
                    lags.append((visible - accepted) * 1000)
                if not full:
                    head = int(health(client)["log_position"])  # at or past the probe's position
                    projected = _wait_projected_past(client, head, accepted + SAMPLE_TIMEOUT)
                    if projected is not None:
                        projections.append((projected - accepted) * 1000)
                time.sleep(PAUSE_SECONDS)
        backlog, drain = 0, 0.0
        if full:
            stopped = health(client)
            backlog = int(stopped["log_position"]) - int(stopped["projection_position"])
            began = time.perf_counter()
            wait_projected(client, SETUP_TIMEOUT)
            drain = time.perf_counter() - began
    if not lags:
        raise BenchError(f"no probe event became visible within {SAMPLE_TIMEOUT:.0f} s")
    return LagResult(
        lags,
        timeouts,
        accepts,
        balance.read_ms,
        background.sent,
        background.seconds,
        background.errors,
        projections,
        backlog,
        drain,
    )


def _wait_projected_past(client: httpx.Client, head: int, deadline: float) -> float | None:
    """The moment /healthz first shows the projection at `head` or past it."""
    while time.perf_counter() < deadline:
        if int(health(client)["projection_position"]) >= head:
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    return None


def _wait_for_change(read: BalanceReader, before: Decimal, deadline: float) -> tuple[float | None, Decimal]:
    """Poll the balance until it moves below `before`; (the moment the read
    that saw it returned, the new balance). The read's own time is included."""
    while time.perf_counter() < deadline:
        balance = read()
        if balance < before:
            return time.perf_counter(), balance
        time.sleep(POLL_SECONDS)
    return None, read()
