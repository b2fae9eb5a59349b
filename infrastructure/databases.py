"""Opening the read model's database for a store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
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


@contextmanager
def creating_store(store: Store) -> Iterator[None]:
    """Held while a process creates what the store needs (schema, event and
    view tables, checkpoints). Processes started at once on a new PostgreSQL
    store would otherwise create them at the same moment, and `CREATE ... IF
    NOT EXISTS` is not safe against a concurrent creation (the loser exits
    with a unique violation on the catalog): an advisory lock, one per
    schema, lets one create and the others find everything there. SQLite
    serialises its writers already."""
    if store.kind != "postgresql":
        yield
        return
    with psycopg.connect(store.postgres_conninfo, autocommit=True) as connection:
        key = f"tally:create:{store.postgres_schema}"
        connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def log_head_statement(recorder: ApplicationRecorder) -> str:
    """The recorder's own statement for the log's head (its greatest
    notification id), as text for the read model's connection: the views
    live in the same schema (PostgreSQL) or file (SQLite)."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return recorder.max_notification_id_statement.as_string(None)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return recorder.select_max_notification_id_statement
    raise TypeError(f"no log head statement for {type(recorder).__name__}")
