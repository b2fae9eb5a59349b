"""How many statements an authorization and a balance read send to
PostgreSQL, counted at psycopg's cursor: the head of the log once, the
reference data's new events, the read model's standing in one statement,
the log's tail, and the append (four statements in one transaction). The
holds are not read back before an approval (its append at the next version
is the check), nor is a decision just made asked whether usage captured it;
the reference data is not read again when the log moved only by this
process's own appends of other events."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from interfaces.rest.app import create_app
from tests.conftest import open_services
from tests.support import ADMIN_KEY, seed

MAX_AUTHORIZATION_STATEMENTS = 7  # were 17
MAX_BALANCE_STATEMENTS = 5  # were 12 (the log moved since: the tail's new events are read)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def counted(method: Any) -> Any:
        def run(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(query.as_string(self.connection) if hasattr(query, "as_string") else str(query))
            return method(self, query, *args, **kwargs)

        return run

    monkeypatch.setattr(psycopg.Cursor, "execute", counted(execute))
    monkeypatch.setattr(psycopg.Cursor, "executemany", counted(executemany))
    return sent


def test_an_authorization_and_a_balance_read_take_few_statements(postgres_url: str, statements: list[str]) -> None:
    services = open_services(postgres_url)
    try:
        seed(services.app, customers=("acme",), grant="100")
        services.follower.catch_up()
        api = TestClient(create_app(services), headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        for index in range(3):  # the first loads the customer's holds; the others use them
            statements.clear()
            answer = api.post("/v1/authorizations", json={"id": f"a{index}", "customer": "acme", "amount": "0.01"})
            assert answer.status_code == 201 and answer.json()["status"] == "approved", answer.text
        assert 0 < len(statements) <= MAX_AUTHORIZATION_STATEMENTS, statements
        assert sum("MAX(notification_id)" in sent for sent in statements) == 1, statements
        statements.clear()
        balance = api.get("/v1/customers/acme/balance").json()
        assert (balance["held"], balance["available"]) == ("0.03", "99.97")
        assert 0 < len(statements) <= MAX_BALANCE_STATEMENTS, statements
        assert not any("topic" in sent for sent in statements), statements  # no reference data read
        assert sum("MAX(notification_id)" in sent for sent in statements) == 1, statements
    finally:
        services.close()


def test_a_customer_registered_through_another_process_is_seen_after_own_appends(database_url: str) -> None:
    """The reference data skips only positions this process appended itself:
    another process's new customer, among them, is read."""
    here, there = open_services(database_url), open_services(database_url)
    try:
        seed(here.app, customers=("acme",), grant="100")
        here.follower.catch_up()
        here.app.authorizations.authorize("a1", "acme", "0.01", None, None)
        there.app.customers.create_customer("globex", "Globex", "USD", "pro", "prepaid", 30, None)
        here.app.authorizations.authorize("a2", "acme", "0.01", None, None)
        assert here.app.customers.customer("globex").customer_id == "globex"
        decided, _ = here.app.authorizations.authorize("g1", "globex", "0.01", None, None)
        assert (decided.approved, decided.code) == (False, "insufficient_funds")
    finally:
        here.close()
        there.close()
