"""Alerts and the webhooks that tell the operator about them.

An Alert's id is its customer, kind, period and threshold: raising it a
second time in the same period is refused by the event store's unique key,
so each is raised once, whichever process noticed first. A WebhookEndpoint
is where the operator wants to hear about events; a Delivery is one message
to one endpoint, with every attempt recorded, retried with backoff."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.identifiers import aggregate_id
from domain.invariants import require

ALERT_KINDS = ("spend_threshold", "low_balance", "usage_spike", "unpriced_usage")
WEBHOOK_EVENTS = ("alert.raised", "invoice.issued", "invoice.paid", "invoice.payment_failed", "top_up.succeeded")
# Seconds to wait after each failed attempt: 8 attempts over about 4 hours.
RETRY_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200)
SPIKE_FACTOR = Decimal(2)
SPIKE_HISTORY_DAYS = 7


class Alert(Aggregate):
    @staticmethod
    def create_id(customer: str, kind: str, period: str, threshold: str) -> UUID:
        return aggregate_id("alert", customer, kind, period, threshold)

    @event("Raised")
    def __init__(
        self, customer: str, kind: str, period: str, threshold: str, message: str, value: str, raised_at: datetime
    ) -> None:
        require(kind in ALERT_KINDS, kind)
        self.customer = customer
        self.kind = kind
        self.period = period
        self.threshold = threshold
        self.message = message
        self.value = value
        self.raised_at = raised_at

    @property
    def alert_id(self) -> str:
        return f"alrt_{self.id.hex[:20]}"


def spend_alerts(limits: dict[str, Any], spend: Decimal) -> list[tuple[str, str]]:
    """(threshold percent, message) for every threshold the period's spend
    has reached: of the soft limit, or of the hard limit where there is none."""
    base = limits.get("soft_limit") or limits.get("hard_limit")
    if not base:
        return []
    reached = []
    for percent in limits.get("alert_thresholds_percent") or []:
        if spend >= Decimal(base) * percent / 100:
            reached.append((str(percent), f"spend {spend} reached {percent} % of the {Decimal(base)} limit"))
    return reached


def is_spike(today: Decimal, previous_days: list[Decimal]) -> bool:
    """A day's spend over twice the trailing 7-day daily average, once there
    are 7 days of history."""
    if len(previous_days) < SPIKE_HISTORY_DAYS:
        return False
    average = sum(previous_days[-SPIKE_HISTORY_DAYS:], Decimal(0)) / SPIKE_HISTORY_DAYS
    return average > 0 and today > SPIKE_FACTOR * average


class WebhookEndpoint(Aggregate):
    @staticmethod
    def create_id(endpoint_id: str) -> UUID:
        return aggregate_id("webhook-endpoint", endpoint_id)

    @event("Created")
    def __init__(self, endpoint_id: str, url: str, events: list[str], secret: str) -> None:
        self.endpoint_id = endpoint_id
        self.url = url
        self.events = events
        self.secret = secret  # shown once at creation; deliveries are signed with it
        self.disabled = False

    @event("Disabled")
    def disable(self) -> None:
        self.disabled = True

    def wants(self, event_type: str) -> bool:
        return not self.disabled and event_type in self.events


class Delivery(Aggregate):
    @staticmethod
    def create_id(endpoint_id: str, message_id: str) -> UUID:
        return aggregate_id("delivery", endpoint_id, message_id)

    @event("Scheduled")
    def __init__(self, endpoint_id: str, message_id: str, event_type: str, payload: str, at: datetime) -> None:
        self.endpoint_id = endpoint_id
        self.message_id = message_id
        self.event_type = event_type
        self.payload = payload
        self.attempts: list[dict[str, Any]] = []
        self.status = "pending"
        self.next_attempt_at: datetime | None = at

    def record_attempt(self, at: datetime, status_code: int | None, error: str | None) -> None:
        ok = status_code is not None and 200 <= status_code < 300
        retries_left = len(self.attempts) < len(RETRY_SCHEDULE)
        next_at = None if ok or not retries_left else at + timedelta(seconds=RETRY_SCHEDULE[len(self.attempts)])
        status = "delivered" if ok else ("pending" if next_at else "failed")
        self._attempted(endpoint_id=self.endpoint_id, message_id=self.message_id, attempt=len(self.attempts) + 1,
                        at=at, status_code=status_code, error=error, status=status,
                        next_attempt_at=next_at)  # fmt: skip

    @event("Attempted")
    def _attempted(
        self, endpoint_id: str, message_id: str, attempt: int, at: datetime, status_code: int | None,
        error: str | None, status: str, next_attempt_at: datetime | None,
    ) -> None:  # fmt: skip
        self.attempts.append({"attempt": attempt, "at": at.isoformat(), "status_code": status_code, "error": error})
        self.status = status
        self.next_attempt_at = next_attempt_at
