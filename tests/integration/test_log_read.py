"""The PostgreSQL log read (infrastructure/fast_recorder.py): a server-side
function whose one plan walks the notification index in order and stops at
the page's end, rows fetched in binary. It must return what the library's
own read returns for every way the log is read, and must not read the rest
of the log to return a page when the table has no statistics (a log that
grew faster than autovacuum's ANALYZE)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Notification, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from application.event_store import EventStore
from infrastructure.fast_recorder import FastPostgresApplicationRecorder
from infrastructure.storage import parse_database_url
from tests.support import postgres_schema_url

TOPICS = ("usage", "customer", "price", "invoice")
EVENTS = 3_000
PAGE = 100


@pytest.fixture
def log() -> Iterator[tuple[FastPostgresApplicationRecorder, str]]:
    """A log of EVENTS events of four topics with a gap (an append that was
    refused), on an events table autovacuum never analyzes."""
    for url in postgres_schema_url():
        store = parse_database_url(url)
        conninfo = store.postgres_conninfo
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{store.postgres_schema}"')
        events = EventStore(store.env)
        recorder = events.recorder
        assert isinstance(recorder, FastPostgresApplicationRecorder)
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        ids = [uuid.uuid4() for _ in range(EVENTS)]
        for start in range(0, EVENTS, 500):
            batch = [
                StoredEvent(ids[n], 1, TOPICS[n % 7 % 4], f'{{"n": {n}, "pad": "{"x" * (n % 300)}"}}'.encode())
                for n in range(start, start + 500)
            ]
            recorder.insert_events(batch)
            if start == 1_000:
                with pytest.raises(IntegrityError):  # its ids are taken: a gap in the notification ids
                    recorder.insert_events(batch[:3])
        yield recorder, conninfo
        events.close()


def rows(notifications: Any) -> list[tuple[Any, ...]]:
    assert all(type(n) is Notification and type(n.state) is bytes for n in notifications)
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications]


def test_every_way_of_reading_the_log_returns_what_the_stock_read_returns(
    log: tuple[FastPostgresApplicationRecorder, str],
) -> None:
    recorder, _ = log
    head = recorder.max_notification_id()
    assert head is not None and head > EVENTS  # the refused append left a gap
    stock = PostgresApplicationRecorder.select_notifications
    whole = rows(stock(recorder, None, 10_000))
    assert len(whole) == EVENTS
    gap = next(a[0] + 1 for a, b in itertools.pairwise(whole) if b[0] != a[0] + 1)
    starts = (None, 0, 1, 2, gap - 1, gap, gap + 1, head - 3, head, head + 5)
    stops = (None, 1, gap, gap + 2, head - 1, head, head + 10)
    topic_sets: tuple[tuple[str, ...], ...] = ((), ("usage",), ("customer", "price"), ("none",))
    checked = 0
    for start in starts:
        for stop in stops:
            for topics in topic_sets:
                for limit in (1, 7, PAGE, 10_000):
                    for inclusive in (True, False):
                        expected = rows(stock(recorder, start, limit, stop, topics, inclusive_of_start=inclusive))
                        got = rows(
                            recorder.select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive)
                        )
                        assert got == expected, (start, stop, topics, limit, inclusive)
                        checked += bool(expected)
    assert checked > 1_000  # most combinations return rows


def fetched(conninfo: str, statement: str, params: tuple[Any, ...], table: str) -> tuple[int, int]:
    """The rows `statement` returns and the table rows it fetched to return them."""
    with psycopg.connect(conninfo) as connection:  # one transaction: its own counts
        returned = len(connection.execute(statement, params).fetchall())
        count = connection.execute("SELECT pg_stat_get_xact_tuples_fetched(%s::regclass)", (table,)).fetchone()
        assert count is not None
        return returned, int(count[0])


def test_a_page_reads_only_its_rows_on_a_table_without_statistics(
    log: tuple[FastPostgresApplicationRecorder, str],
) -> None:
    recorder, conninfo = log
    schema, name = recorder.datastore.schema, recorder.events_table_name
    table = f'"{schema}"."{name}"'
    head = recorder.max_notification_id()
    stock = (
        f"SELECT * FROM {table} WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
    )
    # The library's statement, planned without statistics, reads the whole range to sort it.
    assert fetched(conninfo, stock, (0, head, PAGE), table) == (PAGE, EVENTS)
    for start, topics in ((0, ()), (1_000, ()), (0, ("usage",))):
        statement, params = recorder.notifications_query(start, PAGE, head, topics, inclusive_of_start=False)
        returned, read = fetched(conninfo, statement.as_string(None), params, table)
        assert returned == PAGE
        assert read <= PAGE * (4 if topics else 1) + 1, f"a page of {PAGE} fetched {read} rows"  # usage: 2 in 7


def test_the_recorder_reads_through_its_function(log: tuple[FastPostgresApplicationRecorder, str]) -> None:
    """What the two tests above check of the function is what the recorder
    runs: with the function gone, its read fails (the library's would not)."""
    recorder, conninfo = log
    assert len(recorder.select_notifications(1, PAGE)) == PAGE
    function = f'"{recorder.datastore.schema}"."tally_read_{recorder.events_table_name}"'
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"ALTER FUNCTION {function} RENAME TO moved_away")
    with pytest.raises(ProgrammingError, match="tally_read_"):
        recorder.select_notifications(1, PAGE)
    assert len(PostgresApplicationRecorder.select_notifications(recorder, 1, PAGE)) == PAGE
