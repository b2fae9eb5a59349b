"""Every route and every customer field, walked with each kind of key through
a real server: the admin key may do anything; a customer key reads its own
customer, gets 404 for another's, 403 for every admin operation, and 401
without a valid key. What a customer key reads (every JSON body, recursively,
and the invoice PDF's text) names no cost, markup or margin and shows no
provider price. The route list comes from the application itself and the
customer's fields from the GraphQL schema, so a new route or field is walked
without editing this test."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi.routing import APIRoute
from graphql import GraphQLObjectType, GraphQLOutputType, Undefined, get_named_type, is_non_null_type

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.graphql.schema import schema
from interfaces.rest.app import create_app
from interfaces.rest.auth import admin, principal
from tests.customer_view_checks import OPERATOR_WORDS, operator_fields, operator_words, pdf_text, provider_prices_shown
from tests.e2e.consistency import consistent_balance
from tests.e2e.server import client
from tests.e2e.test_billing_flow import last_month
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import ADMIN_KEY, event, just_now

PUBLIC = {"/healthz", "/metrics", "/v1/webhooks/stripe", "/dashboard"}
# Values for the arguments a customer field requires; a new required argument
# fails the walk until it is given one here.
REQUIRED_ARGUMENTS = {"usage": '(from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z", granularity: DAY)'}
# The reads that must answer 200 to the customer key, or the checks on their bodies would prove nothing.
SHOWN_TO_THE_CUSTOMER = {
    "/v1/events/{customer_id}/{event_id}",
    "/v1/invoices/{invoice_id}",
    "/v1/invoices/{invoice_id}/pdf",
    "/v1/customers/{customer_id}/invoices",
    "/v1/customers/{customer_id}",
}


def routes(tmp: Path) -> list[tuple[str, str, str]]:
    """(method, path, guard) for every REST route: guard is admin, principal or public."""
    services = bootstrap(Settings(database_url=f"sqlite:///{tmp}/walk.db", admin_key=ADMIN_KEY), start_follower=False)
    try:
        found = []
        for route in _flat(create_app(services).routes):
            calls = {dependency.call for dependency in _all(route.dependant)}
            guard = "admin" if admin in calls else "principal" if principal in calls else "public"
            found += [(method, route.path, guard) for method in sorted(route.methods)]
        return found
    finally:
        services.close()


def _flat(routes):  # type: ignore[no-untyped-def]
    """APIRoutes, also inside included routers (newer FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _flat(route.original_router.routes)


def _all(dependant):  # type: ignore[no-untyped-def]
    for dependency in dependant.dependencies:
        yield dependency
        yield from _all(dependency)


def concrete(path: str, customer: str, ids: dict[str, str] | None = None) -> str:
    path = path.replace("{customer_id}", customer)
    for name, value in (ids or {}).items():
        path = path.replace("{" + name + "}", value)
    return re.sub(r"\{[^}]+\}", "x", path)


def selection(kind: GraphQLOutputType, operator: bool) -> str:
    """Every field below a GraphQL type, from the schema itself; operator=False
    leaves out the fields that name cost, markup or margin."""
    named = get_named_type(kind)
    if not isinstance(named, GraphQLObjectType):
        return ""
    fields = []
    for name, field in named.fields.items():
        if not operator and any(word in name.lower() for word in OPERATOR_WORDS):
            continue
        required = [a for a, arg in field.args.items() if is_non_null_type(arg.type) and arg.default_value is Undefined]
        assert not required or name in REQUIRED_ARGUMENTS, f"give {name}'s arguments {required} in REQUIRED_ARGUMENTS"
        below = selection(field.type, operator)
        fields.append(name + REQUIRED_ARGUMENTS.get(name, "") + (f" {{ {below} }}" if below else ""))
    return " ".join(fields)


def customer_query(customer: str, operator: bool) -> str:
    return f'{{ customer(id: "{customer}") {{ {selection(schema._schema.type_map["Customer"], operator)} }} }}'


def seed_what_a_customer_reads(api: httpx.Client) -> dict[str, str]:
    """acme's usage this month and last, a statement for last month: the ids
    the walk puts in the paths it reads."""
    moment, period_end = last_month()
    events = [event("walk-now", timestamp=just_now()), event("walk-mini", model="gpt-4o-mini", timestamp=moment)]
    events.append(event("walk-last", timestamp=moment))
    assert all(r["status"] == "accepted" for r in api.post("/v1/events", json={"events": events}).json()["results"])
    consistent_balance(api, "acme")
    run = api.post("/v1/billing-runs", json={"period_end": period_end, "customers": ["acme"]})
    assert run.status_code == 201, run.text
    return {"event_id": "walk-now", "invoice_id": run.json()["invoices"][0]["id"], "top_up_id": "welcome"}


def customer_sees_no_operator_figures(response: httpx.Response, where: str) -> None:
    if response.headers.get("content-type", "").startswith("application/pdf"):
        assert operator_words(pdf_text(response.content)) == [], where
    elif response.headers.get("content-type", "").endswith("json"):
        body = response.json()
        assert operator_fields(body) == [], (where, operator_fields(body))
        assert provider_prices_shown(body) == [], (where, provider_prices_shown(body))


def test_every_route_and_field_with_each_kind_of_key(server: str, tmp_path: Path) -> None:
    walked = routes(tmp_path)
    assert len(walked) > 30
    with client(server) as api:
        setup_catalog(api)
        api.post("/v1/customers", json={"id": "globex", "name": "Globex", "currency": "USD", "plan": "pro"})
        ids = seed_what_a_customer_reads(api)
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        shown = set()
        with client(server, key) as own, client(server, "tk_not-a-key") as nobody:
            for method, path, guard in walked:
                if not path:
                    continue  # GraphQL, mounted under /graphql: walked field by field below
                if path in PUBLIC or path.startswith(("/docs", "/openapi", "/redoc")):
                    assert guard == "public", path
                    continue
                if path.startswith("/gateway/"):  # the gateway checks keys itself, answering in the provider's shape
                    assert nobody.request(method, path, json={}).status_code == 401, path
                    assert own.request(method, path, json={}).status_code not in (401, 403, 500), path
                    continue
                assert guard != "public", f"{method} {path} has no key check"
                mine = own.request(
                    method, concrete(path, "acme", ids), json={} if method in ("POST", "PUT", "PATCH") else None
                )
                theirs = own.request(
                    method, concrete(path, "globex", ids), json={} if method in ("POST", "PUT", "PATCH") else None
                )
                customer_sees_no_operator_figures(mine, f"{method} {path}")
                customer_sees_no_operator_figures(theirs, f"{method} {path} of another customer")
                if mine.status_code == 200:
                    shown.add(path)
                anonymous = nobody.request(method, concrete(path, "acme"))
                assert anonymous.status_code == 401, (method, path)
                if guard == "admin":
                    assert mine.status_code == 403, (method, path, mine.status_code)
                    assert theirs.status_code == 403, (method, path)
                elif "{customer_id}" in path:
                    assert mine.status_code not in (401, 403), (method, path, mine.status_code)
                    assert theirs.status_code == 404, (method, path, theirs.status_code)
                else:
                    assert mine.status_code not in (401, 403, 500), (method, path, mine.status_code)
            assert shown >= SHOWN_TO_THE_CUSTOMER, SHOWN_TO_THE_CUSTOMER - shown
            query = customer_query("acme", operator=False)
            answer = own.post("/graphql", json={"query": query}).json()
            assert "errors" not in answer and answer["data"]["customer"]["name"] == "Acme AI", answer
            assert operator_fields(answer) == [], operator_fields(answer)
            entries = answer["data"]["customer"]["ledgerEntries"]["edges"]
            postings = [p for e in entries for p in e["node"]["postings"]]
            assert postings and all(":acme" in p["debitAccount"] + p["creditAccount"] for p in postings), postings
            asking = own.post("/graphql", json={"query": customer_query("acme", operator=True)}).json()
            assert operator_fields(asking) == [], asking
            refused = {(e["path"][-1], e["message"].split(":")[0]) for e in asking["errors"]}
            assert refused == {("cost", "forbidden")}, asking["errors"]
            other = own.post("/graphql", json={"query": query.replace('"acme"', '"globex"')}).json()
            assert other["data"]["customer"] is None
            for root in ("{ customers { edges { cursor } } }", "{ ledger { trialBalance { balanced } } }",
                         '{ priceBook(id: "default") { id } }'):  # fmt: skip
                refused = own.post("/graphql", json={"query": root}).json()
                assert "forbidden" in refused["errors"][0]["message"], root
        as_admin = api.post("/graphql", json={"query": customer_query("acme", operator=True)}).json()
        assert "errors" not in as_admin and operator_fields(as_admin), as_admin
