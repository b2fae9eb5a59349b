"""Webhooks: the operator's endpoints, and the dispatcher that delivers
alerts and billing events to them, signed, retried with backoff, every
attempt recorded."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from application.errors import NotFound, ValidationFailed
from application.event_store import EventStore
from application.ports import AlertReads, Checkpoints, Clock, WebhookSender
from application.reference import ReferenceData
from domain.alerts import WEBHOOK_EVENTS, Delivery, WebhookEndpoint
from domain.events import AlertRaised, CardTopUpSucceeded, InvoiceChargeFailed, InvoiceIssued, InvoicePaid

CHECKPOINT = "webhook-dispatcher"
MESSAGE_TOPICS = [
    get_topic(c) for c in (AlertRaised, InvoiceIssued, InvoicePaid, InvoiceChargeFailed, CardTopUpSucceeded)
]
PAGE = 200


class Webhooks:
    def __init__(self, store: EventStore, reference: ReferenceData) -> None:
        self.store = store
        self.reference = reference

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
        self.store.save(endpoint)
        return endpoint

    def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        self.reference.refresh()
        found = self.reference.webhook_endpoints.get(endpoint_id)
        if found is None:
            raise NotFound(f"webhook endpoint {endpoint_id!r} does not exist")
        return found

    def disable_webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint: WebhookEndpoint = self.store.repository.get(self.webhook_endpoint(endpoint_id).id)
        if not endpoint.disabled:
            endpoint.disable()
            self.store.save(endpoint)
        return endpoint

    def delivery(self, endpoint_id: str, message_id: str) -> Delivery:
        try:
            found: Delivery = self.store.repository.get(Delivery.create_id(endpoint_id, message_id))
        except AggregateNotFoundError:
            raise NotFound(f"delivery {message_id!r} to {endpoint_id!r} does not exist") from None
        return found


class WebhookDispatcher:
    """Schedules a delivery per subscribed endpoint for each new event the
    operator can subscribe to, tries it at once, and retries what is due."""

    def __init__(
        self,
        webhooks: Webhooks,
        sender: WebhookSender | None,
        alert_reads: AlertReads,
        checkpoints: Checkpoints,
        clock: Clock,
    ) -> None:
        self.webhooks = webhooks
        self.store = webhooks.store
        self.reference = webhooks.reference
        self.sender = sender
        self.alert_reads = alert_reads
        self.checkpoints = checkpoints
        self.clock = clock

    def step(self) -> int:
        page = self.webhooks.store.read(self.checkpoints.get(CHECKPOINT), PAGE, topics=MESSAGE_TOPICS)
        done = 0
        if page:
            self.reference.refresh()
        for position, event in page:
            message = webhook_message(event)
            if message is not None:
                event_type, data = message
                message_id = f"msg_{event.originator_id.hex[:16]}_{event.originator_version}"
                payload = json.dumps({"type": event_type, "timestamp": event.timestamp.isoformat(), "data": data})
                for endpoint in list(self.reference.webhook_endpoints.values()):
                    if endpoint.wants(event_type):
                        done += self._schedule(endpoint, message_id, event_type, payload)
            self.checkpoints.put(CHECKPOINT, position)
        for endpoint_id, message_id in self.alert_reads.due_deliveries(self.clock()):
            done += self._attempt(self.webhooks.delivery(endpoint_id, message_id))
        return done

    def _schedule(self, endpoint: WebhookEndpoint, message_id: str, event_type: str, payload: str) -> int:
        delivery = Delivery(endpoint.endpoint_id, message_id, event_type, payload, self.clock())
        try:
            self.store.save(delivery)
        except IntegrityError:
            return 0  # scheduled before (a repeated pass)
        return self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> int:
        if delivery.status != "pending" or (delivery.next_attempt_at and delivery.next_attempt_at > self.clock()):
            return 0
        endpoint = self.reference.webhook_endpoints.get(delivery.endpoint_id)
        if endpoint is None or endpoint.disabled or self.sender is None:
            return 0
        status_code, error = self.sender.send(endpoint.url, endpoint.secret, delivery.message_id, delivery.payload)
        delivery.record_attempt(self.clock(), status_code, error)
        try:
            self.store.save(delivery)
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
