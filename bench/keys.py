"""What a scoped operator key costs per request: the same requests, one at a
time, through a real `tally serve`, with the admin key (the baseline: one
string comparison) and with an operator key (the copy of the live keys is
brought up to date from the log before each check). The two keys take turns
request by request (which goes first alternates too), so that a noisy shared
machine weighs on both alike; each key's median and p99 latency are printed.

    python -m bench.keys [--requests 1000] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.options import DEFAULT_POSTGRES_URL
from bench.server import Server

ADMIN_KEY = "sk_bench_keys"
MAX_REQUESTS = 100_000
WARM_UP = 50
RATES = [
    {"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "price": "2.50", "per": 1_000_000},
    {"provider": "openai", "model": "gpt-4o", "unit": "output_tokens", "price": "10", "per": 1_000_000},
]


def seed(admin: httpx.Client) -> str:
    """A price book, a plan, a customer with a wallet; an operator key with every scope."""
    steps = [
        ("/v1/price-books", {"id": "default", "currency": "USD"}),
        ("/v1/price-books/default/versions", {"effective_from": "2026-01-01T00:00:00Z", "rates": RATES}),
        ("/v1/plans", {"id": "pro", "price_book": "default", "markup_percent": "20"}),
        ("/v1/customers", {"id": "acme", "name": "Acme", "currency": "USD", "plan": "pro", "billing": "prepaid"}),
        ("/v1/customers/acme/top-ups", {"id": "welcome", "amount": "1000000", "source": "grant"}),
    ]
    for path, body in steps:
        admin.post(path, json=body).raise_for_status()
    issued = admin.post("/v1/api-keys", json={"scopes": ["usage:write", "authorizations:write", "read"]})
    issued.raise_for_status()
    return str(issued.json()["key"])


def timed(client: httpx.Client, send: Callable[[httpx.Client, int], httpx.Response], n: int) -> float:
    start = time.perf_counter()
    response = send(client, n)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"answered {response.status_code}: {response.text[:200]}")
    return elapsed_ms


def latencies(
    admin: httpx.Client, operator: httpx.Client, requests: int, make: Callable[[str], Callable[..., httpx.Response]]
) -> tuple[list[float], list[float]]:
    """Each key's latencies in milliseconds, the keys taking turns."""
    admin_send, operator_send = make("a"), make("o")
    admin_ms: list[float] = []
    operator_ms: list[float] = []
    for n in range(requests):
        if n % 2:
            admin_ms.append(timed(admin, admin_send, n))
            operator_ms.append(timed(operator, operator_send, n))
        else:
            operator_ms.append(timed(operator, operator_send, n))
            admin_ms.append(timed(admin, admin_send, n))
    return admin_ms, operator_ms


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def read_balance(client: httpx.Client, _: int) -> httpx.Response:
    return client.get("/v1/customers/acme/balance")


def one_event(prefix: str) -> Callable[[httpx.Client, int], httpx.Response]:
    moment = datetime.now(UTC).isoformat()

    def send(client: httpx.Client, n: int) -> httpx.Response:
        event = {
            "id": f"{prefix}-{n}",
            "customer": "acme",
            "timestamp": moment,
            "provider": "openai",
            "model": "gpt-4o",
            "usage": {"input_tokens": 100, "output_tokens": 10},
        }
        return client.post("/v1/events", json={"events": [event]})

    return send


def measure_store(database_url: str, requests: int) -> list[tuple[str, list[float], list[float]]]:
    with (
        tempfile.TemporaryDirectory() as folder,
        Server(database_url, ADMIN_KEY, Path(folder) / "server.log") as server,
    ):
        with server.client() as admin:
            operator_key = seed(admin)
        operator = httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {operator_key}"}, timeout=60, trust_env=False
        )
        results = []
        with server.client() as admin, operator:
            for name, make in (("GET balance", lambda _: read_balance), ("POST one event", one_event)):
                latencies(admin, operator, WARM_UP, functools.partial(_warm, make))  # not measured
                admin_ms, operator_ms = latencies(admin, operator, requests, make)
                results.append((name, admin_ms, operator_ms))
        return results


def _warm(make: Callable[[str], Callable[..., httpx.Response]], prefix: str) -> Callable[..., httpx.Response]:
    return make("warm-" + prefix)


def postgres_schema(base_url: str) -> tuple[str, Callable[[], None]]:
    schema = "bench_keys_" + uuid.uuid4().hex[:12]

    def drop() -> None:
        with psycopg.connect(base_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{base_url}?schema={schema}", drop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.keys", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="requests per round and key")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    options = parser.parse_args(argv)
    if not 1 <= options.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1-{MAX_REQUESTS}")
    print(f"Operator keys: {options.requests} requests per key, one at a time, the two keys taking turns")
    print(f"{'store':<11} {'request':<15} {'admin key p50 / p99 (baseline)':>31} {'operator key p50 / p99':>24}")
    for store in options.stores.split(","):
        if store == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                rows = measure_store(f"sqlite:///{folder}/tally.db", options.requests)
        else:
            url, drop = postgres_schema(options.postgres_url)
            try:
                rows = measure_store(url, options.requests)
            finally:
                drop()
        for name, admin_ms, operator_ms in rows:
            admin_shown = f"{statistics.median(admin_ms):.2f} / {p99(admin_ms):.2f} ms"
            operator_shown = f"{statistics.median(operator_ms):.2f} / {p99(operator_ms):.2f} ms"
            print(f"{store:<11} {name:<15} {admin_shown:>31} {operator_shown:>24}")


if __name__ == "__main__":
    main()
