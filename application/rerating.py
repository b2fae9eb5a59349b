"""Re-rating: when a price or plan version is published, or a customer changes
plan, every usage event it applies to is rated again under the plan its
customer had at its moment, at the versions in force then. A changed
amount becomes a Usage.Rerated event with an adjustment entry for the
difference; unpriced usage gets its first rating; rated usage that the
versions in force no longer price becomes a Usage.Unpriced event whose entry
reverses its charge. So a usage's final rating depends only on the event and
the versions published, whatever the order they arrived in. Nothing is
edited, and running it again changes nothing more (the ratings already agree)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from application.errors import Conflict
from application.event_store import EventStore
from application.ports import UsageHistory
from application.rating_in_force import RatingInForce
from application.read_model_barrier import ReadModelBarrier
from application.reference import ReferenceData
from domain import accounts
from domain.customer import Customer
from domain.invariants import require
from domain.money import ZERO
from domain.rating import Rating
from domain.rerating import PreviousRating, RatedWith, adjustment, changes_amounts, withdrawal
from domain.usage import RecordedUsage, rerated_event, unpriced_event

PAGE = 5_000
APPEND_CHUNK = 1_000
CATCH_UP_SECONDS = 30.0
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class RerateReport:
    scanned: int = 0
    rerated: int = 0  # corrections, first ratings and unpricings appended
    conflicts: int = 0


class Rerating:
    def __init__(
        self,
        store: EventStore,
        reference: ReferenceData,
        rating: RatingInForce,
        usage_history: UsageHistory,
        barrier: ReadModelBarrier,
    ) -> None:
        self.store = store
        self.reference = reference
        self.rating = rating
        self.usage_history = usage_history
        self.barrier = barrier

    def rerate(
        self,
        *,
        price_book: str | None = None,
        plan: str | None = None,
        customer: str | None = None,
        since: datetime,
        reason: str,
        version: int | None = None,
    ) -> RerateReport:
        """Re-rate the usage, since `since`, of `customer`, or of the customers
        on `plan` or on a plan that prices from `price_book` at any moment
        since then (a customer who left the plan keeps its usage from before
        on it). The read model is caught up to the log first, so every usage
        recorded before this call is seen. Each chunk is rated with reference
        data read at most REFERENCE_MAX_AGE_SECONDS before its append, like a
        metering batch.

        `version` (with `price_book` or `plan`) names the number of the
        version that calls for this re-rating: usage already rated with it or
        a later one of that book or plan is not read (domain.rerating.RatedWith
        says why none of it can change). So a settling pass after a busy
        stretch reads only what raced the publication, not every usage since
        the version's effective_from."""
        known = None
        if version is not None:
            require((price_book is None) != (plan is None), "a version belongs to a price book or a plan")
            kind, name = ("price_book", price_book) if price_book is not None else ("plan", str(plan))
            known = RatedWith(kind, name, version)
        if not self.barrier.caught_up(CATCH_UP_SECONDS):
            raise Conflict("the read model is behind the event log; re-rating will run when it catches up")
        self.rating.refresh()
        customers = sorted(
            found.customer_id
            for found in self.reference.customers.values()
            if found.customer_id == customer or self._on_plan_since(found, plan, price_book, since)
        )
        report = RerateReport()
        after = ""
        while True:
            page = self.usage_history.usage_of(customers, since, FAR_FUTURE, after, PAGE, known)
            report.scanned += len(page)
            for start in range(0, len(page), APPEND_CHUNK):
                self.rating.recent()
                chunk = page[start : start + APPEND_CHUNK]
                events = [found for _, usage in chunk if (found := self._rerated(usage, reason)) is not None]
                self._append_rerated(events, report)
            if len(page) < PAGE:
                return report
            after = page[-1][0]

    def _on_plan_since(self, customer: Customer, plan: str | None, price_book: str | None, since: datetime) -> bool:
        """Whether the customer is on `plan`, or on a plan pricing from
        `price_book`, at some moment at or after `since`."""
        return any(
            name == plan or self.reference.plans[name].price_book == price_book for name in customer.plans_since(since)
        )

    def _rerated(self, usage: RecordedUsage, reason: str) -> Any:
        """The event that brings the usage to the rating the versions in force
        give (None when it has that rating already)."""
        customer = self.reference.customers[usage.customer]
        new = self.rating.rating(customer, usage.occurred_at, usage.provider, usage.model, usage.usage)
        previous = PreviousRating(
            usage.price_version,
            usage.plan_version,
            usage.cost,
            usage.charge,
            usage.account or accounts.customer_account(usage.customer, customer.billing),
            usage.tiered,
            usage.currency or customer.currency,
        )
        if new is None:
            return self._withdrawn(usage, customer, previous, reason) if previous.is_priced else None
        if not changes_amounts(previous, new):
            return None
        return self._corrected(usage, previous, new, reason)

    def _corrected(self, usage: RecordedUsage, previous: PreviousRating, new: Rating, reason: str) -> Any:
        entry = adjustment(previous, new, usage.provider)
        assert usage.key is not None, "usage from the read model carries its aggregate id"
        return rerated_event(
            usage.key,
            usage.version + 1,
            customer=usage.customer,
            event_id=usage.event_id,
            occurred_at=usage.occurred_at,
            provider=usage.provider,
            model=usage.model,
            feature=usage.feature,
            rating=new.as_dict(),
            adjustment=entry.as_dict() if entry else None,
            delta_cost=str(new.cost - (previous.cost or ZERO)),
            delta_charge=str(new.charge - (previous.charge or ZERO)),
            replaces=(
                {"price_version": previous.price_version, "plan_version": previous.plan_version}
                if previous.is_priced
                else None
            ),
            reason=reason,
        )

    def _withdrawn(self, usage: RecordedUsage, customer: Customer, previous: PreviousRating, reason: str) -> Any:
        """Rated usage that the versions in force no longer price: unpriced
        again, its charge and provider cost reversed."""
        assert usage.key is not None, "usage from the read model carries its aggregate id"
        assert previous.cost is not None and previous.charge is not None, "only a rating is withdrawn"
        entry = withdrawal(previous, usage.provider)
        return unpriced_event(
            usage.key,
            usage.version + 1,
            customer=usage.customer,
            event_id=usage.event_id,
            occurred_at=usage.occurred_at,
            provider=usage.provider,
            model=usage.model,
            feature=usage.feature,
            usage=usage.usage,
            in_force=self.rating.unpriced_because(
                customer, usage.occurred_at, usage.provider, usage.model, usage.usage
            ),
            adjustment=entry.as_dict() if entry else None,
            delta_cost=str(ZERO - previous.cost),
            delta_charge=str(ZERO - previous.charge),
            replaces={"price_version": previous.price_version, "plan_version": previous.plan_version},
            reason=reason,
        )

    def _append_rerated(self, events: list[Any], report: RerateReport) -> None:
        if not events:
            return
        try:
            self.store.append(events)
            report.rerated += len(events)
        except IntegrityError:
            for event in events:  # someone re-rated some of these meanwhile: keep the rest
                try:
                    self.store.append([event])
                    report.rerated += 1
                except IntegrityError:
                    report.conflicts += 1
