"""Authorizations count every usage the event log holds, not only what the
read model has applied: a usage whose POST answered before an authorization
arrived is in its decision, however far behind the follower is. Here the
follower is not run at all between the usage and the decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from interfaces.bootstrap import Services
from interfaces.rest.app import create_app
from tests.clock import clock_of
from tests.stripe_server import DECLINED_CARD, GOOD_CARD, customer_with_card, set_card
from tests.support import ADMIN_KEY, event, expected_charge, seed

D = Decimal


def test_usage_not_yet_projected_counts_against_the_wallet(services: Services) -> None:
    seed(services.app, customers=("acme", "globex"), grant="1.00")
    services.follower.catch_up()
    body = event("u1", input_tokens=200_000, output_tokens=20_000)
    charge = expected_charge(body)[1]
    services.app.metering.record_usage([body, event("g1", customer="globex")])  # the read model has not seen these
    assert services.queries.balance("acme", "USD")[0] == D("1.00")
    left = D("1.00") - charge
    denied, _ = services.app.authorizations.authorize("over", "acme", str(left + D("0.01")), None, None)
    assert (denied.approved, denied.code, D(denied.available)) == (False, "insufficient_funds", left)
    approved, _ = services.app.authorizations.authorize("exact", "acme", str(left), None, None)
    assert approved.approved and D(approved.available) == 0
    services.follower.catch_up()  # once projected, the same figures: nothing counted twice
    after, _ = services.app.authorizations.authorize("after", "acme", "0.01", None, None)
    assert (after.approved, D(after.available)) == (False, 0)


def test_a_capture_not_yet_projected_releases_its_hold_and_charges_once(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="1.00")
    services.follower.catch_up()
    hold, _ = services.app.authorizations.authorize("h1", "acme", "0.50", None, None)
    assert hold.approved
    body = {**event("u1"), "authorization_id": "h1"}
    services.app.metering.record_usage([body])
    charge = expected_charge(body)[1]
    decided, _ = services.app.authorizations.authorize("h2", "acme", str(D("1.00") - charge), None, None)
    assert decided.approved and D(decided.available) == 0  # the hold released, the charge counted once
    services.follower.catch_up()
    assert services.app.authorizations.held("acme") == D("1.00") - charge


def test_spend_not_yet_projected_counts_against_the_hard_limit(services: Services) -> None:
    seed(services.app, customers=("acme",), grant="100")
    services.app.authorizations.set_limits("acme", {"period": "month", "hard_limit": "1.00"})
    services.follower.catch_up()
    body = event("u1", input_tokens=200_000, output_tokens=20_000)
    services.app.metering.record_usage([body])
    headroom = D("1.00") - expected_charge(body)[1]
    denied, _ = services.app.authorizations.authorize("over", "acme", str(headroom + D("0.000001")), None, None)
    assert (denied.approved, denied.code) == (False, "spending_limit_exceeded")
    assert services.app.authorizations.authorize("exact", "acme", str(headroom), None, None)[0].approved


def test_balances_show_usage_the_read_model_has_not_applied(services: Services) -> None:
    """GET balance and GraphQL's balance count every usage the log holds:
    the read model's balance at its position, plus the log's tail beyond it.
    A past moment (`as_of`) is read from the journal as before."""
    seed(services.app, customers=("acme", "globex"), grant="1.00")
    services.follower.catch_up()
    assert services.app.authorizations.authorize("h1", "acme", "0.10", None, None)[0].approved
    body = event("u1", input_tokens=200_000, output_tokens=20_000)
    services.app.metering.record_usage([body, event("g1", customer="globex")])  # not projected
    left = D("1.00") - expected_charge(body)[1]
    api = TestClient(create_app(services), headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    shown = api.get("/v1/customers/acme/balance").json()
    assert (D(shown["balance"]), D(shown["held"]), D(shown["available"])) == (left, D("0.10"), left - D("0.10"))
    assert services.queries.balance("acme", "USD")[0] == D("1.00")  # the read model has not seen it
    query = "{ customers(first: 10) { edges { node { id balance { balance { amount } held { amount } } } } } }"
    nodes = {
        edge["node"]["id"]: edge["node"]["balance"]
        for edge in api.post("/graphql", json={"query": query}).json()["data"]["customers"]["edges"]
    }
    assert D(nodes["acme"]["balance"]["amount"]) == left and D(nodes["acme"]["held"]["amount"]) == D("0.10")
    assert D(nodes["globex"]["balance"]["amount"]) == D("1.00") - expected_charge(event("g1", customer="globex"))[1]
    services.follower.catch_up()  # once projected, the same figures: nothing counted twice
    assert D(api.get("/v1/customers/acme/balance").json()["balance"]) == left
    assert (
        D(
            api.post("/graphql", json={"query": query}).json()["data"]["customers"]["edges"][0]["node"]["balance"][
                "balance"
            ]["amount"]
        )
        == left
    )


def test_an_invoice_the_read_model_has_not_applied_counts_in_past_due(
    stripe_services: Services, stripe_base: str
) -> None:
    """A billing run's declined charge refuses the customer's next
    authorization at once, and a retry that pays lets the next one through
    at once, whether or not the read model has applied either."""
    services, app = stripe_services, stripe_services.app
    seed(app, customers=("acme",))
    card = customer_with_card(stripe_base, DECLINED_CARD)
    app.customers.create_customer("globex", "Globex", "USD", "pro", "postpaid", 30, card)
    assert app.metering.record_usage([event("g1", "globex")])[0].status == "accepted"
    services.follower.catch_up()
    first_of_december = datetime(2026, 12, 1, tzinfo=UTC)
    clock_of(app).set(first_of_december + timedelta(minutes=30))
    (invoice,) = app.billing.billing_run(first_of_december, customers=["globex"]).invoices
    assert invoice.status == "payment_failed"

    def decided(authorization_id: str) -> str | None:
        authorization, _ = app.authorizations.authorize(authorization_id, "globex", "0.01", None, None)
        return "approved" if authorization.approved else authorization.code

    assert app.billing.customer_status("globex") == "active"  # the read model has not seen the invoice
    assert decided("issued-and-declined") == "account_past_due"
    services.follower.catch_up()
    assert app.billing.customer_status("globex") == "past_due"
    assert decided("declined-projected") == "account_past_due"

    set_card(stripe_base, card, GOOD_CARD)
    clock_of(app).set(invoice.issued_at + timedelta(days=1, minutes=1))
    assert app.billing.retry_due_charges() == 1  # paid, in the log's tail only
    assert app.billing.customer_status("globex") == "past_due"  # so the read model says, still
    assert decided("paid-in-the-tail") == "approved"
    services.follower.catch_up()
    assert decided("paid-projected") == "approved"
