"""python -m bench: every measurement on every store, then the table and
bench/results/latest.json. Exits 1 when a measurement failed (never on a
missed target: this is a report, not a test)."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import psycopg

from bench.options import Options, parse
from bench.report import Row, table, write_json
from bench.runner import StoreRun, say
from bench.stores import RunStores
from bench.workload import usage_events


def git_state() -> dict[str, Any]:
    """The commit measured, and which files outside bench/ differed from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    changed = [line[3:] for line in status.stdout.splitlines() if not line[3:].startswith("bench/")]
    return {"commit": head.stdout.strip(), "uncommitted": changed}


def environment(stores: RunStores, options: Options) -> dict[str, Any]:
    found: dict[str, Any] = {
        "git": git_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": version("eventsourcing"),
        "psycopg": psycopg.__version__,
    }
    if "postgresql" in options.stores:
        try:
            with psycopg.connect(stores.conninfo, connect_timeout=10) as connection:
                row = connection.execute("SHOW server_version").fetchone()
                sync = connection.execute("SHOW synchronous_commit").fetchone()
                autovacuum = connection.execute("SHOW autovacuum").fetchone()
            found["postgresql"] = row[0] if row else None
            found["synchronous_commit"] = sync[0] if sync else None
            # off: no table the run makes gets statistics (docs/performance.md, section 27)
            found["autovacuum"] = autovacuum[0] if autovacuum else None
        except psycopg.Error as error:
            found["postgresql"] = f"unreachable: {error}"
    return found


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    stores = RunStores(options.postgres_url)
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    env: dict[str, Any] = {}
    try:
        env = environment(stores, options)
        say(f"bench: {options.events} events, {options.customers} customers, stores {', '.join(options.stores)}")
        say(f"       run tag {stores.tag}, {env['cpus']} CPUs, load average {env['load_average']}")
        say(f"       commit {env['git'].get('commit')}, uncommitted outside bench/: {env['git'].get('uncommitted')}")
        if "postgresql" in env:
            say(
                f"       PostgreSQL {env['postgresql']}, synchronous_commit {env.get('synchronous_commit')}, "
                f"autovacuum {env.get('autovacuum')}"
            )
        events = usage_events(options.events, options.customers)
        for kind in options.stores:
            run = StoreRun(kind, options, stores, events)
            try:
                run.run()
            finally:
                rows += run.rows
                raw[kind] = run.raw
    finally:
        problems = stores.close()
    seconds = time.perf_counter() - started
    env["load_average_end"] = os.getloadavg()
    print()
    print(table(rows))
    print(f"\nfull run took {seconds:,.0f} s ({options.events} events per ingestion measurement)")
    for problem in problems:
        print(f"cleanup problem: {problem}")
    document = {
        "started_at": started_at.isoformat(),
        "duration_seconds": seconds,
        "options": asdict(options),
        "environment": env,
        "rows": [row.as_dict() for row in rows],
        "raw": raw,
        "cleanup_problems": problems,
    }
    path = write_json(document)
    write_json(document, f"run-{stores.tag}.json")
    print(f"figures written to {path}")
    return 1 if any(row.error for row in rows) or problems else 0


if __name__ == "__main__":
    sys.exit(main())
