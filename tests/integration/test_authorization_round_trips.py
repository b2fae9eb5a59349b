"""How many statements an authorization and a balance read send to
PostgreSQL, counted at psycopg's cursor: the read model's standing in one
statement, which carries the log's head from its snapshot (a balance read
asks for the head on its own), the reference data's new events, the log's
tail, and the append (one statement, a call of the store's append function). The
holds are not read back before an approval (its append at the next version
is the check), nor is a decision just made asked whether usage captured it;
neither the reference data nor the log's tail reads the log again when it
moved only by this process's own appends."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.authorizations import SWEEP_AT
from domain.holds import Holds
from interfaces.rest.app import create_app
from tests.conftest import open_services
from tests.support import ADMIN_KEY, event, expected_charge, seed

MAX_AUTHORIZATION_STATEMENTS = 2  # were 17, then 6 (the append was four statements), then 3 (the head read alone)
MAX_BALANCE_STATEMENTS = 4  # were 12


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
        assert not any(sent.startswith("SELECT MAX(notification_id)") for sent in statements), statements
        statements.clear()
        balance = api.get("/v1/customers/acme/balance").json()
        assert (balance["held"], balance["available"]) == ("0.03", "99.97")
        assert 0 < len(statements) <= MAX_BALANCE_STATEMENTS, statements
        assert not any("topic" in sent for sent in statements), statements  # no reference data read
        statements.clear()
        assert api.get("/v1/customers/acme/balance").json()["held"] == "0.03"  # nothing appended since
        assert not any("originator_id" in sent for sent in statements), statements  # the holds not read again
        assert len(statements) <= MAX_BALANCE_STATEMENTS - 1, statements
        assert sum("MAX(notification_id)" in sent for sent in statements) == 1, statements
    finally:
        services.close()


def test_what_another_process_appended_among_own_appends_is_read(database_url: str) -> None:
    """The reference data and the log's tail skip only positions this process
    appended itself: another process's new customer and usage, among them,
    are read (the usage counts in the next decision, unprojected)."""
    here, there = open_services(database_url), open_services(database_url)
    try:
        seed(here.app, customers=("acme",), grant="1.00")
        here.follower.catch_up()
        assert here.app.authorizations.authorize("a1", "acme", "0.01", None, None)[0].approved
        there.app.customers.create_customer("globex", "Globex", "USD", "pro", "prepaid", 30, None)
        usage = event("u1")
        there.app.metering.record_usage([usage])
        left = Decimal("1.00") - Decimal("0.01") - expected_charge(usage)[1]
        over, _ = here.app.authorizations.authorize("a2", "acme", str(left + Decimal("0.0001")), None, None)
        assert (over.approved, over.code) == (False, "insufficient_funds")
        assert here.app.authorizations.authorize("a3", "acme", str(left), None, None)[0].approved
        assert here.app.customers.customer("globex").customer_id == "globex"
        assert here.app.authorizations.held("acme") == Decimal("0.01") + left
        assert there.app.authorizations.authorize("t1", "acme", "0.02", None, None)[0].approved is False
        here.app.authorizations.void_authorization("a1")
        assert there.app.authorizations.authorize("t2", "acme", "0.005", None, None)[0].approved
        assert here.app.authorizations.held("acme") == left + Decimal("0.005")  # there's hold, read here
        decided, _ = here.app.authorizations.authorize("g1", "globex", "0.01", None, None)
        assert (decided.approved, decided.code) == (False, "insufficient_funds")
    finally:
        here.close()
        there.close()


def test_a_customer_changed_by_another_process_is_decided_on_as_changed(database_url: str) -> None:
    """A decision begins with this process's copy of the customer, unread;
    the standing read carries the log's head, and the copy is checked
    against it: limits set and billing changed by another process just
    before count in the next decision here, and the copy is then current."""
    here, there = open_services(database_url), open_services(database_url)
    try:
        seed(here.app, customers=("acme",), grant="10")
        here.follower.catch_up()
        assert here.app.authorizations.authorize("a1", "acme", "1", None, None)[0].approved  # the copy is held here
        copy = here.app.customers.held_copy("acme")
        assert copy is not None and copy.limits is None
        there.app.authorizations.set_limits("acme", {"period": "month", "hard_limit": "1.50"})  # 1 is held
        over, _ = here.app.authorizations.authorize("a2", "acme", "0.60", None, None)
        assert (over.approved, over.code) == (False, "spending_limit_exceeded"), over
        changed = here.app.customers.held_copy("acme")
        assert changed is not copy and changed is not None and changed.limits is not None
        assert changed.limits["hard_limit"] == "1.50"
        assert here.app.authorizations.authorize("a3", "acme", "0.40", None, None)[0].approved
        there.app.authorizations.set_limits("acme", None)
        there.app.customers.update_customer("acme", None, None, "postpaid")
        postpaid, _ = here.app.authorizations.authorize("a4", "acme", "50", None, None)  # beyond the wallet
        assert postpaid.approved, postpaid
        assert here.app.customers.held_copy("acme") is here.app.customers.customer("acme")
    finally:
        here.close()
        there.close()


def test_captured_holds_are_not_asked_about_again(postgres_url: str, statements: list[str]) -> None:
    """A gateway customer's holds stay open until they expire (an hour), and
    usage captures them: a hold once seen captured is not sent to the read
    model again, so a decision asks about the holds in flight, not about
    every call of the last hour; the figures stay exact."""
    services = open_services(postgres_url)
    try:
        seed(services.app, customers=("acme",), grant="100")
        services.follower.catch_up()
        authorizations, metering = services.app.authorizations, services.app.metering
        charged = Decimal(0)

        def asked() -> list[str]:
            return asked_by_id(statements)

        for index in range(3 * SWEEP_AT + 12):  # past sweeps, and past trimming what is remembered
            statements.clear()
            charged += _hold_then_capture(authorizations, metering, index, before_capture=asked)
            if index % 3 == 0:
                services.follower.catch_up()  # some captures read from the read model, some from the log's tail
        assert authorizations.held("acme") == 0
        wallet = Decimal("100") - charged
        over, _ = authorizations.authorize("over", "acme", str(wallet + Decimal("0.0001")), None, None)
        assert (over.approved, over.code) == (False, "insufficient_funds")
        assert authorizations.authorize("all", "acme", str(wallet), None, None)[0].approved
        assert authorizations.held("acme") == wallet
    finally:
        services.close()


def asked_by_id(statements: list[str]) -> list[str]:
    """The placeholders of the ids each captures read sent by id ("" for none)."""
    marker = "hold_captures WHERE customer = %s AND ("
    found = [sent.split(marker)[1] for sent in statements if marker in sent]
    return [part.split("authorization_id IN (")[1].split(")")[0] if "IN (" in part else "" for part in found]


def test_open_holds_never_captured_are_not_asked_about_again(postgres_url: str, statements: list[str]) -> None:
    """An operator that authorizes and voids, or lets holds expire, keeps
    many open holds that usage never captures: each decision asks by id only
    about the id it decides, and for the rest only for captures since they
    were last found uncaptured; a capture of an old hold is still seen, from
    the log's tail and from the read model."""
    services = open_services(postgres_url)
    try:
        seed(services.app, customers=("acme",), grant="100")
        services.follower.catch_up()
        authorizations, metering = services.app.authorizations, services.app.metering
        for index in range(60):
            statements.clear()
            assert authorizations.authorize(f"o{index}", "acme", "0.50", None, None)[0].approved
            assert asked_by_id(statements) == ["%s"], (index, asked_by_id(statements))
            if index % 7 == 0:
                services.follower.catch_up()
        assert authorizations.held("acme") == Decimal("30.00")
        usage = {**event("late"), "authorization_id": "o3"}  # an old hold, found uncaptured many times
        assert metering.record_usage([usage])[0].status == "accepted"
        charge = expected_charge(usage)[1]
        assert authorizations.held("acme") == Decimal("29.50")  # from the log's tail
        services.follower.catch_up()
        assert authorizations.held("acme") == Decimal("29.50")  # from the read model, asked since
        fresh = open_services(postgres_url)  # a process that never asked: by id
        try:
            assert fresh.app.authorizations.held("acme") == Decimal("29.50")
        finally:
            fresh.close()
        left = Decimal("100") - Decimal("29.50") - charge
        over, _ = authorizations.authorize("over", "acme", str(left + Decimal("0.0001")), None, None)
        assert (over.approved, over.code) == (False, "insufficient_funds")
        assert authorizations.authorize("rest", "acme", str(left), None, None)[0].approved
    finally:
        services.close()


