"""The read model's writes (insert, upsert, update) give the same rows
whichever way a store sends them: on PostgreSQL a few rows go as one INSERT
of their values, more through COPY and a staging table; the sizes either
side of the switch are written and read back here, on both stores, with
money, text and NULLs, twice in one transaction and on one connection.
Pipelined transactions (the follower's small pages: statements queued, no
COPY) must give the same rows too, and a pipelined transaction that fails
must leave nothing behind."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from infrastructure.databases import open_database
from infrastructure.postgres_database import FEW_ROWS
from infrastructure.storage import parse_database_url
from projections.database import Database

TABLE = "view_write_check"
UPSERT = f"ON CONFLICT (k) DO UPDATE SET amount = {TABLE}.amount + EXCLUDED.amount, note = EXCLUDED.note"


def _rows(count: int, offset: int = 0) -> list[tuple[Any, ...]]:
    return [
        (f"k{index:04d}", Decimal(f"{index}.000000000001"), None if index % 3 else f"note {index}'s")
        for index in range(offset, offset + count)
    ]


def _table(database: Database) -> list[tuple[Any, ...]]:
    with database.transaction(write=False) as cursor:
        cursor.execute(f"SELECT k, amount, note FROM {TABLE} ORDER BY k")
        return [(k, Decimal(str(amount)), note) for k, amount, note in cursor.fetchall()]


@pytest.mark.parametrize("pipelined", [False, True], ids=["plain", "pipelined"])
@pytest.mark.parametrize("count", [1, FEW_ROWS, FEW_ROWS + 1, 3 * FEW_ROWS])
def test_inserts_upserts_and_updates_of_any_size_give_the_same_rows(
    database_url: str, count: int, pipelined: bool
) -> None:
    database = open_database(parse_database_url(database_url))
    writing = partial(database.transaction, write=True, pipelined=pipelined)
    numeric = database.dialect.numeric
    try:
        with database.transaction(write=True) as cursor:
            cursor.execute(f"CREATE TABLE {TABLE} (k TEXT PRIMARY KEY, amount {numeric} NOT NULL, note TEXT)")
        first, second = _rows(count), _rows(count, offset=count // 2)
        with writing() as cursor:
            cursor.insert_rows(TABLE, first)
        assert _table(database) == first
        with writing() as cursor:  # the same staging table twice in one transaction
            cursor.insert_rows(TABLE, second[: count // 2 or 1], UPSERT)
            cursor.insert_rows(TABLE, second[count // 2 or 1 :], UPSERT)
        expected = {k: (amount, note) for k, amount, note in first}
        for k, amount, note in second:
            before = expected.get(k)
            expected[k] = (amount + before[0] if before else amount, note)
        assert _table(database) == sorted((k, *value) for k, value in expected.items())
        # updates of one column set, then another, on the same connection
        with writing() as cursor:
            cursor.update_rows(TABLE, "k", ["note"], [(f"set {k}", k) for k, _a, _n in first])
        with writing() as cursor:
            cursor.update_rows(TABLE, "k", ["amount", "note"], [(Decimal("0.5"), None, k) for k, _a, _n in first])
        for k, _amount, _note in first:
            expected[k] = (Decimal("0.5"), None)
        assert _table(database) == sorted((k, *value) for k, value in expected.items())
        deleted = {k for k, _a, _n in first}
        with writing() as cursor:
            cursor.delete_rows(TABLE, "k", sorted(deleted))
        assert _table(database) == sorted((k, *value) for k, value in expected.items() if k not in deleted)
    finally:
        with database.transaction(write=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        database.close()


def test_a_pipelined_transaction_that_fails_leaves_nothing(database_url: str) -> None:
    """An error in a queued statement surfaces by the block's end at the
    latest, and the whole transaction is rolled back."""
    database = open_database(parse_database_url(database_url))
    numeric = database.dialect.numeric
    try:
        with database.transaction(write=True) as cursor:
            cursor.execute(f"CREATE TABLE {TABLE} (k TEXT PRIMARY KEY, amount {numeric} NOT NULL, note TEXT)")

        def failing() -> None:
            with database.transaction(write=True, pipelined=True) as cursor:
                cursor.insert_rows(TABLE, _rows(3))
                cursor.insert_rows(TABLE, _rows(1))  # k0000 again, without ON CONFLICT
                cursor.insert_rows(TABLE, _rows(2, offset=10))

        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            failing()
        assert _table(database) == []
    finally:
        with database.transaction(write=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        database.close()
