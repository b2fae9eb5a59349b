"""Authorizations at their boundaries: exactly what the wallet covers passes,
a cent more does not; holds are captured by the usage naming them, voided,
or expire (also while usage captures them); hard limits by period; a past
due account; a retry returns the first answer, a denial included."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from application.audit import audit_history
from application.errors import Conflict, NotFound, ValidationFailed
from domain.holds import Authorization
from interfaces.bootstrap import Services
from tests.clock import clock_of
from tests.conftest import open_services
from tests.support import NOW, event, expected_charge, seed

D = Decimal


def ask(services: Services, key: str, amount: str, customer: str = "acme", seconds: int | None = None) -> Authorization:
    decided, _ = services.app.authorizations.authorize(key, customer, amount, None, seconds)
    return decided


def test_the_wallet_covers_exactly_what_it_holds(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="1.00")
    services.follower.catch_up()
    assert ask(services, "a1", "0.60").approved
    second = ask(services, "a2", "0.40")  # exactly what is left: passes
    assert second.approved and second.available == 0
    third = ask(services, "a3", "0.01")
    assert (third.approved, third.code) == (False, "insufficient_funds")
    assert services.app.authorizations.held("acme") == D("1.00")
    services.app.authorizations.void_authorization("a1")
    services.app.authorizations.void_authorization("a1")  # again: nothing more
    assert services.app.authorizations.held("acme") == D("0.40")
    again = ask(services, "a3", "0.01")  # a retry: the first answer stands, a denial included
    assert (again.approved, again.code) == (False, "insufficient_funds")
    assert ask(services, "a4", "0.60").approved
    with pytest.raises(Conflict):
        ask(services, "a4", "0.61")
    assert (
        services.app.authorizations.authorization_status(services.app.authorizations.find_authorization("a1"))
        == "voided"
    )


def test_usage_captures_its_hold(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="1.00")
    services.follower.catch_up()
    assert ask(services, "h1", "0.50").approved
    body = {**event("u1"), "authorization_id": "h1"}
    services.app.metering.record_usage([body])
    found = services.app.authorizations.find_authorization("h1")
    assert services.app.authorizations.authorization_status(found) == "captured"  # before the read model has it
    services.follower.catch_up()
    charge = expected_charge(body)[1]
    assert services.app.authorizations.held("acme") == 0  # released: the real cost is charged instead
    assert services.queries.balance("acme", "USD")[0] == D("1.00") - charge
    assert (
        services.app.authorizations.authorization_status(services.app.authorizations.find_authorization("h1"))
        == "captured"
    )
    assert ask(services, "h2", str(D("1.00") - charge)).approved  # the rest of the wallet


def test_another_customers_usage_does_not_capture_a_hold(services: Services, database_url: str) -> None:
    """A hold is its customer's: usage of another customer naming it captures
    nothing of it, read from the log's tail, from the read model, or by
    another process; the customer's own usage naming it then does."""
    seed(services.app, customers=("acme", "globex"), grant="1.00")
    services.follower.catch_up()
    authorizations = services.app.authorizations
    assert ask(services, "h1", "0.50").approved

    def status() -> str:
        return authorizations.authorization_status(authorizations.find_authorization("h1"))

    theirs = {**event("g1", customer="globex"), "authorization_id": "h1"}
    assert services.app.metering.record_usage([theirs])[0].status == "accepted"
    assert authorizations.held("acme") == D("0.50")  # the usage in the log's tail
    services.follower.catch_up()
    assert authorizations.held("acme") == D("0.50")  # the usage in the read model
    assert status() == "approved"
    other = open_services(database_url)
    try:
        assert other.app.authorizations.held("acme") == D("0.50")
        assert not other.app.authorizations.authorize("h2", "acme", "0.51", None, None)[0].approved
    finally:
        other.close()
    ours = {**event("u1"), "authorization_id": "h1"}
    assert services.app.metering.record_usage([ours])[0].status == "accepted"
    assert authorizations.held("acme") == 0
    services.follower.catch_up()
    assert authorizations.held("acme") == 0
    assert status() == "captured"
    assert services.queries.balance("acme", "USD")[0] == D("1.00") - expected_charge(ours)[1]


@pytest.mark.parametrize("projected", [False, True], ids=["usage in the tail", "usage projected"])
def test_an_id_a_usage_named_already_is_not_a_new_authorization(services: Services, projected: bool) -> None:
    """A usage naming an authorization that does not exist yet would capture
    its hold the moment it is placed: a hold that holds nothing, for a call
    not charged yet. Such an id is refused (409) instead; a retry of an
    authorization whose hold usage captured still returns its first answer."""
    seed(services.app, customers=("acme", "globex"), grant="1.00")
    services.follower.catch_up()
    early = {**event("u1"), "authorization_id": "h9"}
    assert services.app.metering.record_usage([early])[0].status == "accepted"
    theirs = {**event("g1", customer="globex"), "authorization_id": "h8"}  # another customer's usage
    assert services.app.metering.record_usage([theirs])[0].status == "accepted"
    if projected:
        services.follower.catch_up()
    with pytest.raises(Conflict, match="names authorization 'h9' already"):
        ask(services, "h9", "0.50")
    with pytest.raises(NotFound):
        services.app.authorizations.find_authorization("h9")
    assert ask(services, "h8", "0.50").approved  # named by globex's usage only: acme's id is new
    assert services.app.authorizations.held("acme") == D("0.50")
    first = ask(services, "h1", "0.25")
    captured = {**event("u2"), "authorization_id": "h1"}
    assert services.app.metering.record_usage([captured])[0].status == "accepted"
    if projected:
        services.follower.catch_up()
    again = ask(services, "h1", "0.25")  # a retry after the capture: the first answer
    assert (again.approved, again.decided_at) == (first.approved, first.decided_at)
    with pytest.raises(Conflict, match="another body"):
        ask(services, "h1", "0.30")


