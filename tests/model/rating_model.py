"""The reference rules of rating, from the contract and docs/rating.md only.

A usage is rated at the price version in force at its own timestamp (the
latest `effective_from` at or before it; among equal ones, the last
published) and the plan version in force likewise. Each unit's cost is
quantity × price / per, rounded half-even to 12 places; the charge is the
cost × (100 + markup) / 100, rounded the same way, the markup being the
model's override if the plan version has one. A usage whose version in
force does not price every unit it uses (a quantity above zero) is
unpriced: it charges nothing, whatever order it and the versions came in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import TypeVar

RATED_PLACES = Decimal("0.000000000001")
HUNDRED = Decimal(100)
EXACT_DIGITS = 80  # wide enough that nothing is rounded before the one rounding the rules name

RateKey = tuple[str, str, str]  # provider, model, unit
ModelKey = tuple[str, str]  # provider, model


def rounded(amount: Decimal) -> Decimal:
    return amount.quantize(RATED_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class PriceVersion:
    number: int
    effective_from: datetime
    rates: Mapping[RateKey, tuple[Decimal, int]]  # price, per


@dataclass(frozen=True)
class PlanVersion:
    number: int
    effective_from: datetime
    markup_percent: Decimal
    overrides: Mapping[ModelKey, Decimal] = field(default_factory=dict)

    def markup_for(self, provider: str, model: str) -> Decimal:
        return self.overrides.get((provider, model), self.markup_percent)


Version = TypeVar("Version", PriceVersion, PlanVersion)


@dataclass(frozen=True)
class Usage:
    """One usage event as the model keeps it: the first body accepted for its id."""

    customer: str
    event_id: str
    timestamp: datetime
    provider: str
    model: str
    quantities: Mapping[str, int]
    authorization_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.customer, self.event_id)


@dataclass(frozen=True)
class Rating:
    cost: Decimal
    charge: Decimal
    price_version: int
    plan_version: int


def in_force(versions: list[Version], moment: datetime) -> Version | None:
    """Versions are listed in the order they were published, so among equal
    `effective_from` the later in the list wins."""
    found = None
    for version in versions:
        if version.effective_from <= moment and (found is None or version.effective_from >= found.effective_from):
            found = version
    return found


def rate(usage: Usage, prices: list[PriceVersion], plan: list[PlanVersion]) -> Rating | None:
    """The rating the contract asks for, or None while the usage is unpriced."""
    price_version = in_force(prices, usage.timestamp)
    plan_version = in_force(plan, usage.timestamp)
    if price_version is None or plan_version is None:
        return None
    return rate_under(usage, price_version, plan_version)


def rate_under(usage: Usage, price_version: PriceVersion, plan_version: PlanVersion) -> Rating | None:
    """The rating these two versions give the usage, or None if the price version leaves it unpriced."""
    used = {unit: quantity for unit, quantity in usage.quantities.items() if quantity > 0}
    if any((usage.provider, usage.model, unit) not in price_version.rates for unit in used):
        return None
    with localcontext() as context:
        context.prec = EXACT_DIGITS
        cost = Decimal(0)
        for unit, quantity in used.items():
            price, per = price_version.rates[(usage.provider, usage.model, unit)]
            cost += rounded(Decimal(quantity) * price / per)
        markup = plan_version.markup_for(usage.provider, usage.model)
        charge = rounded(cost * (HUNDRED + markup) / HUNDRED)
    return Rating(cost, charge, price_version.number, plan_version.number)
