"""Opening the read model's database for a store."""

from __future__ import annotations

import psycopg
from psycopg import sql

from infrastructure.postgres_database import PostgresDatabase
from infrastructure.sqlite_database import SqliteDatabase
from infrastructure.storage import Store
from projections.database import Database


def open_database(store: Store) -> Database:
    """The read model beside the event store; on PostgreSQL the schema is
    created first, since both the event store and the views live in it."""
    if store.kind == "postgresql":
        with psycopg.connect(store.postgres_conninfo, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.postgres_schema)))
        return PostgresDatabase(store.postgres_conninfo, store.postgres_schema)
    return SqliteDatabase(store.sqlite_path)
