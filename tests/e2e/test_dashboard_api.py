"""The dashboard's API through a real server: limits, alerts, top-ups, held
and available, and the balanceChanged subscription over websockets, which
answers at once and again after new usage."""

from __future__ import annotations

from tests.e2e.consistency import consistent_balance
from tests.e2e.graphql_ws import next_data, subscription
from tests.e2e.server import client, wait_for
from tests.e2e.test_rest_flow import graphql, setup_catalog
from tests.support import ADMIN_KEY, event, just_now, rates_json

QUERY = """{ customer(id: "acme") {
  status balance { balance { amount } held { amount } available { amount } }
  limits { period hardLimit { amount } alertThresholdsPercent }
  alerts { kind threshold period message }
  topUps { id source amount { amount } status }
} }"""


def test_the_dashboard_reads_and_the_subscription_follows(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        api.put("/v1/customers/acme/limits", json={"hard_limit": "20", "alert_thresholds_percent": [1]})
        consistent_balance(api, "acme")  # the grant is in the read model
        assert (
            api.post("/v1/authorizations", json={"id": "h1", "customer": "acme", "amount": "2.00"}).status_code == 201
        )
        found = graphql(api, QUERY)["data"]["customer"]
        assert found["balance"] == {"balance": {"amount": "25"}, "held": {"amount": "2"}, "available": {"amount": "23"}}
        assert found["limits"] == {"period": "month", "hardLimit": {"amount": "20"}, "alertThresholdsPercent": [1]}
        assert found["topUps"] == [
            {"id": "welcome", "source": "grant", "amount": {"amount": "25"}, "status": "succeeded"}
        ]
        query = 'subscription { balanceChanged(customerId: "acme") { balance { amount } held { amount } } }'
        with subscription(server, ADMIN_KEY, query) as socket:
            first = next_data(socket)["balanceChanged"]
            assert first == {"balance": {"amount": "25"}, "held": {"amount": "2"}}
            api.post("/v1/events", json={"events": [event(f"s{i}", timestamp=just_now()) for i in range(60)]})
            moved = next_data(socket)["balanceChanged"]
            assert moved["balance"]["amount"] != "25"
        # 60 events cost 0.468: 2.3 % of the 20 limit, past the 1 % threshold.
        assert wait_for(lambda: graphql(api, QUERY)["data"]["customer"]["alerts"], timeout=10)
        alerts = graphql(api, QUERY)["data"]["customer"]["alerts"]
        assert [(a["kind"], a["threshold"]) for a in alerts] == [("spend_threshold", "1")]
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
    with subscription(server, key, 'subscription { balanceChanged(customerId: "globex") { balance { amount } } }') as s:
        message = s.recv(timeout=10)
        assert '"error"' in message or '"errors"' in message  # another customer's balance: refused


PENDING_QUERY = """{ customer(id: "acme") {
  currentPeriod { unpricedEvents spend { amount } byModel { model unpricedEvents spend { amount } } }
  alerts { kind value }
} }"""


def test_unpriced_usage_is_pending_until_priced_and_alerts_say_what_they_measured(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        events = [event(f"u{i}", model="gpt-9-preview", timestamp=just_now()) for i in range(3)]
        assert api.post("/v1/events", json={"events": [*events, event("p1", timestamp=just_now())]}).status_code == 200
        consistent_balance(api, "acme")
        period = graphql(api, PENDING_QUERY)["data"]["customer"]["currentPeriod"]
        by_model = {m["model"]: m for m in period["byModel"]}
        assert period["unpricedEvents"] == 3
        assert by_model["gpt-9-preview"] == {"model": "gpt-9-preview", "unpricedEvents": 3, "spend": {"amount": "0"}}
        assert by_model["gpt-4o"]["unpricedEvents"] == 0
        assert wait_for(lambda: graphql(api, PENDING_QUERY)["data"]["customer"]["alerts"], timeout=10)
        alerts = graphql(api, PENDING_QUERY)["data"]["customer"]["alerts"]
        assert {"kind": "unpriced_usage", "value": "3"} in alerts, alerts
        priced = [*rates_json(), *({"provider": "openai", "model": "gpt-9-preview", "unit": unit, "price": "1", "per": 1_000_000}
                                   for unit in ("input_tokens", "output_tokens"))]  # fmt: skip
        version = {"effective_from": "2026-01-01T00:00:00Z", "rates": priced}
        assert api.post("/v1/price-books/default/versions", json=version).status_code == 201
        assert wait_for(lambda: graphql(api, PENDING_QUERY)["data"]["customer"]["currentPeriod"]["unpricedEvents"] == 0,
                        timeout=20)  # fmt: skip
        period = graphql(api, PENDING_QUERY)["data"]["customer"]["currentPeriod"]
        by_model = {m["model"]: m for m in period["byModel"]}
        assert by_model["gpt-9-preview"]["unpricedEvents"] == 0 and by_model["gpt-9-preview"]["spend"]["amount"] != "0"
