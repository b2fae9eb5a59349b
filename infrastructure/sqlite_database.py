"""The read model on SQLite: one connection per thread, WAL, and Decimal
arithmetic registered as SQL functions (SQLite has no decimal type; its SUM
would go through float, which never touches money here)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, localcontext
from typing import Any

from domain.money import MONEY_CONTEXT
from projections.database import Dialect

DIALECT = Dialect(name="sqlite", numeric="TEXT", lock_row="")
BUSY_TIMEOUT_MS = 30_000

sqlite3.register_adapter(Decimal, str)


def _dec_add(left: str | None, right: str | None) -> str:
    with localcontext(MONEY_CONTEXT):
        return str(Decimal(left or 0) + Decimal(right or 0))


class _DecimalSum:
    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            with localcontext(MONEY_CONTEXT):
                self.total += Decimal(value)

    def finalize(self) -> str:
        return str(self.total)


class SqliteCursor:
    """sqlite3's cursor, plus the bulk insert the read model uses."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(statement, params)

    def executemany(self, statement: str, params_seq: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(statement, params_seq)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], on_conflict: str = "") -> None:
        if rows:
            marks = ",".join("?" * len(rows[0]))
            self._cursor.executemany(f"INSERT INTO {table} VALUES ({marks}) {on_conflict}", rows)

    def update_rows(self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            assignments = ", ".join(f"{column} = ?" for column in columns)
            self._cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {key} = ?", rows)

    def delete_rows(self, table: str, key: str, keys: Sequence[Any]) -> None:
        self._cursor.executemany(f"DELETE FROM {table} WHERE {key} = ?", [(value,) for value in keys])


class SqliteDatabase:
    dialect = DIALECT

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.create_function("dec_add", 2, _dec_add, deterministic=True)
            connection.create_aggregate("dec_sum", 1, _DecimalSum)  # type: ignore[arg-type]
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    @contextmanager
    def transaction(self, *, write: bool, pipelined: bool = False) -> Iterator[Any]:
        connection = self._connection()
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SqliteCursor(cursor)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        else:
            cursor.execute("COMMIT")
        finally:
            cursor.close()

    def read_one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        with self.transaction(write=False) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchone()

    def snapshot(self) -> Any:
        return self.transaction(write=False)

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._local = threading.local()
