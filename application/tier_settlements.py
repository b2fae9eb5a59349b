"""Tier settlement: bring a customer's month in line with its plan's tier
ladder. The month's tiered cost is read from the usage read model; the
TierSettlement aggregate posts the difference from what it posted before,
so settling again changes nothing until the cost or the ladder changes."""

from __future__ import annotations

from datetime import datetime, timedelta

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.event_store import EventStore
from application.ports import Clock, UsageHistory
from application.reference import ReferenceData
from domain import accounts
from domain.customer import Customer
from domain.plans import Tiers, plan_in_force
from domain.tier_settlement import TierSettlement, period_bounds

LAST_MOMENT = timedelta(microseconds=1)


class TierSettlements:
    def __init__(self, store: EventStore, reference: ReferenceData, usage_history: UsageHistory, clock: Clock) -> None:
        self.store = store
        self.reference = reference
        self.usage_history = usage_history
        self.clock = clock

    def settle_tiers(self, customer_id: str, period: str, *, close: bool = False) -> TierSettlement | None:
        """Settle one customer's month (YYYY-MM); `close` makes it final (a
        volume ladder is priced then). None when there is nothing to settle."""
        customer = self.reference.customers.get(customer_id)
        if customer is None:
            return None
        start, end = period_bounds(period)
        # the ladder of the plan, and its version, in force at the month's last moment (or now)
        moment = min(end - LAST_MOMENT, self.clock())
        plan = self.reference.plans[customer.plan_at(moment)]
        terms = plan_in_force(plan.versions, moment)
        tiers: Tiers | None = terms.tiers if terms else None
        key = TierSettlement.create_id(customer_id, period)
        try:
            settlement: TierSettlement = self.store.repository.get(key)
        except AggregateNotFoundError:
            if tiers is None:
                return None  # never tiered: nothing to settle
            settlement = TierSettlement(customer_id, period, customer.currency)
        cost = self.usage_history.tiered_cost(customer_id, start, end)
        settled = settlement.settle(
            plan=plan.plan_id,
            plan_version=terms.number if terms else None,
            tiers=tiers,
            tiered_cost=cost,
            account=accounts.customer_account(customer_id, customer.billing),
            close=close,
        )
        if settled:
            try:
                self.store.save(settlement)
            except IntegrityError:
                return None  # settled concurrently: the next pass sees it
        return settlement

    def resettle_plan(self, plan_id: str, since: datetime) -> int:
        """After a plan version: settle again every month since `since` of
        the tiered customers on the plan at some moment since then (a ladder
        can change without changing any event's first-tier rating)."""
        settled = 0
        for customer_id in self.tiered_customers():
            if plan_id in self.reference.customers[customer_id].plans_since(since):
                for period in self.usage_history.months_of(customer_id, since):
                    settled += self.settle_tiers(customer_id, period) is not None
        return settled

    def resettle_customer(self, customer_id: str, since: datetime) -> int:
        """After a change of plan: settle again every month of the customer's
        usage since `since` (a month's ladder is that of the plan it ends on)."""
        self.reference.refresh()
        customer = self.reference.customers.get(customer_id)
        if customer is None or not self._ever_tiered(customer):
            return 0
        return sum(
            self.settle_tiers(customer_id, period) is not None
            for period in self.usage_history.months_of(customer_id, since)
        )

    def tiered_customers(self) -> list[str]:
        """Customers on a plan, now or before, that has or had a tier ladder."""
        self.reference.refresh()
        return sorted(
            customer.customer_id for customer in self.reference.customers.values() if self._ever_tiered(customer)
        )

    def _ever_tiered(self, customer: Customer) -> bool:
        return any(version.tiers for plan in customer.plans_held() for version in self.reference.plans[plan].versions)
