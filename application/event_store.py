"""The one event store: a single eventsourcing Application that owns the
recorder, the notification log, snapshotting and the unit of work. Every use
case and policy shares one instance, so there is one ordered history for the
projections and for auditors (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import IntegrityError, Recording, Transcoder

from application.errors import Conflict
from application.log_head import LogHead
from application.ports import Moment
from application.stored_values import StoredValuesTranscoder
from domain.holds import Holds

MAX_CHANGE_ATTEMPTS = 5
T = TypeVar("T")
A = TypeVar("A")


class EventStore(Application[UUID]):
    name = "tally"
    # A busy customer's Holds gains an event per authorization: a snapshot
    # every 200 keeps loading it (at a process's first authorization for the
    # customer; later ones read only the new events) short.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Holds: 200}

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self.saved_listeners: list[Callable[[int], None]] = []
        self.appended_listeners: list[Callable[[list[Recording[UUID]]], None]] = []  # what this process appended
        self._head = LogHead(lambda: self.recorder.max_notification_id() or 0)

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder, tolerant of stored caller objects
        shaped like its transcoded values (application/stored_values.py)."""
        transcoder = StoredValuesTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then wake this process's follower (others poll).

        Aggregates (all that this model saves) have their events collected
        here rather than by the library's `ProcessingEvent.collect_events`,
        which tells an aggregate from an event by two checks against
        runtime-checkable protocols, 16 µs an object on this machine, on
        every authorization's append; anything else takes the library's way.
        Then the library's own steps: record, snapshot, `_notify`."""
        if kwargs or not all(isinstance(obj, BaseAggregate) for obj in objs):
            return self._saved(super().save(*objs, **kwargs))
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in objs:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return self._saved(recordings)

    def append(self, events: Sequence[Any]) -> list[Recording[UUID]]:
        """Append creation events that need no aggregate object (the usage hot
        path): the same mapper, recorder and atomic insert as save(), without
        collecting events from aggregates one protocol check at a time."""
        return self._saved(self.events.put(events))

    def head(self) -> int:
        """The position of the last event in the log (0 when empty), read
        after this call began (concurrent callers share one read)."""
        return self._head.now()

    def head_since(self, moment: Moment) -> int:
        """The head from a read that began after `moment` (time.monotonic()):
        a request that read it already, or shares a read in flight, pays no
        second query (application/log_head.py)."""
        return self._head.since(moment)

    def observed_head(self, head: int, began: Moment) -> None:
        """A query that began after `began` (time.monotonic()) found the head
        at `head`: later head_since() calls for earlier moments use it."""
        self._head.observed(head, began)

    def read(
        self, after: int, limit: int, topics: Sequence[str] = (), stop: int | None = None
    ) -> list[tuple[int, Any]]:
        """The log after `after` (up to `stop`), as (position, domain event)
        pairs, `limit` at most, of the given topics (all when none): the one
        way policies read the log."""
        page = self.recorder.select_notifications(after, limit, stop=stop, topics=topics, inclusive_of_start=False)
        return [(notification.id, self.mapper.to_domain_event(notification)) for notification in page]

    def decode(self, stored: Any) -> Any:
        return self.mapper.to_domain_event(stored)

    def retrying(self, attempt: Callable[[], T], what: str, attempts: int = MAX_CHANGE_ATTEMPTS) -> T:
        """Run `attempt` until the event store takes what it saves: another
        writer that changed the same aggregate meanwhile makes the store refuse
        the append (IntegrityError), and the attempt is made again from the
        new state; after `attempts` refusals, a Conflict for the caller."""
        for _attempt in range(attempts):
            try:
                return attempt()
            except IntegrityError:
                continue
        raise Conflict(f"{what} is being changed concurrently; try again")

    def change(self, load: Callable[[], A], change: Callable[[A], object], what: str) -> A:
        """Load an aggregate, change it, save it; again from the new state when
        another writer changed it meanwhile."""

        def attempt() -> A:
            found = load()
            change(found)
            self.save(found)
            return found

        return self.retrying(attempt, what)

    def _take_snapshots(self, processing_event: Any) -> None:
        """Each snapshot due (every interval'th event of a snapshotted
        aggregate) taken from the aggregate just saved, in memory, when it
        stands at that version, as it does unless one save carries several of
        its events past the interval. The library would load the aggregate
        again (its previous snapshot and up to an interval of events, decoded)
        inside the request that saved it: a busy gateway customer's every
        200th call took 10-20 ms longer for it."""
        if not self.snapshots or not self.snapshotting_intervals:
            return
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate)) if aggregate is not None else None
            if interval is None or event.originator_version % interval:
                continue
            if aggregate.version == event.originator_version:
                snapshot_class = getattr(type(aggregate), "Snapshot", None) or type(self).snapshot_class
                assert snapshot_class is not None, "aggregates here have a Snapshot class"
                self.snapshots.put([snapshot_class.take(aggregate)])
            else:
                self.take_snapshot(event.originator_id, version=event.originator_version)

    def _saved(self, recordings: list[Recording[UUID]]) -> list[Recording[UUID]]:
        if recordings:
            position = max(recording.notification.id for recording in recordings)
            for listener in self.saved_listeners:
                listener(position)
            for appended_listener in self.appended_listeners:
                appended_listener(recordings)
        return recordings
