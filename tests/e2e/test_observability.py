"""What an operator watches, through real servers: /metrics in Prometheus
text that prometheus_client's own parser reads, with every name it had
before and the new counts exact; one log line per request, JSON or text;
with PROMETHEUS_MULTIPROC_DIR, two server processes counted as one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import client, running_server, server_process
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, just_now

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
NAMES_KEPT = (
    "tally_log_position",
    "tally_projection_position",
    "tally_projection_lag_events",
    "tally_usage_events_total",
    "tally_stripe_webhooks_total",
    "tally_part_healthy",
    "tally_part_failures_total",
    "tally_part_consecutive_failures",
    "tally_part_last_success_timestamp_seconds",
)


def samples(base: str) -> Samples:
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def with_name(found: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for sample_name, labels in found if sample_name == name]


def record_and_authorize(api: httpx.Client) -> None:
    """Three accepted (one of them unpriced), one duplicate, one rejected; one
    authorization approved, one refused and asked again."""
    now = just_now()
    first = api.post("/v1/events", json={"events": [event("o1", timestamp=now), event("o2", timestamp=now)]})
    assert [result["status"] for result in first.json()["results"]] == ["accepted", "accepted"]
    unpriced = event("o3", model="gpt-unheard-of", timestamp=now)
    second = api.post(
        "/v1/events", json={"events": [event("o1", timestamp=now), event("o4", customer="nobody"), unpriced]}
    )
    results = second.json()["results"]
    assert [result["status"] for result in results] == ["duplicate", "rejected", "accepted"], results
    assert results[2]["warnings"] == ["unpriced"]
    assert api.post("/v1/authorizations", json={"id": "a1", "customer": "acme", "amount": "0.05"}).status_code == 201
    for _ in range(2):  # the retry repeats the first answer: one decision
        refused = api.post("/v1/authorizations", json={"id": "a2", "customer": "acme", "amount": "1000"})
        assert refused.status_code == 402 and refused.json()["code"] == "insufficient_funds"
    assert api.get("/v1/customers/acme/balance").status_code == 200


def test_metrics_keep_their_names_and_count_what_was_answered(server: str) -> None:
    with client(server) as api:
        setup_catalog(api)
        record_and_authorize(api)
    found = samples(server)
    present = {name for name, _ in found}
    assert set(NAMES_KEPT) <= present, set(NAMES_KEPT) - present
    assert value(found, "tally_usage_events_total", status="accepted") == 3
    assert value(found, "tally_usage_events_total", status="duplicate") == 1
    assert value(found, "tally_usage_events_total", status="rejected") == 1
    assert value(found, "tally_usage_unpriced_events_total") == 1
    assert value(found, "tally_authorization_decisions_total", code="approved") == 1
    assert value(found, "tally_authorization_decisions_total", code="insufficient_funds") == 1
    assert value(found, "tally_stripe_webhooks_total", outcome="applied") == 0
    assert value(found, "tally_part_healthy", part="follower") == 1
    latency = "tally_http_request_duration_seconds_count"
    assert value(found, latency, method="POST", route="/v1/events", status="200") == 2
    assert value(found, latency, method="POST", route="/v1/authorizations", status="402") == 2
    assert value(found, latency, method="GET", route="/v1/customers/{customer_id}/balance", status="200") == 1
    routes = {labels["route"] for labels in with_name(found, latency)}
    assert not [route for route in routes if "acme" in route], routes  # templates, never raw paths


@pytest.fixture
def json_log(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "server.log"
    env = {"TALLY_LOG_FORMAT": "json"}
    with server_process(f"sqlite:///{tmp_path}/tally.db", env_extra=env, log=log) as (base, _process):
        yield base, log


def test_json_logs_give_one_parseable_line_per_request(json_log: tuple[str, Path]) -> None:
    base, log = json_log
    with client(base) as api:
        chosen = api.get("/v1/customers/acme", headers={"x-request-id": "gateway-7.1"})
        assert chosen.status_code == 404 and chosen.headers["x-request-id"] == "gateway-7.1"
        made = api.get("/v1/customers/globex/balance", headers={"x-request-id": "not a plain id"})
        made_id = made.headers["x-request-id"]
        assert re.fullmatch("[0-9a-f]{32}", made_id), made_id
        api.get("/metrics")  # written after the two above
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, the start-up line too
    requests = {record["request_id"]: record for record in records if record["logger"] == "tally.request"}
    assert requests["gateway-7.1"]["route"] == "/v1/customers/{customer_id}"
    assert requests["gateway-7.1"]["status"] == 404
    assert requests["gateway-7.1"]["path"] == "/v1/customers/acme"
    assert requests[made_id]["route"] == "/v1/customers/{customer_id}/balance"
    for record in requests.values():
        assert {"time", "level", "method", "route", "status", "duration_ms"} <= set(record)
        assert isinstance(record["duration_ms"], float | int) and record["duration_ms"] >= 0


def test_text_logs_say_the_same_in_a_line_for_people(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with server_process(f"sqlite:///{tmp_path}/tally.db", log=log) as (base, _process), client(base) as api:
        api.get("/v1/customers/acme", headers={"x-request-id": "text-1"})
        api.get("/metrics")
    pattern = r"INFO tally.request: GET /v1/customers/\{customer_id\} 404 \d+\.\dms request_id=text-1$"
    assert re.search(pattern, log.read_text(), re.MULTILINE), log.read_text()[-2000:]


@pytest.mark.postgres
def test_two_server_processes_are_counted_together(postgres_url: str, tmp_path: Path) -> None:
    """Two servers on one store and one PROMETHEUS_MULTIPROC_DIR: either one's
    /metrics counts the requests both answered."""
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with running_server(postgres_url, env_extra=env) as first, running_server(postgres_url, env_extra=env) as second:
        with client(first) as api:
            setup_catalog(api)
            api.post("/v1/events", json={"events": [event("m1", timestamp=just_now())]})
        with client(second) as api:
            api.post("/v1/events", json={"events": [event("m2", timestamp=just_now()), event("m3")]})
        for base in (first, second):
            found: dict[Any, float] = samples(base)
            assert value(found, "tally_usage_events_total", status="accepted") == 3
            assert (
                value(
                    found, "tally_http_request_duration_seconds_count", method="POST", route="/v1/events", status="200"
                )
                == 2
            )
            assert value(found, "tally_projection_lag_events") >= 0
    assert list(tmp_path.glob("*.db")), "prometheus_client kept no files in the folder"
