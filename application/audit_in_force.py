"""The audit's check that re-rating is complete: every usage's latest rating
is the one the versions in force at its moment give, as the log stands, the
way re-rating decides it (unpriced when a unit has no rate; otherwise the
same cost, charge and tier standing). A difference that a version not yet
re-rated for may explain (its publication lies past the version watcher's
settling checkpoint, or past the end of the audited log) is pending, not a
problem: the watcher has still to carry that version out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.events import PriceVersionPublished
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
    occurred_at: datetime
    price_book: str
    plan: str
    disagreement: str | None  # None: the latest rating is the one in force


@dataclass
class Versions:
    """The price and plan versions the audited log publishes, by position."""

    settled: int  # the version watcher's settling checkpoint (0: it has settled nothing)
    positions: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (kind, name, number) → position

    def note(self, app: Tally, position: int, event: Any) -> None:
        if isinstance(event, PriceVersionPublished):
            names = {book.id: name for name, book in app.reference.price_books.items()}
            self.positions[("price book", names[event.originator_id], int(event.number))] = position
        else:
            names = {plan.id: name for name, plan in app.reference.plans.items()}
            self.positions[("plan", names[event.originator_id], int(event.number))] = position

    def pending(self, app: Tally) -> list[tuple[str, str, int, datetime]]:
        """(kind, name, number, effective_from) of every version whose
        re-rating has not been carried out: settled past, or never seen."""
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
        found = []
        for kind, name, number, effective_from in catalog:
            position = self.positions.get((kind, name, number))
            if position is None or position > self.settled:
                found.append((kind, name, number, effective_from))
        return sorted(found, key=lambda pending: (pending[0], pending[1], pending[2]))


def standing(app: Tally, event: Any, quantities: Mapping[str, int], latest: Mapping[str, Any] | None) -> Standing:
    """The usage as its latest event leaves it (`latest`: that rating, None
    while unpriced), checked against the versions in force at its moment
    under the plan that rating names; for unpriced usage, the plan its
    unpricing names, or the customer's plan."""
    label = f"{event.customer}/{event.event_id}"
    customer = app.reference.customers.get(event.customer)
    in_force = getattr(event, "in_force", None)
    plan_name = latest["plan"] if latest else in_force["plan"] if in_force else customer.plan if customer else ""
    plan = app.reference.plans.get(plan_name)
    if customer is None or plan is None:
        return Standing(label, event.occurred_at, "", plan_name, "it names an unknown customer or plan")
    book = app.reference.price_books[plan.price_book]
    prices = version_in_force(book.versions, event.occurred_at)
    terms = plan_in_force(plan.versions, event.occurred_at)
    if latest and prices and terms and _names(latest) == (book.price_book_id, prices.number, terms.number):
        # rated at the very versions in force: the rating check has recomputed it from them already
        return Standing(label, event.occurred_at, book.price_book_id, plan.plan_id, None)
    item = Chargeable(event.customer, customer.billing, customer.currency, event.provider, event.model, quantities)
    wanted: Amounts = None
    if prices is not None and terms is not None and not unpriced_units(item, prices):
        expected = rate(item, book.price_book_id, prices, plan.plan_id, terms)
        wanted = (expected.cost, expected.charge, expected.tiered)
    stored: Amounts = (
        (Decimal(latest["cost"]), Decimal(latest["charge"]), bool(latest.get("tiered"))) if latest else None
    )
    disagreement = None
    if stored != wanted:
        disagreement = f"its latest rating is {_described(stored)}, the versions in force give {_described(wanted)}"
    return Standing(label, event.occurred_at, book.price_book_id, plan.plan_id, disagreement)


def awaiting(found: Standing, pending: list[tuple[str, str, int, datetime]]) -> bool:
    """Whether a pending version of the usage's price book or plan, in force
    from its moment or before, may explain its difference."""
    return any(
        (kind, name) in (("price book", found.price_book), ("plan", found.plan)) and effective_from <= found.occurred_at
        for kind, name, _, effective_from in pending
    )


def _names(rating: Mapping[str, Any]) -> tuple[str, int, int]:
    return str(rating["price_book"]), int(rating["price_version"]), int(rating["plan_version"])


def _described(amounts: Amounts) -> str:
    if amounts is None:
        return "unpriced"
    cost, charge, tiered = amounts
    return f"cost {cost}, charge {charge}" + (" (tiered)" if tiered else "")
