"""Rebuilding and auditing the read model from the event stream.

A rebuild fills tables under a scratch prefix from position zero and swaps
them in, so readers never see a half-built view. An audit builds the scratch
tables up to the live view's position and compares every row."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import ApplicationRecorder

from projections import schema
from projections.database import Cursor, Database
from projections.follower import Decode, Follower, Progress

SCRATCH_ROOT = "scratch_"
# Row order for comparison; money is compared as Decimal, so "1.50" equals "1.5".
ORDER_BY = {
    "tracking": "name",
    "postings": "position, seq",
    "accounts": "account, currency",
    "balances": "customer, currency",
    "usage_daily": "customer, day, provider, model, feature",
    "customers": "customer",
    "usage_events": "usage_id",
    "usage_lines": "usage_id, unit",
    "tier_months": "customer, period",
    "invoices": "invoice_id",
    "top_ups": "customer, top_up_id",
    "captures": "authorization_id",
    "alerts": "alert_id",
    "deliveries": "endpoint_id, message_id",
}


@dataclass(frozen=True)
class Difference:
    table: str
    detail: str


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, str):
        try:
            return Decimal(value).normalize() if value[:1].isdigit() or value[:1] == "-" else value
        except ArithmeticError:
            return value
    return value


def dump(cursor: Cursor, prefix: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = {}
    for table, order in ORDER_BY.items():
        cursor.execute(f"SELECT * FROM {prefix}{table} ORDER BY {order}")
        tables[table] = [tuple(_normal(v) for v in row) for row in cursor.fetchall()]
    return tables


def compare(live: dict[str, list[tuple[Any, ...]]], scratch: dict[str, list[tuple[Any, ...]]]) -> list[Difference]:
    differences = []
    for table in ORDER_BY:
        ours, theirs = live[table], scratch[table]
        if ours == theirs:
            continue
        extra = len(ours) - len(theirs)
        first = next(
            (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs))
        )
        differences.append(
            Difference(
                table, f"{len(ours)} live rows vs {len(theirs)} replayed ({extra:+d}); first difference at row {first}"
            )
        )
    return differences


def scratch_prefix() -> str:
    """A prefix of its own for each rebuild or audit, so two never share tables."""
    return f"{SCRATCH_ROOT}{secrets.token_hex(4)}_"


def build_scratch(
    recorder: ApplicationRecorder,
    decode: Decode,
    database: Database,
    prefix: str,
    until: int | None,
    progress: Progress | None,
) -> Follower:
    with database.transaction(write=True) as cursor:
        schema.create(cursor, prefix, database.dialect)
    follower = Follower(recorder, decode, database, prefix)
    follower.catch_up(until=until, progress=progress)
    return follower


def rebuild(
    recorder: ApplicationRecorder,
    decode: Decode,
    database: Database,
    live_prefix: str,
    progress: Progress | None = None,
) -> int:
    """Replay every event into scratch tables, then swap them in atomically.
    Events appended during the rebuild are applied by the next follower step."""
    prefix = scratch_prefix()
    try:
        follower = build_scratch(recorder, decode, database, prefix, None, progress)
        with database.transaction(write=True) as cursor:
            schema.rename(cursor, prefix, live_prefix, database.dialect)
    except BaseException:
        with database.transaction(write=True) as cursor:
            schema.drop(cursor, prefix)
        raise
    return follower.position


def audit_views(
    recorder: ApplicationRecorder,
    decode: Decode,
    database: Database,
    live_prefix: str,
    progress: Progress | None = None,
    on_position: Callable[[int], None] | None = None,
) -> list[Difference]:
    """Compare the live view with one replayed to the same position."""
    with database.snapshot() as cursor:
        live = dump(cursor, live_prefix)
    position = int(next(row[1] for row in live["tracking"] if row[0] == schema.VIEW_NAME))
    if on_position is not None:
        on_position(position)
    prefix = scratch_prefix()
    try:
        build_scratch(recorder, decode, database, prefix, position, progress)
        with database.snapshot() as cursor:
            scratch = dump(cursor, prefix)
    finally:
        with database.transaction(write=True) as cursor:
            schema.drop(cursor, prefix)
    return compare(live, scratch)
