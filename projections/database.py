"""The little a read model needs from a SQL database, as a protocol:
infrastructure/ implements it for SQLite and PostgreSQL. Statements use '?'
placeholders; the PostgreSQL adapter translates them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


class Cursor(Protocol):
    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, statement: str, params_seq: Sequence[Sequence[Any]]) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], on_conflict: str = "") -> None:
        """Bulk insert: `on_conflict` is an ON CONFLICT clause that may refer to
        `excluded`. Each store does this its fastest way (PostgreSQL: COPY)."""
        ...

    def update_rows(self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Bulk update: each row is the new values of `columns`, then its `key`."""
        ...

    def delete_rows(self, table: str, key: str, keys: Sequence[Any]) -> None:
        """Bulk delete of the rows whose `key` is one of `keys`."""
        ...


@dataclass(frozen=True)
class Dialect:
    """What differs between the two stores: SQLite has no decimal type, so the
    SQLite adapter registers dec_add/dec_sum functions that compute in Decimal
    over TEXT columns; PostgreSQL uses NUMERIC."""

    name: str
    numeric: str
    lock_row: str
    # The statement that lets a read-model transaction commit without waiting
    # for its flush to disk (none where the connection is set up so already).
    relaxed_commit: str = ""

    def add(self, left: str, right: str) -> str:
        return f"({left} + {right})" if self.name == "postgresql" else f"dec_add({left}, {right})"

    def greatest(self, left: str, right: str) -> str:
        return f"GREATEST({left}, {right})" if self.name == "postgresql" else f"MAX({left}, {right})"

    def joined(self, expression: str) -> str:
        """The values of a text column, joined by spaces (NULL when none)."""
        return f"string_agg({expression}, ' ')" if self.name == "postgresql" else f"group_concat({expression}, ' ')"

    def sum(self, expression: str) -> str:
        return f"COALESCE(SUM({expression}), 0)" if self.name == "postgresql" else f"dec_sum({expression})"


class Database(Protocol):
    dialect: Dialect

    def transaction(self, *, write: bool, pipelined: bool = False) -> AbstractContextManager[Cursor]:
        """A transaction; write=True takes the write lock up front (SQLite
        BEGIN IMMEDIATE), so concurrent followers serialise instead of failing.
        pipelined=True (a few rows to write): statements whose results are not
        fetched are sent without waiting for each answer, so the writes and the
        commit cost one round trip between them (PostgreSQL's pipeline mode;
        SQLite has no round trips)."""
        ...

    def read_one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        """The first row of one read-only statement, outside any transaction of
        its own: a statement sees one consistent state by itself, and on
        PostgreSQL this spares the BEGIN and COMMIT round trips."""
        ...

    def snapshot(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction that sees one consistent state."""
        ...

    def close(self) -> None: ...
