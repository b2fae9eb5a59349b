"""A connection of customers reads their balances in one store read, not one
per row (strawberry's DataLoader, per request)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from interfaces.bootstrap import Services
from interfaces.rest.app import create_app
from projections.queries import LedgerQueries
from tests.support import ADMIN_KEY, seed


def test_balances_of_a_connection_are_one_read(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(services.app, customers=("acme", "globex", "initech", "hooli", "umbrella"))
    services.follower.catch_up()
    calls: list[Any] = []
    original = LedgerQueries.balances

    def counted(self: LedgerQueries, customers: list[str]) -> Any:
        calls.append(customers)
        return original(self, customers)

    monkeypatch.setattr(LedgerQueries, "balances", counted)
    single: list[Any] = []
    monkeypatch.setattr(LedgerQueries, "balance", lambda *args, **kwargs: single.append(args) or (0, None))
    with TestClient(create_app(services)) as http:
        query = "{ customers(first: 10) { edges { node { id balance { balance { amount } } } } } }"
        answer = http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    nodes = [edge["node"] for edge in answer.json()["data"]["customers"]["edges"]]
    assert {node["balance"]["balance"]["amount"] for node in nodes} == {"100"} and len(nodes) == 5
    assert len(calls) == 1 and sorted(calls[0]) == ["acme", "globex", "hooli", "initech", "umbrella"]
    assert single == []
