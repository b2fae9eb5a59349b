"""Every route and every customer field, walked with each kind of key through
a real server: the admin key may do anything; a customer key reads its own
customer, gets 404 for another's, 403 for every admin operation, and 401
without a valid key. The route list comes from the application itself, so a
new route is walked without editing this test."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.rest.app import create_app
from interfaces.rest.auth import admin, principal
from tests.e2e.server import client
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import ADMIN_KEY

PUBLIC = {"/healthz", "/metrics", "/v1/webhooks/stripe", "/dashboard"}
CUSTOMER_FIELDS = """status name currency billing plan
  balance { balance { amount } held { amount } available { amount } asOf }
  currentPeriod { spend { amount } projectedSpend { amount } tierAdjustment { amount } byModel { model }
                  byFeature { feature } daily { date } }
  usage(from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z", granularity: DAY) { start }
  limits { period } alerts { kind } invoices { id } topUps { id }
  ledgerEntries(first: 2) { edges { cursor } }"""


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


def concrete(path: str, customer: str) -> str:
    path = path.replace("{customer_id}", customer)
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_and_field_with_each_kind_of_key(server: str, tmp_path: Path) -> None:
    walked = routes(tmp_path)
    assert len(walked) > 30
    with client(server) as api:
        setup_catalog(api)
        api.post("/v1/customers", json={"id": "globex", "name": "Globex", "currency": "USD", "plan": "pro"})
        key = api.post("/v1/customers/acme/api-keys").json()["key"]
        with client(server, key) as own, client(server, "tk_not-a-key") as nobody:
            for method, path, guard in walked:
                if not path:
                    continue  # GraphQL, mounted under /graphql: walked field by field below
                if path in PUBLIC or path.startswith(("/docs", "/openapi", "/redoc")):
                    assert guard == "public", path
                    continue
                assert guard != "public", f"{method} {path} has no key check"
                mine = own.request(
                    method, concrete(path, "acme"), json={} if method in ("POST", "PUT", "PATCH") else None
                )
                theirs = own.request(
                    method, concrete(path, "globex"), json={} if method in ("POST", "PUT", "PATCH") else None
                )
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
            query = f'{{ customer(id: "acme") {{ {CUSTOMER_FIELDS} }} }}'
            answer = own.post("/graphql", json={"query": query}).json()
            assert "errors" not in answer and answer["data"]["customer"]["name"] == "Acme AI", answer
            other = own.post("/graphql", json={"query": query.replace('"acme"', '"globex"')}).json()
            assert other["data"]["customer"] is None
            for root in ("{ customers { edges { cursor } } }", "{ ledger { trialBalance { balanced } } }",
                         '{ priceBook(id: "default") { id } }'):  # fmt: skip
                refused = own.post("/graphql", json={"query": root}).json()
                assert "forbidden" in refused["errors"][0]["message"], root
        as_admin = api.post("/graphql", json={"query": f'{{ customer(id: "globex") {{ {CUSTOMER_FIELDS} }} }}'}).json()
        assert "errors" not in as_admin, as_admin
