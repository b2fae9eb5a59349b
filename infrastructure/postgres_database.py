"""The read model on PostgreSQL: a psycopg connection pool, NUMERIC money,
and '?' placeholders translated to psycopg's '%s'."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import Cursor
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from projections.database import Dialect

# The read model's pages commit without waiting for the write-ahead log's
# flush (synchronous_commit off, per transaction): its rows commit with their
# tracking position, so a crash of PostgreSQL can only take the last few pages
# back together with the position, and the follower applies them again from
# the log, which stays durable. The same trade as SQLite's synchronous=NORMAL
# for the read model (infrastructure/sqlite_database.py).
DIALECT = Dialect(
    name="postgresql", numeric="NUMERIC", lock_row="FOR UPDATE", relaxed_commit="SET LOCAL synchronous_commit = off"
)
POSTGRES_NAME_LIMIT = 63
# Up to this many rows are written with one INSERT of their values; more go
# through COPY (and a staging table, for upserts), whose fixed cost of three
# or four statements pays off only on bigger pages.
FEW_ROWS = 64


class _Cursor:
    def __init__(self, cursor: Cursor[Any], pipelined: bool = False) -> None:
        self._cursor = cursor
        # In pipeline mode COPY is not available: rows go as multi-row INSERTs
        # of FEW_ROWS each, queued with the rest of the transaction.
        self._pipelined = pipelined

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(statement.replace("?", "%s"), params)

    def executemany(self, statement: str, params_seq: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(statement.replace("?", "%s"), params_seq)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], on_conflict: str = "") -> None:
        """A few rows (a page of a request or two, the usual page while the
        view keeps up) in one multi-row INSERT; more with COPY, where a row
        costs a few microseconds instead of its share of a statement. Many
        rows that may conflict go through a temporary table first."""
        if not rows:
            return
        if len(rows) <= FEW_ROWS or self._pipelined:
            for start in range(0, len(rows), FEW_ROWS):
                self._insert_values(table, rows[start : start + FEW_ROWS], on_conflict)
            return
        if not on_conflict:
            self._copy(table, rows)
            return
        staging = f"staging_{table}"
        self._cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        self._copy(staging, rows)
        self._cursor.execute(f"INSERT INTO {table} SELECT * FROM {staging} {on_conflict}")
        # Emptied for a second use in this transaction; the commit empties it
        # anyway (a DELETE: TRUNCATE would give the table a new file each time).
        self._cursor.execute(f"DELETE FROM {staging}")

    def update_rows(self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A few rows as one UPDATE each, pipelined by executemany; more with
        COPY into a staging table, then one UPDATE ... FROM."""
        if not rows:
            return
        if len(rows) <= FEW_ROWS or self._pipelined:
            assignments = ", ".join(f"{column} = %s" for column in columns)
            self._cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {key} = %s", rows)
            return
        names = [*columns, key]
        # A temporary table lives as long as its connection, and a pooled
        # connection serves updates of other column sets: one staging table
        # per column set, named for it, so none is reused with the wrong shape.
        shape = hashlib.sha256(",".join(names).encode()).hexdigest()[:12]
        staging = f"staging_update_{table}_{shape}"
        if len(staging) > POSTGRES_NAME_LIMIT:  # PostgreSQL would cut the name, and two shapes could meet again
            raise ValueError(f"staging table name {staging!r} is over {POSTGRES_NAME_LIMIT} characters")
        self._cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(names)} FROM {table} WITH NO DATA"
        )
        with self._cursor.copy(f"COPY {staging} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        assignments = ", ".join(f"{column} = s.{column}" for column in columns)
        self._cursor.execute(f"UPDATE {table} AS t SET {assignments} FROM {staging} AS s WHERE t.{key} = s.{key}")
        self._cursor.execute(f"DELETE FROM {staging}")

    def delete_rows(self, table: str, key: str, keys: Sequence[Any]) -> None:
        if keys:
            self._cursor.execute(f"DELETE FROM {table} WHERE {key} = ANY(%s)", (list(keys),))

    def _insert_values(self, table: str, rows: Sequence[Sequence[Any]], on_conflict: str) -> None:
        row_marks = "(" + ",".join(["%s"] * len(rows[0])) + ")"
        values = ",".join([row_marks] * len(rows))
        self._cursor.execute(
            f"INSERT INTO {table} VALUES {values} {on_conflict}", [value for row in rows for value in row]
        )

    def _copy(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


class PostgresDatabase:
    dialect = DIALECT

    def __init__(self, conninfo: str, schema: str, max_size: int = 10) -> None:
        self.schema = schema
        self.pool = ConnectionPool(
            make_conninfo(conninfo, options=f"-c search_path={schema}"),
            min_size=1,
            max_size=max_size,
            open=True,
            timeout=30,
        )

    @contextmanager
    def transaction(self, *, write: bool, pipelined: bool = False) -> Iterator[Any]:
        with self.pool.connection() as connection:
            if not pipelined:
                with connection.transaction(), connection.cursor() as cursor:
                    yield _Cursor(cursor)
                return
            # A fetch sends what is queued and waits for it; the rest of the
            # statements and the COMMIT go together when the block ends.
            with connection.pipeline(), connection.transaction(), connection.cursor() as cursor:
                yield _Cursor(cursor, pipelined=True)

    def read_one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        with self.pool.connection() as connection:
            connection.autocommit = True
            try:
                return connection.execute(statement.replace("?", "%s"), params).fetchone()
            finally:
                connection.autocommit = False

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        with self.pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _Cursor(cursor)

    def close(self) -> None:
        self.pool.close()