def test_a_few_new_usage_events_are_appended_before_asking_which_exist(
    postgres_url: str, statements: list[str]
) -> None:
    """One new event (a gateway's call) is appended without first asking the
    store which ids it holds; a repeat is still told apart from a conflict."""
    services = open_services(postgres_url)
    try:
        seed(services.app, customers=("acme",), grant="100")
        metering = services.app.metering
        statements.clear()
        assert metering.record_usage([event("u1")])[0].status == "accepted"
        assert not any("originator_version = 1" in sent for sent in statements), statements
        assert metering.record_usage([event("u1")])[0].status == "duplicate"
        changed = metering.record_usage([event("u1", input_tokens=1)])[0]
        assert changed.status == "rejected" and (changed.error or {}).get("code") == "conflict", changed
        assert [r.status for r in metering.record_usage([event("u1"), event("u2")])] == ["duplicate", "accepted"]
    finally:
        services.close()


def test_captured_holds_are_swept_out_of_the_customers_holds(database_url: str) -> None:
    """A gateway's holds are captured by their usage long before they expire:
    once SWEEP_AT of them are seen captured, the next approval's append also
    forgets them, so the customer's Holds stay the size of its calls in
    flight, not of its last hour; every figure stays exact."""
    services = open_services(database_url)
    try:
        seed(services.app, customers=("acme",), grant="100")
        services.follower.catch_up()
        authorizations, metering = services.app.authorizations, services.app.metering
        charged = Decimal(0)
        for index in range(3 * SWEEP_AT):
            charged += _hold_then_capture(authorizations, metering, index)
            if index % 5 == 0:
                services.follower.catch_up()
        stored = services.app.store.repository.get(Holds.create_id("acme"))
        assert len(stored.holds) <= SWEEP_AT + 1, len(stored.holds)
        assert authorizations.authorize("open", "acme", "0.25", None, None)[0].approved
        assert authorizations.held("acme") == Decimal("0.25")
        wallet = Decimal("100") - charged - Decimal("0.25")
        over, _ = authorizations.authorize("over", "acme", str(wallet + Decimal("0.0001")), None, None)
        assert (over.approved, over.code) == (False, "insufficient_funds")
        fresh = open_services(database_url)  # another process reads the swept Holds from the store
        try:
            assert fresh.app.authorizations.held("acme") == Decimal("0.25")
            assert fresh.app.authorizations.authorize("all", "acme", str(wallet), None, None)[0].approved
        finally:
            fresh.close()
    finally:
        services.close()


