"""Measurements 5 and 6 (issue: real-time control): authorization latency at a
paced 500 requests/s through the HTTP server, and the lag from a usage event
to its balanceChanged notification over a GraphQL websocket. Both beside the
same server's GET /healthz latency at the same pace, measured in the same run."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from websockets.sync.client import connect

from bench.server import Server
from bench.workload import customer_id, usage_event

WORKERS = 48


@dataclass(frozen=True)
class Latencies:
    samples_ms: list[float]
    errors: int
    statuses: dict[int, int]

    def percentile(self, rank: int) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, max(0, round(rank / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return self.percentile(99)


def paced(server: Server, rate: int, seconds: float, request: str, customers: int) -> Latencies:
    """Send `rate` requests a second for `seconds`, each on schedule (an open
    loop: a slow answer does not delay the next request), and time each."""
    total = int(rate * seconds)
    samples: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    lock = threading.Lock()
    local = threading.local()
    run = f"{time.time_ns():x}"

    def one(index: int, due: float) -> None:
        nonlocal errors
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = server.client(timeout=10.0)
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        started = time.perf_counter()
        try:
            if request == "healthz":
                status = client.get("/healthz").status_code
            else:
                body = {"id": f"bench-{run}-{index}", "customer": customer_id(index % customers), "amount": "0.0001"}
                status = client.post("/v1/authorizations", json=body).status_code
        except httpx.HTTPError:
            with lock:
                errors += 1
            return
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            samples.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for index in range(total):
            pool.submit(one, index, start + index / rate)
    return Latencies(samples, errors, statuses)


def balance_changed_lag(server: Server, samples: int, customer: str) -> Latencies:
    """Post one event at a time and time until the subscription reports the
    new balance."""
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    query = f'subscription {{ balanceChanged(customerId: "{customer}") {{ balance {{ amount }} }} }}'
    generator = random.Random(11)
    measured: list[float] = []
    errors = 0
    with connect(url, subprotocols=["graphql-transport-ws"]) as socket, server.client() as client:  # type: ignore[list-item]
        socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {server.admin_key}"}}))
        socket.recv(timeout=10)
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        socket.recv(timeout=10)  # the balance now
        for index in range(samples):
            body = usage_event(f"sub-{time.time_ns():x}-{index}", customer, datetime.now(UTC), generator)
            started = time.perf_counter()
            client.post("/v1/events", json={"events": [body]})
            try:
                socket.recv(timeout=10)
            except TimeoutError:
                errors += 1
                continue
            measured.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    return Latencies(measured, errors, {})
