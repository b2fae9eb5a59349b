"""Stripe's signed webhooks, verified with the library's own
`stripe.Webhook.construct_event` and read into tally's PaymentNotice.
Fields are read defensively: the payload shapes of real Stripe and of the
local Stripe server differ in places (see stripe_gateway.py)."""

from __future__ import annotations

import json
from typing import Any

import stripe

from application.ports import PaymentNotice
from domain.money import from_minor_units
from infrastructure.stripe_gateway import _id_of, outcome_of

PAYMENT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed")


class InvalidWebhook(Exception):
    """The payload is not JSON or its signature does not verify."""


def verify(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret)
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhook(f"the Stripe-Signature header does not verify: {error.user_message or error}") from None
    except ValueError as error:
        raise InvalidWebhook(f"the payload is not a Stripe event: {error}") from None
    found: dict[str, Any] = json.loads(payload)
    if not isinstance(found, dict) or not isinstance(event, stripe.Event):
        raise InvalidWebhook("the payload is not a Stripe event")
    return found


def notice_of(event: dict[str, Any]) -> PaymentNotice | None:
    """The notice a Stripe event carries, or None for an event tally ignores."""
    kind = event.get("type")
    body = (event.get("data") or {}).get("object") or {}
    if not isinstance(body, dict):
        return None
    event_id = str(event.get("id") or "")
    if kind in PAYMENT_EVENTS:
        outcome = outcome_of(body)
        return PaymentNotice(event_id, "payment", body.get("id"), outcome.charge, _target(body), outcome=outcome)
    if kind == "charge.refunded":
        currency = str(body.get("currency") or "usd").upper()
        refunded = from_minor_units(int(body.get("amount_refunded") or 0), currency)
        return PaymentNotice(
            event_id, "refund", _id_of(body.get("payment_intent")), body.get("id"), _target(body),
            refunded_total=refunded,
        )  # fmt: skip
    if kind == "charge.dispute.created":
        currency = str(body.get("currency") or "usd").upper()
        return PaymentNotice(
            event_id, "dispute", _id_of(body.get("payment_intent")), _id_of(body.get("charge")), _target(body),
            dispute=body.get("id"), dispute_amount=from_minor_units(int(body.get("amount") or 0), currency),
        )  # fmt: skip
    return None


def _target(body: dict[str, Any]) -> tuple[str, str, str] | None:
    metadata = body.get("metadata") or {}
    kind, customer, target = metadata.get("tally_kind"), metadata.get("tally_customer"), metadata.get("tally_id")
    if kind in ("top_up", "invoice") and customer and target:
        return (str(kind), str(customer), str(target))
    return None