def _hold_then_capture(
    authorizations: Any, metering: Any, index: int, before_capture: Callable[[], list[str]] | None = None
) -> Decimal:
    """Hold 0.50 for call `index` of acme (h<index>), then record the call's
    usage naming the hold, which captures it; returns what the usage charged.
    `before_capture`, when given, lists the ids the decision asked the read
    model about by id: only the id being decided (has a usage named it
    already?); the hold in flight, asked about at the previous decision, is
    covered by asking for the captures since then."""
    assert authorizations.authorize(f"h{index}", "acme", "0.50", None, None)[0].approved
    if before_capture is not None:
        assert before_capture() == ["%s"], before_capture()
    usage = {**event(f"u{index}"), "authorization_id": f"h{index}"}
    assert metering.record_usage([usage])[0].status == "accepted"
    return expected_charge(usage)[1]


def test_a_gateway_calls_usage_is_rated_on_its_holds_head_read(postgres_url: str, statements: list[str]) -> None:
    """A gateway call's usage counts what its hold counted (the log as of the
    call's arrival), so it reads no head of its own: the hold's read serves.
    A call longer than the reference data's age bound (a slow provider) is
    rated on a fresh read."""
    services = open_services(postgres_url)
    try:
        seed(services.app, customers=("acme",), grant="100")
        metering, holds = services.app.metering, services.app.authorizations
        arrived = time.monotonic()
        statements.clear()
        decision, _ = holds.authorize("gw.1", "acme", "0.50", None, 3600, arrived)
        assert decision.approved
        assert sum("MAX(notification_id)" in sent for sent in statements) == 1, statements
        statements.clear()
        usage = {**event("gw.openai.chatcmpl-1"), "authorization_id": "gw.1"}
        assert metering.record_usage([usage], arrived)[0].status == "accepted"
        assert not any("MAX(notification_id)" in sent for sent in statements), statements
        assert len(statements) == 1, statements  # the append alone

        long_ago = time.monotonic() - 5  # a call that took five seconds, with no other request meanwhile
        metering.rating._read_at -= 5
        holds.authorize("gw.2", "acme", "0.50", None, 3600, time.monotonic())
        metering.rating._read_at -= 5
        statements.clear()
        usage = {**event("gw.openai.chatcmpl-2"), "authorization_id": "gw.2"}
        assert metering.record_usage([usage], long_ago)[0].status == "accepted"
        assert sum("MAX(notification_id)" in sent for sent in statements) == 1, statements
        assert services.app.authorizations.held("acme") == 0
    finally:
        services.close()
