"""The metering step: a batch of usage events, some new, some retried as they
were, some retried with another body, some repeated inside the batch, some
invalid, some capturing a hold; each answer checked against the model as it
comes (accepted, duplicate, or rejected with its code, and the unpriced
warning), without waiting for the read model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.model.rating_model import Usage
from tests.model.run_state import Run

MAX_BATCH = 12


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
    batch: list[dict[str, Any]] = []
    for _ in range(run.rng.randint(1, MAX_BATCH)):
        batch += next_events(run, batch)
    now = datetime.now(UTC)
    answer = run.session.post("/v1/events", {"events": batch})
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
    if run.rng.random() > 0.3:
        return None
    holds = sorted(h.authorization_id for h in run.model.holds.values() if h.customer == customer)
    return run.rng.choice(holds) if holds else None
