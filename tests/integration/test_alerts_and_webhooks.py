"""Alerts are raised once per threshold per period and delivered to the
operator's webhook endpoint, signed per Standard Webhooks: a real receiving
HTTP server verifies every signature with the standardwebhooks library and
fails the first attempts; the retries follow the backoff on the
application's clock, and every attempt is recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook

from interfaces.bootstrap import Services
from projections.checkpoints import SqlCheckpoints
from tests.clock import clock_of
from tests.support import NOW, event, seed

D = Decimal


class Receiver:
    """An HTTP server that verifies each delivery's signature and answers
    500 to the first `failures` of them."""

    def __init__(self, failures: int) -> None:
        self.secret = ""
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.verified: list[bool] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    receiver.verified.append(True)
                except Exception:
                    receiver.verified.append(False)
                receiver.received.append({"headers": headers, "body": json.loads(body)})
                status = 500 if len(receiver.received) <= receiver.failures else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(failures=2)
    yield found
    found.server.shutdown()


def step(services: Services) -> None:
    checkpoints = SqlCheckpoints(services.database)
    services.follower.catch_up()
    services.app.alert_policy(checkpoints).step()
    services.follower.catch_up()
    services.app.webhook_dispatcher(checkpoints).step()
    services.follower.catch_up()


def deliveries_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("tally_webhook_deliveries_total", {"outcome": outcome}) or 0.0


def test_alerts_are_raised_once_and_delivered_signed_with_retries(services: Services, receiver: Receiver) -> None:
    app = services.app
    counted_before = {outcome: deliveries_counted(outcome) for outcome in ("delivered", "failed")}
    seed(app, customers=("acme",), grant="0.05")
    endpoint = app.webhooks.create_webhook_endpoint(receiver.url, ["alert.raised"])
    receiver.secret = endpoint.secret
    limits = {"period": "month", "soft_limit": "0.02", "alert_thresholds_percent": [50, 100], "low_balance": "0.04"}
    app.authorizations.set_limits("acme", limits)
    app.metering.record_usage([event("u1"), event("u2")])  # 0.0156: 78 % of 0.02; the wallet falls to 0.0344
    step(services)
    kinds = sorted((a["kind"], a["threshold"]) for a in app.alert_reads.alerts_of("acme", 10))
    assert kinds == [("low_balance", "0.04"), ("spend_threshold", "50")]
    app.metering.record_usage(
        [event("u3")]
    )  # 0.0234: 117 %: the 100 % threshold; 50 % and low balance again: not re-raised
    step(services)
    kinds = sorted((a["kind"], a["threshold"]) for a in app.alert_reads.alerts_of("acme", 10))
    assert kinds == [("low_balance", "0.04"), ("spend_threshold", "100"), ("spend_threshold", "50")]

    # Three messages; the receiver failed the first two (500), whose retries are due 5 s later.
    assert len(receiver.received) == 3 and all(receiver.verified)
    clock_of(app).set(NOW + timedelta(seconds=4))
    step(services)
    assert len(receiver.received) == 3  # not due yet
    clock_of(app).set(NOW + timedelta(seconds=6))
    step(services)
    assert len(receiver.received) == 5  # the two again: 204 now
    clock_of(app).set(NOW + timedelta(hours=1))
    step(services)
    assert len(receiver.received) == 5  # all delivered: nothing more
    types = {r["body"]["type"] for r in receiver.received}
    assert types == {"alert.raised"}
    ids = {r["headers"]["webhook-id"] for r in receiver.received}
    assert len(ids) == 3  # a retry keeps its message id
    first = receiver.received[0]["headers"]["webhook-id"]
    delivery = app.webhooks.delivery(endpoint.endpoint_id, first)
    assert [a["status_code"] for a in delivery.attempts] == [500, 204] and delivery.status == "delivered"
    assert all(receiver.verified)
    # /metrics counts each attempt by its outcome: three 204s, two 500s.
    assert deliveries_counted("delivered") - counted_before["delivered"] == 3
    assert deliveries_counted("failed") - counted_before["failed"] == 2


def test_a_forged_signature_does_not_verify(receiver: Receiver) -> None:
    """The receiver's check is real: a wrong secret fails it."""
    from infrastructure.webhook_sender import StandardWebhookSender

    receiver.secret = "whsec_" + "QUJD" * 8
    StandardWebhookSender().send(receiver.url, "whsec_" + "WFla" * 8, "msg_1", '{"type":"alert.raised"}')
    assert receiver.verified == [False]


def test_unpriced_usage_and_bad_endpoints(services: Services) -> None:
    from application.errors import ValidationFailed

    seed(services.app, customers=("acme",))
    services.app.metering.record_usage([event("n1", model="gpt-9")])
    step(services)
    assert [a["kind"] for a in services.app.alert_reads.alerts_of("acme", 10)] == ["unpriced_usage"]
    with pytest.raises(ValidationFailed):
        services.app.webhooks.create_webhook_endpoint("ftp://example.com", ["alert.raised"])
    with pytest.raises(ValidationFailed):
        services.app.webhooks.create_webhook_endpoint("https://example.com/hooks", ["alert.lowered"])


def test_a_usage_spike_counts_idle_days_as_zero(services: Services) -> None:
    """Seven days of history with an idle day among them: the average is over
    all seven days, and a day over twice it raises one spike alert."""
    seed(services.app, customers=("acme",))
    for back in (7, 6, 5, 3, 2, 1):  # day 4 is idle
        moment = (NOW - timedelta(days=back)).isoformat()
        services.app.metering.record_usage([event(f"d{back}", timestamp=moment)])
    services.app.metering.record_usage([event("t0")])  # one event's spend today: under twice the average (6/7 of one)
    step(services)
    assert services.app.alert_reads.alerts_of("acme", 10) == []
    services.app.metering.record_usage([event("t1")])  # two today: over 2 × 6/7; had the idle day not counted, never
    step(services)
    assert [a["kind"] for a in services.app.alert_reads.alerts_of("acme", 10)] == ["usage_spike"]
