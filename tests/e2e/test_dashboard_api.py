"""The dashboard's API through a real server: limits, alerts, top-ups, held
and available, and the balanceChanged subscription over websockets, which
answers at once and again after new usage."""

from __future__ import annotations

from tests.e2e.consistency import consistent_balance
from tests.e2e.graphql_ws import next_data, subscription
from tests.e2e.server import client, wait_for
from tests.e2e.test_rest_flow import graphql, setup_catalog
from tests.support import ADMIN_KEY, event, just_now

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
