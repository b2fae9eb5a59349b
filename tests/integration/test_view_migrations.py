"""A store made by an earlier version opens with its read model brought to
this version's tables: what it held moves over, nothing is lost, and
opening it again changes nothing."""

from __future__ import annotations

from typing import Any

from interfaces.bootstrap import Services
from projections.authorization_queries import AuthorizationQueries
from projections.database import Database
from tests.conftest import open_services

PREFIX = "view_"


def rows(database: Database) -> list[tuple[Any, ...]]:
    with database.transaction(write=False) as cursor:
        cursor.execute(f"SELECT customer, authorization_id, usage_id, position FROM {PREFIX}hold_captures")
        return sorted((str(c), str(a), str(u), int(p)) for c, a, u, p in cursor.fetchall())


def has_table(database: Database, name: str) -> bool:
    with database.transaction(write=False) as cursor:
        if database.dialect.name == "sqlite":
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
            return cursor.fetchone() is not None
        cursor.execute("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(cursor.fetchone()[0])


def test_captures_kept_per_authorization_move_to_captures_per_customer(services: Services, database_url: str) -> None:
    """Before hold_captures, a capture was kept per authorization id alone."""
    with services.database.transaction(write=True) as cursor:
        cursor.execute(
            f"CREATE TABLE {PREFIX}captures (authorization_id TEXT PRIMARY KEY, customer TEXT NOT NULL,"
            " usage_id TEXT NOT NULL, position BIGINT NOT NULL)"
        )
        for row in (("h1", "acme", "u1", 5), ("h2", "globex", "u2", 7)):
            cursor.execute(f"INSERT INTO {PREFIX}captures VALUES (?, ?, ?, ?)", row)
    services.close()
    expected = [("acme", "h1", "u1", 5), ("globex", "h2", "u2", 7)]
    reopened = open_services(database_url)
    try:
        assert rows(reopened.database) == expected
        assert not has_table(reopened.database, f"{PREFIX}captures")
        reads = AuthorizationQueries(reopened.database, PREFIX)
        assert reads.captured("h1", "acme")[0] and not reads.captured("h1", "globex")[0]
    finally:
        reopened.close()
    again = open_services(database_url)
    try:
        assert rows(again.database) == expected
        assert not has_table(again.database, f"{PREFIX}captures")
    finally:
        again.close()
