"""python -m bench.auditors: the auditors' tools at scale. On each store, a log
of N usage events (recorded in batches of 1,000 through the application, then
projected), then `tally replay` and `tally audit` run as subprocesses: events/s
and peak resident memory (sampled, the command and its children). The baseline, in the same
run: a plain SELECT of the whole event table paged through in Python by a
subprocess of its own (rows/s and peak RSS), the floor any reading of the log pays;
and each command again with its scratch view filled by one process
(TALLY_REPLAY_WORKERS=1), beside the default of one worker per core.

--quick: 200,000 events; default 1,000,000; --events N for any other size."""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.ingest import open_seeded
from bench.options import DEFAULT_POSTGRES_URL, STORES
from bench.stores import BenchError, RunStores
from bench.workload import batches, usage_events
from infrastructure.storage import parse_database_url

QUICK_EVENTS = 200_000
FULL_EVENTS = 1_000_000
CUSTOMERS = 1_000
SCAN_PAGE = 10_000
TALLY = Path(sys.executable).parent / "tally"


@dataclass(frozen=True)
class Run:
    """One subprocess: how long it took, its peak RSS, how it ended."""

    seconds: float
    peak_mb: float
    code: int
    output: str


def _tree(pid: int) -> list[int]:
    """A process and its descendants."""
    found, index = [pid], 0
    while index < len(found):
        try:
            for task in Path(f"/proc/{found[index]}/task").iterdir():
                found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass  # gone meanwhile
        index += 1
    return found


def _resident_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(command: list[str], url: str, **env_vars: str) -> Run:
    """Run a command; its peak memory is the largest sum of the resident memory
    of it and its children (`tally audit` replays in a child process), sampled
    every 20 ms. Not ru_maxrss: a child's counts the memory of the process
    that forked it, before its exec (here, the bench's own log building)."""
    env = {**os.environ, "TALLY_DATABASE_URL": url, "TALLY_LOG_FORMAT": "text", "COLUMNS": "200", **env_vars}
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], sum(_resident_kb(pid) for pid in _tree(child.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stdout is not None
    output = child.stdout.read()
    done.set()
    sampler.join()
    child.wait()
    seconds = time.perf_counter() - started
    return Run(seconds, peak[0] / 1024, child.returncode, output)


def build_log(url: str, count: int) -> tuple[int, str, list[str]]:
    """A store holding `count` usage events over CUSTOMERS customers, projected:
    its head, the name of its event table, and how ingestion went tenth by
    tenth (each tenth recorded, then projected; the rate and this process's
    resident memory after it): a cost or memory that grows with the history
    shows as a falling rate or a rising figure."""
    services = open_seeded(url, CUSTOMERS, start_follower=False)
    try:
        chunks = batches(usage_events(count, CUSTOMERS, prefix="au"), 1_000)
        tenth = max(len(chunks) // 10, 1)
        rates, memory = [], []
        for start in range(0, len(chunks), tenth):
            began = time.perf_counter()
            recorded = 0
            for chunk in chunks[start : start + tenth]:
                services.app.metering.record_usage(chunk)
                recorded += len(chunk)
            services.follower.catch_up(services.app.store.head())
            rates.append(recorded / (time.perf_counter() - began))
            memory.append(_resident_kb(os.getpid()) / 1024)
        table = str(services.app.store.recorder.events_table_name)  # type: ignore[attr-defined]
        growth = [
            f"recorded and projected tenth by tenth: first {rates[0]:,.0f} ev/s, last {rates[-1]:,.0f} ev/s "
            f"({rates[-1] / rates[0] - 1:+.0%}); every tenth: {', '.join(f'{rate:,.0f}' for rate in rates)}",
            f"resident memory after each tenth: first {memory[0]:,.0f} MB, last {memory[-1]:,.0f} MB; "
            f"every tenth: {', '.join(f'{mb:,.0f}' for mb in memory)}",
        ]
        return services.app.store.head(), table, growth
    finally:
        services.close()


def scan(url: str, table: str) -> int:
    """The baseline: every row of the event table, a page at a time."""
    store = parse_database_url(url)
    position, rows = 0, 0
    if store.kind == "sqlite":
        connection: object = sqlite3.connect(store.sqlite_path)
        query = f"SELECT rowid, topic, state FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        execute = connection.execute  # type: ignore[attr-defined]
    else:
        connection = psycopg.connect(store.postgres_conninfo)
        query = (
            f"SELECT notification_id, topic, state FROM {store.postgres_schema}.{table} "
            "WHERE notification_id > %s ORDER BY 1 LIMIT %s"
        )
        execute = connection.execute  # type: ignore[attr-defined]
    while True:
        page = execute(query, (position, SCAN_PAGE)).fetchall()
        if not page:
            break
        rows += len(page)
        position = page[-1][0]
    connection.close()  # type: ignore[attr-defined]
    return rows


def measure(kind: str, stores: RunStores, count: int) -> list[str]:
    url = stores.url(kind, "auditors")
    started = time.perf_counter()
    head, table, growth = build_log(url, count)
    print(f"{kind}: a log of {head:,} events built and projected in {time.perf_counter() - started:,.0f} s", flush=True)
    lines = [f"{kind:<11} {line}" for line in growth]
    for line in lines:
        print(line, flush=True)
    baseline = timed([sys.executable, "-m", "bench.auditors", "--scan", url, "--table", table], url)
    if baseline.code != 0:
        raise BenchError(f"the baseline scan failed: {baseline.output[-2000:]}")
    lines.append(_line(kind, "baseline: SELECT paged", head, baseline))
    # each as it runs by default (its scratch view filled by one process per
    # core), then filled by its own process alone: what the workers bring
    for name, workers in (("replay", ""), ("audit", ""), ("replay", "1"), ("audit", "1")):
        run = timed([str(TALLY), name], url, **({"TALLY_REPLAY_WORKERS": workers} if workers else {}))
        if run.code != 0:
            raise BenchError(f"tally {name} failed ({run.code}): {run.output[-2000:]}")
        lines.append(_line(kind, f"tally {name}" + (f", workers={workers}" if workers else ""), head, run))
    return lines


def _line(kind: str, what: str, events: int, run: Run) -> str:
    line = (
        f"{kind:<11} {what:<24} {events:>10,} events {events / run.seconds:>10,.0f} ev/s {run.peak_mb:>8,.0f} MB peak"
    )
    print(line, flush=True)
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.auditors", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--events", type=int, help=f"usage events in the log (default {FULL_EVENTS:,})")
    parser.add_argument("--stores", default=",".join(STORES), help="sqlite,postgresql")
    parser.add_argument("--scan", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--table", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scan:
        print(f"{scan(args.scan, args.table):,} rows")
        return 0
    quick = args.quick or os.environ.get("TALLY_BENCH_QUICK") == "1"
    count = args.events or (QUICK_EVENTS if quick else FULL_EVENTS)
    postgres = os.environ.get("TALLY_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    stores = RunStores(postgres)
    lines = []
    try:
        for kind in args.stores.split(","):
            lines += measure(kind.strip(), stores, count)
    finally:
        problems = stores.close()
    print("\nauditors' tools (the baseline is a plain paged SELECT of the event table, same run):")
    print("\n".join(lines))
    for problem in problems:
        print(f"cleanup problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
