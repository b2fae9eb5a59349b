"""The PostgreSQL event store with a faster append.

The stock recorder appends in a pipelined transaction of five statements
(BEGIN, LOCK TABLE, NOTIFY, INSERT, COMMIT) with two waits for the server,
and sends a batch as one array of a composite type, which psycopg escapes in
Python. Here an append is one call of a server-side function, on the pool's
autocommit connection, so one statement and one round trip: the function
takes the library's EXCLUSIVE lock (so that notification order is commit
order), sends the library's NOTIFY and inserts four typed arrays through
unnest(), sent in binary (%b: no escaping of the JSON states), returning the
notification ids; the statement's implicit transaction commits it
(docs/performance.md). The table, the lock, the channel and the ids are the
library's own; a duplicate (originator id, version) still raises the
library's IntegrityError, which is how a concurrent writer is detected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


class FastPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        function = Identifier(self.datastore.schema, f"tally_append_{self.events_table_name}"[:63])
        lock_timeout = int(self.datastore.lock_timeout)
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {function}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $append$ "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id; "
                "END $append$"
            ).format(
                function=function,
                id_type=Identifier(self.datastore.originator_id_type),
                lock_timeout=SQL(str(lock_timeout)),
                schema=schema,
                table=table,
                channel=Identifier(self.channel_name),
            )
        )
        self.append_statement = SQL("SELECT * FROM {function}(%b, %b, %b, %b)").format(function=function)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            assert connection.autocommit  # the statement is its own transaction: one round trip
            cursor.execute(
                self.append_statement,
                (
                    [event.originator_id for event in stored_events],
                    [event.originator_version for event in stored_events],
                    [event.topic for event in stored_events],
                    [event.state for event in stored_events],
                ),
                prepare=True,
            )
            return [next(iter(row.values())) for row in cursor.fetchall()]
