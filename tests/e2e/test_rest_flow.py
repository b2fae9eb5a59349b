"""The operator's path through a real server: publish prices, create a prepaid
customer, grant funds, send usage in batches, watch the wallet go down by
exactly usage × price × (1 + markup); then read it back over GraphQL."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx

from domain.money import format_amount
from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, projected, wait_for
from tests.support import Q12, days_around_now, event, expected_charge, just_now, rates_json


def setup_catalog(api: httpx.Client) -> None:
    assert api.post("/v1/price-books", json={"id": "default", "currency": "USD"}).status_code == 201
    published = api.post(
        "/v1/price-books/default/versions", json={"effective_from": "2026-01-01T00:00:00Z", "rates": rates_json()}
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1
    plan = {
        "id": "pro",
        "price_book": "default",
        "markup_percent": "20",
        "model_overrides": [{"provider": "openai", "model": "gpt-4o-mini", "markup_percent": "50"}],
    }
    assert api.post("/v1/plans", json=plan).status_code == 201
    customer = {"id": "acme", "name": "Acme AI", "currency": "USD", "plan": "pro", "billing": "prepaid"}
    assert api.post("/v1/customers", json=customer).status_code == 201
    grant = api.post("/v1/customers/acme/top-ups", json={"id": "welcome", "amount": "25.00", "source": "grant"})
    assert grant.status_code == 201, grant.text
    assert grant.json()["status"] == "succeeded"


def graphql(api: httpx.Client, query: str) -> dict[str, Any]:
    response = api.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_meter_rate_post_query(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        now = just_now()
        batches = [
            [event(f"a{i}", model="gpt-4o", timestamp=now) for i in range(300)],
            [
                event(f"b{i}", model="gpt-4o-mini", timestamp=now, input_tokens=1000 + i, output_tokens=i)
                for i in range(300)
            ],
            [event(f"c{i}", model="claude-sonnet-4-5", timestamp=now) for i in range(50)]
            + [event("a0", timestamp=now)],
        ]
        for batch in batches:
            answer = api.post("/v1/events", json={"events": batch})
            assert answer.status_code == 200
        assert answer.json()["results"][-1] == {"id": "a0", "status": "duplicate"}
        unique = {body["id"]: body for batch in batches for body in batch}
        charged = sum((expected_charge(body)[1] for body in unique.values()), Decimal(0))
        expected = Decimal("25") - charged
        shown = wait_for(lambda: api.get("/v1/customers/acme/balance").json()["balance"] == format_amount(expected))
        body = api.get("/v1/customers/acme/balance").json()
        assert shown, body
        assert body["available"] == body["balance"] and body["held"] == "0" and body["currency"] == "USD"
        assert projected(api)  # the journal and the trial balance follow the read model

        trial = api.get("/v1/ledger/trial-balance").json()
        (usd,) = trial["currencies"]
        assert usd["debits"] == usd["credits"]

        page = api.get("/v1/ledger/entries", params={"account": "liabilities:wallet:acme", "limit": 5}).json()
        assert [e["kind"] for e in page["entries"]] == ["grant", "usage", "usage", "usage", "usage"]
        assert page["next_cursor"] is not None
        later = api.get("/v1/ledger/entries", params={"cursor": page["next_cursor"], "limit": 5}).json()
        assert later["entries"][0]["position"] > page["entries"][-1]["position"]

        recorded = api.get("/v1/events/acme/b7").json()
        b7 = event("b7", model="gpt-4o-mini", timestamp=now, input_tokens=1007, output_tokens=7)
        assert recorded["rating"]["charge"] == format_amount(expected_charge(b7)[1])
        assert recorded["rating"]["markup_percent"] == "50"
        assert recorded["rating"]["price_source"] == "manual"

        data = graphql(
            api,
            '{ customer(id: "acme") { balance { balance { amount currency } available { amount } } '
            "currentPeriod { spend { amount } byModel { provider model spend { amount } cost { amount } } "
            "daily { date spend { amount } } byFeature { feature spend { amount } } } } "
            "ledger { trialBalance { balanced currencies { currency debits { amount } credits { amount } } } } }",
        )["data"]
        assert data["customer"]["balance"]["balance"] == {"amount": format_amount(expected), "currency": "USD"}
        period = data["customer"]["currentPeriod"]
        assert Decimal(period["spend"]["amount"]) == charged
        assert {m["model"] for m in period["byModel"]} == {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"}
        assert [Decimal(day["spend"]["amount"]) for day in period["daily"]] == [charged]
        assert data["ledger"]["trialBalance"]["balanced"] is True


def test_price_books_and_plans_read_back(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        book = api.get("/v1/price-books/default").json()
        assert book["versions"][0]["version"] == 1
        version = api.get("/v1/price-books/default/versions/1").json()
        assert {
            "provider": "openai",
            "model": "gpt-4o",
            "unit": "input_tokens",
            "price": "2.5",
            "per": 1000000,
        } in version["rates"]
        assert api.get("/v1/price-books/default/versions/2").status_code == 404
        again = api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-11-01T00:00:00Z", "rates": rates_json()}
        )
        assert again.json()["version"] == 2
        plan = api.get("/v1/plans/pro").json()
        assert plan["markup_percent"] == "20"
        bumped = api.post(
            "/v1/plans/pro/versions", json={"effective_from": "2026-12-01T00:00:00Z", "markup_percent": "25"}
        )
        assert bumped.status_code == 201
        assert [v["markup_percent"] for v in bumped.json()["versions"]] == ["20", "25"]
        customer = api.patch("/v1/customers/acme", json={"name": "Acme Inc"})
        assert customer.json()["name"] == "Acme Inc"


def test_catalog_import_publishes_real_model_prices(server: str) -> None:
    with client(server) as api:
        api.post("/v1/price-books", json={"id": "catalog", "currency": "USD"})
        imported = api.post(
            "/v1/price-books/catalog/import",
            json={
                "source": "genai-prices",
                "providers": ["openai", "anthropic"],
                "effective_from": "2026-11-01T00:00:00Z",
            },
        )
        assert imported.status_code == 201, imported.text
        assert imported.json()["rates_count"] > 100
        assert imported.json()["source"].startswith("genai-prices")
        version = api.get("/v1/price-books/catalog/versions/1").json()
        gpt4o = {r["unit"]: r["price"] for r in version["rates"] if r["model"] == "gpt-4o"}
        assert gpt4o["input_tokens"] == "2.5" and gpt4o["output_tokens"] == "10"
        history = api.post(
            "/v1/price-books/catalog/import",
            json={
                "providers": ["anthropic"],
                "effective_from": "2026-11-01T00:00:00Z",
                "history_since": "2025-01-01T00:00:00Z",
            },
        )
        assert history.status_code == 201, history.text
        published = history.json()["versions_published"]
        assert published[0] == 2 and len(published) >= 2
        first = api.get(f"/v1/price-books/catalog/versions/{published[0]}").json()
        assert first["effective_from"] == "2025-01-01T00:00:00+00:00"


def test_the_openapi_document_names_every_route_and_schema(server: str) -> None:
    document = httpx.get(f"{server}/openapi.json").json()
    for path in (
        "/v1/price-books",
        "/v1/price-books/{price_book_id}/versions",
        "/v1/price-books/{price_book_id}/import",
        "/v1/plans",
        "/v1/customers",
        "/v1/customers/{customer_id}/top-ups",
        "/v1/customers/{customer_id}/balance",
        "/v1/events",
        "/v1/events/{customer_id}/{event_id}",
        "/v1/ledger/entries",
        "/v1/ledger/trial-balance",
    ):
        assert path in document["paths"], path
    schemas = document["components"]["schemas"]
    assert {"Problem", "BalancePublic", "UsageResultsPublic", "TrialBalancePublic"} <= set(schemas)
    assert "requestBody" in document["paths"]["/v1/events"]["post"]


def test_a_consistent_balance_read_includes_every_accepted_event(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        now = just_now()
        for round_ in range(5):
            api.post("/v1/events", json={"events": [event(f"k{round_}-{i}", timestamp=now) for i in range(100)]})
            shown = consistent_balance(api, "acme")["balance"]
            charged = (round_ + 1) * 100 * expected_charge(event("x"))[1]
            assert shown == format_amount(Decimal("25") - charged)


def test_a_simulation_over_http(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        now = just_now()
        api.post("/v1/events", json={"events": [event(f"s{i}", timestamp=now) for i in range(10)]})
        consistent_balance(api, "acme")
        body = {
            "customer": "acme",
            "from": "2026-01-01T00:00:00Z",
            "to": "2100-01-01T00:00:00Z",
            "plan": {"markup_percent": "0"},
        }
        answer = api.post("/v1/simulations", json=body)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        cost, charge = expected_charge(event("x"))
        assert result["actual"] == {
            "cost": format_amount(10 * cost),
            "charge": format_amount(10 * charge),
            "tier_adjustment": "0",
        }
        assert result["simulated"] == {
            "cost": format_amount(10 * cost),
            "charge": format_amount(10 * cost),
            "tier_adjustment": "0",
        }
        assert result["difference"] == format_amount(10 * cost - 10 * charge)
        assert result["by_model"][0]["model"] == "gpt-4o"
        assert api.post("/v1/simulations", json={**body, "from": "2100-01-01T00:00:00Z"}).status_code == 422


def test_a_backdated_price_version_rerates_within_seconds(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        now = just_now()
        api.post("/v1/events", json={"events": [event(f"r{i}", timestamp=now) for i in range(50)]})
        api.post("/v1/events", json={"events": [event("late-model", model="gpt-9", timestamp=now)]})
        cost, charge = expected_charge(event("x"))
        before = consistent_balance(api, "acme")["balance"]
        assert before == format_amount(Decimal("25") - 50 * charge)
        cheaper = [
            {**r, "price": format_amount(Decimal(r["price"]) / 2)} if r["model"] == "gpt-4o" else r
            for r in rates_json()
        ]
        cheaper += [
            {"provider": "openai", "model": "gpt-9", "unit": u, "price": "1", "per": 1_000_000}
            for u in ("input_tokens", "output_tokens")
        ]
        published = api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-01-02T00:00:00Z", "rates": cheaper}
        )
        assert published.status_code == 201
        new_charge = (cost / 2 * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN)
        gpt9 = (Decimal(1550) / 1_000_000 * Decimal("1.2")).quantize(Q12, ROUND_HALF_EVEN)
        expected = format_amount(Decimal("25") - 50 * new_charge - gpt9)
        assert wait_for(lambda: api.get("/v1/customers/acme/balance").json()["balance"] == expected, timeout=20), (
            api.get("/v1/customers/acme/balance").json()
        )
        assert projected(api)
        recorded = api.get("/v1/events/acme/r0").json()
        assert [r["price_version"] for r in recorded["ratings"]] == [1, 2]
        assert api.get("/v1/events/acme/late-model").json()["status"] == "rated"
        trial = api.get("/v1/ledger/trial-balance").json()["currencies"][0]
        assert trial["debits"] == trial["credits"]


def test_usage_buckets_over_graphql(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        now = just_now()
        api.post(
            "/v1/events",
            json={
                "events": [
                    event(f"g{i}", timestamp=now, input_tokens=2_000_000_000 + i, output_tokens=5) for i in range(3)
                ]
            },
        )
        consistent_balance(api, "acme")
        start, end = days_around_now()
        query = (
            '{ customer(id: "acme") { currentPeriod { spend { amount } } '
            f'usage(from: "{start}", to: "{end}", granularity: DAY, groupBy: [MODEL, UNIT]) '
            "{ start model unit quantities { unit quantity } cost { amount } charge { amount currency } } } }"
        )
        data = graphql(api, query)["data"]["customer"]
        buckets = data["usage"]
        assert {b["unit"] for b in buckets} == {"input_tokens", "output_tokens"}
        inputs = next(b for b in buckets if b["unit"] == "input_tokens")
        assert inputs["quantities"] == [{"unit": "input_tokens", "quantity": str(3 * 2_000_000_000 + 3)}]
        total = sum(Decimal(b["charge"]["amount"]) for b in buckets)
        assert total == Decimal(data["currentPeriod"]["spend"]["amount"])
        too_long = graphql(
            api,
            '{ customer(id: "acme") { usage(from: "2026-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z", granularity: HOUR) { start } } }',
        )
        assert "at most 31 days" in too_long["errors"][0]["message"]
