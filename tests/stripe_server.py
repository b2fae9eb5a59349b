"""A real local Stripe server (localstripe) for the tests, driven through the
official `stripe` library, and helpers to make customers with cards on it."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import stripe

from tests.e2e.server import free_port

API_KEY = "sk_test_tally"
WEBHOOK_SECRET = "whsec_tally_test"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then declines at charge time


@contextmanager
def localstripe() -> Iterator[str]:
    """A fresh localstripe process on a free port; its state file goes to a
    folder of its own (it keeps one fixed file in the temp folder)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
            env={"TMPDIR": folder, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{base}/v1/customers", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("localstripe did not start")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def client(base: str) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": base})


def customer_with_card(base: str, card: str = GOOD_CARD) -> str:
    """A Stripe customer whose default payment method is `card`."""
    v1 = client(base).v1
    customer = v1.customers.create(params={"email": "billing@example.com"})
    method = v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    v1.payment_methods.attach(method.id, params={"customer": customer.id})
    v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": method.id}})
    return str(customer.id)


def set_card(base: str, stripe_customer: str, card: str) -> None:
    """Replace the customer's default card (a card that starts working, or stops)."""
    v1 = client(base).v1
    method = v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    v1.payment_methods.attach(method.id, params={"customer": stripe_customer})
    v1.customers.update(stripe_customer, params={"invoice_settings": {"default_payment_method": method.id}})


def register_webhook(base: str, url: str, secret: str = WEBHOOK_SECRET) -> None:
    answer = httpx.post(f"{base}/_config/webhooks/tally", data={"url": url, "secret": secret})
    assert answer.status_code == 200, answer.text


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    """A Stripe event payload and its Stripe-Signature header, signed with
    the stripe library's own signing code: for the events the local server
    does not send (refunds, disputes)."""
    payload = json.dumps(event)
    timestamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return payload.encode(), f"t={timestamp},v1={signature}"


def stripe_event(kind: str, body: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": body},
    }
