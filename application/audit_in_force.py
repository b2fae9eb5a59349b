"""The audit's check that re-rating is complete: every usage's latest rating
is the one the versions in force at its moment give, under the plan its
customer had at that moment, as the log stands, the way re-rating decides it
(unpriced when a unit has no rate; otherwise the same cost, charge and tier
standing). A difference that a version or a change of plan not yet re-rated
for may explain (its place in the log lies past the version watcher's
settling checkpoint, or past the end of the audited log) is pending, not a
problem: the watcher has still to carry it out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from domain.events import CustomerUpdated, PriceVersionPublished
from domain.plans import plan_in_force
from domain.pricing import version_in_force
from domain.rating import Chargeable, rate, unpriced_units

if TYPE_CHECKING:
    from application.tally import Tally

Amounts = tuple[Decimal, Decimal, bool] | None  # cost, charge, tiered; None: unpriced


@dataclass(frozen=True)
class Standing:
    """Where a usage's latest event leaves it, against the versions in force."""

    label: str  # customer/event id
    customer: str
    occurred_at: datetime
    price_book: str
    plan: str
    disagreement: str | None  # None: the latest rating is the one in force


class Pending(NamedTuple):
    """A version, or a customer's change of plan, not yet re-rated for."""

    kind: str  # "price book", "plan" or "customer"
    name: str  # the price book, plan or customer
    order: int  # the version's number, the change's place among the customer's
    effective_from: datetime
    label: str


@dataclass
class Versions:
    """The price and plan versions and the changes of plan the audited log
    holds, by position."""

    settled: int  # the version watcher's settling checkpoint (0: it has settled nothing)
    positions: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (kind, name, number) → position
    # (customer, effective_at, plan) → position of the change that set it
    plan_changes: dict[tuple[str, datetime, str], int] = field(default_factory=dict)
    _customer_names: dict[UUID, str] = field(default_factory=dict)

    def note(self, app: Tally, position: int, event: Any) -> None:
        if isinstance(event, CustomerUpdated):
            if not self._customer_names:
                self._customer_names = {customer.id: name for name, customer in app.reference.customers.items()}
            name = self._customer_names[event.originator_id]
            self.plan_changes[(name, event.effective_at, event.plan)] = position
        elif isinstance(event, PriceVersionPublished):
            names = {book.id: name for name, book in app.reference.price_books.items()}
            self.positions[("price book", names[event.originator_id], int(event.number))] = position
        else:
            names = {plan.id: name for name, plan in app.reference.plans.items()}
            self.positions[("plan", names[event.originator_id], int(event.number))] = position

    def pending(self, app: Tally) -> list[Pending]:
        """Every version and change of plan whose re-rating has not been
        carried out: settled past, or never seen."""
        found = [
            Pending(kind, name, number, effective_from, f"{kind} {name} version {number}")
            for kind, name, number, effective_from in _catalog(app)
            if self.positions.get((kind, name, number), self.settled + 1) > self.settled
        ]
        for name, customer in app.reference.customers.items():
            for order, (effective_at, plan) in enumerate(customer.plan_changes, start=1):
                if self.plan_changes.get((name, effective_at, plan), self.settled + 1) > self.settled:
                    label = f"customer {name} change to plan {plan} at {effective_at.isoformat()}"
                    found.append(Pending("customer", name, order, effective_at, label))
        return sorted(found, key=lambda pending: (pending.kind, pending.name, pending.order))


def _catalog(app: Tally) -> list[tuple[str, str, int, datetime]]:
    """(kind, name, number, effective_from) of every price and plan version."""
    catalog = [
        ("price book", name, version.number, version.effective_from)
        for name, book in app.reference.price_books.items()
        for version in book.versions
    ]
    catalog += [
        ("plan", name, version.number, version.effective_from)
        for name, plan in app.reference.plans.items()
        for version in plan.versions
    ]
    return catalog


def standing(app: Tally, event: Any, quantities: Mapping[str, int], latest: Mapping[str, Any] | None) -> Standing:
    """The usage as its latest event leaves it (`latest`: that rating, None
    while unpriced), checked against the versions in force at its moment
    under the plan its customer had then, whatever plan the rating names."""
    label = f"{event.customer}/{event.event_id}"
    customer = app.reference.customers.get(event.customer)
    plan_name = customer.plan_at(event.occurred_at) if customer else ""
    plan = app.reference.plans.get(plan_name)
    if customer is None or plan is None:
        return Standing(label, event.customer, event.occurred_at, "", plan_name, "it names an unknown customer or plan")
    book = app.reference.price_books[plan.price_book]
    prices = version_in_force(book.versions, event.occurred_at)
    terms = plan_in_force(plan.versions, event.occurred_at)
    in_force = Standing(label, event.customer, event.occurred_at, book.price_book_id, plan.plan_id, None)
    named_in_force = (book.price_book_id, prices.number, plan.plan_id, terms.number) if prices and terms else None
    if latest and _names(latest) == named_in_force:
        return in_force  # rated at the very versions in force: the rating check has recomputed it from them already
    item = Chargeable(event.customer, customer.billing, customer.currency, event.provider, event.model, quantities)
    wanted: Amounts = None
    if prices is not None and terms is not None and not unpriced_units(item, prices):
        expected = rate(item, book.price_book_id, prices, plan.plan_id, terms)
        wanted = (expected.cost, expected.charge, expected.tiered)
    stored: Amounts = (
        (Decimal(latest["cost"]), Decimal(latest["charge"]), bool(latest.get("tiered"))) if latest else None
    )
    if stored == wanted:
        return in_force
    named, in_force_under = "", ""
    if latest and latest.get("plan") != plan.plan_id:
        named = f" under plan {latest.get('plan')}"
        in_force_under = f" under plan {plan.plan_id}, the customer's at its moment,"
    disagreement = (
        f"its latest rating is {_described(stored)}{named}, "
        f"the versions in force{in_force_under} give {_described(wanted)}"
    )
    return Standing(label, event.customer, event.occurred_at, book.price_book_id, plan.plan_id, disagreement)


def awaiting(found: Standing, pending: list[Pending]) -> bool:
    """Whether a pending version of the usage's price book or plan, or a
    pending change of its customer's plan, in force from its moment or
    before, may explain its difference."""
    own = (("price book", found.price_book), ("plan", found.plan), ("customer", found.customer))
    return any((change.kind, change.name) in own and change.effective_from <= found.occurred_at for change in pending)


def _names(rating: Mapping[str, Any]) -> tuple[str, int, str, int]:
    return str(rating["price_book"]), int(rating["price_version"]), str(rating["plan"]), int(rating["plan_version"])


def _described(amounts: Amounts) -> str:
    if amounts is None:
        return "unpriced"
    cost, charge, tiered = amounts
    return f"cost {cost}, charge {charge}" + (" (tiered)" if tiered else "")
