"""The metering steps: a batch of usage events, some new, some retried as they
were, some retried with another body, some repeated inside the batch, some
invalid, some capturing a hold; each answer checked against the model as it
comes (accepted, duplicate, or rejected with its code, and the unpriced
warning), without waiting for the read model. Now and then a burst of a few
hundred, which leaves the read model behind for a moment: the run's servers
refuse batches (429) while it is more than 100 events behind
(tests/model/server_session.py), and a refused batch is sent again until
taken, as a client does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from application.ingestion_guard import CHECK_EVERY_SECONDS
from tests.model.rating_model import Usage
from tests.model.run_state import Run

MAX_BATCH = 12
BURST = (150, 400)
# Shorter than the server's hint (1 s): the run's limit is low and its view quick.
HELD_BACK_WAIT_SECONDS = 0.2
MAX_HELD_BACK = 150


def canonical(event: dict[str, Any]) -> str:
    """The body as the contract compares it: the same instant, and a unit at
    zero says the same as a unit left out."""
    moment = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).astimezone(UTC)
    body = {
        "customer": event["customer"],
        "timestamp": moment.isoformat(),
        "provider": event["provider"],
        "model": event["model"],
        "feature": event.get("feature"),
        "usage": {unit: count for unit, count in event["usage"].items() if count},
        "authorization_id": event.get("authorization_id"),
        "metadata": event.get("metadata") or {},
    }
    return json.dumps(body, sort_keys=True)


def as_usage(event: dict[str, Any]) -> Usage:
    moment = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
    return Usage(
        customer=event["customer"],
        event_id=event["id"],
        timestamp=moment,
        provider=event["provider"],
        model=event["model"],
        quantities=dict(event["usage"]),
        authorization_id=event.get("authorization_id"),
    )


def send_usage(run: Run) -> None:
    send_batch(run, run.rng.randint(1, MAX_BATCH))


def send_burst(run: Run) -> None:
    send_batch(run, run.rng.randint(*BURST))
    run.counts["usage burst"] += 1


def post_usage(run: Run, batch: list[dict[str, Any]]) -> tuple[httpx.Response, datetime]:
    """POST /v1/events, sent again while the server holds it back (429
    rate_limited with Retry-After), and the moment the answered attempt was
    sent (what the model judges an event's timestamp against). A refused
    batch records nothing: the model takes a batch only from the answer that
    accepted it, and its new events then come back accepted, not duplicate."""
    for _ in range(MAX_HELD_BACK):
        sent = datetime.now(UTC)
        answer = run.session.post("/v1/events", {"events": batch})
        if answer.status_code != 429:
            return answer, sent
        assert answer.json()["code"] == "rate_limited" and answer.headers["retry-after"] == "1", answer.text
        run.counts["usage batch held back (429)"] += 1
        time.sleep(HELD_BACK_WAIT_SECONDS)
    raise AssertionError(f"a usage batch held back {MAX_HELD_BACK} times: the read model does not catch up")


def ready_for_usage(run: Run) -> None:
    """Wait until every running server takes usage again: the read model has
    caught up with the log (a consistent balance read answers), and each
    server's measure of the lag, at most CHECK_EVERY_SECONDS old, is newer
    than that. For steps that race a batch against another request, whose
    batch must be taken at its first sending."""
    customer = run.customers()[0]
    for _ in range(MAX_HELD_BACK):
        if run.session.get(f"/v1/customers/{customer}/balance", {"consistent": "true"}).status_code == 200:
            time.sleep(CHECK_EVERY_SECONDS * 1.5)
            return
    raise AssertionError("the read model does not catch up with the log")


def send_batch(run: Run, picks: int) -> None:
    batch: list[dict[str, Any]] = []
    for _ in range(picks):  # each pick one event or two
        batch += next_events(run, batch)
    answer, now = post_usage(run, batch)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert len(results) == len(batch), results
    for event, result in zip(batch, results, strict=True):
        expected = expected_result(run, event, now)
        shown = {"status": result["status"], "code": (result.get("error") or {}).get("code"),
                 "warnings": result.get("warnings", [])}  # fmt: skip
        assert shown == expected, f"event {event['id']} {event}: model {expected}, server {result}"
        run.counts[f"event {shown['code'] or shown['status']}"] += 1


def expected_result(run: Run, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The answer the contract gives this event, recorded in the model in batch order."""
    code = run.model.rejection(event, now)
    if code is not None:
        return {"status": "rejected", "code": code, "warnings": []}
    usage = as_usage(event)
    status = run.model.record(usage, canonical(event))
    if status == "conflict":
        return {"status": "rejected", "code": "conflict", "warnings": []}
    if status == "duplicate":
        return {"status": "duplicate", "code": None, "warnings": []}
    run.accepted_events.append(event)
    return {"status": "accepted", "code": None, "warnings": [] if run.model.rating(usage) else ["unpriced"]}


def next_events(run: Run, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pick, stored = run.rng.random(), run.accepted_events
    if pick < 0.10 and stored:
        return [retried(run, run.rng.choice(stored))]
    if pick < 0.17 and stored:
        return [run.workload.changed(run.rng.choice(stored))]
    if pick < 0.20 and stored:  # a changed copy, then the exact copy: conflict, then duplicate
        original = run.rng.choice(stored)
        return [run.workload.changed(original), original]
    if pick < 0.25 and batch:
        return [dict(run.rng.choice(batch))]
    fresh = run.workload.usage_event(run.rng.choice(run.customers()), run.boundaries, None)
    if pick < 0.28:
        return [run.workload.invalid(fresh)]
    fresh["authorization_id"] = hold_to_capture(run, fresh["customer"])
    if fresh["authorization_id"] is None:
        del fresh["authorization_id"]
    return [fresh]


def retried(run: Run, event: dict[str, Any]) -> dict[str, Any]:
    """A retry of an event: the same body, sometimes with an unused unit at zero."""
    if run.rng.random() < 0.2:
        return {**event, "usage": {**event["usage"], "images": event["usage"].get("images", 0)}}
    return dict(event)


def hold_to_capture(run: Run, customer: str) -> str | None:
    """A hold of the customer for its usage to name (and capture); now and
    then another customer's, which the usage names without capturing it."""
    pick = run.rng.random()
    if pick > 0.3:
        return None
    theirs = pick < 0.03
    holds = sorted(h.authorization_id for h in run.model.holds.values() if (h.customer == customer) != theirs)
    return run.rng.choice(holds) if holds else None
