"""No input makes a 500: random JSON at every command and random paths at
every query, through the ASGI application in process (fast enough to try
hundreds of bodies; the real-server tests cover the same routes over TCP)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.rest.app import create_app
from tests.support import ADMIN_KEY, event, seed

COMMANDS = [
    "/v1/price-books",
    "/v1/price-books/default/versions",
    "/v1/price-books/default/import",
    "/v1/plans",
    "/v1/plans/pro/versions",
    "/v1/customers",
    "/v1/customers/acme/top-ups",
    "/v1/customers/acme/api-keys",
    "/v1/events",
    "/v1/simulations",
    "/v1/billing-runs",
    "/v1/authorizations",
    "/v1/authorizations/auth_1/void",
    "/v1/invoices/acme.20261101.20261201/payments",
    "/v1/webhooks/stripe",
    "/graphql",
]
QUERIES = [
    "/v1/customers/{}",
    "/v1/customers/{}/balance",
    "/v1/events/acme/{}",
    "/v1/price-books/{}",
    "/v1/plans/{}",
    "/v1/invoices/{}",
    "/v1/invoices/{}/pdf",
    "/v1/customers/{}/invoices",
    "/v1/ledger/entries?cursor={}",
    "/v1/ledger/trial-balance?as_of={}",
    "/v1/customers/acme/balance?as_of={}",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "id",
        "customer",
        "currency",
        "events",
        "rates",
        "amount",
        "source",
        "usage",
        "timestamp",
        "effective_from",
        "plan",
        "price_book",
        "markup_percent",
        "model_overrides",
        "name",
        "billing",
        "providers",
        "query",
        "tiers",
    ]
)
bodies = st.dictionaries(field_names, json_values, max_size=6) | json_values


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    services = bootstrap(Settings(database_url=f"sqlite:///{folder}/t.db", admin_key=ADMIN_KEY), start_follower=False)
    seed(services.app, ("acme",))
    with TestClient(create_app(services), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        yield client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(COMMANDS), body=bodies)
def test_no_command_body_makes_a_500(api: TestClient, path: str, body: Any) -> None:
    response = api.post(path, json=body)
    assert response.status_code < 500, (path, body, response.text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(QUERIES), part=st.text(min_size=1, max_size=40))
def test_no_path_or_parameter_makes_a_500(api: TestClient, path: str, part: str) -> None:
    from urllib.parse import quote

    response = api.get(path.format(quote(part, safe="")))
    assert response.status_code < 500, (path, part, response.text)


usage_fields = st.fixed_dictionaries(
    {"id": st.text(max_size=12) | st.integers(), "customer": st.sampled_from(["acme", "nobody", ""]) | json_values},
    optional={
        "timestamp": st.sampled_from(["2026-11-26T17:00:01Z", "2026-11-26", "", "9999-12-31T23:59:59+14:00"])
        | json_values,
        "provider": st.sampled_from(["openai", ""]) | json_values,
        "model": st.sampled_from(["gpt-4o", "gpt-9"]) | json_values,
        "usage": st.dictionaries(
            st.sampled_from(["input_tokens", "output_tokens", "images", "bogus"]),
            st.integers(-(10**20), 10**20) | json_values,
            max_size=3,
        )
        | json_values,
        "metadata": json_values,
        "feature": json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(usage_fields, max_size=8))
def test_no_usage_batch_makes_a_500(api: TestClient, batch: list[dict[str, Any]]) -> None:
    response = api.post("/v1/events", json={"events": batch})
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == len(batch)


# Text with a lone surrogate half of the time (hypothesis seldom draws one on its own).
any_text = st.sampled_from(["\ud800", "a\udfffb", "\ud83d", "x\udc00"]) | st.text(max_size=8)
deep_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(any_text, inner, max_size=2),
    max_leaves=40,
)


def nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    metadata=st.dictionaries(any_text, deep_values, max_size=4),
    depth=st.integers(0, 40),
    text=any_text,
    index=st.integers(0, 10_000),
)
def test_any_metadata_or_text_is_answered_event_by_event(
    api: TestClient, metadata: dict[str, Any], depth: int, text: str, index: int
) -> None:
    """Text with lone surrogates, deep nesting, odd keys: each event
    is answered on its own, the good one beside it is recorded, and whatever
    was recorded reads back."""
    suspect = {**event(f"m{index}", timestamp="2026-11-26T17:00:01Z"), "metadata": {"v": nested(metadata, depth)}}
    suspect["metadata"][text] = text
    good = event(f"g{index}", timestamp="2026-11-26T17:00:01Z")
    body = json.dumps({"events": [suspect, good]})  # escapes lone surrogates as \\udxxx
    response = api.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert second["status"] in ("accepted", "duplicate"), second
    if first["status"] == "rejected":
        assert first["error"]["detail"], first
    else:
        assert api.get(f"/v1/events/acme/m{index}").status_code == 200
