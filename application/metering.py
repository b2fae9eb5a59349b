"""Metering: record a batch of usage events, deduplicated and rated, in one
atomic append.

Duplicates are found first with one query for the whole batch (a duplicate
inside a multi-aggregate save would fail the whole transaction); the event
store's unique key stays the last line of defence against a concurrent
writer: on IntegrityError the batch is looked up again and saved without
the ids the other writer took.

A batch rates with the reference data (customers, price and plan versions)
it read before rating; it never appends ratings read longer ago than
REFERENCE_MAX_AGE_SECONDS: an older read is refreshed and the batch rated
again first. The version watcher's settling pass relies on that bound (see
application/version_watcher.py); an append that commits later than the
settling window after its read is logged as a warning."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import Conflict
from application.results import UsageResult, rejected
from application.usage_input import Rejection, UsageInput, parse_usage
from application.wallets import Wallets
from domain.catalog import Plan, PriceBook
from domain.customer import Customer
from domain.identifiers import is_caller_id
from domain.plans import PlanVersion, plan_in_force
from domain.pricing import PriceVersion, version_in_force
from domain.rating import Chargeable, Rating, rate, unpriced_units
from domain.usage import Usage, usage_id

MAX_BATCH = 1000
MAX_SAVE_ATTEMPTS = 5
# How old the reference data a batch rates with may be when its append
# starts; well inside the version watcher's settling window.
REFERENCE_MAX_AGE_SECONDS = 1.0
# The version watcher's settling pass comes this long after a version's first
# pass: a batch that commits within it of its reference read is seen by one
# of the two passes.
SETTLING_SECONDS = 5.0
logger = logging.getLogger(__name__)


class Metering(Wallets):
    _reference_read_at = float("-inf")  # time.monotonic() when the reference data was last read

    def record_usage(self, raws: Sequence[object]) -> list[UsageResult]:
        assert len(raws) <= MAX_BATCH, "the edge limits batches"
        now = self.clock()
        self.refresh_reference()
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
        with self.counters_lock:
            for result in answered:
                self.counters[result.status] += 1
        return answered

    def _append_new(
        self,
        pending: dict[UUID, tuple[int, UsageInput]],
        repeats: dict[UUID, list[tuple[int, UsageInput]]],
        results: list[UsageResult | None],
    ) -> None:
        for _attempt in range(MAX_SAVE_ATTEMPTS):
            for key, stored_fingerprint in self.usage_index.existing(list(pending)).items():
                for index, parsed in (pending.pop(key), *repeats.pop(key, ())):
                    results[index] = _repeat(parsed.id, parsed.fingerprint, stored_fingerprint)
            if not pending:
                return
            read_at = self.recent_reference()  # ratings never appended with reference data older than the bound
            recorded = []
            for key, (index, parsed) in pending.items():
                usage, warnings = self._metered(parsed, key)
                recorded.append(usage)
                results[index] = UsageResult(parsed.id, "accepted", warnings=warnings)
            try:
                self.append(recorded)
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

    def refresh_reference(self) -> None:
        """Bring the reference data up to the log, noting when: the moment
        before the read began (an older moment only makes the next check
        stricter). The reference data is shared by every batch of the process,
        so any batch's read keeps it recent for all."""
        started = time.monotonic()
        self.reference.refresh()
        self._reference_read_at = max(self._reference_read_at, started)

    def recent_reference(self) -> float:
        """Read the reference data again unless it was read within
        REFERENCE_MAX_AGE_SECONDS: what a batch is about to rate and append
        with (a slow duplicate check, a lost race, a long re-rating). Returns
        when the data in use were read."""
        if time.monotonic() - self._reference_read_at > REFERENCE_MAX_AGE_SECONDS:
            self.refresh_reference()
        return self._reference_read_at

    @staticmethod
    def _note_late_append(read_at: float, count: int) -> None:
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
        rating = self.rating_in_force(customer, parsed.occurred_at, parsed.provider, parsed.model, parsed.usage)
        return rating.as_dict() if rating is not None else None

    def rating_in_force(
        self, customer: Customer, occurred_at: datetime, provider: str, model: str, usage: dict[str, int]
    ) -> Rating | None:
        """Usage rated under the plan its customer had at its moment, at the
        price and plan versions in force then, as the reference data stands
        now; None while any unit is unpriced."""
        book, prices, plan, terms = self.versions_in_force(customer, occurred_at)
        item = Chargeable(customer.customer_id, customer.billing, customer.currency, provider, model, usage)
        if prices is None or terms is None or unpriced_units(item, prices):
            return None
        return rate(item, book.price_book_id, prices, plan.plan_id, terms)

    def versions_in_force(
        self, customer: Customer, occurred_at: datetime
    ) -> tuple[PriceBook, PriceVersion | None, Plan, PlanVersion | None]:
        """The plan the customer had at `occurred_at` and its price book, with
        the version of each in force then (None before the first): a plan
        change takes effect from its moment on, whenever the usage arrives."""
        plan = self.reference.plans[customer.plan_at(occurred_at)]
        book = self.reference.price_books[plan.price_book]
        return book, version_in_force(book.versions, occurred_at), plan, plan_in_force(plan.versions, occurred_at)

    def unpriced_because(
        self, customer: Customer, occurred_at: datetime, provider: str, model: str, usage: dict[str, int]
    ) -> dict[str, Any]:
        """Why usage is unpriced, for the event that says so: the versions in
        force at its moment and the units they leave without a rate."""
        book, prices, plan, terms = self.versions_in_force(customer, occurred_at)
        item = Chargeable(customer.customer_id, customer.billing, customer.currency, provider, model, usage)
        return {
            "price_book": book.price_book_id,
            "price_version": prices.number if prices else None,
            "plan": plan.plan_id,
            "plan_version": terms.number if terms else None,
            "unpriced_units": unpriced_units(item, prices),
        }


def _repeat(event_id: str, fingerprint: str, stored_fingerprint: str) -> UsageResult:
    if fingerprint == stored_fingerprint:
        return UsageResult(event_id, "duplicate")
    return rejected(
        event_id,
        "conflict",
        f"event {event_id!r} was already recorded with a different body; the first stands",
    )


class MeteringQueries(Metering):
    def find_usage(self, customer: str, event_id: str) -> Usage | None:
        if not (is_caller_id(customer) and is_caller_id(event_id)):
            return None
        try:
            found: Usage = self.repository.get(usage_id(customer, event_id))
        except AggregateNotFoundError:
            return None
        return found
