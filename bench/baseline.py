"""Measurement 4, the floor any design pays: the same rows inserted with plain
batched `INSERT ... ON CONFLICT DO NOTHING` (executemany, one commit per
batch) into a scratch table keyed by the event id."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench.stores import BenchError
from bench.workload import Event, batches

Row = tuple[str, str, str]


@dataclass(frozen=True)
class BaselineResult:
    events: int
    inserted: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def rows(events: list[Event]) -> list[Row]:
    return [(event["id"], event["customer"], json.dumps(event)) for event in events]


def postgres_baseline(conninfo: str, schema: str, events: list[Event], batch: int, timeout: float) -> BaselineResult:
    chunks = batches(rows(events), batch)
    table = sql.Identifier(schema, "scratch_events")
    insert = sql.SQL("INSERT INTO {} (id, customer, body) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING").format(table)
    with psycopg.connect(conninfo, connect_timeout=10) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        connection.execute(
            sql.SQL("CREATE TABLE {} (id text PRIMARY KEY, customer text NOT NULL, body text NOT NULL)").format(table)
        )
        connection.commit()
        start = time.perf_counter()
        deadline = start + timeout
        for chunk in chunks:
            with connection.cursor() as cursor:
                cursor.executemany(insert, chunk)
            connection.commit()
            if time.perf_counter() > deadline:
                raise BenchError(f"the PostgreSQL baseline did not finish within {timeout:.0f} s")
        seconds = time.perf_counter() - start
        count = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
    return BaselineResult(len(events), int(count[0]) if count else 0, seconds)


def sqlite_baseline(path: Path, events: list[Event], batch: int, timeout: float) -> BaselineResult:
    """WAL and the default synchronous setting, as the event store configures SQLite."""
    chunks = batches(rows(events), batch)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(
            "CREATE TABLE scratch_events (id TEXT PRIMARY KEY, customer TEXT NOT NULL, body TEXT NOT NULL)"
        )
        insert = "INSERT INTO scratch_events (id, customer, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        start = time.perf_counter()
        deadline = start + timeout
        for chunk in chunks:
            connection.execute("BEGIN")
            connection.executemany(insert, chunk)
            connection.execute("COMMIT")
            if time.perf_counter() > deadline:
                raise BenchError(f"the SQLite baseline did not finish within {timeout:.0f} s")
        seconds = time.perf_counter() - start
        (count,) = connection.execute("SELECT count(*) FROM scratch_events").fetchone()
    finally:
        connection.close()
    return BaselineResult(len(events), int(count), seconds)
