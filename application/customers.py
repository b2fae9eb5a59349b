"""Customers and their read keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError

from application import validation
from application.errors import Conflict, NotFound, ValidationFailed
from application.event_store import EventStore
from application.ports import Clock, Moment
from application.reference import ReferenceData
from domain.customer import BILLING_MODES, Customer

MAX_NET_TERMS_DAYS = 365
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Customers:
    def __init__(self, store: EventStore, reference: ReferenceData, clock: Clock) -> None:
        self.store = store
        self.reference = reference
        self.clock = clock

    def create_customer(
        self,
        customer_id: str,
        name: str,
        currency: str,
        plan: str,
        billing: str,
        net_terms_days: int,
        stripe_customer_id: str | None,
    ) -> Customer:
        validation.caller_id(customer_id, "id")
        validation.currency(currency)
        _check_terms(name, billing, net_terms_days)
        self._check_plan_currency(plan, currency)
        customer = Customer(customer_id, name, currency, plan, billing, net_terms_days, stripe_customer_id)
        try:
            self.store.save(customer)
        except IntegrityError:
            raise Conflict(f"customer {customer_id!r} already exists") from None
        return customer

    def customer(self, customer_id: str, arrived: Moment | None = None) -> Customer:
        """The customer as of the log's head (as of a read that began after
        `arrived`, time.monotonic(), when given)."""
        self.reference.refresh(arrived)
        try:
            return self.reference.customers[customer_id]
        except KeyError:
            raise NotFound(f"customer {customer_id!r} does not exist") from None

    def held_copy(self, customer_id: str) -> Customer | None:
        """This process's copy of the customer as last brought up to date,
        without reading the log (None when it has none): for a caller that
        reads the log's head in a query of its own and then checks the copy
        with customer() (application/authorizations.py)."""
        return self.reference.customers.get(customer_id)

    def update_customer(
        self,
        customer_id: str,
        name: str | None,
        plan: str | None,
        billing: str | None,
        stripe_customer_id: str | None = None,
    ) -> Customer:
        customer = self.stored(customer_id)
        new_name, new_plan, new_billing = name or customer.name, plan or customer.plan, billing or customer.billing
        _check_terms(new_name, new_billing, customer.net_terms_days)
        self._check_plan_currency(new_plan, customer.currency)
        if (new_name, new_plan, new_billing) != (customer.name, customer.plan, customer.billing):
            # a new plan takes effect now: usage before this moment stays on the plan it had
            customer.change(new_name, new_plan, new_billing, self.clock())
        if stripe_customer_id is not None and stripe_customer_id != customer.stripe_customer_id:
            customer.link_stripe(stripe_customer_id)
        self.save_changed(customer)
        return customer

    def stored(self, customer_id: str) -> Customer:
        """The customer as the event store holds it, to change it (NotFound when unknown)."""
        found: Customer = self.store.repository.get(self.customer(customer_id).id)
        return found

    def save_changed(self, customer: Customer) -> None:
        try:
            self.store.save(customer)
        except IntegrityError:
            raise Conflict(f"customer {customer.customer_id!r} was changed concurrently; try again") from None

    def issue_api_key(self, customer_id: str) -> IssuedKey:
        customer = self.stored(customer_id)
        issued = IssuedKey("key_" + secrets.token_hex(8), "tk_" + secrets.token_urlsafe(32))
        customer.issue_api_key(issued.id, key_hash(issued.key))
        self.save_changed(customer)
        return issued

    def revoke_api_key(self, customer_id: str, key_id: str) -> None:
        customer = self.stored(customer_id)
        if key_id not in customer.api_keys:
            raise NotFound(f"api key {key_id!r} does not exist")
        customer.revoke_api_key(key_id)
        self.save_changed(customer)

    def customer_for_key(self, key: str, arrived: Moment | None = None) -> str | None:
        """The customer a read key belongs to, or None."""
        self.reference.refresh(arrived)
        found = self.reference.customer_by_key_hash.get(key_hash(key))
        return found[0] if found else None

    def _check_plan_currency(self, plan_id: str, currency: str) -> None:
        self.reference.refresh()
        plan = self.reference.plans.get(plan_id)
        if plan is None:
            raise ValidationFailed(f"plan {plan_id!r} does not exist", [{"loc": "plan", "msg": "unknown plan"}])
        book = self.reference.price_books[plan.price_book]
        if book.currency != currency:
            raise ValidationFailed(
                f"plan {plan_id!r} prices in {book.currency}, the customer pays in {currency}: "
                "a customer, its plan's price book and its top-ups share one currency",
                [{"loc": "currency", "msg": "currency mismatch"}],
            )


def _check_terms(name: str, billing: str, net_terms_days: int) -> None:
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"name must be 1-{MAX_NAME_LENGTH} characters", [{"loc": "name", "msg": "length"}])
    if billing not in BILLING_MODES:
        raise ValidationFailed(
            f"billing must be one of {', '.join(BILLING_MODES)}", [{"loc": "billing", "msg": "unknown mode"}]
        )
    if not 0 <= net_terms_days <= MAX_NET_TERMS_DAYS:
        raise ValidationFailed(
            f"net_terms_days must be 0-{MAX_NET_TERMS_DAYS}", [{"loc": "net_terms_days", "msg": "out of range"}]
        )
