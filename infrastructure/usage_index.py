"""Which usage aggregates already exist: one query over the event store's own
table for a whole batch (the store's primary key makes it an index lookup)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from application.ports import UsageIndex


class SqliteUsageIndex:
    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.recorder = recorder

    def existing(self, usage_ids: Sequence[UUID]) -> dict[UUID, str]:
        if not usage_ids:
            return {}
        marks = ",".join("?" * len(usage_ids))
        statement = (
            f"SELECT originator_id, state FROM {self.recorder.events_table_name} "
            f"WHERE originator_id IN ({marks}) AND originator_version = 1"
        )
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [usage_id.hex for usage_id in usage_ids])
            return {UUID(row[0]): _fingerprint(row[1]) for row in cursor.fetchall()}


class PostgresUsageIndex:
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.recorder = recorder
        datastore = recorder.datastore
        self.statement = (
            f'SELECT originator_id, state FROM "{datastore.schema}"."{recorder.events_table_name}" '
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        )

    def existing(self, usage_ids: Sequence[UUID]) -> dict[UUID, str]:
        if not usage_ids:
            return {}
        with self.recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self.statement, (list(usage_ids),))
            return {row["originator_id"]: _fingerprint(bytes(row["state"])) for row in cursor.fetchall()}


def _fingerprint(state: bytes) -> str:
    """The fingerprint recorded in the creation event. States are stored as
    plain JSON (no cipher or compressor is configured)."""
    body: dict[str, Any] = json.loads(state)
    return str(body["fingerprint"])


def usage_index_for(recorder: ApplicationRecorder) -> UsageIndex:
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresUsageIndex(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SqliteUsageIndex(recorder)
    raise TypeError(f"no usage index for {type(recorder).__name__}")