def test_a_hold_expires_and_usage_may_still_capture_it(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="1.00")
    services.follower.catch_up()
    assert ask(services, "e1", "1.00", seconds=60).approved
    assert not ask(services, "e2", "0.01").approved
    clock_of(services.app).set(NOW + timedelta(seconds=60))  # at the expiry moment: released
    assert services.app.authorizations.held("acme") == 0
    assert ask(services, "e3", "0.50").approved
    late = {**event("u1"), "authorization_id": "e1"}  # the call finished after its hold expired
    assert services.app.metering.record_usage([late])[0].status == "accepted"
    services.follower.catch_up()
    assert services.queries.balance("acme", "USD")[0] == D("1.00") - expected_charge(late)[1]
    assert (
        services.app.authorizations.authorization_status(services.app.authorizations.find_authorization("e1"))
        == "captured"
    )
    assert audit_history(services.app).problems == []


def test_hard_limits_by_period(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="100")
    services.app.authorizations.set_limits("acme", {"period": "day", "hard_limit": "0.05", "soft_limit": "0.04"})
    services.app.metering.record_usage([event("u1")])  # 0.0078 spent today
    services.follower.catch_up()
    spent = expected_charge(event("u1"))[1]
    assert ask(services, "l1", str(D("0.05") - spent)).approved  # exactly at the limit
    over = ask(services, "l2", "0.000000000001")  # the smallest amount over
    assert (over.approved, over.code) == (False, "spending_limit_exceeded")
    clock_of(services.app).set(NOW + timedelta(days=1))  # a new day: the limit starts again
    assert ask(services, "l3", "0.05").approved
    with pytest.raises(ValidationFailed):
        services.app.authorizations.set_limits("acme", {"period": "week"})
    with pytest.raises(ValidationFailed):
        services.app.authorizations.set_limits("acme", {"soft_limit": "10", "hard_limit": "5"})


def test_estimates_are_priced_and_input_checked(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="1.00")
    services.follower.catch_up()
    estimate = {"provider": "openai", "model": "gpt-4o", "usage": {"input_tokens": 1200, "output_tokens": 350}}
    decided, _ = services.app.authorizations.authorize("x1", "acme", None, estimate, None)
    assert decided.approved and decided.amount == expected_charge(event("x"))[1]
    for amount, estimate_body in (
        (None, None),
        ("1", estimate),
        (None, {"provider": "openai", "model": "gpt-9", "usage": {"input_tokens": 1}}),
        (None, {"provider": "openai", "model": "gpt-4o", "usage": {"bogus": 1}}),
        ("-1", None),
    ):
        with pytest.raises(ValidationFailed):
            services.app.authorizations.authorize("x2", "acme", amount, estimate_body, None)


def test_a_busy_customers_holds_are_snapshotted_and_load_the_same(services: Services) -> None:
    """Every 200th Holds event takes a snapshot; an application that never
    saw the customer loads the holds from it and the events after it."""
    from domain.holds import Holds
    from tests.conftest import open_services

    seed(services.app, customers=("acme",), grant="100")
    services.follower.catch_up()
    store = services.app.store
    loads: list[object] = []  # the versions asked for: the library loads the aggregate at the snapshot's
    get = store.repository.get

    def counted_get(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs.get("version"))
        return get(*args, **kwargs)

    store.repository.get = counted_get  # type: ignore[method-assign]
    for index in range(205):
        assert ask(services, f"b{index}", "0.01").approved
    holds_id = Holds.create_id("acme")
    assert loads == [None], "the snapshot was taken from the Holds in memory, not loaded again"
    snapshots = list(store.snapshots.get(holds_id)) if store.snapshots else []
    assert [snapshot.originator_version for snapshot in snapshots] == [200]
    del store.repository.get
    replayed: Any = None
    for stored in store.events.get(holds_id, lte=200):  # from its first event, no snapshot
        replayed = stored.mutate(replayed)
    from_snapshot = snapshots[0].mutate(None)
    assert (from_snapshot.version, from_snapshot.customer) == (replayed.version, replayed.customer) == (200, "acme")
    assert from_snapshot.holds == replayed.holds and len(replayed.holds) > 0
    fresh = open_services(services.settings.database_url)
    try:
        assert fresh.app.authorizations.held("acme") == D("2.05")
        assert fresh.app.store.repository.get(holds_id).version == 206
    finally:
        fresh.close()
