"""Positions of log-following policies, kept beside the read model but not in
it: a rebuild of the views does not send a policy back to the start."""

from __future__ import annotations

from projections.database import Database

TABLE = "tally_checkpoints"


class SqlCheckpoints:
    def __init__(self, database: Database) -> None:
        self.database = database
        with database.transaction(write=True) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")

    def get(self, name: str) -> int:
        with self.database.transaction(write=False) as cursor:
            cursor.execute(f"SELECT position FROM {TABLE} WHERE name = ?", (name,))
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def put(self, name: str, position: int) -> None:
        with self.database.transaction(write=True) as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (name, position) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (name, position),
            )
