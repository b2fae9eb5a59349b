"""What-if: re-rate recorded usage under a candidate price version and/or
plan, and compare with what was actually rated. Reads the read model's
usage history; writes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from application import validation
from application.catalog import BEGINNING, parse_markup, parse_overrides, parse_rates, parse_tiers
from application.customers import Customers
from application.errors import ValidationFailed
from application.ports import UsageHistory
from application.reference import ReferenceData
from domain.money import ZERO, money_math
from domain.plans import PlanVersion, plan_in_force
from domain.pricing import PriceVersion, version_in_force
from domain.rating import Chargeable, rate, unpriced_units
from domain.tier_settlement import period_bounds, period_of
from domain.tiers import ladder_difference
from domain.usage import RecordedUsage

PAGE = 5_000
MAX_SIMULATED_EVENTS = 1_000_000


@dataclass
class Totals:
    cost: Decimal = ZERO
    charge: Decimal = ZERO  # tier adjustments included
    tier_adjustment: Decimal = ZERO


@dataclass
class SimulationResult:
    start: datetime
    end: datetime
    currency: str | None = None
    events: int = 0
    actual: Totals = field(default_factory=Totals)
    simulated: Totals = field(default_factory=Totals)
    by_model: dict[tuple[str, str], tuple[Totals, Totals]] = field(default_factory=dict)
    # (customer, month) → the simulated tiered cost and the ladder that prices it
    tiered: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    @property
    def difference(self) -> Decimal:
        return self.simulated.charge - self.actual.charge


@dataclass(frozen=True)
class Candidate:
    prices: PriceVersion | None
    terms: PlanVersion | None


class Simulations:
    def __init__(self, reference: ReferenceData, customers: Customers, usage_history: UsageHistory) -> None:
        self.reference = reference
        self.customers = customers
        self.usage_history = usage_history

    @money_math
    def simulate(
        self,
        customer: str | None,
        start: datetime,
        end: datetime,
        price_version: Mapping[str, Any] | None,
        plan: Mapping[str, Any] | None,
    ) -> SimulationResult:
        validation.aware(start, "from")
        validation.aware(end, "to")
        if not start < end:
            raise ValidationFailed("from must be before to", [{"loc": "to", "msg": "empty period"}])
        if customer is not None:
            self.customers.customer(customer)
        self.reference.refresh()
        candidate = Candidate(_candidate_prices(price_version), _candidate_terms(plan))
        result = SimulationResult(start, end)
        after = ""
        while True:
            page = self.usage_history.usage_between(customer, start, end, after, PAGE)
            for _, usage in page:
                self._simulate_one(result, usage, candidate)
            if len(page) < PAGE:
                self._settle_ladders(result, customer, start, end)
                return result
            after = page[-1][0]
            if result.events > MAX_SIMULATED_EVENTS:
                raise ValidationFailed(
                    f"more than {MAX_SIMULATED_EVENTS} events in the period: simulate a shorter one or one customer",
                    [{"loc": "from", "msg": "too many events"}],
                )

    def _simulate_one(self, result: SimulationResult, usage: RecordedUsage, candidate: Candidate) -> None:
        customer = self.reference.customers[usage.customer]
        if result.currency not in (None, customer.currency):
            raise ValidationFailed(
                "the period holds usage in more than one currency: simulate one customer at a time",
                [{"loc": "customer", "msg": "mixed currencies"}],
            )
        result.currency = customer.currency
        plan = self.reference.plans[customer.plan_at(usage.occurred_at)]  # the plan of its moment, as rating takes it
        book = self.reference.price_books[plan.price_book]
        versions = (
            book.versions if candidate.prices is None else [*book.versions, _numbered(candidate.prices, book.versions)]
        )
        prices = version_in_force(versions, usage.occurred_at)
        terms = candidate.terms or plan_in_force(plan.versions, usage.occurred_at)
        item = Chargeable(usage.customer, customer.billing, customer.currency, usage.provider, usage.model, usage.usage)
        simulated = Totals()
        if prices is not None and terms is not None and not unpriced_units(item, prices):
            rated = rate(item, book.price_book_id, prices, plan.plan_id, terms)
            simulated = Totals(rated.cost, rated.charge)
            if rated.tiered:
                month = result.tiered.setdefault((usage.customer, period_of(usage.occurred_at)), [ZERO, None])
                month[0] += rated.cost
                month[1] = terms.tiers
        actual = Totals(usage.cost or ZERO, usage.charge or ZERO)
        result.events += 1
        for total, part in ((result.actual, actual), (result.simulated, simulated)):
            total.cost += part.cost
            total.charge += part.charge
        model_actual, model_simulated = result.by_model.setdefault((usage.provider, usage.model), (Totals(), Totals()))
        model_actual.charge += actual.charge
        model_actual.cost += actual.cost
        model_simulated.charge += simulated.charge
        model_simulated.cost += simulated.cost

    def _settle_ladders(self, result: SimulationResult, customer: str | None, start: datetime, end: datetime) -> None:
        """Tier ladders are settled per month, on the month's tiered cost: the
        simulation settles each month it covers as if it closed with the
        usage in the period; what was actually settled is read back. A month
        counts when it begins in the period (a ladder is a whole month's)."""
        for (_, month), (cost, tiers) in sorted(result.tiered.items()):
            if period_bounds(month)[0] < start:
                continue
            difference = ladder_difference(tiers, cost, closed=True)
            result.simulated.tier_adjustment += difference
            result.simulated.charge += difference
        actual = self.usage_history.tier_differences(customer, start, end)
        result.actual.tier_adjustment = actual
        result.actual.charge += actual


def _candidate_prices(price_version: Mapping[str, Any] | None) -> PriceVersion | None:
    if price_version is None:
        return None
    effective_from = validation.aware(price_version["effective_from"], "price_version.effective_from")
    return PriceVersion(1, effective_from, tuple(parse_rates(price_version["rates"])), "simulation")


def _numbered(candidate: PriceVersion, versions: Sequence[PriceVersion]) -> PriceVersion:
    """The candidate as if published now: after every real version, so it wins ties."""
    return PriceVersion(len(versions) + 1, candidate.effective_from, candidate.rates, candidate.source)


def _candidate_terms(plan: Mapping[str, Any] | None) -> PlanVersion | None:
    if plan is None:
        return None
    markup = parse_markup(plan.get("markup_percent", "0"), "plan.markup_percent")
    overrides = parse_overrides(plan.get("model_overrides", []))
    return PlanVersion(1, BEGINNING, markup, tuple(overrides), parse_tiers(plan.get("tiers")))


def by_model_rows(result: SimulationResult) -> list[tuple[str, str, Totals, Totals]]:
    return [
        (provider, model, actual, simulated)
        for (provider, model), (actual, simulated) in sorted(result.by_model.items())
    ]
