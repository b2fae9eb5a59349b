"""Bad input gets a clear 4xx problem+json and loses nothing else; never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.server import client, running_server, wait_for
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, just_now, rates_json


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["detail"] and body["title"] and body["type"].endswith(code)
    assert isinstance(body["errors"], list)
    return body


def ledger_state(api: httpx.Client) -> tuple[str, str]:
    health = wait_for(lambda: (h := api.get("/healthz").json())["log_position"] == h["projection_position"] and h)
    assert health
    return api.get("/v1/ledger/trial-balance").text.split('"currencies"')[1], api.get(
        "/v1/customers/acme/balance"
    ).json()["balance"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("bad-input")
    with running_server(f"sqlite:///{folder}/tally.db") as base, client(base) as admin:
        setup_catalog(admin)
        admin.post("/v1/events", json={"events": [event("seed", timestamp=just_now())]})
        yield admin


def test_no_key_or_a_wrong_key_is_401(api: httpx.Client) -> None:
    base = str(api.base_url)
    assert_problem(httpx.get(f"{base}/v1/customers/acme"), 401, "unauthorized")
    assert_problem(
        httpx.get(f"{base}/v1/customers/acme", headers={"Authorization": "Bearer nope"}), 401, "unauthorized"
    )
    assert_problem(httpx.get(f"{base}/v1/customers/acme", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_customer_key_reads_its_own_customer_only(api: httpx.Client) -> None:
    api.post("/v1/customers", json={"id": "globex", "name": "Globex", "currency": "USD", "plan": "pro"})
    issued = api.post("/v1/customers/acme/api-keys")
    assert issued.status_code == 201
    with client(str(api.base_url), issued.json()["key"]) as acme:
        assert acme.get("/v1/customers/acme").status_code == 200
        assert acme.get("/v1/customers/acme/balance").status_code == 200
        assert_problem(acme.get("/v1/customers/globex"), 404, "not_found")
        assert_problem(acme.get("/v1/customers/globex/balance"), 404, "not_found")
        assert_problem(acme.get("/v1/events/globex/seed"), 404, "not_found")
        assert_problem(acme.post("/v1/events", json={"events": []}), 403, "forbidden")
        assert_problem(acme.get("/v1/ledger/trial-balance"), 403, "forbidden")
        assert_problem(
            acme.post("/v1/customers/acme/top-ups", json={"id": "t", "amount": "5", "source": "grant"}),
            403,
            "forbidden",
        )
        other = acme.post("/graphql", json={"query": '{ customer(id: "globex") { id } }'}).json()
        assert other["data"]["customer"] is None
        ledger = acme.post("/graphql", json={"query": "{ ledger { trialBalance { balanced } } }"}).json()
        assert "forbidden" in ledger["errors"][0]["message"]
    key_id = issued.json()["id"]
    assert api.delete(f"/v1/customers/acme/api-keys/{key_id}").status_code == 204
    with client(str(api.base_url), issued.json()["key"]) as revoked:
        assert_problem(revoked.get("/v1/customers/acme"), 401, "unauthorized")


def test_malformed_json_is_400_and_writes_nothing(api: httpx.Client) -> None:
    before = ledger_state(api)
    for body in (b"{bad", b"", b"\xff\xfe", b"[1, 2"):
        assert_problem(
            api.post("/v1/events", content=body, headers={"content-type": "application/json"}), 400, "validation_error"
        )
    assert_problem(
        api.post("/v1/customers", content=b"{", headers={"content-type": "application/json"}), 400, "validation_error"
    )
    assert ledger_state(api) == before


def test_oversized_bodies_are_413(api: httpx.Client) -> None:
    before = ledger_state(api)
    too_many = {"events": [event(f"x{i}", timestamp=just_now()) for i in range(1001)]}
    assert_problem(api.post("/v1/events", json=too_many), 413, "payload_too_large")
    huge = json.dumps({"events": [{**event("big", timestamp=just_now()), "metadata": {"blob": "x" * (1024 * 1024)}}]})
    assert_problem(
        api.post("/v1/events", content=huge, headers={"content-type": "application/json"}), 413, "payload_too_large"
    )

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"events": ['
        for _ in range(2000):
            yield b" " * 1024
        yield b"]}"

    streamed = api.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413, "payload_too_large")
    assert ledger_state(api) == before


def test_bad_events_are_rejected_one_by_one(api: httpx.Client) -> None:
    now = just_now()
    batch = [
        event("good-1", timestamp=now),
        {**event("neg", timestamp=now), "usage": {"input_tokens": -1}},
        {**event("unit", timestamp=now), "usage": {"tokens": 5}},
        {**event("frac", timestamp=now), "usage": {"input_tokens": 2.5}},
        event("who", customer="nobody", timestamp=now),
        {**event("future"), "timestamp": "2999-01-01T00:00:00Z"},
        {**event("extra", timestamp=now), "colour": "red"},
        "not an object",
        event("good-2", timestamp=now),
        event("good-1", timestamp=now),
        event("good-2", timestamp=now, input_tokens=1),
    ]
    response = api.post("/v1/events", json={"events": batch})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] + ["rejected"] * 7 + ["accepted", "duplicate", "rejected"]
    assert [r["error"]["code"] for r in results if r["status"] == "rejected"] == [
        "validation_error",
        "validation_error",
        "validation_error",
        "not_found",
        "validation_error",
        "validation_error",
        "validation_error",
        "conflict",
    ]
    assert all(r["error"]["detail"] for r in results if r["status"] == "rejected")


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/customers", {"id": "acme", "name": "Again", "currency": "USD", "plan": "pro"}, 409, "conflict"),
        (
            "/v1/customers",
            {"id": "x", "name": "X", "currency": "USD", "plan": "pro", "colour": "red"},
            422,
            "validation_error",
        ),
        ("/v1/customers", {"id": "x", "name": "X", "currency": "EUR", "plan": "pro"}, 422, "validation_error"),
        ("/v1/customers", {"id": "x", "name": "X", "currency": "USD", "plan": "nope"}, 422, "validation_error"),
        ("/v1/customers", {"id": "bad id", "name": "X", "currency": "USD", "plan": "pro"}, 422, "validation_error"),
        ("/v1/price-books", {"id": "default", "currency": "USD"}, 409, "conflict"),
        (
            "/v1/price-books/default/versions",
            {
                "effective_from": "2026-01-01T00:00:00Z",
                "rates": [{"provider": "a", "model": "b", "unit": "bananas", "price": "1"}],
            },
            422,
            "validation_error",
        ),
        (
            "/v1/price-books/default/versions",
            {
                "effective_from": "2026-01-01T00:00:00Z",
                "rates": [{"provider": "a", "model": "b", "unit": "requests", "price": 1.5}],
            },
            422,
            "validation_error",
        ),
        (
            "/v1/price-books/default/versions",
            {
                "effective_from": "2026-01-01T00:00:00",
                "rates": [{"provider": "a", "model": "b", "unit": "requests", "price": "1"}],
            },
            422,
            "validation_error",
        ),
        (
            "/v1/price-books/nope/versions",
            {
                "effective_from": "2026-01-01T00:00:00Z",
                "rates": [{"provider": "a", "model": "b", "unit": "requests", "price": "1"}],
            },
            404,
            "not_found",
        ),
        (
            "/v1/plans",
            {"id": "tiered", "price_book": "default", "tiers": {"mode": "graduated", "tiers": []}},
            422,
            "validation_error",
        ),
        (
            "/v1/plans",
            {
                "id": "t2",
                "price_book": "default",
                "tiers": {"mode": "graduated", "tiers": [{"up_to": "10", "markup_percent": "5"}]},
            },
            422,
            "validation_error",
        ),
        (
            "/v1/plans",
            {
                "id": "t3",
                "price_book": "default",
                "tiers": {
                    "mode": "volume",
                    "tiers": [
                        {"up_to": "10", "markup_percent": "5"},
                        {"up_to": "10", "markup_percent": "4"},
                        {"up_to": None, "markup_percent": "3"},
                    ],
                },
            },
            422,
            "validation_error",
        ),
        (
            "/v1/plans",
            {
                "id": "t4",
                "price_book": "default",
                "tiers": {"mode": "stepped", "tiers": [{"up_to": None, "markup_percent": "5"}]},
            },
            422,
            "validation_error",
        ),
        ("/v1/plans", {"id": "p2", "price_book": "nope"}, 404, "not_found"),
        ("/v1/customers/acme/top-ups", {"id": "t1", "amount": "-5", "source": "grant"}, 422, "validation_error"),
        ("/v1/customers/acme/top-ups", {"id": "t1", "amount": 5, "source": "grant"}, 422, "validation_error"),
        ("/v1/customers/acme/top-ups", {"id": "t1", "amount": "0", "source": "grant"}, 422, "validation_error"),
        (
            "/v1/customers/acme/top-ups",
            {"id": "t1", "amount": "1.0000000000001", "source": "grant"},
            422,
            "validation_error",
        ),
        ("/v1/customers/acme/top-ups", {"id": "welcome", "amount": "99", "source": "grant"}, 409, "conflict"),
        ("/v1/customers/nobody/top-ups", {"id": "t1", "amount": "5", "source": "grant"}, 404, "not_found"),
        ("/v1/customers/acme/top-ups", {"id": "c1", "amount": "5", "source": "stripe"}, 422, "validation_error"),
        ("/v1/billing-runs", {"period_end": "2026-11-01T00:00:00"}, 422, "validation_error"),
        ("/v1/billing-runs", {"period_end": "2999-11-01T00:00:00Z"}, 422, "validation_error"),
        ("/v1/billing-runs", {"period_end": "2026-11-01T00:00:00Z", "customers": ["nobody"]}, 404, "not_found"),
        (
            "/v1/billing-runs",
            {"period_end": "2026-11-01T00:00:00Z", "period_start": "2026-12-01T00:00:00Z"},
            422,
            "validation_error",
        ),
        ("/v1/invoices/nope/payments", {"amount": "1", "reference": "x"}, 404, "not_found"),
        ("/v1/invoices/nope/payments", {"amount": 1, "reference": "x"}, 422, "validation_error"),
        ("/v1/webhooks/stripe", {"type": "payment_intent.succeeded"}, 400, "validation_error"),
        ("/v1/authorizations", {"id": "z1", "customer": "acme"}, 422, "validation_error"),
        ("/v1/authorizations", {"id": "z1", "customer": "acme", "amount": 1}, 422, "validation_error"),
        ("/v1/authorizations", {"id": "z1", "customer": "acme", "amount": "-1"}, 422, "validation_error"),
        ("/v1/authorizations", {"id": "z1", "customer": "nobody", "amount": "1"}, 404, "not_found"),
        (
            "/v1/authorizations",
            {"id": "z1", "customer": "acme", "amount": "1", "expires_in_seconds": 0},
            422,
            "validation_error",
        ),
        ("/v1/authorizations/nope/void", {}, 404, "not_found"),
        ("/v1/events", {"events": [], "extra": 1}, 422, "validation_error"),
        ("/v1/events", {"evnts": []}, 422, "validation_error"),
    ],
)
def test_bad_commands_are_clear_4xx_and_change_nothing(
    api: httpx.Client, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = ledger_state(api)
    assert_problem(api.post(path, json=body), status, code)
    assert ledger_state(api) == before


def test_unknown_things_are_404(api: httpx.Client) -> None:
    for path in (
        "/v1/customers/nobody",
        "/v1/price-books/nope",
        "/v1/plans/nope",
        "/v1/events/acme/nope",
        "/v1/customers/nobody/balance",
        "/v1/nowhere",
        "/v1/events/a%20b/c",
        "/v1/invoices/nope",
        "/v1/invoices/nope/pdf",
        "/v1/customers/nobody/invoices",
    ):
        assert_problem(api.get(path), 404, "not_found")


def test_authorizations_over_http(api: httpx.Client) -> None:
    approved = api.post("/v1/authorizations", json={"id": "ok1", "customer": "acme", "amount": "1.00"})
    assert approved.status_code == 201 and approved.json()["status"] == "approved"
    assert api.get("/v1/customers/acme/balance").json()["held"] == "1"
    too_much = api.post("/v1/authorizations", json={"id": "no1", "customer": "acme", "amount": "1000000"})
    assert_problem(too_much, 402, "insufficient_funds")
    assert too_much.json()["id"] == "no1" and too_much.json()["status"] == 402
    voided = api.post("/v1/authorizations/ok1/void")
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert api.get("/v1/customers/acme/balance").json()["held"] == "0"
    limits = {"period": "month", "hard_limit": "0.50", "alert_thresholds_percent": [50, 100]}
    assert api.put("/v1/customers/acme/limits", json=limits).json()["limits"]["hard_limit"] == "0.50"
    assert_problem(
        api.post("/v1/authorizations", json={"id": "no2", "customer": "acme", "amount": "0.51"}),
        402,
        "spending_limit_exceeded",
    )
    assert_problem(api.put("/v1/customers/acme/limits", json={"period": "year"}), 422, "validation_error")
    assert_problem(
        api.put("/v1/customers/acme/limits", json={"alert_thresholds_percent": [0]}), 422, "validation_error"
    )
    assert api.delete("/v1/customers/acme/limits").json()["limits"] is None


def test_auto_top_up_input(api: httpx.Client) -> None:
    before = ledger_state(api)
    assert_problem(api.put("/v1/customers/acme/auto-top-up", json={"threshold": "5"}), 422, "validation_error")
    assert_problem(
        api.put("/v1/customers/acme/auto-top-up", json={"threshold": "5", "amount": "-1"}), 422, "validation_error"
    )
    assert_problem(
        api.put("/v1/customers/acme/auto-top-up", json={"threshold": "5", "amount": "20"}), 422, "validation_error"
    )
    assert_problem(
        api.put("/v1/customers/nobody/auto-top-up", json={"threshold": None, "amount": None}), 404, "not_found"
    )
    off = api.put("/v1/customers/acme/auto-top-up", json={"threshold": None, "amount": None})
    assert off.status_code == 200 and off.json()["auto_top_up"] is None
    assert ledger_state(api) == before


def test_a_retried_grant_returns_the_first_answer(api: httpx.Client) -> None:
    body = {"id": "promo", "amount": "5", "source": "grant"}
    first = api.post("/v1/customers/acme/top-ups", json=body)
    again = api.post("/v1/customers/acme/top-ups", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()


def raw_batch(*events: str) -> str:
    return '{"events": [' + ", ".join(events) + "]}"


def raw_event(event_id: str, **fields: str) -> str:
    """An event as JSON text, each field given as JSON text (escapes kept as sent)."""
    body = {key: json.dumps(value) for key, value in event(event_id, timestamp=just_now()).items()}
    return "{" + ", ".join(f'"{key}": {value}' for key, value in {**body, **fields}.items()) + "}"


def post_raw(api: httpx.Client, path: str, text: str) -> httpx.Response:
    return api.post(path, content=text.encode(), headers={"content-type": "application/json"})


def test_a_poisonous_event_is_rejected_alone_and_spoils_nothing(api: httpx.Client) -> None:
    """Each of these made its whole batch a 500, or was stored and then stopped
    the read model or its own reads for good."""
    poisons = [
        raw_event("p-surrogate-value", metadata='{"note": "\\ud800"}'),
        raw_event("p-surrogate-key", metadata='{"\\ud800": 1}'),
        raw_event("p-surrogate-model", model='"gpt\\udfff"'),
        raw_event("p-deep-950", metadata='{"k": ' + "[" * 950 + "]" * 950 + "}"),
        raw_event("p-deep-300", metadata='{"k": ' + "[" * 300 + "]" * 300 + "}"),
        raw_event("p-reserved", metadata='{"x": {"_type_": "nope", "_data_": 1}}'),
        raw_event("p-infinite", metadata='{"x": 1e400}'),
        raw_event("p-many-keys", metadata=json.dumps({f"k{index}": index for index in range(300)})),
    ]
    text = raw_batch(raw_event("p-good-1"), *poisons, raw_event("p-good-2"))
    response = post_raw(api, "/v1/events", text)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["accepted"] + ["rejected"] * len(poisons) + ["accepted"]
    for result in results[1:-1]:
        assert result["error"]["code"] == "validation_error" and result["error"]["detail"], result
        assert_problem(api.get(f"/v1/events/acme/{result['id']}"), 404, "not_found")
    assert "Unicode" in results[1]["error"]["detail"] and "16 levels" in results[4]["error"]["detail"]
    assert api.get("/v1/events/acme/p-good-2").status_code == 200
    ledger_state(api)  # the read model follows past the batch: nothing in it stops the follower


def test_a_changed_copy_then_the_exact_copy_of_a_stored_event(api: httpx.Client) -> None:
    stored = event("copies", timestamp=just_now())
    assert api.post("/v1/events", json={"events": [stored]}).json()["results"][0]["status"] == "accepted"
    changed = {**stored, "usage": {"input_tokens": 1}}
    results = api.post("/v1/events", json={"events": [changed, stored]}).json()["results"]
    assert [result["status"] for result in results] == ["rejected", "duplicate"]
    assert results[0]["error"]["code"] == "conflict"
    assert api.get("/v1/events/acme/copies").json()["usage"] == stored["usage"]


def test_odd_numbers_and_deep_bodies_are_clear_4xx(api: httpx.Client) -> None:
    for path in (
        "/v1/ledger/entries?cursor=%C2%B3",
        "/v1/ledger/entries?cursor=%D9%A1",
        "/v1/ledger/entries?limit=%C2%B3",
    ):
        assert_problem(api.get(path), 422, "validation_error")
    deep = "[" * 100_000 + "]" * 100_000
    for path in ("/v1/events", "/v1/customers", "/graphql"):
        assert_problem(post_raw(api, path, deep), 400, "validation_error")
    alone = post_raw(api, "/v1/events", raw_batch("[" * 100_000 + "]" * 100_000, raw_event("deep-neighbour")))
    assert [result["status"] for result in alone.json()["results"]] == ["rejected", "accepted"], alone.text
    assert "nested too deeply" in alone.json()["results"][0]["error"]["detail"]
    assert_problem(
        post_raw(api, "/v1/events", raw_batch(raw_event("nan", metadata='{"x": NaN}'))), 400, "validation_error"
    )
    entries = api.post("/graphql", json={"query": '{ ledger { entries(after: "³") { edges { cursor } } } }'}).json()
    assert "errors" not in entries and entries["data"]["ledger"]["entries"]["edges"], entries


def test_openapi_is_valid_and_every_reference_resolves(api: httpx.Client) -> None:
    document = httpx.get(f"{api.base_url}/openapi.json").json()
    references: list[str] = []
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            references += [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            pending += list(node.values())
        elif isinstance(node, list):
            pending += node
    assert references
    for reference in set(references):
        assert reference.startswith("#/components/schemas/"), reference
        assert reference.rsplit("/", 1)[1] in document["components"]["schemas"], reference
    batch = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch == {"$ref": "#/components/schemas/UsageBatchDoc"}
    metadata = document["components"]["schemas"]["UsageEventDoc"]["properties"]["metadata"]
    assert "16 levels" in metadata["description"] and "256 keys" in metadata["description"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/plans/pro/versions", {"effective_from": 0}),
        ("POST", "/v1/customers/acme/top-ups", {"id": "t-epoch", "amount": "1", "source": "grant", "expires_at": 0}),
        ("POST", "/v1/billing-runs", {"period_end": 1_777_593_600}),  # 2026-05-01T00:00:00Z
        (
            "POST",
            "/v1/customers",
            {"id": "c-bool", "name": "B", "currency": "USD", "plan": "pro", "net_terms_days": False},
        ),
        (
            "POST",
            "/v1/price-books/default/versions",
            {"effective_from": "2026-01-01T00:00:00Z", "rates": [{**rates_json()[0], "per": True}]},
        ),
        ("POST", "/v1/authorizations", {"id": "a-bool", "customer": "acme", "amount": "1", "expires_in_seconds": True}),
        ("PUT", "/v1/customers/acme/limits", {"alert_thresholds_percent": [True]}),
        ("GET", "/v1/customers/acme/balance?as_of=0.5", None),
        ("GET", "/v1/ledger/trial-balance?as_of=1800000000", None),
        ("GET", "/v1/ledger/entries?from=0", None),
    ],
)
def test_numbers_are_not_times_and_booleans_are_not_counts(
    api: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """pydantic reads a number (or a numeric query string) as seconds since
    1970 and true as 1: each of these was answered 2xx."""
    before = ledger_state(api)
    assert_problem(api.request(method, path, json=body), 422, "validation_error")
    assert ledger_state(api) == before


def test_a_405_names_every_method_of_its_path(api: httpx.Client) -> None:
    for path, methods in (
        ("/v1/customers/acme", {"GET", "PATCH"}),
        ("/v1/customers/acme/limits", {"PUT", "DELETE"}),
        ("/graphql", {"GET", "POST"}),
    ):
        refused = api.request("OPTIONS", path)
        assert_problem(refused, 405, "validation_error")
        assert methods <= {method.strip() for method in refused.headers["allow"].split(",")}, refused.headers


def test_openapi_declares_what_the_routes_answer(api: httpx.Client) -> None:
    paths = httpx.get(f"{api.base_url}/openapi.json").json()["paths"]
    problem = paths["/v1/customers/{customer_id}"]["get"]["responses"]["404"]["content"]
    assert list(problem) == ["application/problem+json"]
    assert "200" in paths["/v1/customers/{customer_id}/top-ups"]["post"]["responses"]  # a retried top-up
    assert "200" in paths["/v1/billing-runs"]["post"]["responses"]  # the same period again
    assert "429" in paths["/v1/customers/{customer_id}/balance"]["get"]["responses"]  # consistent=true, behind
    assert "404" in paths["/v1/customers/{customer_id}/api-keys/{key_id}"]["delete"]["responses"]
    assert "/graphql" not in paths  # GraphQL describes itself


@pytest.mark.parametrize(
    ("key", "query", "code"),
    [
        ("admin", "{ customer(id: ", "validation_error"),
        ("admin", '{ customer(id: "acme") { nope } }', "validation_error"),
        (
            "admin",
            '{ customer(id: "acme") { usage(from: "2027-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", '
            "granularity: DAY) { start } } }",
            "validation_error",
        ),
        ("admin", '{ ledger(asOf: "2026-01-01T00:00:00") { asOf } }', "validation_error"),
        ("none", '{ customer(id: "acme") { id } }', "unauthorized"),
        ("customer", "{ ledger { asOf } }", "forbidden"),
        ("customer", '{ customer(id: "acme") { currentPeriod { byModel { cost { amount } } } } }', "forbidden"),
    ],
)
def test_every_graphql_error_carries_its_code(api: httpx.Client, key: str, query: str, code: str) -> None:
    """The contract's codes, in `extensions.code`: a client can tell a query to
    change from a failure of tally's (resolver errors carried no code)."""
    base = str(api.base_url)
    headers = {"admin": dict(api.headers), "none": {}}.get(key)
    if headers is None:
        headers = {"Authorization": f"Bearer {api.post('/v1/customers/acme/api-keys').json()['key']}"}
    answer = httpx.post(f"{base}/graphql", json={"query": query}, headers=headers)
    assert answer.status_code in (200, 400), answer.text
    errors = answer.json()["errors"]
    assert errors and all(error["extensions"]["code"] == code for error in errors), errors
