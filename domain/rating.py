"""Rating: usage × the price version in force × the plan's markup, exact.

A rating is a pure function of its inputs, so re-rating the same usage at
the same versions always gives the same amounts and the same entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from domain import accounts
from domain.invariants import InvariantViolated, require
from domain.journal import JournalEntry, entry
from domain.money import MONEY_CONTEXT, ZERO, exact
from domain.plans import PlanVersion
from domain.pricing import PriceVersion

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class RatedLine:
    unit: str
    quantity: int
    price: Decimal
    per: int
    cost: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "quantity": self.quantity,
            "price": str(self.price),
            "per": self.per,
            "cost": str(self.cost),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RatedLine:
        return cls(data["unit"], int(data["quantity"]), Decimal(data["price"]), int(data["per"]), Decimal(data["cost"]))


@dataclass(frozen=True)
class Rating:
    price_book: str
    price_version: int
    plan: str
    plan_version: int
    markup_percent: Decimal
    currency: str
    lines: tuple[RatedLine, ...]
    cost: Decimal
    charge: Decimal
    entry: JournalEntry | None
    tiered: bool = False  # rated at the first tier; the month's tier settlement posts the rest

    def as_dict(self) -> dict[str, Any]:
        """As stored in events: amounts as decimal strings (exact, and plain
        JSON that any reader of the event store can parse)."""
        return {
            "price_book": self.price_book,
            "price_version": self.price_version,
            "plan": self.plan,
            "plan_version": self.plan_version,
            "markup_percent": str(self.markup_percent),
            "currency": self.currency,
            "lines": [line.as_dict() for line in self.lines],
            "cost": str(self.cost),
            "charge": str(self.charge),
            "entry": self.entry.as_dict() if self.entry else None,
            "tiered": self.tiered,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rating:
        return cls.with_entry(data, JournalEntry.from_dict(data["entry"]) if data["entry"] else None)

    @classmethod
    def with_entry(cls, data: Mapping[str, Any], entry: JournalEntry | None) -> Rating:
        """from_dict() with its entry already parsed from data["entry"]."""
        return cls(
            price_book=data["price_book"],
            price_version=int(data["price_version"]),
            plan=data["plan"],
            plan_version=int(data["plan_version"]),
            markup_percent=Decimal(data["markup_percent"]),
            currency=data["currency"],
            lines=tuple(RatedLine.from_dict(line) for line in data["lines"]),
            cost=Decimal(data["cost"]),
            charge=Decimal(data["charge"]),
            entry=entry,
            tiered=bool(data.get("tiered", False)),
        )


@dataclass(frozen=True)
class Chargeable:
    """The facts of one usage event that rating needs."""

    customer: str
    billing: str
    currency: str
    provider: str
    model: str
    usage: Mapping[str, int]


def line_charges(charge: Decimal, cost: Decimal, line_costs: Sequence[Decimal]) -> list[Decimal]:
    """A rating's charge shared over its lines in proportion to their cost,
    exact to 12 places, the last line taking the remainder: per-unit figures
    that add up to the charged amount to the last digit."""
    shares: list[Decimal] = []
    with localcontext(MONEY_CONTEXT):
        for line_cost in line_costs[:-1]:
            shares.append(exact(charge * line_cost / cost) if cost else ZERO)
        if line_costs:
            shares.append(charge - sum(shares, ZERO))
    require(sum(shares, ZERO) == (charge if line_costs else ZERO), "the shares add up to the charge")
    return shares


def unpriced_units(item: Chargeable, prices: PriceVersion | None) -> list[str]:
    return [
        unit
        for unit, quantity in sorted(item.usage.items())
        if quantity > 0 and (prices is None or prices.rate_for(item.provider, item.model, unit) is None)
    ]


def rate(
    item: Chargeable,
    price_book: str,
    prices: PriceVersion,
    plan: str,
    terms: PlanVersion,
) -> Rating:
    """Rate one usage event. The caller has checked unpriced_units() is empty."""
    with localcontext(MONEY_CONTEXT):
        return _rate(item, price_book, prices, plan, terms)


def _rate(item: Chargeable, price_book: str, prices: PriceVersion, plan: str, terms: PlanVersion) -> Rating:
    lines = []
    for unit, quantity in sorted(item.usage.items()):
        if quantity == 0:
            continue
        found = prices.rate_for(item.provider, item.model, unit)
        if found is None:
            raise InvariantViolated(f"unpriced unit {unit} reached rating")
        lines.append(RatedLine(unit, quantity, found.price, found.per, exact(found.cost_of(quantity))))
    cost = sum((line.cost for line in lines), ZERO)
    markup = terms.markup_for(item.provider, item.model)
    charge = exact(cost * (HUNDRED + markup) / HUNDRED)
    require(charge >= cost >= ZERO, "a markup never lowers the price")
    journal = entry(
        "usage",
        [
            (accounts.customer_account(item.customer, item.billing), accounts.USAGE_REVENUE, charge, item.currency),
            (accounts.provider_cost(item.provider), accounts.provider_payable(item.provider), cost, item.currency),
        ],
    )
    tiered = terms.is_tiered(item.provider, item.model)
    return Rating(
        price_book,
        prices.number,
        plan,
        terms.number,
        markup,
        item.currency,
        tuple(lines),
        cost,
        charge,
        journal,
        tiered,
    )
