"""Billing through a real tally server and a real local Stripe server: a
billing run over HTTP, the invoice as JSON and as a PDF, a bank transfer, an
invoice paid by card whose charge is then refunded and disputed by signed
webhooks, and the bad requests around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client
from tests.stripe_server import (
    customer_with_card,
    signed,
    stripe_event,
)
from tests.support import event, rates_json


def last_month() -> tuple[str, str]:
    """A moment in the month before this one, and this month's start (the period's end)."""
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start - timedelta(days=3)).isoformat(), start.isoformat()


def test_billing_over_http(stripe_tally_server: tuple[str, str]) -> None:
    base, stripe_base = stripe_tally_server
    moment, period_end = last_month()
    with client(base) as api:
        api.post("/v1/price-books", json={"id": "default", "currency": "USD"})
        api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2020-01-01T00:00:00Z", "rates": rates_json()}
        )
        api.post("/v1/plans", json={"id": "pro", "price_book": "default", "markup_percent": "20"})
        for name, billing, stripe_id in (
            ("globex", "postpaid", customer_with_card(stripe_base)),
            ("initech", "invoice", None),
        ):
            body = {"id": name, "name": name.title(), "currency": "USD", "plan": "pro", "billing": billing,
                    "net_terms_days": 15, "stripe_customer_id": stripe_id}  # fmt: skip
            assert api.post("/v1/customers", json=body).status_code == 201
        events = [event(f"{c}{i}", c, timestamp=moment) for c in ("globex", "initech") for i in range(40)]
        assert api.post("/v1/events", json={"events": events}).status_code == 200
        consistent_balance(api, "globex")

        future = api.post("/v1/billing-runs", json={"period_end": "2999-01-01T00:00:00Z"})
        assert future.status_code == 422
        run = api.post("/v1/billing-runs", json={"period_end": period_end})
        assert run.status_code == 201, run.text
        invoices = {i["customer"]: i for i in run.json()["invoices"]}
        # 40 events of 0.0065 at 20 %: 0.312 each customer, due as 0.31 (half-even to the cent).
        assert invoices["globex"] == {**invoices["globex"], "total": "0.31", "amount_due": "0.31", "status": "paid"}
        assert invoices["initech"]["status"] == "open"
        again = api.post("/v1/billing-runs", json={"period_end": period_end})
        assert again.status_code == 200 and again.json()["invoices"] == run.json()["invoices"]

        initech = api.get(f"/v1/invoices/{invoices['initech']['id']}").json()
        assert initech["lines"][0] | {"quantity": 48_000} == initech["lines"][0]  # 40 × 1,200 input tokens
        assert initech["rounding"] == "-0.002" and initech["amount_due"] == "0.31"
        pdf = api.get(f"/v1/invoices/{invoices['initech']['id']}/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
        overpaid = api.post(
            f"/v1/invoices/{invoices['initech']['id']}/payments", json={"amount": "1.00", "reference": "w1"}
        )
        assert overpaid.status_code == 422
        numeric = api.post(
            f"/v1/invoices/{invoices['initech']['id']}/payments", json={"amount": 0.31, "reference": "w1"}
        )
        assert numeric.status_code == 422
        paid = api.post(
            f"/v1/invoices/{invoices['initech']['id']}/payments", json={"amount": "0.31", "reference": "w1"}
        )
        assert paid.status_code == 200 and paid.json()["status"] == "paid"
        assert api.get("/v1/invoices/nobody.20260101.20260201").status_code == 404

        # The card payment of globex's invoice, refunded in part and then disputed.
        globex = api.get(f"/v1/invoices/{invoices['globex']['id']}").json()
        assert globex["attempts"] == [] and globex["payment_intent"].startswith("pi_")
        # The charge carries no metadata here: tally finds the invoice from the PaymentIntent's.
        refund = stripe_event("charge.refunded", {"id": "ch_x", "object": "charge", "currency": "usd", "amount": 31,
                              "amount_refunded": 10, "payment_intent": globex["payment_intent"], "metadata": {}},
                              "evt_r")  # fmt: skip
        payload, signature = signed(refund)
        for _ in range(2):
            answer = httpx.post(f"{base}/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature})
            assert answer.status_code == 200
        reopened = api.get(f"/v1/invoices/{invoices['globex']['id']}").json()
        assert reopened["status"] == "open" and reopened["amount_remaining"] == "0.1"
        # The payment's own webhook, told (again) after the refund: the same payment is not counted twice.
        succeeded = stripe_event("payment_intent.succeeded", {"id": globex["payment_intent"], "object": "payment_intent",
                                 "status": "succeeded", "amount": 31, "amount_received": 31, "currency": "usd",
                                 "latest_charge": "ch_x", "metadata": {}}, "evt_s")  # fmt: skip
        payload, signature = signed(succeeded)
        answer = httpx.post(f"{base}/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature})
        assert answer.status_code == 200, answer.text
        still = api.get(f"/v1/invoices/{invoices['globex']['id']}").json()
        assert still["status"] == "open" and still["amount_remaining"] == "0.1", still
        balance = consistent_balance(api, "globex")
        assert balance["balance"] == "-0.1"  # owed again

        # A customer key sees its own invoices only.
        key = api.post("/v1/customers/initech/api-keys").json()["key"]
        with client(base, key) as own:
            assert own.get(f"/v1/invoices/{invoices['initech']['id']}").status_code == 200
            assert own.get(f"/v1/invoices/{invoices['globex']['id']}").status_code == 404
            assert own.get(f"/v1/invoices/{invoices['globex']['id']}/pdf").status_code == 404
            assert own.get("/v1/customers/initech/invoices").status_code == 200
            assert own.post("/v1/billing-runs", json={"period_end": period_end}).status_code == 403
            query = '{ customer(id: "initech") { status invoices { id status total { amount } } } }'
            shown = own.post("/graphql", json={"query": query}).json()["data"]["customer"]
            assert shown["status"] == "active" and shown["invoices"][0]["total"]["amount"] == "0.31"
        trial = api.get("/v1/ledger/trial-balance").json()["currencies"][0]
        assert trial["debits"] == trial["credits"]
