"""Over HTTP, on both stores: an authorization id that a usage event named
already is refused (409 problem+json, nothing decided), while a retry of an
authorization whose hold usage captured still gets its first answer, shown
captured as soon as the capturing usage is accepted."""

from __future__ import annotations

from tests.e2e.server import client, running_server
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, just_now


def test_an_id_a_usage_named_already_is_refused(database_url: str) -> None:
    with running_server(database_url) as base, client(base) as api:
        setup_catalog(api)
        early = {**event("u-early", timestamp=just_now()), "authorization_id": "call-1"}
        assert api.post("/v1/events", json={"events": [early]}).json()["results"][0]["status"] == "accepted"
        refused = api.post("/v1/authorizations", json={"id": "call-1", "customer": "acme", "amount": "0.50"})
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "conflict" and "call-1" in refused.json()["detail"]
        assert api.get("/v1/authorizations/call-1").status_code == 404
        held = api.get("/v1/customers/acme/balance").json()["held"]
        body = {"id": "call-2", "customer": "acme", "amount": "0.50"}
        first = api.post("/v1/authorizations", json=body)
        assert first.status_code == 201, first.text
        usage = {**event("u-call-2", timestamp=just_now()), "authorization_id": "call-2"}
        assert api.post("/v1/events", json={"events": [usage]}).json()["results"][0]["status"] == "accepted"
        again = api.post("/v1/authorizations", json=body)
        assert again.status_code == 201, again.text
        # the first answer, its status as it stands now: captured, whether the read model applied the usage or not
        assert again.json() == {**first.json(), "status": "captured"}, again.text
        assert api.get("/v1/authorizations/call-2").json()["status"] == "captured"
        assert api.get("/v1/customers/acme/balance").json()["held"] == held
