"""What the request observer (interfaces/observability/requests.py) costs a
request: the same trivial route answered in process, straight through ASGI
(no sockets, no store, so nothing else hides the difference), by the bare
application and by the application with the observer, its request line
written as text and as JSON to /dev/null. The variants take turns in short
rounds, and each figure is its median round, so a noisy neighbour slows
all of them alike."""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from interfaces.observability.logs import JsonFormatter
from interfaces.observability.requests import RequestObserver
from interfaces.observability.requests import logger as request_logger

ROUNDS = 30
PATH = "/v1/customers/acme/ping"


@dataclass
class ObserverResult:
    requests_per_round: int
    bare_us: float
    text_us: float
    json_us: float

    @property
    def text_overhead_us(self) -> float:
        return self.text_us - self.bare_us

    @property
    def json_overhead_us(self) -> float:
        return self.json_us - self.bare_us


def _app(observed: bool) -> Any:
    app = FastAPI()

    @app.get("/v1/customers/{customer_id}/ping")
    async def ping(customer_id: str) -> dict[str, str]:
        return {"customer": customer_id}

    if observed:
        app.add_middleware(RequestObserver)
    return app


def _scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": PATH, "raw_path": PATH.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def _round(app: Any, requests: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"the route answered {message['status']}")

    started = time.perf_counter()
    for _ in range(requests):
        await app(_scope(), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def _logging_to(formatter: logging.Formatter | None) -> Callable[[], None]:
    """Request lines to /dev/null through this formatter (None: no handler
    change); returns the undo."""
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed by the undo
    handler = logging.StreamHandler(sink)
    if formatter is not None:
        handler.setFormatter(formatter)
    saved = (request_logger.handlers[:], request_logger.propagate, request_logger.level)
    request_logger.handlers[:] = [handler]
    request_logger.propagate = False
    request_logger.setLevel(logging.INFO)

    def undo() -> None:
        request_logger.handlers[:], request_logger.propagate = saved[0], saved[1]
        request_logger.setLevel(saved[2])
        sink.close()

    return undo


def measure_observer(requests_per_round: int = 2000) -> ObserverResult:
    bare, observed = _app(False), _app(True)
    formats = {"text": logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"), "json": JsonFormatter()}
    timings: dict[str, list[float]] = {"bare": [], "text": [], "json": []}

    async def run() -> None:
        for app in (bare, observed):  # warm up: routes compiled, first requests paid for
            await _round(app, 200)
        for _ in range(ROUNDS):
            timings["bare"].append(await _round(bare, requests_per_round))
            for name, formatter in formats.items():
                undo = _logging_to(formatter)
                try:
                    timings[name].append(await _round(observed, requests_per_round))
                finally:
                    undo()

    asyncio.run(run())
    median = {name: statistics.median(values) for name, values in timings.items()}
    return ObserverResult(requests_per_round, median["bare"], median["text"], median["json"])


if __name__ == "__main__":
    result = measure_observer()
    print(result, f"text +{result.text_overhead_us:.1f} us, json +{result.json_overhead_us:.1f} us")
