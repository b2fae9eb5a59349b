"""GET balance and POST /v1/authorizations at full speed: `wrk` (Debian's
package) in a closed loop, 8 connections, against a real `tally serve` and,
in the same run, against the minimal FastAPI + psycopg-pool app of
bench/minimal_app.py doing the same two requests on PostgreSQL (the baseline),
the two taking turns: each round drives the baseline and tally one after
the other for each request kind, in the opposite order in the next round,
so that a machine that slows down or speeds up during the run weighs on
both sides alike. Each line prints requests/s, p50 and p99 latency, and
tally's ratio to the baseline run beside it; the last lines give, per
request kind, the median of the rounds' ratios.

    python -m bench.wrk [--seconds 6] [--rounds 3] [--stores postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from bench.options import DEFAULT_POSTGRES_URL
from bench.server import HOST, Server, free_port
from bench.stores import BenchError, local_postgres_url
from infrastructure.storage import parse_database_url

KEY = "sk_bench_wrk"
CONNECTIONS = 8
THREADS = 2
CUSTOMERS = 100
BALANCE = "1000000"
AMOUNT = "0.0001"
WARM_UP_SECONDS = 2
CATCH_UP_SECONDS = 60
MODES = (("balance", "GET balance"), ("authorize", "POST /v1/authorizations"))
RATES = [
    {"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "price": "2.50", "per": 1_000_000},
    {"provider": "openai", "model": "gpt-4o", "unit": "output_tokens", "price": "10", "per": 1_000_000},
]

# Each connection sends its own customers in turn and fresh authorization ids;
# done() prints the figures as one JSON line.
SCRIPT = """
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
request = function()
  counter = counter + 1
  local customer = string.format("c%03d", (counter * 7 + tid * 13) % CUSTOMERS)
  if MODE == "balance" then
    return wrk.format("GET", "/v1/customers/" .. customer .. "/balance", HEADERS)
  end
  local body = string.format('{"id":"RUN-%d-%d","customer":"%s","amount":"AMOUNT"}', tid, counter, customer)
  return wrk.format("POST", "/v1/authorizations", HEADERS, body)
