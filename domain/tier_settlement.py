"""The TierSettlement aggregate: what a customer's tier ladder adds to (or
takes from) one month, posted as the month's tiered cost grows.

Each tiered usage event is rated at the first tier, on its own. The ladder's
effect depends on the month's total tiered cost only, so it is settled per
(customer, month): each Settled event states the tiered cost it accounts
for, the ladder's whole difference at that cost, and posts the change from
the last settlement. The sum of a month's settlements is therefore always
the ladder's difference at the month's latest tiered cost, whatever order
the usage arrived in and however often the settlement ran. A volume ladder
is settled when the month closes; a change to a closed month is settled
as late."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import accounts
from domain.identifiers import aggregate_id
from domain.invariants import require
from domain.journal import JournalEntry, entry
from domain.money import ZERO
from domain.plans import Tiers
from domain.tiers import ladder_difference


def period_of(moment: datetime) -> str:
    """The calendar month (UTC) a moment belongs to, as YYYY-MM."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def settlement_entry(account: str, delta: Decimal, currency: str) -> JournalEntry | None:
    """A positive delta charges the customer more, a negative one gives back."""
    movement = (
        (account, accounts.USAGE_REVENUE, delta, currency)
        if delta >= ZERO
        else (accounts.USAGE_REVENUE, account, -delta, currency)
    )
    return entry("tiers", [movement])


class TierSettlement(Aggregate):
    @staticmethod
    def create_id(customer: str, period: str) -> UUID:
        return aggregate_id("tier-settlement", customer, period)

    @event("Opened")
    def __init__(self, customer: str, period: str, currency: str) -> None:
        self.customer = customer
        self.period = period
        self.currency = currency
        self.tiered_cost = ZERO
        self.difference = ZERO  # the ladder's difference posted so far
        self.closed = False

    @event("Settled")
    def _settled(
        self,
        customer: str,
        period: str,
        currency: str,
        plan: str,
        plan_version: int | None,
        tiers: dict[str, Any] | None,
        tiered_cost: str,
        difference: str,
        delta: str,
        entry: dict[str, Any] | None,
        closes: bool,
        late: bool,
    ) -> None:
        self.tiered_cost = Decimal(tiered_cost)
        self.difference = Decimal(difference)
        self.closed = self.closed or closes

    def settle(
        self,
        *,
        plan: str,
        plan_version: int | None,
        tiers: Tiers | None,
        tiered_cost: Decimal,
        account: str,
        close: bool = False,
    ) -> bool:
        """Account for the month's tiered cost as it now stands; returns
        whether anything was settled (nothing when it already is)."""
        require(tiered_cost >= ZERO, tiered_cost)
        closing = close and not self.closed
        difference = ladder_difference(tiers, tiered_cost, closed=self.closed or closing)
        if (tiered_cost, difference) == (self.tiered_cost, self.difference) and not closing:
            return False
        delta = difference - self.difference
        journal = settlement_entry(account, delta, self.currency)
        self._settled(
            customer=self.customer,
            period=self.period,
            currency=self.currency,
            plan=plan,
            plan_version=plan_version,
            tiers=tiers.as_dict() if tiers else None,
            tiered_cost=str(tiered_cost),
            difference=str(difference),
            delta=str(delta),
            entry=journal.as_dict() if journal else None,
            closes=closing,
            late=self.closed,
        )
        return True
