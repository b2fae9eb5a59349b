"""What a customer key reads, through a real server on each store: prices
(what the customer pays per unit), quantities and amounts, never the
operator's provider cost or markup. The admin key's views keep both, and an
invoice's PDF, a document for the customer, never shows them to anyone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from domain.money import format_amount
from tests.customer_view_checks import operator_fields, operator_words, pdf_text, provider_prices_shown
from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client, projected, server_process
from tests.e2e.test_billing_flow import last_month
from tests.e2e.test_rest_flow import graphql, setup_catalog
from tests.support import days_around_now, event, expected_charge, just_now

PERIOD_QUERY = """{ customer(id: "acme") { currentPeriod { spend { amount }
  byModel { provider model spend { amount } } byFeature { feature spend { amount } } } } }"""


def cost_queries() -> tuple[str, str]:
    """Two queries that ask for cost: the period's, and the usage of the days
    around now (where the tests' usage is, whatever the date)."""
    start, end = days_around_now()
    return (
        '{ customer(id: "acme") { currentPeriod { byModel { model cost { amount } } } } }',
        f'{{ customer(id: "acme") {{ usage(from: "{start}", to: "{end}", granularity: DAY)'
        " { start charge { amount } cost { amount } } } }",
    )


def test_an_event_shows_a_customer_its_prices_and_the_admin_its_cost(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        recorded = event("e1", timestamp=just_now(), input_tokens=1200, output_tokens=350)
        assert api.post("/v1/events", json={"events": [recorded]}).json()["results"][0]["status"] == "accepted"
        cost, charge = expected_charge(recorded)
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        with client(server, key) as own:
            shown = own.get("/v1/events/acme/e1")
            assert shown.status_code == 200, shown.text
            body = shown.json()
        assert operator_fields(body) == [] and provider_prices_shown(body) == [], body
        rating = body["rating"]
        assert rating["charge"] == format_amount(charge)
        # gpt-4o costs 2.50 and 10 per 1M tokens; at 20 % the customer pays 3 and 12.
        assert [(line["unit"], line["quantity"], line["price"], line["per"]) for line in rating["lines"]] == [
            ("input_tokens", 1200, "3", 1_000_000),
            ("output_tokens", 350, "12", 1_000_000),
        ]
        assert sum(Decimal(line["amount"]) for line in rating["lines"]) == charge
        assert body["ratings"] == [rating]

        operator_view = api.get("/v1/events/acme/e1").json()["rating"]
        assert (operator_view["cost"], operator_view["markup_percent"]) == (format_amount(cost), "20")
        assert [line["price"] for line in operator_view["lines"]] == ["2.5", "10"]
        assert operator_view["price_source"] == "manual"


def test_graphql_answers_cost_to_the_admin_key_only(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        api.post("/v1/events", json={"events": [event(f"g{i}", timestamp=just_now()) for i in range(3)]})
        consistent_balance(api, "acme")
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        with client(server, key) as own:
            period = graphql(own, PERIOD_QUERY)
            assert "errors" not in period and operator_fields(period) == [], period
            assert period["data"]["customer"]["currentPeriod"]["byModel"][0]["model"] == "gpt-4o"
            for query in cost_queries():
                refused = graphql(own, query)
                assert refused["data"] is None or refused["data"]["customer"] is None, refused
                assert [error["path"][-1] for error in refused["errors"]] == ["cost"], refused
                assert all("forbidden" in error["message"] for error in refused["errors"]), refused
        for query in cost_queries():
            answered = graphql(api, query)
            assert "errors" not in answered, answered
            assert "cost" in str(answered["data"])


def test_an_invoice_shows_a_customer_no_cost_or_markup(server: str) -> None:
    moment, period_end = last_month()
    with client(server) as api:
        setup_catalog(api)
        customer = {"id": "initech", "name": "Initech", "currency": "USD", "plan": "pro", "billing": "invoice"}
        assert api.post("/v1/customers", json=customer).status_code == 201
        events = [event(f"i{i}", "initech", timestamp=moment) for i in range(40)]
        events.append(event("i-mini", "initech", model="gpt-4o-mini", timestamp=moment))
        api.post("/v1/events", json={"events": events})
        consistent_balance(api, "initech")
        run = api.post("/v1/billing-runs", json={"period_end": period_end, "customers": ["initech"]})
        assert run.status_code == 201, run.text
        invoice_id = run.json()["invoices"][0]["id"]
        assert projected(api)  # the invoice list is a view: it follows the run's saved invoice
        key = api.post("/v1/customers/initech/api-keys").json()["key"]
        with client(server, key) as own:
            shown = own.get(f"/v1/invoices/{invoice_id}").json()
            listed = own.get("/v1/customers/initech/invoices").json()
            document = own.get(f"/v1/invoices/{invoice_id}/pdf")
        for body in (shown, listed):
            assert operator_fields(body) == [] and provider_prices_shown(body) == [], body
        assert listed["invoices"] == [shown]
        for line in shown["lines"]:
            assert Decimal(line["unit_price"]) == Decimal(line["amount"]) / line["quantity"], line
        assert document.status_code == 200 and operator_words(pdf_text(document.content)) == []
        assert shown["total"] in pdf_text(document.content)

        operator_view = api.get(f"/v1/invoices/{invoice_id}").json()
        assert Decimal(operator_view["markup"]) > 0 and all("cost" in line for line in operator_view["lines"])
        assert operator_words(pdf_text(api.get(f"/v1/invoices/{invoice_id}/pdf").content)) == []


def test_a_refused_graphql_field_is_one_log_line_not_a_traceback(tmp_path: Path) -> None:
    """What a client asked wrongly is said at info level with its code; a
    traceback in the server's log is kept for a failure on tally's side."""
    log = tmp_path / "server.log"
    with server_process(f"sqlite:///{tmp_path}/tally.db", log=log) as (base, _process), client(base) as api:
        setup_catalog(api)
        api.post("/v1/events", json={"events": [event(f"g{i}", timestamp=just_now()) for i in range(3)]})
        consistent_balance(api, "acme")
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        with client(base, key) as own:
            for query in cost_queries():
                refused = graphql(own, query)
                assert [error["extensions"]["code"] for error in refused["errors"]] == ["forbidden"], refused
            unknown = graphql(own, '{ customer(id: "globex") { id } }')
            assert unknown["data"]["customer"] is None or unknown.get("errors"), unknown
    said = log.read_text()
    assert "Traceback" not in said, said
    assert "graphql forbidden at customer." in said, said
