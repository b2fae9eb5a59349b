"""Rebuilding and auditing the read model from the event stream.

A rebuild fills tables under a scratch prefix from position zero and swaps
them in, so readers never see a half-built view. An audit builds the scratch
tables up to the live view's position and compares every row.

Comparing: the database first tells whether a table equals its twin (a join
on the key with every column equal); only a table that is not is read, in key
order, a page of each side at a time, and compared row by row with money as
Decimal ("1.50" equals "1.5"), to say where they first differ. So the memory
a comparison takes does not grow with the view."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import zip_longest
from typing import Any

from eventsourcing.persistence import ApplicationRecorder

from projections import parallel_fill, schema
from projections.database import Cursor, Database, Dialect
from projections.follower import PAGE_SIZE, Decode, Follower, Progress
from projections.parallel_fill import ParallelFill

SCRATCH_ROOT = "scratch_"
# A rebuild reads the log in the live follower's pages: pages of 5,000 and
# 10,000 measured no faster (bench/auditors.py), and a page is what it holds.
REBUILD_PAGE = PAGE_SIZE
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
    "hold_captures": "customer, authorization_id",
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


COMPARE_PAGE = 5_000
CATCH_UP_ROUNDS = 50


def _key_columns(table: str) -> list[str]:
    return [column.strip() for column in ORDER_BY[table].split(",")]


def _pages(cursor: Cursor, prefix: str, table: str) -> Iterator[list[tuple[Any, ...]]]:
    """A table's rows in key order, a page at a time (keyset paging): each row
    led by its key columns, which the next page starts after."""
    keys = _key_columns(table)
    listed = ", ".join(keys)
    after: tuple[Any, ...] | None = None
    while True:
        where = f"WHERE ({listed}) > ({', '.join('?' * len(keys))})" if after is not None else ""
        cursor.execute(
            f"SELECT {listed}, * FROM {prefix}{table} {where} ORDER BY {listed} LIMIT {COMPARE_PAGE}", after or ()
        )
        page = [tuple(row) for row in cursor.fetchall()]
        if page:
            yield page
        if len(page) < COMPARE_PAGE:
            return
        after = page[-1][: len(keys)]


def _first_difference(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> int | None:
    """Where two pages first differ with money compared as Decimal ("1.50" equals "1.5")."""
    for index, (a, b) in enumerate(zip_longest(ours, theirs)):
        if a is None or b is None or tuple(map(_normal, a)) != tuple(map(_normal, b)):
            return index
    return None


def _columns(cursor: Cursor, table: str, dialect: Dialect) -> list[str]:
    if dialect.name == "sqlite":
        cursor.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))
    else:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    return [str(row[0]) for row in cursor.fetchall()]


def _count(cursor: Cursor, query: str) -> int:
    cursor.execute(query)
    return int(cursor.fetchone()[0])


def _same_rows(cursor: Cursor, live: str, scratch: str, table: str, dialect: Dialect) -> bool:
    """The exact test, done by the database: the same columns, as many rows,
    and every row of one has its twin in the other (joined on the key, every
    column equal, NULL to NULL). The key is unique, so that is equality."""
    columns = _columns(cursor, f"{live}{table}", dialect)
    if not columns or columns != _columns(cursor, f"{scratch}{table}", dialect):
        return False
    same = "IS" if dialect.name == "sqlite" else "IS NOT DISTINCT FROM"
    keys = " AND ".join(f"a.{key} = b.{key}" for key in _key_columns(table))
    equal = " AND ".join(f"a.{column} {same} b.{column}" for column in columns)
    rows = _count(cursor, f"SELECT COUNT(*) FROM {live}{table}")
    return rows == _count(cursor, f"SELECT COUNT(*) FROM {scratch}{table}") and rows == _count(
        cursor, f"SELECT COUNT(*) FROM {live}{table} a JOIN {scratch}{table} b ON {keys} AND {equal}"
    )


def compare_tables(cursor: Cursor, live_prefix: str, scratch_prefix: str, dialect: Dialect) -> list[Difference]:
    """compare() of two prefixes' tables without reading them into memory: a
    table the database finds equal is done; another is read in key order, two
    pages at a time, and compared as compare() does (money as Decimal), to say
    where it first differs."""
    differences = []
    for table in ORDER_BY:
        if _same_rows(cursor, live_prefix, scratch_prefix, table, dialect):
            continue
        ours = theirs = 0
        first: int | None = None
        for live, scratch in zip_longest(_pages(cursor, live_prefix, table), _pages(cursor, scratch_prefix, table)):
            live, scratch = live or [], scratch or []
            if first is None and live != scratch:
                found = _first_difference(live, scratch)
                first = None if found is None else ours + found
            ours += len(live)
            theirs += len(scratch)
        if first is None:
            continue
        differences.append(
            Difference(
                table,
                f"{ours} live rows vs {theirs} replayed ({ours - theirs:+d}); first difference at row {first}",
            )
        )
    return differences


def _tracked(cursor: Cursor, prefix: str) -> int:
    cursor.execute(f"SELECT position FROM {prefix}tracking WHERE name = ?", (schema.VIEW_NAME,))
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def compare_with_live(follower: Follower, live_prefix: str) -> tuple[int, list[Difference] | None]:
    """Compare a scratch view with the live one at the same position: when the
    live view has moved on meanwhile (a server's follower), the scratch view
    is brought up to it first. Returns the live position and the differences,
    or None when the live view is behind the scratch one (nothing to compare)."""
    database, scratch = follower.database, follower.prefix
    for _round in range(CATCH_UP_ROUNDS):
        with database.snapshot() as cursor:
            live, built = _tracked(cursor, live_prefix), _tracked(cursor, scratch)
            if live < built:
                return live, None
            if live == built:
                return live, compare_tables(cursor, live_prefix, scratch, database.dialect)
        follower.catch_up(until=live)
    with database.snapshot() as cursor:  # the live view would not hold still: compare as it stands
        return _tracked(cursor, live_prefix), compare_tables(cursor, live_prefix, scratch, database.dialect)


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
    page_size: int = PAGE_SIZE,
    parallel: ParallelFill | None = None,
) -> Follower:
    """A scratch view filled up to `until` (default: the log's end); with
    `parallel`, by several processes when the log is long enough."""
    with database.transaction(write=True) as cursor:
        schema.create(cursor, prefix, database.dialect, indexes=False)  # built for the swap (rebuild)
    follower = Follower(recorder, decode, database, prefix, page_size)
    target = until if until is not None else (recorder.max_notification_id() or 0)
    if parallel is not None and parallel.applies(target - follower.position):
        parallel_fill.fill(follower, parallel, target, progress)
    follower.catch_up(until=until, progress=progress)  # what a parallel fill left, or all of it
    return follower


def rebuild(
    recorder: ApplicationRecorder,
    decode: Decode,
    database: Database,
    live_prefix: str,
    progress: Progress | None = None,
    on_built: Callable[[Follower], None] | None = None,
    parallel: ParallelFill | None = None,
) -> int:
    """Replay every event into scratch tables, then swap them in atomically.
    Events appended during the rebuild are applied by the next follower step.
    `on_built` sees the scratch view before the swap (replay's comparison)."""
    prefix = scratch_prefix()
    try:
        follower = build_scratch(recorder, decode, database, prefix, None, progress, REBUILD_PAGE, parallel)
        if on_built is not None:
            on_built(follower)
        if database.dialect.name == "postgresql":  # built before the swap, renamed in it: readers wait for no build
            with database.transaction(write=True) as cursor:
                schema.create_indexes(cursor, prefix, database.dialect)
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
    parallel: ParallelFill | None = None,
) -> list[Difference]:
    """Compare the live view with one replayed to the same position."""
    with database.snapshot() as cursor:
        position = _tracked(cursor, live_prefix)
    if on_position is not None:
        on_position(position)
    prefix = scratch_prefix()
    try:
        follower = build_scratch(recorder, decode, database, prefix, position, progress, REBUILD_PAGE, parallel)
        _, differences = compare_with_live(follower, live_prefix)
    finally:
        with database.transaction(write=True) as cursor:
            schema.drop(cursor, prefix)
    return differences or []
