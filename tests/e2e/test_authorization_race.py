"""200 concurrent authorizations at a wallet that covers 50, sent to two
server processes on the same PostgreSQL store at once: exactly 50 pass."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, running_server
from tests.support import ADMIN_KEY, rates_json


def test_two_hundred_racing_authorizations_approve_exactly_fifty(postgres_url: str) -> None:
    with running_server(postgres_url) as first, running_server(postgres_url) as second:
        with client(first) as api:
            api.post("/v1/price-books", json={"id": "default", "currency": "USD"})
            api.post(
                "/v1/price-books/default/versions",
                json={"effective_from": "2026-01-01T00:00:00Z", "rates": rates_json()},
            )
            api.post("/v1/plans", json={"id": "pro", "price_book": "default", "markup_percent": "20"})
            api.post("/v1/customers", json={"id": "acme", "name": "Acme", "currency": "USD", "plan": "pro"})
            api.post("/v1/customers/acme/top-ups", json={"id": "welcome", "amount": "5.00", "source": "grant"})
            assert consistent_balance(api, "acme")["balance"] == "5"
        servers = [first, second]
        sessions = [
            httpx.Client(base_url=s, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60) for s in servers
        ]

        def authorize(index: int) -> int:
            body = {"id": f"race_{index}", "customer": "acme", "amount": "0.10"}
            return sessions[index % 2].post("/v1/authorizations", json=body).status_code

        with ThreadPoolExecutor(max_workers=64) as pool:
            statuses = Counter(pool.map(authorize, range(200)))
        assert statuses == Counter({201: 50, 402: 150}), statuses
        with client(second) as api:
            balance = api.get("/v1/customers/acme/balance").json()
            assert (balance["held"], balance["available"]) == ("5", "0")
            retry = api.post("/v1/authorizations", json={"id": "race_0", "customer": "acme", "amount": "0.10"})
            denial = next(
                i for i in range(200)
                if api.get(f"/v1/authorizations/race_{i}").json()["status"] == "denied"
            )  # fmt: skip
            again = api.post("/v1/authorizations", json={"id": f"race_{denial}", "customer": "acme", "amount": "0.10"})
            assert again.status_code == 402 and again.json()["code"] == "insufficient_funds"
            assert retry.status_code in (201, 402)
        for session in sessions:
            session.close()
