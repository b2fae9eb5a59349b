"""Prepaid wallets: top-ups. Granted funds are credited at once; Stripe
top-ups need the Stripe adapter (see the collection issue)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application import validation
from application.customers import Customers
from application.errors import Conflict, NotFound, ValidationFailed
from domain.identifiers import is_caller_id
from domain.top_up import TopUp


class Wallets(Customers):
    def top_up(
        self,
        customer_id: str,
        top_up_id: str,
        amount: str | Decimal,
        source: str,
        expires_at: datetime | None,
    ) -> tuple[TopUp, bool]:
        """Returns the top-up and whether this call created it (a retry with
        the same body returns the first one)."""
        customer = self.customer(customer_id)
        validation.caller_id(top_up_id, "id")
        credited = validation.amount(amount, "amount", positive=True)
        if source != "grant":
            raise ValidationFailed(
                "source 'stripe' needs Stripe collection configured (STRIPE_API_KEY); use 'grant'",
                [{"loc": "source", "msg": "unsupported source"}],
            )
        if customer.billing != "prepaid":
            raise ValidationFailed(
                f"customer {customer_id!r} is {customer.billing}: wallets are for prepaid customers",
                [{"loc": "customer", "msg": "not prepaid"}],
            )
        if expires_at is not None:
            validation.aware(expires_at, "expires_at")
        top_up = TopUp.grant(customer_id, top_up_id, credited, customer.currency, expires_at)
        try:
            self.save(top_up)
            return top_up, True
        except IntegrityError:
            first: TopUp = self.repository.get(top_up.id)
            if (first.amount, first.source, first.expires_at) != (credited, source, expires_at):
                raise Conflict(f"top-up {top_up_id!r} already exists with another body; the first stands") from None
            return first, False

    def find_top_up(self, customer_id: str, top_up_id: str) -> TopUp:
        if not (is_caller_id(customer_id) and is_caller_id(top_up_id)):
            raise NotFound(f"top-up {top_up_id!r} does not exist")
        try:
            return self.repository.get(TopUp.create_id(customer_id, top_up_id))
        except AggregateNotFoundError:
            raise NotFound(f"top-up {top_up_id!r} does not exist") from None
