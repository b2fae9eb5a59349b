"""Card payments: the card processor, when one is configured, with the
checks every card charge makes first. Shared by wallets (top-ups), billing
(invoice charges) and payment notices (what a payment was for)."""

from __future__ import annotations

from decimal import Decimal

from application.errors import ValidationFailed
from application.ports import PaymentGateway, PaymentOutcome
from domain.customer import Customer


class CardPayments:
    def __init__(self, gateway: PaymentGateway | None) -> None:
        self.gateway = gateway  # None: no card processor configured

    @property
    def configured(self) -> bool:
        return self.gateway is not None

    def check_chargeable(self, customer: Customer) -> None:
        """A 422 unless the customer's card can be charged at all."""
        if self.gateway is None:
            raise ValidationFailed(
                "card payments need Stripe configured (STRIPE_API_KEY); use source 'grant'",
                [{"loc": "source", "msg": "no card processor"}],
            )
        if not customer.stripe_customer_id:
            raise ValidationFailed(
                f"customer {customer.customer_id!r} has no stripe_customer_id to charge",
                [{"loc": "customer", "msg": "no Stripe customer"}],
            )

    def charge(
        self, customer: Customer, amount: Decimal, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> PaymentOutcome:
        """Charge the customer's card; a failed outcome when there is no card to charge."""
        if self.gateway is None or not customer.stripe_customer_id:
            return PaymentOutcome(
                "failed", failure_code="no_payment_method", failure_message="no card on file to charge"
            )
        return self.gateway.charge(
            stripe_customer=customer.stripe_customer_id,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )

    def target_of(self, payment_intent: str | None) -> tuple[str, str, str] | None:
        """What a payment was for (kind, customer, id), from the metadata tally gave it."""
        if self.gateway is None or payment_intent is None:
            return None
        metadata = self.gateway.payment_metadata(payment_intent)
        kind, customer, target = metadata.get("tally_kind"), metadata.get("tally_customer"), metadata.get("tally_id")
        if kind in ("top_up", "invoice") and customer and target:
            return (kind, customer, target)
        return None
