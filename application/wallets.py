"""Prepaid wallets: top-ups. Granted funds are credited at once; Stripe
top-ups need the Stripe adapter, which this release does not configure."""

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
        if expires_at is not None:
            validation.aware(expires_at, "expires_at")
        first = self._existing_top_up(customer_id, top_up_id)
        if first is not None:  # a retry: the first answer, whatever changed since
            return self._same_top_up(first, credited, source, expires_at), False
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
        top_up = TopUp.grant(customer_id, top_up_id, credited, customer.currency, expires_at)
        try:
            self.save(top_up)
        except IntegrityError:  # a concurrent request with the same id won
            return self._same_top_up(self.repository.get(top_up.id), credited, source, expires_at), False
        return top_up, True

    def _existing_top_up(self, customer_id: str, top_up_id: str) -> TopUp | None:
        try:
            found: TopUp = self.repository.get(TopUp.create_id(customer_id, top_up_id))
        except AggregateNotFoundError:
            return None
        return found

    @staticmethod
    def _same_top_up(first: TopUp, amount: Decimal, source: str, expires_at: datetime | None) -> TopUp:
        if (first.amount, first.source, first.expires_at) != (amount, source, expires_at):
            raise Conflict(f"top-up {first.top_up_id!r} already exists with another body; the first stands")
        return first

    def find_top_up(self, customer_id: str, top_up_id: str) -> TopUp:
        if not (is_caller_id(customer_id) and is_caller_id(top_up_id)):
            raise NotFound(f"top-up {top_up_id!r} does not exist")
        try:
            return self.repository.get(TopUp.create_id(customer_id, top_up_id))
        except AggregateNotFoundError:
            raise NotFound(f"top-up {top_up_id!r} does not exist") from None
