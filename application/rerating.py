"""Re-rating: when a price or plan version is published, every usage event it
applies to is rated again at the versions in force at its moment. A changed
amount becomes a Usage.Rerated event with an adjustment entry for the
difference; unpriced usage gets its first rating. Nothing is edited, and
running it again changes nothing more (the amounts already agree)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from application.errors import Conflict
from application.simulation import Simulations
from domain import accounts
from domain.money import ZERO
from domain.rerating import PreviousRating, adjustment, changes_amounts
from domain.usage import RecordedUsage, rerated_event

PAGE = 5_000
APPEND_CHUNK = 1_000
CATCH_UP_SECONDS = 30.0
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class RerateReport:
    scanned: int = 0
    rerated: int = 0
    conflicts: int = 0


class Rerating(Simulations):
    def rerate(
        self, *, price_book: str | None = None, plan: str | None = None, since: datetime, reason: str
    ) -> RerateReport:
        """Re-rate the usage, since `since`, of the customers on `plan` or on a
        plan that prices from `price_book`. The read model is caught up to the
        log first, so every usage recorded before this call is seen."""
        head = self.recorder.max_notification_id() or 0
        if not self.usage_history.caught_up(head, CATCH_UP_SECONDS):
            raise Conflict("the read model is behind the event log; re-rating will run when it catches up")
        self.reference.refresh()
        customers = sorted(
            customer.customer_id
            for customer in self.reference.customers.values()
            if customer.plan == plan or self.reference.plans[customer.plan].price_book == price_book
        )
        report = RerateReport()
        after = ""
        while True:
            page = self.usage_history.usage_of(customers, since, FAR_FUTURE, after, PAGE)
            report.scanned += len(page)
            events = [found for _, usage in page if (found := self._rerated(usage, reason)) is not None]
            for start in range(0, len(events), APPEND_CHUNK):
                self._append_rerated(events[start : start + APPEND_CHUNK], report)
            if len(page) < PAGE:
                return report
            after = page[-1][0]

    def _rerated(self, usage: RecordedUsage, reason: str) -> Any:
        customer = self.reference.customers[usage.customer]
        new = self.rating_in_force(customer, usage.occurred_at, usage.provider, usage.model, usage.usage)
        previous = PreviousRating(
            usage.price_version,
            usage.plan_version,
            usage.cost,
            usage.charge,
            usage.account or accounts.customer_account(usage.customer, customer.billing),
            usage.tiered,
        )
        if new is None or not changes_amounts(previous, new):
            return None
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

    def _append_rerated(self, events: list[Any], report: RerateReport) -> None:
        try:
            self.append(events)
            report.rerated += len(events)
        except IntegrityError:
            for event in events:  # someone re-rated some of these meanwhile: keep the rest
                try:
                    self.append([event])
                    report.rerated += 1
                except IntegrityError:
                    report.conflicts += 1
