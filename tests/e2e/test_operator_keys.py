"""Scoped operator keys through a real server, on SQLite and PostgreSQL: every
operation in the OpenAPI document answers each scope as the rules say
(allowed, or 403 forbidden), a revoked key is refused at once by another
server process on the same store, and the log keeps only the key's hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from application import operator_keys
from application.errors import ValidationFailed
from domain.operator_key import OperatorKeyIssued
from tests.conftest import open_services
from tests.e2e.server import client, running_server
from tests.e2e.test_bad_input import assert_problem
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, just_now, postgres_schema_url

SCOPES = ("usage:write", "authorizations:write", "read")
PUBLIC_PATHS = {"/healthz", "/metrics", "/v1/webhooks/stripe"}
OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]{2,60}$")


def expected_scope(method: str, path: str) -> str:
    """The rules, written out apart from the server's table: a new route the
    table has no decision for, or a decision against these rules, fails."""
    if path in PUBLIC_PATHS:
        return "public"
    if "api-keys" in path:  # only the admin key manages keys, and sees which exist
        return "admin"
    if method == "get":
        return "read"
    if (method, path) == ("post", "/v1/events"):
        return "usage:write"
    if method == "post" and (path == "/v1/authorizations" or path.endswith("/void")):
        return "authorizations:write"
    return "admin"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('keys')}/tally.db"
    else:
        yield from postgres_schema_url()


@pytest.fixture(scope="module")
def keyed(store_url: str) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """A seeded server and one key per scope: (base URL, {scope: issued key})."""
    with running_server(store_url) as base, client(base) as admin:
        setup_catalog(admin)
        keys = {}
        for scope in SCOPES:
            issued = admin.post("/v1/api-keys", json={"scopes": [scope]})
            assert issued.status_code == 201, issued.text
            keys[scope] = issued.json()
        yield base, keys


def keyed_client(base: str, key: dict[str, Any]) -> httpx.Client:
    return client(base, key["key"])


def concrete(path: str) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: "acme" if m.group(1) == "customer_id" else "k-none", path).replace(
        "/versions/k-none", "/versions/1"
    )


def test_every_operation_has_a_stable_id_and_a_scope_decision(keyed: tuple[str, Any]) -> None:
    base, _ = keyed
    document = httpx.get(f"{base}/openapi.json").json()
    loaded = schemathesis.openapi.from_dict(document)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema: an operationId that is no string fails here
    operations = list(loaded.get_all_operations())
    assert all(type(found).__name__ == "Ok" for found in operations) and len(operations) > 40
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    ids: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            ids.append(operation.get("operationId", ""))
            assert OPERATION_ID.match(ids[-1]), (method, path, ids[-1])
            assert operation.get("x-tally-scope") == expected_scope(method, path), (method, path)
            secured = operation["security"] != []
            assert secured == (path not in PUBLIC_PATHS), (method, path)
    assert len(ids) == len(set(ids)) > 40
    assert {"createUsageEvents", "getBalance", "createAuthorization", "createApiKey"} <= set(ids)


def test_every_operation_answers_each_scope_as_declared(keyed: tuple[str, Any]) -> None:
    base, keys = keyed
    document = httpx.get(f"{base}/openapi.json").json()
    checked = 0
    for path, item in document["paths"].items():
        for method in item:
            needed = expected_scope(method, path)
            if needed == "public":
                continue
            body = {} if method in ("post", "put", "patch") else None
            for scope in SCOPES:
                with keyed_client(base, keys[scope]) as api:
                    answer = api.request(method.upper(), concrete(path), json=body)
                if scope == needed:
                    assert answer.status_code not in (401, 403, 500), (scope, method, path, answer.text)
                else:
                    problem = assert_problem(answer, 403, "forbidden")
                    assert scope in problem["detail"], problem
                checked += 1
    assert checked > 100


def test_a_scoped_key_does_what_it_names_for_any_customer(keyed: tuple[str, Any]) -> None:
    base, keys = keyed
    with keyed_client(base, keys["usage:write"]) as usage:
        recorded = usage.post("/v1/events", json={"events": [event("scoped-1", timestamp=just_now())]})
        assert recorded.json()["results"][0]["status"] == "accepted", recorded.text
        again = usage.post("/v1/events", json={"events": [event("scoped-1", timestamp=just_now())]})
        assert again.json()["results"][0]["status"] in ("duplicate", "rejected")
    with keyed_client(base, keys["authorizations:write"]) as holds:
        approved = holds.post("/v1/authorizations", json={"id": "scoped-auth", "customer": "acme", "amount": "0.05"})
        assert approved.status_code == 201, approved.text
        assert holds.post("/v1/authorizations/scoped-auth/void").json()["status"] == "voided"
    with keyed_client(base, keys["read"]) as reader:
        shown = reader.get("/v1/events/acme/scoped-1").json()
        assert "cost" in shown or "rating" in shown, shown  # the operator's view
        assert reader.get("/v1/customers/acme/balance").status_code == 200
        assert reader.get("/v1/whoami").json() == {"customer": None, "admin": True, "scopes": ["read"]}
        ledger = reader.post("/graphql", json={"query": "{ ledger { trialBalance { balanced } } }"}).json()
        assert "errors" not in ledger, ledger
    with keyed_client(base, keys["usage:write"]) as usage:
        refused = usage.post("/graphql", json={"query": '{ customer(id: "acme") { id } }'}).json()
        assert refused["errors"] and "forbidden" in refused["errors"][0]["message"], refused


def test_only_the_admin_key_manages_keys_and_a_list_shows_no_secrets(keyed: tuple[str, Any]) -> None:
    base, keys = keyed
    with client(base) as admin:
        listed = admin.get("/v1/api-keys").json()["keys"]
        assert {key["id"] for key in listed} >= {key["id"] for key in keys.values()}
        assert all(set(key) == {"id", "scopes", "created_at"} for key in listed), listed
        assert_problem(admin.post("/v1/api-keys", json={"scopes": ["write"]}), 422, "validation_error")
        assert_problem(admin.post("/v1/api-keys", json={"scopes": []}), 422, "validation_error")
        assert_problem(admin.delete("/v1/api-keys/okey_missing"), 404, "not_found")
        both = admin.post("/v1/api-keys", json={"scopes": ["read", "usage:write", "read"]}).json()
        assert both["scopes"] == ["usage:write", "read"]
        assert admin.delete(f"/v1/api-keys/{both['id']}").status_code == 204
        assert_problem(admin.delete(f"/v1/api-keys/{both['id']}"), 404, "not_found")


def test_a_revoked_key_is_refused_at_once_by_every_server_process(store_url: str, keyed: tuple[str, Any]) -> None:
    first, _ = keyed
    with running_server(store_url) as second:
        with client(first) as admin:
            issued = admin.post("/v1/api-keys", json={"scopes": ["read"]}).json()
        with keyed_client(second, issued) as reader:
            assert reader.get("/v1/customers/acme").status_code == 200
            with client(first) as admin:
                assert admin.delete(f"/v1/api-keys/{issued['id']}").status_code == 204
            assert_problem(reader.get("/v1/customers/acme"), 401, "unauthorized")
        with keyed_client(first, issued) as reader:
            assert_problem(reader.get("/v1/customers/acme"), 401, "unauthorized")


def test_the_log_keeps_the_hash_of_a_key_never_the_key(store_url: str, keyed: tuple[str, Any]) -> None:
    _, keys = keyed
    services = open_services(store_url)
    try:
        recorder = services.app.store.recorder
        topic = f"{OperatorKeyIssued.__module__}:{OperatorKeyIssued.__qualname__}"
        stored = recorder.select_notifications(0, 1000, topics=[topic])
        by_id = {}
        for notification in stored:
            issued = services.app.store.mapper.to_domain_event(notification)
            by_id[issued.key_id] = (issued, bytes(notification.state))
        for key in keys.values():
            issued, state = by_id[key["id"]]
            assert issued.key_hash == hashlib.sha256(key["key"].encode()).hexdigest()
            assert key["key"].encode() not in state and key["key"][4:].encode() not in state
            assert issued.key_hash.encode() in state  # the stored record itself, not only the decoded event
    finally:
        services.close()


def test_revoking_is_an_event_in_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/tally.db"
    services = open_services(url)
    try:
        issued = services.app.operator_keys.issue(["read"])
        assert services.app.operator_keys.scopes_for(issued.key) == frozenset({"read"})
        services.app.operator_keys.revoke(issued.id)
        assert services.app.operator_keys.scopes_for(issued.key) is None
        events = [
            type(e).__qualname__
            for n in services.app.store.recorder.select_notifications(0, 100)
            for e in [services.app.store.mapper.to_domain_event(n)]
            if "OperatorKey" in type(e).__qualname__
        ]
        assert events == ["OperatorKey.Issued", "OperatorKey.Revoked"]
    finally:
        services.close()
    reopened = open_services(url)  # another process reading the same log from its start
    try:
        assert reopened.app.operator_keys.scopes_for(issued.key) is None
        assert reopened.app.operator_keys.listed() == []
    finally:
        reopened.close()


def test_live_keys_are_limited_and_a_revoked_one_frees_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operator_keys, "MAX_LIVE_KEYS", 2)
    services = open_services(f"sqlite:///{tmp_path}/tally.db")
    try:
        first = services.app.operator_keys.issue(["read"])
        services.app.operator_keys.issue(["usage:write"])
        with pytest.raises(ValidationFailed, match="at most 2"):
            services.app.operator_keys.issue(["read"])
        services.app.operator_keys.revoke(first.id)
        assert services.app.operator_keys.issue(["read"]).scopes == ["read"]
    finally:
        services.close()
