"""Measurement 2: the same events POSTed to /v1/events by a few client
threads; the clock stops when /healthz shows the projection at the log head."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from bench.server import Server, wait_projected
from bench.stores import BenchError
from bench.workload import Event, batches

SETUP_PROJECTION_TIMEOUT = 300.0
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class HttpResult:
    events: int
    clients: int
    statuses: dict[str, int]
    post_seconds: float
    project_seconds: float
    held_back: int = 0  # POSTs answered 429 (the views far behind) and sent again after Retry-After

    @property
    def post_rate(self) -> float:
        return self.events / self.post_seconds

    @property
    def end_to_end_rate(self) -> float:
        return self.events / self.project_seconds


class _Sender:
    """Client threads draining one queue of prepared request bodies."""

    def __init__(self, server: Server, bodies: list[bytes], deadline: float) -> None:
        self.server = server
        self.deadline = deadline
        self.work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        for body in bodies:
            self.work.put(body)
        self.statuses: Counter[str] = Counter()
        self.errors: list[str] = []
        self.held_back = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        with self.server.client() as client:
            while time.perf_counter() < self.deadline and not self.errors:
                try:
                    body = self.work.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = client.post("/v1/events", content=body, headers=JSON)
                    while response.status_code == 429 and time.perf_counter() < self.deadline:
                        # backpressure (the views far behind): as a client should, wait and send it again
                        with self.lock:
                            self.held_back += 1
                        time.sleep(float(response.headers.get("retry-after", "1")))
                        response = client.post("/v1/events", content=body, headers=JSON)
                except httpx.HTTPError as error:
                    with self.lock:
                        self.errors.append(f"POST /v1/events failed: {error!r}")
                    return
                with self.lock:
                    if response.status_code != 200:
                        self.errors.append(f"POST /v1/events answered {response.status_code}: {response.text[:300]}")
                        return
                    self.statuses.update(result["status"] for result in response.json()["results"])


def measure_http(server: Server, events: list[Event], batch: int, clients: int, timeout: float) -> HttpResult:
    with server.client() as client:
        wait_projected(client, SETUP_PROJECTION_TIMEOUT)
    bodies = [json.dumps({"events": chunk}).encode() for chunk in batches(events, batch)]
    start = time.perf_counter()
    deadline = start + timeout
    sender = _Sender(server, bodies, deadline)
    threads = [threading.Thread(target=sender.run, name=f"bench-client-{n}", daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.perf_counter(), 1.0))
    posted = time.perf_counter()
    if sender.errors:
        raise BenchError(sender.errors[0])
    if any(thread.is_alive() for thread in threads) or sum(sender.statuses.values()) != len(events):
        raise BenchError(f"only {sum(sender.statuses.values())} of {len(events)} events answered in {timeout:.0f} s")
    if sender.statuses["accepted"] != len(events):
        raise BenchError(f"expected {len(events)} accepted events, got {dict(sender.statuses)}")
    with server.client() as client:
        wait_projected(client, max(deadline - time.perf_counter(), 1.0))
    projected = time.perf_counter()
    return HttpResult(len(events), clients, dict(sender.statuses), posted - start, projected - start, sender.held_back)