end
done = function(summary, latency, requests)
  io.write(string.format('WRK {"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Figures:
    per_second: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    errors: int


def customer(index: int) -> str:
    return f"c{index:03d}"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["bash", str(Path(__file__).parent.parent / "scripts" / "ensure-wrk")], check=True)
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    return found


def drive(base_url: str, mode: str, seconds: int, folder: Path) -> Figures:
    """wrk against one request kind: a warm-up (not counted), then the run."""
    script = folder / f"{mode}.lua"
    headers = f'{{["Authorization"] = "Bearer {KEY}", ["Content-Type"] = "application/json"}}'
    results: list[Figures] = []
    for duration in (WARM_UP_SECONDS, seconds):
        text = (
            SCRIPT.replace("CUSTOMERS", str(CUSTOMERS))
            .replace("MODE", f'"{mode}"')
            .replace("HEADERS", headers)
            .replace("RUN", f"w{uuid.uuid4().hex[:10]}")
            .replace("AMOUNT", AMOUNT)
        )
        script.write_text(text)
        command = [ensure_wrk(), f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "-s", str(script), base_url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
        line = next(line for line in done.stdout.splitlines() if line.startswith("WRK "))
        raw = json.loads(line[4:])
        results.append(
            Figures(
                raw["requests"] / (raw["duration_us"] / 1e6),
                raw["p50_us"] / 1000,
                raw["p99_us"] / 1000,
                raw["non2xx"],
                raw["errors"],
            )
        )
    return results[-1]


def seed_tally(server: Server) -> None:
    with server.client() as admin:
        steps = [
            ("/v1/price-books", {"id": "default", "currency": "USD"}),
            ("/v1/price-books/default/versions", {"effective_from": "2026-01-01T00:00:00Z", "rates": RATES}),
            ("/v1/plans", {"id": "pro", "price_book": "default", "markup_percent": "20"}),
        ]
        for index in range(CUSTOMERS):
            name = customer(index)
            body = {"id": name, "name": name, "currency": "USD", "plan": "pro", "billing": "prepaid"}
            steps.append(("/v1/customers", body))
            steps.append((f"/v1/customers/{name}/top-ups", {"id": "seed", "amount": BALANCE, "source": "grant"}))
        for path, body in steps:
            admin.post(path, json=body).raise_for_status()
    caught_up(server.base_url)  # the balances projected before reads are timed


@contextmanager
def baseline_app(conninfo: str, folder: Path) -> Iterator[str]:
    from bench.minimal_app import create_schema

    schema = "bench_wrk_" + uuid.uuid4().hex[:12]
    create_schema(conninfo, schema, [customer(i) for i in range(CUSTOMERS)], BALANCE)
    port = free_port()
    command = [sys.executable, "-m", "bench.minimal_app", "--port", str(port), "--conninfo", conninfo]
    command += ["--schema", schema, "--key", KEY]
    log = (folder / "baseline.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/v1/customers/c000/balance", headers={"Authorization": f"Bearer {KEY}"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the baseline app did not start") from None
                time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        process.wait(15)
        log.close()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def tally_server(store: str, postgres_url: str, folder: Path) -> Iterator[str]:
    if store == "sqlite":
        url, drop = f"sqlite:///{folder / 'tally.db'}", None
    else:
        schema = "bench_wrk_" + uuid.uuid4().hex[:12]
        url, drop = f"{postgres_url}?schema={schema}", schema
    try:
        with Server(url, KEY, folder / f"tally-{store}.log") as server:
            seed_tally(server)
            yield server.base_url
    finally:
        if drop is not None:
            with psycopg.connect(parse_database_url(postgres_url).postgres_conninfo, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{drop}" CASCADE')


def line(name: str, figures: Figures, baseline: Figures | None) -> str:
    ratio = f"{figures.per_second / baseline.per_second:5.2f}x" if baseline else "     -"
    flags = f"  ({figures.non2xx} non-2xx, {figures.errors} errors)" if figures.non2xx or figures.errors else ""
    speed = f"{figures.per_second:9,.0f}/s  p50 {figures.p50_ms:6.1f} ms  p99 {figures.p99_ms:6.1f} ms"
    return f"{name:<56} {speed}  {ratio}{flags}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wrk", description=__doc__)
    parser.add_argument("--seconds", type=int, default=6, help="each measured run (after 2 s of warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of baseline and tally per request kind")
    parser.add_argument("--stores", default="postgresql,sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    options = parser.parse_args(argv)
    postgres_url = local_postgres_url(options.postgres_url)
    conninfo = parse_database_url(postgres_url).postgres_conninfo
    ensure_wrk()
    print(
        f"wrk, closed loop, {CONNECTIONS} connections, {options.seconds} s each, {CUSTOMERS} customers, "
        f"{options.rounds} rounds of baseline and tally in turn"
    )
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        with baseline_app(conninfo, folder) as base_url:
            for store in options.stores.split(","):
                with tally_server(store, postgres_url, folder) as tally_url:
                    ratios = {
                        mode: taking_turns(base_url, tally_url, store, mode, options.seconds, options.rounds, folder)
                        for mode, _ in MODES
                    }
                for mode, name in MODES:
                    found = ratios[mode]
                    rounds = ", ".join(f"{ratio:.2f}x" for ratio in found)
                    print(f"{name}, tally on {store}: median {statistics.median(found):.2f}x ({rounds})", flush=True)


def taking_turns(
    base_url: str, tally_url: str, store: str, mode: str, seconds: int, rounds: int, folder: Path
) -> list[float]:
    """The rounds of one request kind: baseline then tally, then tally then
    baseline, and so on (each tally run followed by its projector catching
    up, so that the next run does not share the machine with it). Returns
    each round's ratio."""
    name = dict(MODES)[mode]
    ratios = []
    for number in range(1, rounds + 1):
        sides = [("baseline", base_url), ("tally", tally_url)]
        if number % 2 == 0:
            sides.reverse()
        found: dict[str, Figures] = {}
        for side, url in sides:
            found[side] = drive(url, mode, seconds, folder)
            if side == "tally":
                caught_up(tally_url)
        print(line(f"{name}, round {number}, minimal app (baseline)", found["baseline"], None), flush=True)
        print(line(f"{name}, round {number}, tally on {store}", found["tally"], found["baseline"]), flush=True)
        ratios.append(found["tally"].per_second / found["baseline"].per_second)
    return ratios


def caught_up(tally_url: str) -> None:
    """Until tally's read model has applied its log; a BenchError after
    CATCH_UP_SECONDS (the next run would share the machine with it)."""
    with httpx.Client(base_url=tally_url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            health = client.get("/healthz").json()
            if int(health["projection_position"]) >= int(health["log_position"]):
                return
            time.sleep(0.05)
    raise BenchError(f"tally's read model did not catch up with its log in {CATCH_UP_SECONDS} s")


if __name__ == "__main__":
    main()
