"""The PostgreSQL event store with a faster append and a read planned one way.

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
library's IntegrityError, which is how a concurrent writer is detected.

The log is read by a server-side function too, whose one plan is an index
scan in notification order that stops at the page's end. The stock read's
statement is planned on the table's statistics, and where they are missing
or behind the log (autovacuum off; a log that grew faster than its ANALYZE)
the planner takes a two-sided range for 0.5 % of the table: while that is
under a page (a log under about 40,000 events) it reads the whole range,
from the page's start to the log's end, to sort it and keep a page, so a
catch-up reads the rest of the log for each page it applies. The rows come
back in binary as tuples (in text the server writes each state as hex,
twice its size, for psycopg to parse back). The same rows, the same order,
the same `Notification`s (docs/performance.md, section 27)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

MAX_BIGINT = 2**63 - 1


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
        read = Identifier(self.datastore.schema, f"tally_read_{self.events_table_name}"[:63])
        # SET clauses keep the body from being inlined into the caller's plan and
        # leave the planner one way to return the range in order: the index scan.
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {read}(after bigint, until bigint, topics text[], page bigint) "
                "RETURNS TABLE (notification_id bigint, originator_id {id_type}, originator_version bigint, "
                "topic text, state bytea) "
                "LANGUAGE sql STABLE SET enable_sort = off SET enable_bitmapscan = off SET enable_seqscan = off "
                "AS $read$ "
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state "
                "FROM {schema}.{table} e WHERE e.notification_id > after AND e.notification_id <= until "
                "AND (topics IS NULL OR e.topic = ANY(topics)) ORDER BY e.notification_id LIMIT page "
                "$read$"
            ).format(read=read, id_type=Identifier(self.datastore.originator_id_type), schema=schema, table=table)
        )
        self.read_statement = SQL("SELECT * FROM {read}(%s::bigint, %s::bigint, %s::text[], %s::bigint)").format(
            read=read
        )

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

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The stock read's rows and order: notification ids from `start`
        (after it, unless inclusive), up to `stop`, of `topics` (any, when
        none are named), at most `limit` of them."""
        statement, params = self.notifications_query(start, limit, stop, topics, inclusive_of_start)
        with (
            self.datastore.get_connection() as connection,
            connection.cursor(binary=True, row_factory=tuple_row) as cursor,
        ):
            cursor.execute(statement, params, prepare=True)
            rows = cursor.fetchall()
        return [
            Notification(
                id=notification_id,
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=state if type(state) is bytes else bytes(state),
            )
            for notification_id, originator_id, version, topic, state in rows
        ]

    def notifications_query(
        self, start: int | None, limit: int, stop: int | None, topics: Sequence[str], inclusive_of_start: bool
    ) -> tuple[Composed, tuple[Any, ...]]:
        """The statement and parameters select_notifications executes."""
        if topics:
            assert isinstance(topics, (tuple, list)), topics
            assert all(isinstance(topic, str) for topic in topics), topics
        after = 0 if start is None else start - 1 if inclusive_of_start else start  # ids are integers from 1
        until = MAX_BIGINT if stop is None else stop
        return self.read_statement, (after, until, list(topics) if topics else None, limit)
