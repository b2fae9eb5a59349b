"""What one run measures and how big it is: 100,000 events by default, scaled by
flags or TALLY_BENCH_* environment variables for quick runs."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

DEFAULT_POSTGRES_URL = "postgresql://root@127.0.0.1:5432/test"
STORES = ("sqlite", "postgresql")
MEASUREMENTS = ("baseline", "ingest", "rerate", "http", "lag", "control", "observer", "gateway")
QUICK_GATEWAY_CALLS = 500
QUICK_EVENTS = 10_000
QUICK_LAG_SAMPLES = 50
MAX_EVENTS = 1_000_000
MAX_BATCH = 1_000


@dataclass(frozen=True)
class Options:
    events: int
    customers: int
    batch: int
    clients: int
    lag_samples: int
    background_rate: int
    stores: tuple[str, ...]
    measurements: tuple[str, ...]
    postgres_url: str
    timeout: float
    profile: bool
    gateway_calls: int = 2_000


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _names(value: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
    return names


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS} events, {QUICK_LAG_SAMPLES} lag samples")
    parser.add_argument("--events", type=int, help="usage events per ingestion measurement (default 100000)")
    parser.add_argument(
        "--customers",
        type=int,
        default=_env_int("TALLY_BENCH_CUSTOMERS", 1_000),
        help="customers the events spread over",
    )
    parser.add_argument("--batch", type=int, default=500, help="events per record_usage call / POST")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP client threads")
    parser.add_argument("--lag-samples", type=int, help="single events timed to a visible balance (default 200)")
    parser.add_argument("--background-rate", type=int, default=1_000, help="events/s of load during the lag test")
    parser.add_argument("--stores", type=lambda v: _names(v, STORES), default=STORES, help="sqlite,postgresql")
    parser.add_argument(
        "--only", type=lambda v: _names(v, MEASUREMENTS), default=MEASUREMENTS, help=",".join(MEASUREMENTS)
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TALLY_BENCH_POSTGRES_URL") or os.environ.get("TALLY_TEST_POSTGRES_URL"),
        help=f"base PostgreSQL URL on 127.0.0.1 (default {DEFAULT_POSTGRES_URL}); each run uses its own schemas",
    )
    parser.add_argument("--timeout", type=float, default=1_200.0, help="upper bound in seconds on each measurement")
    parser.add_argument(
        "--gateway-calls",
        type=int,
        help=f"SDK calls each way for the gateway's latency (default 2000, quick {QUICK_GATEWAY_CALLS})",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile the application-layer path")
    args = parser.parse_args(argv)

    quick = args.quick or os.environ.get("TALLY_BENCH_QUICK") == "1"
    events = args.events or _env_int("TALLY_BENCH_EVENTS", QUICK_EVENTS if quick else 100_000)
    lag_samples = args.lag_samples or _env_int("TALLY_BENCH_LAG_SAMPLES", QUICK_LAG_SAMPLES if quick else 200)
    gateway_calls = args.gateway_calls or _env_int("TALLY_BENCH_GATEWAY_CALLS", QUICK_GATEWAY_CALLS if quick else 2_000)
    if not 1 <= gateway_calls <= 100_000:
        parser.error("--gateway-calls must be 1-100000")
    if not 1 <= events <= MAX_EVENTS:
        parser.error(f"--events must be 1-{MAX_EVENTS}")
    if not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--batch must be 1-{MAX_BATCH} (the API's limit)")
    if not 1 <= args.customers <= 100_000 or not 1 <= args.clients <= 64 or not 1 <= lag_samples <= 10_000:
        parser.error("--customers 1-100000, --clients 1-64, --lag-samples 1-10000")
    if not 0 <= args.background_rate <= 20_000 or args.timeout <= 0:
        parser.error("--background-rate 0-20000 and a positive --timeout")
    return Options(
        events=events,
        customers=args.customers,
        batch=args.batch,
        clients=args.clients,
        lag_samples=lag_samples,
        background_rate=args.background_rate,
        stores=args.stores,
        measurements=args.only,
        postgres_url=args.postgres_url or DEFAULT_POSTGRES_URL,
        timeout=args.timeout,
        profile=args.profile,
        gateway_calls=gateway_calls,
    )
