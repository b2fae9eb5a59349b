"""The Customer aggregate: who is billed, in which currency, on which plan,
and since when: a plan change takes effect from its moment on, so usage is
rated under the plan its customer had at the usage's own moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identifiers import aggregate_id
from domain.invariants import require

BILLING_MODES = ("prepaid", "postpaid", "invoice")
# What an invoice prints about its buyer; each optional. The name defaults to
# the customer's name, the address is lines of text.
BILLING_DETAIL_FIELDS = ("name", "address", "tax_id", "email")


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
        require(billing in BILLING_MODES, billing)
        self.customer_id = customer_id
        self.name = name
        self.currency = currency
        self.plan = plan  # the plan as last set: the one usage from now on is rated under
        self.registered_plan = plan
        # (effective_at, plan) of every change of plan, in the order made
        self.plan_changes: list[tuple[datetime, str]] = []
        self.billing = billing
        self.net_terms_days = net_terms_days
        self.stripe_customer_id = stripe_customer_id
        self.api_keys: dict[str, str] = {}
        self.auto_top_up: dict[str, str] | None = None  # {"threshold", "amount"}
        self.limits: dict[str, Any] | None = None
        self.billing_details: dict[str, str] | None = None  # BILLING_DETAIL_FIELDS, as last set

    class Updated(Aggregate.Event):
        """Name, plan and billing after a change; a new plan takes effect at
        `effective_at`. Changes stored before the plan history was kept carry
        no `effective_at`: they took effect when they were recorded, so the
        upcast gives them their own timestamp, the same on every replay."""

        name: str
        plan: str
        billing: str
        effective_at: datetime

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["effective_at"] = state["timestamp"]

    @event(Updated)
    def update(self, name: str, plan: str, billing: str, effective_at: datetime) -> None:
        require(billing in BILLING_MODES, billing)
        require(effective_at.tzinfo is not None, "a plan change takes effect at an aware moment")
        if plan != self.plan:
            self.plan_changes.append((effective_at, plan))
        self.name = name
        self.plan = plan
        self.billing = billing

    def change(self, name: str, plan: str, billing: str, now: datetime) -> None:
        """Change name, plan or billing at `now` (the application's clock). A
        new plan takes effect at `now`, or at the last change's moment when a
        clock behind it made this one: so the plan as last set is the plan
        of every moment from now on, whichever host made each change."""
        latest = max((effective_at for effective_at, _ in self.plan_changes), default=now)
        self.update(name, plan, billing, max(now, latest))

    def plan_at(self, moment: datetime) -> str:
        """The plan of the last change effective at or before `moment`
        (the one made last among changes at the same moment), else the plan
        the customer registered with: usage may be timestamped before its
        customer was registered."""
        found, found_at = self.registered_plan, None
        for effective_at, plan in self.plan_changes:
            if effective_at <= moment and (found_at is None or effective_at >= found_at):
                found, found_at = plan, effective_at
        return found

    def plans_held(self) -> set[str]:
        """Every plan the customer has been on, the one it registered with included."""
        return {self.registered_plan, *(plan for _, plan in self.plan_changes)}

    def plans_since(self, since: datetime) -> set[str]:
        """Every plan the customer is on at some moment at or after `since`."""
        return {self.plan_at(since), *(plan for effective_at, plan in self.plan_changes if effective_at > since)}

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

    @event("BillingDetailsSet")
    def set_billing_details(self, details: dict[str, str] | None) -> None:
        """The buyer's details an invoice prints (the whole set; None clears them)."""
        assert details is None or set(details) <= set(BILLING_DETAIL_FIELDS), details
        self.billing_details = dict(details) if details else None

    @event("ApiKeyIssued")
    def issue_api_key(self, key_id: str, key_hash: str) -> None:
        require(key_id not in self.api_keys, "a key id is issued once")
        self.api_keys[key_id] = key_hash

    @event("ApiKeyRevoked")
    def revoke_api_key(self, key_id: str) -> None:
        require(key_id in self.api_keys, "only an issued key can be revoked")
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
            "billing_details": self.billing_details,
        }
