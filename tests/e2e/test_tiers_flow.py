"""A tiered plan through a real server: the plan is published over REST, usage
posted, and the server's own settler brings the wallet to the ladder's
amount, which GraphQL's current period shows as spend."""

from __future__ import annotations

from decimal import Decimal

from domain.money import format_amount
from tests.e2e.server import client, projected, wait_for
from tests.e2e.test_rest_flow import graphql
from tests.support import event, just_now, rates_json


def test_a_graduated_ladder_settles_through_the_server(server: str) -> None:
    with client(server) as api:
        api.post("/v1/price-books", json={"id": "default", "currency": "USD"})
        api.post(
            "/v1/price-books/default/versions",
            json={"effective_from": "2026-01-01T00:00:00Z", "rates": rates_json()},
        )
        ladder = {
            "mode": "graduated",
            "tiers": [{"up_to": "0.05", "markup_percent": "30"}, {"up_to": None, "markup_percent": "10"}],
        }
        plan = api.post("/v1/plans", json={"id": "tiered", "price_book": "default", "tiers": ladder})
        assert plan.status_code == 201, plan.text
        assert plan.json()["tiers"] == {
            "mode": "graduated",
            "tiers": [{"up_to": "0.05", "markup_percent": "30"}, {"up_to": None, "markup_percent": "10"}],
        }
        customer = {"id": "acme", "name": "Acme", "currency": "USD", "plan": "tiered", "billing": "prepaid"}
        assert api.post("/v1/customers", json=customer).status_code == 201
        api.post("/v1/customers/acme/top-ups", json={"id": "welcome", "amount": "10", "source": "grant"})
        now = just_now()
        answer = api.post("/v1/events", json={"events": [event(f"t{i}", timestamp=now) for i in range(20)]})
        assert {r["status"] for r in answer.json()["results"]} == {"accepted"}
        recorded = api.get("/v1/events/acme/t0").json()
        assert recorded["rating"]["markup_percent"] == "30"  # rated at the first tier as recorded

        # 20 × 0.0065 = 0.13 of cost: 0.05 at 30 % + 0.08 at 10 % = 0.065 + 0.088 = 0.153.
        expected = format_amount(Decimal("10") - Decimal("0.153"))
        settled = wait_for(lambda: api.get("/v1/customers/acme/balance").json()["balance"] == expected)
        assert settled, api.get("/v1/customers/acme/balance").json()
        assert projected(api)  # the period's spend follows the read model
        period = graphql(
            api,
            '{ customer(id: "acme") { currentPeriod { spend { amount } tierAdjustment { amount } } } }',
        )["data"]["customer"]["currentPeriod"]
        # Recorded at 0.00845 each (0.169); the ladder takes 0.016 off.
        assert period == {"spend": {"amount": "0.153"}, "tierAdjustment": {"amount": "-0.016"}}
