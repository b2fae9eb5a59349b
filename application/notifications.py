"""Alerts and webhooks: raise each alert once per threshold per period, and
deliver alerts and billing events to the operator's webhook endpoints,
signed, retried with backoff, every attempt recorded."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from application.authorizations import Authorizations, limit_period
from application.errors import NotFound, ValidationFailed
from application.ports import Checkpoints
from domain.alerts import WEBHOOK_EVENTS, Alert, Delivery, WebhookEndpoint, is_spike, spend_alerts
from domain.events import AlertRaised, CardTopUpSucceeded, InvoiceChargeFailed, InvoiceIssued, InvoicePaid
from domain.tier_settlement import period_of

ALERTS_CHECKPOINT = "alert-policy"
WEBHOOKS_CHECKPOINT = "webhook-dispatcher"
MESSAGE_TOPICS = [
    get_topic(c) for c in (AlertRaised, InvoiceIssued, InvoicePaid, InvoiceChargeFailed, CardTopUpSucceeded)
]
PAGE = 200


class Notifications(Authorizations):
    # Webhook endpoints ------------------------------------------------------------------

    def create_webhook_endpoint(self, url: str, events: list[str]) -> WebhookEndpoint:
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise ValidationFailed("url is an http(s) URL", [{"loc": "url", "msg": "not a URL"}])
        unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
        if not events or unknown:
            raise ValidationFailed(
                f"events are some of {', '.join(WEBHOOK_EVENTS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                [{"loc": "events", "msg": "unknown event"}],
            )
        endpoint_id = "we_" + secrets.token_hex(8)
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        endpoint = WebhookEndpoint(endpoint_id, url, sorted(set(events)), secret)
        self.save(endpoint)
        return endpoint

    def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        self.reference.refresh()
        found = self.reference.webhook_endpoints.get(endpoint_id)
        if found is None:
            raise NotFound(f"webhook endpoint {endpoint_id!r} does not exist")
        return found

    def disable_webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint: WebhookEndpoint = self.repository.get(self.webhook_endpoint(endpoint_id).id)
        if not endpoint.disabled:
            endpoint.disable()
            self.save(endpoint)
        return endpoint

    def delivery(self, endpoint_id: str, message_id: str) -> Delivery:
        try:
            found: Delivery = self.repository.get(Delivery.create_id(endpoint_id, message_id))
        except AggregateNotFoundError:
            raise NotFound(f"delivery {message_id!r} to {endpoint_id!r} does not exist") from None
        return found

    # Alerts -----------------------------------------------------------------------------

    def raise_alerts(self, customer_id: str, unpriced: int = 0) -> int:
        """Raise whatever alerts the customer's figures call for now; each at
        most once per threshold per period (the event store refuses a second).
        `unpriced`: how many of its usage events became unpriced since the last
        pass (recorded so, or unpriced by a version that no longer prices
        them), whatever day they belong to."""
        customer = self.reference.customers.get(customer_id)
        if customer is None:
            return 0
        now = self.clock()
        today = now.date()
        days = self.alert_reads.daily_spend(customer_id, (today - timedelta(days=7)).isoformat(), today.isoformat())
        candidates: list[tuple[str, str, str, str, str]] = []  # kind, period, threshold, message, value
        limits = customer.limits or {}
        if limits:
            start, end = limit_period(limits.get("period", "month"), now)
            period = start.date().isoformat() if limits.get("period") == "day" else period_of(start)
            standing = self.authorization_reads.standing(customer_id, customer.currency, [], start, end)
            balance, spend = standing.balance, standing.spend
            for threshold, message in spend_alerts(limits, spend):
                candidates.append(("spend_threshold", period, threshold, message, str(spend)))
            low = limits.get("low_balance")
            if low is not None and customer.billing == "prepaid" and balance < Decimal(low):
                candidates.append(
                    ("low_balance", period, str(Decimal(low)), f"balance {balance} is below {low}", str(balance))
                )
        spend_today, unpriced_today = days.get(today.isoformat(), (Decimal(0), 0))
        week = [(today - timedelta(days=back)).isoformat() for back in range(7, 0, -1)]
        first = self.alert_reads.first_day(customer_id) if spend_today else None
        seasoned = first is not None and first <= week[0]  # 7 days of history; an idle day counts as zero spend
        history = [days.get(day, (Decimal(0), 0))[0] for day in week] if seasoned else []
        if is_spike(spend_today, history):
            candidates.append(
                (
                    "usage_spike",
                    today.isoformat(),
                    "2x",
                    f"today's spend {spend_today} is over twice the 7-day average",
                    str(spend_today),
                )
            )
        if unpriced_today or unpriced:
            candidates.append(
                (
                    "unpriced_usage",
                    today.isoformat(),
                    "any",
                    f"{unpriced_today} usage events today have no price"
                    + (f"; {unpriced} recorded or re-rated since the last check have none" if unpriced else ""),
                    str(max(unpriced_today, unpriced)),
                )
            )
        raised = 0
        for kind, period, threshold, message, value in candidates:
            try:
                self.save(Alert(customer_id, kind, period, threshold, message, value, now))
                raised += 1
            except IntegrityError:
                continue  # raised before in this period
        return raised

    def alert_step(self, checkpoints: Checkpoints) -> int:
        """After the usage read model moves: the alerts of the customers whose usage changed."""
        position = self.usage_history.position()
        after = checkpoints.get(ALERTS_CHECKPOINT)
        if position <= after:
            return 0
        self.reference.refresh()
        customers = sorted({customer for customer, _ in self.usage_history.changed_months(after, position)})
        unpriced = self.usage_history.unpriced_changed(after, position)
        raised = sum(self.raise_alerts(customer, unpriced.get(customer, 0)) for customer in customers)
        checkpoints.put(ALERTS_CHECKPOINT, position)
        return raised

    # Deliveries -------------------------------------------------------------------------

    def webhook_step(self, checkpoints: Checkpoints) -> int:
        """Schedule a delivery per subscribed endpoint for each new event the
        operator can subscribe to, try it at once, and retry what is due."""
        position = checkpoints.get(WEBHOOKS_CHECKPOINT)
        page = self.recorder.select_notifications(position, PAGE, topics=MESSAGE_TOPICS, inclusive_of_start=False)
        done = 0
        if page:
            self.reference.refresh()
        for notification in page:
            event: Any = self.mapper.to_domain_event(notification)
            message = webhook_message(event)
            if message is not None:
                event_type, data = message
                message_id = f"msg_{event.originator_id.hex[:16]}_{event.originator_version}"
                payload = json.dumps({"type": event_type, "timestamp": event.timestamp.isoformat(), "data": data})
                for endpoint in list(self.reference.webhook_endpoints.values()):
                    if endpoint.wants(event_type):
                        done += self._schedule(endpoint, message_id, event_type, payload)
            checkpoints.put(WEBHOOKS_CHECKPOINT, notification.id)
        for endpoint_id, message_id in self.alert_reads.due_deliveries(self.clock()):
            done += self._attempt(self.delivery(endpoint_id, message_id))
        return done

    def _schedule(self, endpoint: WebhookEndpoint, message_id: str, event_type: str, payload: str) -> int:
        delivery = Delivery(endpoint.endpoint_id, message_id, event_type, payload, self.clock())
        try:
            self.save(delivery)
        except IntegrityError:
            return 0  # scheduled before (a repeated pass)
        return self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> int:
        if delivery.status != "pending" or (delivery.next_attempt_at and delivery.next_attempt_at > self.clock()):
            return 0
        endpoint = self.reference.webhook_endpoints.get(delivery.endpoint_id)
        if endpoint is None or endpoint.disabled or self.webhooks is None:
            return 0
        status_code, error = self.webhooks.send(endpoint.url, endpoint.secret, delivery.message_id, delivery.payload)
        delivery.record_attempt(self.clock(), status_code, error)
        try:
            self.save(delivery)
        except IntegrityError:
            return 0  # another process attempted it at the same moment
        return 1


def webhook_message(event: Any) -> tuple[str, dict[str, Any]] | None:
    """The webhook type and data of a domain event, or None."""
    if isinstance(event, AlertRaised):
        return "alert.raised", {
            "id": f"alrt_{event.originator_id.hex[:20]}", "customer": event.customer, "kind": event.kind,
            "period": event.period, "threshold": event.threshold, "message": event.message, "value": event.value,
            "raised_at": event.raised_at.isoformat(),
        }  # fmt: skip
    if isinstance(event, InvoiceIssued):
        if event.kind != "invoice":
            return None
        figures = event.figures
        return "invoice.issued", {"id": event.invoice_id, "customer": event.customer, "total": figures["total"],
                                  "amount_due": figures["amount_due"], "currency": event.currency}  # fmt: skip
    if isinstance(event, InvoicePaid):
        if event.status_after != "paid":
            return None
        return "invoice.paid", {"id": event.invoice_id, "customer": event.customer, "amount": event.amount}
    if isinstance(event, InvoiceChargeFailed):
        return "invoice.payment_failed", {
            "id": event.invoice_id, "customer": event.customer, "attempt": event.attempt, "code": event.code,
            "next_attempt_at": event.next_attempt_at.isoformat() if event.next_attempt_at else None,
        }  # fmt: skip
    if isinstance(event, CardTopUpSucceeded):
        return "top_up.succeeded", {"id": event.top_up_id, "customer": event.customer}
    return None
