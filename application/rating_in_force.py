"""Rating in force: usage rated under the plan its customer had at the
usage's moment, at the price and plan versions in force then, as the
reference data stands. Shared by metering, re-rating and authorizations.

It also keeps the reference data recent: a batch never appends ratings read
longer ago than REFERENCE_MAX_AGE_SECONDS (an older read is refreshed and the
batch rated again first). The version watcher's settling pass relies on that
bound (application/version_watcher.py). The reference data are shared by
every batch of the process, so any batch's read keeps them recent for all."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from application.ports import Moment
from application.reference import ReferenceData
from domain.catalog import Plan, PriceBook
from domain.customer import Customer
from domain.plans import PlanVersion, plan_in_force
from domain.pricing import PriceVersion, version_in_force
from domain.rating import Chargeable, Rating, rate, unpriced_units

# How old the reference data a batch rates with may be when its append
# starts; well inside the version watcher's settling window.
REFERENCE_MAX_AGE_SECONDS = 1.0
# The version watcher's settling pass comes this long after a version's first
# pass: a batch that commits within it of its reference read is seen by one
# of the two passes.
SETTLING_SECONDS = 5.0


class RatingInForce:
    def __init__(self, reference: ReferenceData) -> None:
        self.reference = reference
        # time.monotonic() when the reference data was last read (a time, not
        # money); None until the first read.
        self._read_at: Moment | None = None

    def refresh(self, arrived: Moment | None = None) -> Moment:
        """Bring the reference data up to the log, noting when: the moment
        before the read began (an older moment only makes the next check
        stricter). With `arrived`, a head read begun since that moment will
        do (application/log_head.py), and `arrived` is the moment noted: the
        read may be that old, so `recent()` reads again once it is older than
        the bound. Returns the moment noted."""
        if arrived is None:
            started = time.monotonic()
            self.reference.refresh()
        else:
            started = arrived
            self.reference.refresh(arrived)
        read_at = started if self._read_at is None else max(self._read_at, started)
        self._read_at = read_at
        return read_at

    def recent(self) -> Moment:
        """Read the reference data again unless it was read within
        REFERENCE_MAX_AGE_SECONDS: what a batch is about to rate and append
        with (a slow duplicate check, a lost race, a long re-rating). Returns
        when the data in use were read."""
        read_at = self._read_at
        if read_at is None or time.monotonic() - read_at > REFERENCE_MAX_AGE_SECONDS:
            read_at = self.refresh()
        return read_at

    def rating(
        self, customer: Customer, occurred_at: datetime, provider: str, model: str, usage: dict[str, int]
    ) -> Rating | None:
        """The rating in force for this usage; None while any unit is unpriced."""
        book, prices, plan, terms = self.versions(customer, occurred_at)
        item = Chargeable(customer.customer_id, customer.billing, customer.currency, provider, model, usage)
        if prices is None or terms is None or unpriced_units(item, prices):
            return None
        return rate(item, book.price_book_id, prices, plan.plan_id, terms)

    def versions(
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
        book, prices, plan, terms = self.versions(customer, occurred_at)
        item = Chargeable(customer.customer_id, customer.billing, customer.currency, provider, model, usage)
        return {
            "price_book": book.price_book_id,
            "price_version": prices.number if prices else None,
            "plan": plan.plan_id,
            "plan_version": terms.number if terms else None,
            "unpriced_units": unpriced_units(item, prices),
        }
