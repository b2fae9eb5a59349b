"""200 concurrent authorizations through one real server at a wallet that
covers 50, on SQLite and on PostgreSQL: exactly 50 pass, whatever the
server shares between concurrent requests (one read of the log's head, the
cached holds). A void then frees one hold, and of ten more racing for it
exactly one passes."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, running_server
from tests.support import rates_json


def test_two_hundred_racing_authorizations_approve_exactly_fifty(database_url: str) -> None:
    with running_server(database_url) as base, client(base) as api:
        api.post("/v1/price-books", json={"id": "default", "currency": "USD"}).raise_for_status()
        api.post(
            "/v1/price-books/default/versions", json={"effective_from": "2026-01-01T00:00:00Z", "rates": rates_json()}
        ).raise_for_status()
        api.post("/v1/plans", json={"id": "pro", "price_book": "default", "markup_percent": "20"}).raise_for_status()
        customer = {"id": "acme", "name": "Acme", "currency": "USD", "plan": "pro"}
        api.post("/v1/customers", json=customer).raise_for_status()
        api.post("/v1/customers/acme/top-ups", json={"id": "welcome", "amount": "5.00", "source": "grant"})
        assert consistent_balance(api, "acme")["balance"] == "5"

        def authorize(name: str) -> int:
            body = {"id": name, "customer": "acme", "amount": "0.10"}
            return api.post("/v1/authorizations", json=body).status_code

        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = Counter(pool.map(authorize, [f"race_{i}" for i in range(200)]))
        assert statuses == Counter({201: 50, 402: 150}), statuses
        balance = api.get("/v1/customers/acme/balance").json()
        assert (balance["held"], balance["available"]) == ("5", "0")

        approved = next(i for i in range(200) if api.get(f"/v1/authorizations/race_{i}").json()["status"] == "approved")
        assert api.post(f"/v1/authorizations/race_{approved}/void").json()["status"] == "voided"
        with ThreadPoolExecutor(max_workers=10) as pool:
            again = Counter(pool.map(authorize, [f"again_{i}" for i in range(10)]))
        assert again == Counter({201: 1, 402: 9}), again
        assert api.get("/v1/customers/acme/balance").json()["available"] == "0"
