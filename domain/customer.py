"""The Customer aggregate: who is billed, in which currency, on which plan."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identifiers import aggregate_id

BILLING_MODES = ("prepaid", "postpaid", "invoice")


class Customer(Aggregate):
    @staticmethod
    def create_id(customer_id: str) -> UUID:
        return aggregate_id("customer", customer_id)

    @event("Registered")
    def __init__(
        self,
        customer_id: str,
        name: str,
        currency: str,
        plan: str,
        billing: str,
        net_terms_days: int,
        stripe_customer_id: str | None,
    ) -> None:
        assert billing in BILLING_MODES, billing
        self.customer_id = customer_id
        self.name = name
        self.currency = currency
        self.plan = plan
        self.billing = billing
        self.net_terms_days = net_terms_days
        self.stripe_customer_id = stripe_customer_id
        self.api_keys: dict[str, str] = {}
        self.auto_top_up: dict[str, str] | None = None  # {"threshold", "amount"}
        self.limits: dict[str, Any] | None = None

    @event("Updated")
    def update(self, name: str, plan: str, billing: str) -> None:
        assert billing in BILLING_MODES, billing
        self.name = name
        self.plan = plan
        self.billing = billing

    @event("StripeLinked")
    def link_stripe(self, stripe_customer_id: str) -> None:
        self.stripe_customer_id = stripe_customer_id

    @event("AutoTopUpSet")
    def set_auto_top_up(self, threshold: str | None, amount: str | None) -> None:
        """Below `threshold`, one card top-up of `amount` starts; None turns it off."""
        self.auto_top_up = {"threshold": threshold, "amount": amount} if threshold and amount else None

    @event("LimitsSet")
    def set_limits(self, limits: dict[str, Any] | None) -> None:
        """{period, soft_limit, hard_limit, alert_thresholds_percent, low_balance}; None removes them."""
        self.limits = limits

    @event("ApiKeyIssued")
    def issue_api_key(self, key_id: str, key_hash: str) -> None:
        assert key_id not in self.api_keys, "a key id is issued once"
        self.api_keys[key_id] = key_hash

    @event("ApiKeyRevoked")
    def revoke_api_key(self, key_id: str) -> None:
        assert key_id in self.api_keys, "only an issued key can be revoked"
        del self.api_keys[key_id]

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.customer_id,
            "name": self.name,
            "currency": self.currency,
            "plan": self.plan,
            "billing": self.billing,
            "net_terms_days": self.net_terms_days,
            "stripe_customer_id": self.stripe_customer_id,
        }
