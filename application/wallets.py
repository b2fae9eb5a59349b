"""Prepaid wallets: top-ups. Granted funds are credited at once; a card
top-up charges the customer's default payment method through the payment
gateway and credits the wallet when, and only when, the payment succeeds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application import validation
from application.card_payments import CardPayments
from application.customers import Customers
from application.errors import Conflict, NotFound, ValidationFailed
from application.event_store import EventStore
from application.ports import Clock, PaymentOutcome
from domain.card_top_up import CardTopUp
from domain.customer import Customer
from domain.identifiers import is_caller_id
from domain.money import minor_unit
from domain.top_up import TopUp

AnyTopUp = TopUp | CardTopUp


class Wallets:
    def __init__(self, store: EventStore, customers: Customers, cards: CardPayments, clock: Clock) -> None:
        self.store = store
        self.customers = customers
        self.cards = cards
        self.clock = clock

    def top_up(
        self,
        customer_id: str,
        top_up_id: str,
        amount: str | Decimal,
        source: str,
        expires_at: datetime | None,
    ) -> tuple[AnyTopUp, bool]:
        """Returns the top-up and whether this call created it (a retry with
        the same body returns the first one; a card top-up still pending is
        charged again, under the same idempotency key)."""
        customer = self.customers.customer(customer_id)
        validation.caller_id(top_up_id, "id")
        credited = validation.amount(amount, "amount", positive=True)
        if expires_at is not None:
            validation.aware(expires_at, "expires_at")
        first = self._existing_top_up(customer_id, top_up_id)
        if first is not None:  # a retry: the first answer, whatever changed since
            same = self._same_top_up(first, credited, source, expires_at)
            if isinstance(same, CardTopUp) and same.status == "pending":
                return self._collect(customer, same), False
            return same, False
        if customer.billing != "prepaid":
            raise ValidationFailed(
                f"customer {customer_id!r} is {customer.billing}: wallets are for prepaid customers",
                [{"loc": "customer", "msg": "not prepaid"}],
            )
        if source == "stripe":
            return self.card_top_up(customer, top_up_id, credited, expires_at, automatic=False)
        top_up = TopUp.grant(customer_id, top_up_id, credited, customer.currency, expires_at)
        try:
            self.store.save(top_up)
        except IntegrityError:  # a concurrent request with the same id won
            return self._same_top_up(self.store.repository.get(top_up.id), credited, source, expires_at), False
        return top_up, True

    def card_top_up(
        self, customer: Customer, top_up_id: str, amount: Decimal, expires_at: datetime | None, *, automatic: bool
    ) -> tuple[AnyTopUp, bool]:
        self.cards.check_chargeable(customer)
        if expires_at is not None:
            raise ValidationFailed("bought funds do not expire", [{"loc": "expires_at", "msg": "grants only"}])
        if amount % minor_unit(customer.currency):
            raise ValidationFailed(
                f"a card payment in {customer.currency} moves whole multiples of {minor_unit(customer.currency)}",
                [{"loc": "amount", "msg": "not a whole minor unit"}],
            )
        top_up = CardTopUp(customer.customer_id, top_up_id, amount, customer.currency, automatic, self.clock())
        try:
            self.store.save(top_up)
        except IntegrityError:
            return self._same_top_up(self.store.repository.get(top_up.id), amount, "stripe", expires_at), False
        return self._collect(customer, top_up), True

    def _collect(self, customer: Customer, top_up: CardTopUp) -> CardTopUp:
        """Charge the card and record the answer. The idempotency key is the
        top-up's own id: a retried request never charges twice."""
        outcome = self.cards.charge(
            customer,
            top_up.amount,
            top_up.currency,
            idempotency_key=f"tally-top-up-{top_up.id}",
            metadata={"tally_kind": "top_up", "tally_customer": top_up.customer, "tally_id": top_up.top_up_id},
        )
        return self.apply_top_up_outcome(top_up.customer, top_up.top_up_id, outcome)

    def apply_top_up_outcome(self, customer_id: str, top_up_id: str, outcome: PaymentOutcome) -> CardTopUp:
        """Record a payment's outcome on a card top-up, from the charge's answer
        or a webhook, whichever comes first: the second changes nothing."""

        def apply(top_up: CardTopUp) -> None:
            if outcome.status == "succeeded":
                top_up.succeed(outcome.payment_intent, outcome.charge)
            elif outcome.status == "failed":
                top_up.fail(outcome.payment_intent, outcome.failure_code or "failed", outcome.failure_message or "")

        return self.change_card_top_up(customer_id, top_up_id, apply)

    def change_card_top_up(self, customer_id: str, top_up_id: str, change: Callable[[CardTopUp], Any]) -> CardTopUp:
        def load() -> CardTopUp:
            top_up = self._existing_top_up(customer_id, top_up_id)
            if not isinstance(top_up, CardTopUp):
                raise NotFound(f"card top-up {top_up_id!r} of {customer_id!r} does not exist")
            return top_up

        return self.store.change(load, change, f"top-up {top_up_id!r}")

    def _existing_top_up(self, customer_id: str, top_up_id: str) -> AnyTopUp | None:
        try:
            found: AnyTopUp = self.store.repository.get(TopUp.create_id(customer_id, top_up_id))
        except AggregateNotFoundError:
            return None
        return found

    @staticmethod
    def _same_top_up(first: AnyTopUp, amount: Decimal, source: str, expires_at: datetime | None) -> AnyTopUp:
        if (first.amount, first.source, first.expires_at) != (amount, source, expires_at):
            raise Conflict(f"top-up {first.top_up_id!r} already exists with another body; the first stands")
        return first

    def find_top_up(self, customer_id: str, top_up_id: str) -> AnyTopUp:
        if not (is_caller_id(customer_id) and is_caller_id(top_up_id)):
            raise NotFound(f"top-up {top_up_id!r} does not exist")
        found = self._existing_top_up(customer_id, top_up_id)
        if found is None:
            raise NotFound(f"top-up {top_up_id!r} does not exist")
        return found
