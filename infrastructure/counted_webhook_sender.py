"""A webhook sender that counts each delivery attempt's outcome in
tally_webhook_deliveries_total, then answers as the sender it wraps."""

from __future__ import annotations

from application.ports import WebhookSender
from infrastructure.metrics import webhook_deliveries


class CountedWebhookSender:
    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender

    def send(self, url: str, secret: str, message_id: str, payload: str) -> tuple[int | None, str | None]:
        status, error = self.sender.send(url, secret, message_id, payload)
        delivered = status is not None and 200 <= status < 300
        webhook_deliveries.labels("delivered" if delivered else "failed").inc()
        return status, error
