"""Backpressure over real HTTP: while the read model is more than
TALLY_INGEST_MAX_BEHIND events behind the log, POST /v1/events answers 429
rate_limited with Retry-After and records nothing of the batch; once a
projector has caught up, the same batch is taken. The gateway's own usage
is never refused this way (application/ingestion_guard.py)."""

from __future__ import annotations

import time

from tests.e2e.server import client, projected, running_server, wait_for
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event


def test_usage_waits_while_the_views_are_far_behind_and_loses_nothing(postgres_url: str) -> None:
    env = {"TALLY_INGEST_MAX_BEHIND": "100"}
    with running_server(postgres_url, follower=False, env_extra=env) as base, client(base) as api:
        setup_catalog(api)
        first = [event(f"a{i}") for i in range(150)]
        taken = api.post("/v1/events", json={"events": first})
        assert taken.status_code == 200 and {r["status"] for r in taken.json()["results"]} == {"accepted"}
        time.sleep(0.2)  # the guard measures the lag at most every 0.1 s
        second = [event(f"b{i}") for i in range(10)]
        refused = api.post("/v1/events", json={"events": second})
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["code"] == "rate_limited" and "behind" in refused.json()["detail"]
        assert api.get("/v1/events/acme/b0").status_code == 404, "nothing of a refused batch is recorded"
        with running_server(postgres_url) as projecting, client(projecting) as other:
            assert projected(other)  # a server with a projector catches the views up
        answer = wait_for(lambda: (r := api.post("/v1/events", json={"events": second})).status_code == 200 and r)
        assert answer, "the batch is taken once the views caught up"
        assert {r["status"] for r in answer.json()["results"]} == {"accepted"}
        assert api.get("/v1/events/acme/b0").status_code == 200
