"""The CardTopUp aggregate: prepaid funds bought with the customer's card
through Stripe. It shares the top-up id space with grants (the same
aggregate id for the same customer and top-up id), so a top-up id is
used once whatever its source.

The wallet is credited only when the payment succeeds, and exactly once:
the synchronous answer and Stripe's webhook (however often repeated, in
whatever order) all arrive at succeed(), which changes nothing the second
time. Refunds are cumulative in Stripe, so a refund event posts only what
was not yet posted; each dispute posts once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import accounts
from domain.identifiers import aggregate_id
from domain.invariants import InvariantViolated, require
from domain.journal import entry
from domain.money import ZERO


def _movement(kind: str, debit: str, credit: str, amount: Decimal, currency: str) -> dict[str, Any]:
    journal = entry(kind, [(debit, credit, amount, currency)])
    if journal is None:
        raise InvariantViolated(f"a {kind} moves a positive amount")
    return journal.as_dict()


class CardTopUp(Aggregate):
    @staticmethod
    def create_id(customer: str, top_up_id: str) -> UUID:
        return aggregate_id("top-up", customer, top_up_id)

    @event("Requested")
    def __init__(
        self, customer: str, top_up_id: str, amount: Decimal, currency: str, automatic: bool, requested_at: datetime
    ) -> None:
        require(amount > ZERO, "a top-up credits a positive amount")
        self.requested_at = requested_at  # on the application's clock
        self.customer = customer
        self.top_up_id = top_up_id
        self.amount = amount
        self.currency = currency
        self.automatic = automatic  # started by the auto top-up rule, not by a request
        self.source = "stripe"
        self.status = "pending"
        self.expires_at = None
        self.payment_intent: str | None = None
        self.charge: str | None = None
        self.failure: dict[str, str] | None = None
        self.refunded = ZERO
        self.disputes: dict[str, Decimal] = {}

    @property
    def returned(self) -> Decimal:
        """What left the wallet again: refunds and disputes."""
        return self.refunded + sum(self.disputes.values(), ZERO)

    @property
    def wallet(self) -> str:
        return accounts.wallet(self.customer)

    def succeed(self, payment_intent: str | None, charge: str | None) -> bool:
        if self.status == "succeeded":
            return False  # the other path (answer or webhook) got here first
        journal = _movement("top-up", accounts.STRIPE_CASH, self.wallet, self.amount, self.currency)
        self._succeeded(
            customer=self.customer,
            top_up_id=self.top_up_id,
            payment_intent=payment_intent,
            charge=charge,
            entry=journal,
        )
        return True

    @event("Succeeded")
    def _succeeded(
        self, customer: str, top_up_id: str, payment_intent: str | None, charge: str | None, entry: dict[str, Any]
    ) -> None:
        self.status = "succeeded"
        self.payment_intent = payment_intent or self.payment_intent
        self.charge = charge or self.charge
        self.failure = None

    def fail(self, payment_intent: str | None, code: str, message: str) -> bool:
        """A decline: the wallet is untouched. A failure reported after a
        success (an out-of-order webhook) changes nothing."""
        if self.status != "pending":
            return False
        self._failed(
            customer=self.customer, top_up_id=self.top_up_id, payment_intent=payment_intent, code=code, message=message
        )
        return True

    @event("Failed")
    def _failed(self, customer: str, top_up_id: str, payment_intent: str | None, code: str, message: str) -> None:
        self.status = "failed"
        self.payment_intent = payment_intent or self.payment_intent
        self.failure = {"code": code, "message": message}

    def refund(self, refunded_total: Decimal, refund: str | None) -> bool:
        """Stripe states the charge's refunded total; post what is new."""
        if self.status != "succeeded" or refunded_total <= self.refunded:
            return False
        refunded_total = min(refunded_total, self.amount)
        delta = refunded_total - self.refunded
        journal = _movement("refund", self.wallet, accounts.STRIPE_CASH, delta, self.currency)
        self._refunded(
            customer=self.customer,
            top_up_id=self.top_up_id,
            refunded_total=str(refunded_total),
            amount=str(delta),
            refund=refund,
            entry=journal,
        )
        return True

    @event("Refunded")
    def _refunded(
        self, customer: str, top_up_id: str, refunded_total: str, amount: str, refund: str | None, entry: dict[str, Any]
    ) -> None:
        self.refunded = Decimal(refunded_total)

    def dispute(self, dispute: str, amount: Decimal) -> bool:
        """The disputed amount leaves the wallet at once: Stripe withdraws it."""
        if self.status != "succeeded" or dispute in self.disputes:
            return False
        amount = min(amount, self.amount)
        journal = _movement("dispute", self.wallet, accounts.STRIPE_CASH, amount, self.currency)
        self._disputed(
            customer=self.customer, top_up_id=self.top_up_id, dispute=dispute, amount=str(amount), entry=journal
        )
        return True

    @event("Disputed")
    def _disputed(self, customer: str, top_up_id: str, dispute: str, amount: str, entry: dict[str, Any]) -> None:
        self.disputes[dispute] = Decimal(amount)
