"""Metering: record a batch of usage events, deduplicated and rated, in one
atomic append.

Duplicates are found first with one query for the whole batch (a duplicate
inside a multi-aggregate save would fail the whole transaction); the event
store's unique key stays the last line of defence against a concurrent
writer: on IntegrityError the batch is looked up again and saved without
the ids the other writer took.

A batch rates with the reference data (customers, price and plan versions)
it read before rating; it never appends ratings read longer ago than
REFERENCE_MAX_AGE_SECONDS (application/rating_in_force.py): an older read is
refreshed and the batch rated again first. The version watcher's settling
pass relies on that bound (see application/version_watcher.py); an append
that commits later than the settling window after its read is logged as a
warning."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import Conflict
from application.event_store import EventStore
from application.ports import Clock, Moment, UsageIndex
from application.rating_in_force import SETTLING_SECONDS, RatingInForce
from application.reference import ReferenceData
from application.results import UsageResult, rejected
from application.usage_input import Rejection, UsageInput, parse_usage
from domain.customer import Customer
from domain.identifiers import is_caller_id
from domain.usage import Usage, usage_id

MAX_BATCH = 1000
MAX_SAVE_ATTEMPTS = 5
OPTIMISTIC_BATCH = 16  # at most this many new ids: append before asking which exist
logger = logging.getLogger(__name__)


class Metering:
    def __init__(
        self, store: EventStore, reference: ReferenceData, rating: RatingInForce, usage_index: UsageIndex, clock: Clock
    ) -> None:
        self.store = store
        self.reference = reference
        self.rating = rating
        self.usage_index = usage_index
        self.clock = clock

    def record_usage(self, raws: Sequence[object], arrived: Moment | None = None) -> list[UsageResult]:
        """`arrived` (time.monotonic()): the batch need count only what was
        committed before that moment (a gateway call's usage: what its hold
        counted), so a head read begun since, shared, serves; by default the
        log as of now."""
        assert len(raws) <= MAX_BATCH, "the edge limits batches"
        now = self.clock()
        self.rating.refresh(arrived)
        results: list[UsageResult | None] = [None] * len(raws)
        pending: dict[UUID, tuple[int, UsageInput]] = {}
        # Later copies of an id in the batch wait until the store is asked: a
        # stored body stands over the batch's first copy.
        repeats: dict[UUID, list[tuple[int, UsageInput]]] = {}
        for index, parsed in enumerate(parse_usage(raw, now) for raw in raws):
            if isinstance(parsed, Rejection):
                results[index] = rejected(parsed.id, parsed.code, parsed.detail, parsed.loc)
            elif parsed.customer not in self.reference.customers:
                results[index] = rejected(parsed.id, "not_found", f"unknown customer {parsed.customer!r}", "customer")
            else:
                key = usage_id(parsed.customer, parsed.id)
                if key in pending:
                    repeats.setdefault(key, []).append((index, parsed))
                else:
                    pending[key] = (index, parsed)
        self._append_new(pending, repeats, results)
        answered = [result for result in results if result is not None]
        assert len(answered) == len(raws), "every event gets an answer"
        return answered

    def _append_new(
        self,
        pending: dict[UUID, tuple[int, UsageInput]],
        repeats: dict[UUID, list[tuple[int, UsageInput]]],
        results: list[UsageResult | None],
    ) -> None:
        for attempt in range(MAX_SAVE_ATTEMPTS):
            # A few new ids (a gateway's call, a one-event POST) are appended
            # first and asked about only when the store refuses one as present:
            # a round trip fewer in the common case. A big batch asks first, so
            # a resent batch is not rated for nothing.
            optimistic = attempt == 0 and len(pending) <= OPTIMISTIC_BATCH
            for key, stored_fingerprint in ({} if optimistic else self.usage_index.existing(list(pending))).items():
                for index, parsed in (pending.pop(key), *repeats.pop(key, ())):
                    results[index] = _repeat(parsed.id, parsed.fingerprint, stored_fingerprint)
            if not pending:
                return
            read_at = self.rating.recent()  # ratings never appended with reference data older than the bound
            recorded = []
            for key, (index, parsed) in pending.items():
                usage, warnings = self._metered(parsed, key)
                recorded.append(usage)
                results[index] = UsageResult(parsed.id, "accepted", warnings=warnings)
            try:
                self.store.append(recorded)
            except IntegrityError:
                continue  # another writer recorded some of these ids meanwhile
            self._note_late_append(read_at, len(recorded))
            for key, copies in repeats.items():  # ids new to the store: later copies answer to the first
                for index, parsed in copies:
                    results[index] = _repeat(parsed.id, parsed.fingerprint, pending[key][1].fingerprint)
            return
        raise Conflict(
            f"the batch lost {MAX_SAVE_ATTEMPTS} races in a row to other writers of the same ids; "
            "nothing of it was recorded, and sending it again is safe"
        )

    @staticmethod
    def _note_late_append(read_at: Moment, count: int) -> None:
        """An append that committed a settling window or more after its
        reference read (a stalled insert) may hold ratings that a version
        published meanwhile changes, after both passes of that version read
        the log: say so, for the operator to audit and re-rate."""
        elapsed = time.monotonic() - read_at
        if elapsed >= SETTLING_SECONDS:
            logger.warning(
                "%s usage events were appended %.1f s after their reference data were read, past the %s s "
                "settling window: run `tally audit`, and `tally rerate` for any version it names",
                count, elapsed, SETTLING_SECONDS,
            )  # fmt: skip

    def _metered(self, parsed: UsageInput, key: UUID) -> tuple[Any, list[str]]:
        customer = self.reference.customers[parsed.customer]
        rating = self._rating(parsed, customer)
        usage = Usage.record(
            customer=parsed.customer,
            event_id=parsed.id,
            occurred_at=parsed.occurred_at,
            provider=parsed.provider,
            model=parsed.model,
            feature=parsed.feature,
            usage=parsed.usage,
            authorization_id=parsed.authorization_id,
            metadata=parsed.metadata,
            fingerprint=parsed.fingerprint,
            rating=rating,
            key=key,
        )
        return usage, ([] if rating is not None else ["unpriced"])

    def _rating(self, parsed: UsageInput, customer: Customer) -> dict[str, Any] | None:
        rating = self.rating.rating(customer, parsed.occurred_at, parsed.provider, parsed.model, parsed.usage)
        return rating.as_dict() if rating is not None else None

    def find_usage(self, customer: str, event_id: str) -> Usage | None:
        if not (is_caller_id(customer) and is_caller_id(event_id)):
            return None
        try:
            found: Usage = self.store.repository.get(usage_id(customer, event_id))
        except AggregateNotFoundError:
            return None
        return found


def _repeat(event_id: str, fingerprint: str, stored_fingerprint: str) -> UsageResult:
    if fingerprint == stored_fingerprint:
        return UsageResult(event_id, "duplicate")
    return rejected(
        event_id,
        "conflict",
        f"event {event_id!r} was already recorded with a different body; the first stands",
    )
