"""What following the log needs, and nothing more: the event store (to read
the log), the read model's database and the follower that folds the one
into the other, woken by the store's appends (PostgreSQL LISTEN). The server
builds its follower from these; a projector process builds only these."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification

from application.event_store import EventStore
from infrastructure.databases import creating_store, open_database
from infrastructure.log_listener import LogListener
from infrastructure.settings import Settings
from infrastructure.storage import parse_database_url
from projections import schema
from projections.database import Database
from projections.follower import Follower
from projections.parallel_fill import ParallelFill
from projections.part_health import PartHealth

LIVE_PREFIX = "view_"
MAX_AUTO_WORKERS = 4  # replay_workers=0: one per core, up to this many


def create_views(database: Database, prefix: str) -> None:
    with database.transaction(write=True) as cursor:
        schema.create(cursor, prefix, database.dialect)


def follow(
    store: EventStore, database: Database, prefix: str, health: PartHealth | None, gather_seconds: float = 0.0
) -> tuple[Follower, LogListener]:
    """The follower of `store`'s log into `database`, and the listener that wakes it."""
    decode = store.mapper.to_domain_event
    follower = Follower(store.recorder, decode, database, prefix, health=health, gather_seconds=gather_seconds)
    store.saved_listeners.append(follower.notify)
    return follower, LogListener(store.recorder, follower.notify)


@dataclass
class Following:
    store: EventStore
    database: Database
    follower: Follower
    listener: LogListener

    def start(self) -> None:
        self.follower.start()
        self.listener.start()

    def close(self) -> None:
        self.listener.stop()
        self.follower.stop()
        self.database.close()
        self.store.close()


def open_following(settings: Settings, health: PartHealth | None = None) -> Following:
    store = parse_database_url(settings.database_url)
    with creating_store(store):
        database = open_database(store)
        events = EventStore(store.env)
        create_views(database, LIVE_PREFIX)
    follower, listener = follow(events, database, LIVE_PREFIX, health, settings.projector_gather_ms / 1000)
    return Following(events, database, follower, listener)


@dataclass
class OpenedLog:
    """The log, its decoder and the view's database, opened in a process of
    its own (a worker of a parallel fill)."""

    store: EventStore
    database: Database

    @property
    def recorder(self) -> ApplicationRecorder:
        return self.store.recorder

    def decode(self, notification: Notification) -> Any:
        return self.store.mapper.to_domain_event(notification)

    def close(self) -> None:
        self.database.close()
        self.store.close()


def open_log_source(database_url: str) -> OpenedLog:
    store = parse_database_url(database_url)
    with creating_store(store):  # workers start together: one at a time checks the schema (CREATE ... IF NOT EXISTS)
        return OpenedLog(EventStore(store.env), open_database(store))


def scratch_fill(settings: Settings) -> ParallelFill:
    """How `tally replay` and `tally audit` fill their scratch view: with the
    workers asked for (TALLY_REPLAY_WORKERS) on any log; by default, one per
    core on a log long enough to repay their start."""
    opener = partial(open_log_source, settings.database_url)
    if settings.replay_workers:
        return ParallelFill(opener, settings.replay_workers, min_events=0)
    return ParallelFill(opener, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))
