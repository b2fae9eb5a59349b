"""The log's tail beyond the read model: the standing changes of events the
event store holds but the read model has not applied yet.

An authorization must count every usage whose POST answered before it
arrived. The read model follows the log a page at a time, so its balance
lags the log by up to a page's worth of work; waiting for it would make
every decision as slow as the follower. Instead a decision reads the
projected standing together with the read model's position P in one
snapshot, then the log's head H, and adds the changes of the events in
(P, H] kept here. Every usage answered before the authorization arrived has
a notification id at most H (ids are assigned in commit order), so it is
either in the snapshot (id <= P) or in the tail, and never in both.

One tail serves every authorization of a process: each notification is read
and decoded once, and changes at or below the read model's position are
dropped as it advances. It is bounded: when the read model is more than
MAX_EVENTS behind, decisions are refused as unavailable rather than made on
a partial picture (health says which part stopped)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Recording

from application.errors import Unavailable
from application.ports import EventLog, Moment
from domain.money import ZERO
from domain.standing_changes import StandingChange, changes_of

MAX_EVENTS = 100_000
PAGE_SIZE = 1_000
# Events this process appended, kept to spare reading them back: the newest
# only, as the tail takes them only for a gap of at most PAGE_SIZE positions
# (a process that only records usage would otherwise hold thousands of events).
MAX_KNOWN = 2 * PAGE_SIZE


@dataclass
class TailFigures:
    """One customer's changes beyond the read model's position."""

    balance: dict[str, Decimal] = field(default_factory=dict)  # per currency
    spend_by_day: dict[str, Decimal] = field(default_factory=dict)
    captured: set[str] = field(default_factory=set)
    invoice_statuses: dict[str, str] = field(default_factory=dict)  # each invoice's last status, in log order

    def balance_in(self, currency: str) -> Decimal:
        return self.balance.get(currency, ZERO)

    def spend_between(self, start: date, end: date) -> Decimal:
        first, last = start.isoformat(), end.isoformat()
        return sum((amount for day, amount in self.spend_by_day.items() if first <= day < last), ZERO)


class LogTail:
    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._floor = 0  # the tail holds the changes of every event after this position...
        self._read_to = 0  # ...up to this one
        self._order: deque[tuple[int, str]] = deque()  # (position, customer), oldest first
        self._by_customer: dict[str, deque[tuple[int, StandingChange]]] = {}
        # The events this process appended, as stored, by position: a head
        # that moved by these alone is followed without reading the log.
        self._known: dict[int, Any] = {}
        self._known_lock = threading.Lock()

    def appended(self, recordings: Sequence[Recording[UUID]]) -> None:
        """This process appended these events, kept as stored (decoded, and
        their changes worked out, only if a decision needs them): a domain
        event is a dozen objects or more for the garbage collector to walk at
        every full collection, a stored one two."""
        with self._known_lock:
            for recording in recordings:
                self._known[recording.notification.id] = recording.notification
            excess = len(self._known) - MAX_KNOWN
            if excess > 0:  # the oldest go: the tail reads them from the log, as without them
                for position in list(islice(self._known, excess)):
                    del self._known[position]

    def figures(self, customer: str, projected: int, arrived: Moment | None = None) -> TailFigures:
        """The customer's changes in (projected, head], the head read after
        `arrived` (time.monotonic() when the request arrived), or now."""
        head = self._log.head() if arrived is None else self._log.head_since(arrived)
        with self._lock:
            self._move_floor(projected)
            if head - self._floor > MAX_EVENTS:
                raise Unavailable(
                    f"the read model is {head - self._floor} events behind the log; "
                    "authorizations resume when it catches up"
                )
            self._read(head)
            return self._sum(customer, projected)

    def _move_floor(self, projected: int) -> None:
        if projected < self._floor:  # the read model went back (rebuilt from scratch): so does the tail
            self._order.clear()
            self._by_customer.clear()
            self._floor = self._read_to = projected
            return
        while self._order and self._order[0][0] <= projected:
            _, customer = self._order.popleft()
            changes = self._by_customer[customer]
            changes.popleft()
            if not changes:
                del self._by_customer[customer]
        self._floor = projected
        self._read_to = max(self._read_to, projected)

    def _read(self, head: int) -> None:
        known = self._known_between(self._read_to, head)
        if known is not None:
            self._add(known)
            self._read_to = head
            return
        while self._read_to < head:
            page = self._log.read(self._read_to, PAGE_SIZE, stop=head)
            if not page:
                break  # only ids of rolled-back appends are left below the head
            self._add(page)
            self._read_to = page[-1][0]
        self._read_to = max(self._read_to, head)

    def _known_between(self, after: int, head: int) -> list[tuple[int, Any]] | None:
        """The events at every position in (after, head] if this process
        appended them all, else None (then they are read from the log)."""
        if head <= after or head - after > PAGE_SIZE:
            return None
        with self._known_lock:
            if not all(position in self._known for position in range(after + 1, head + 1)):
                return None
            stored = [(position, self._known.pop(position)) for position in range(after + 1, head + 1)]
        return [(position, self._log.decode(notification)) for position, notification in stored]

    def _add(self, events: Sequence[tuple[int, Any]]) -> None:
        for position, event in events:
            for change in changes_of(event):
                self._order.append((position, change.customer))
                self._by_customer.setdefault(change.customer, deque()).append((position, change))

    def _sum(self, customer: str, projected: int) -> TailFigures:
        figures = TailFigures()
        for position, change in self._by_customer.get(customer, ()):
            assert position > projected, "changes the read model has applied are dropped first"
            if change.balance:
                figures.balance[change.currency] = figures.balance_in(change.currency) + change.balance
            if change.spend_day is not None:
                day = change.spend_day
                figures.spend_by_day[day] = figures.spend_by_day.get(day, ZERO) + change.spend
            if change.captured is not None:
                figures.captured.add(change.captured)
            if change.invoice is not None and change.invoice_status is not None:
                figures.invoice_statuses[change.invoice] = change.invoice_status
        return figures
