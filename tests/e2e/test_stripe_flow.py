"""Card top-ups through a real tally server and a real local Stripe server:
the charge's answer and Stripe's own signed webhook both arrive, and the
wallet is credited once; refunds and disputes arrive as payloads signed with
the stripe library's signing code (the local server does not send them);
a bad signature is a 400 that changes nothing."""

from __future__ import annotations

import re

import httpx

from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, wait_for
from tests.stripe_server import (
    DECLINED_CARD,
    customer_with_card,
    signed,
    stripe_event,
)
from tests.stripe_server import client as stripe_client
from tests.support import rates_json


def applied_webhooks(api: httpx.Client) -> int:
    found = re.search(r'tally_stripe_webhooks_total\{outcome="applied"\} (\d+)', api.get("/metrics").text)
    return int(found.group(1)) if found else 0


def balance(api: httpx.Client) -> str:
    return str(consistent_balance(api, "acme")["balance"])


def test_card_top_ups_webhooks_refunds_and_disputes(stripe_tally_server: tuple[str, str]) -> None:
    base, stripe_base = stripe_tally_server
    with client(base) as api:
        api.post("/v1/price-books", json={"id": "default", "currency": "USD"})
        api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-01-01T00:00:00Z", "rates": rates_json()}
        )
        api.post("/v1/plans", json={"id": "pro", "price_book": "default", "markup_percent": "20"})
        customer = {"id": "acme", "name": "Acme", "currency": "USD", "plan": "pro", "billing": "prepaid",
                    "stripe_customer_id": customer_with_card(stripe_base)}  # fmt: skip
        assert api.post("/v1/customers", json=customer).status_code == 201

        paid = api.post("/v1/customers/acme/top-ups", json={"id": "card_1", "amount": "25.00", "source": "stripe"})
        assert paid.status_code == 201, paid.text
        assert paid.json()["status"] == "succeeded"
        assert balance(api) == "25"
        # Stripe's payment_intent.succeeded webhook arrives about a second later, verified and applied: no change.
        assert wait_for(lambda: applied_webhooks(api) >= 1, timeout=10)
        assert balance(api) == "25"

        intent = paid.json()["payment_intent"]
        charge = stripe_client(stripe_base).v1.payment_intents.retrieve(intent).to_dict()["latest_charge"]
        charge_id = charge["id"] if isinstance(charge, dict) else charge
        refund = stripe_event(
            "charge.refunded",
            {"id": charge_id, "object": "charge", "payment_intent": intent, "currency": "usd",
             "amount": 2500, "amount_refunded": 1000, "metadata": {}},
            "evt_refund_1",
        )  # fmt: skip
        payload, signature = signed(refund)
        for _ in range(2):  # Stripe repeats deliveries; the second changes nothing
            answer = httpx.post(f"{base}/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature})
            assert answer.status_code == 200, answer.text
        assert balance(api) == "15"

        forged, _ = signed({**refund, "id": "evt_forged"}, secret="whsec_wrong")
        answer = httpx.post(f"{base}/v1/webhooks/stripe", content=forged, headers={"Stripe-Signature": signature})
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith("application/problem+json")
        unsigned = httpx.post(f"{base}/v1/webhooks/stripe", content=payload)
        assert unsigned.status_code == 400
        assert balance(api) == "15"

        dispute = stripe_event(
            "charge.dispute.created",
            {"id": "dp_1", "object": "dispute", "charge": charge_id, "payment_intent": intent, "amount": 1500,
             "currency": "usd", "metadata": {}},
            "evt_dispute_1",
        )  # fmt: skip
        payload, signature = signed(dispute)
        answer = httpx.post(f"{base}/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature})
        assert answer.status_code == 200, answer.text
        assert balance(api) == "0"

        customer_with_decline = customer_with_card(stripe_base, DECLINED_CARD)
        api.patch("/v1/customers/acme", json={"stripe_customer_id": customer_with_decline})
        declined = api.post("/v1/customers/acme/top-ups", json={"id": "card_2", "amount": "10.00", "source": "stripe"})
        assert declined.status_code == 201
        assert declined.json()["status"] == "failed"
        assert declined.json()["failure"]["code"] == "card_declined"
        assert balance(api) == "0"
        trial = api.get("/v1/ledger/trial-balance").json()
        (usd,) = trial["currencies"]
        assert usd["debits"] == usd["credits"]
        cash = next(a for a in usd["accounts"] if a["account"] == "assets:cash:stripe")
        assert cash["balance"] == "0"  # 25 in, 10 refunded, 15 disputed
