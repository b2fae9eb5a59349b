"""Card payments through Stripe, with the official `stripe` library.

Off-session PaymentIntents on the customer's default payment method, with
Stripe idempotency keys, so a retried charge is never taken twice. Stripe's
responses are read as plain dicts and defensively: real Stripe and the local
Stripe server used in tests differ in places (`latest_charge` is an id in
current API versions and an expanded object locally; a decline carries the
PaymentIntent in real Stripe's error body and not locally)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import stripe

from application.ports import PaymentOutcome
from domain.money import to_minor_units

logger = logging.getLogger(__name__)


class StripeGateway:
    def __init__(self, api_key: str, api_base: str | None = None) -> None:
        addresses: dict[str, str] = {"api": api_base.rstrip("/")} if api_base else {}
        self.client = stripe.StripeClient(api_key, base_addresses=addresses, max_network_retries=2)  # type: ignore[arg-type]

    def charge(
        self,
        *,
        stripe_customer: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> PaymentOutcome:
        try:
            method = self._default_payment_method(stripe_customer)
            if method is None:
                return PaymentOutcome(
                    "failed", failure_code="no_payment_method", failure_message="no default payment method in Stripe"
                )
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": to_minor_units(amount, currency),
                    "currency": currency.lower(),
                    "customer": stripe_customer,
                    "payment_method": method,
                    "confirm": True,
                    "off_session": True,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            ).to_dict()
        except stripe.CardError as error:
            return _declined(error)
        except stripe.InvalidRequestError as error:
            return PaymentOutcome("failed", failure_code=error.code or "invalid_request",
                                  failure_message=error.user_message or str(error))  # fmt: skip
        except stripe.StripeError as error:  # Stripe unreachable or failing: no answer yet
            logger.warning("stripe: %s", error)
            return PaymentOutcome("pending", failure_code="processor_unavailable", failure_message=str(error))
        return outcome_of(intent)

    def payment_metadata(self, payment_intent: str) -> dict[str, str]:
        return _payment_metadata(self.client, payment_intent)

    def _default_payment_method(self, stripe_customer: str) -> str | None:
        customer = self.client.v1.customers.retrieve(stripe_customer).to_dict()
        settings = customer.get("invoice_settings") or {}
        method = settings.get("default_payment_method") or customer.get("default_source")
        return _id_of(method)


def outcome_of(intent: dict[str, Any]) -> PaymentOutcome:
    """A PaymentIntent (from an answer or a webhook) as an outcome."""
    status = intent.get("status")
    charge = _id_of(intent.get("latest_charge"))
    if charge is None:  # older API versions list the charges instead
        charges = (intent.get("charges") or {}).get("data") or []
        charge = _id_of(charges[-1]) if charges else None
    if status == "succeeded":
        return PaymentOutcome("succeeded", intent.get("id"), charge)
    if status in ("requires_payment_method", "canceled"):
        error = intent.get("last_payment_error") or {}
        return PaymentOutcome(
            "failed",
            intent.get("id"),
            charge,
            error.get("decline_code") or error.get("code") or "payment_failed",
            error.get("message") or "the payment failed",
        )
    return PaymentOutcome("pending", intent.get("id"), charge)


def _declined(error: stripe.CardError) -> PaymentOutcome:
    json_body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
    body: dict[str, Any] = json_body.get("error") or {}
    intent: dict[str, Any] = body.get("payment_intent") or {}
    return PaymentOutcome(
        "failed",
        _id_of(intent),
        _id_of(intent.get("latest_charge")),
        body.get("decline_code") or error.code or "card_declined",
        error.user_message or body.get("message") or "the card was declined",
    )


def _id_of(value: Any) -> str | None:
    """An id, whether Stripe gave the id or the expanded object."""
    if isinstance(value, dict):
        found = value.get("id")
        return str(found) if found else None
    return str(value) if value else None


def _payment_metadata(client: stripe.StripeClient, payment_intent: str) -> dict[str, str]:
    intent = client.v1.payment_intents.retrieve(payment_intent).to_dict()
    return {str(k): str(v) for k, v in (intent.get("metadata") or {}).items()}
