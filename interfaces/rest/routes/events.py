"""Usage events: metering. Each event in a batch is checked on its own, so
the body is read as JSON and handed to the application event by event."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from application.errors import NotFound, ValidationFailed
from interfaces import presenters
from interfaces.rest.auth import AdminDep, PrincipalDep, ServicesDep
from interfaces.rest.responses import PROBLEMS, UsageEventPublic, UsageResultsPublic
from interfaces.rest.schemas import UsageBatchDoc

router = APIRouter(tags=["usage events"])
BATCH_SCHEMA = {"content": {"application/json": {"schema": UsageBatchDoc.model_json_schema()}}, "required": True}


def _batch(raw: bytes, limit: int) -> list[Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise ValidationFailed('the body must be {"events": [...]}', [{"loc": "events", "msg": "missing"}])
    extra = sorted(set(body) - {"events"})
    if extra:
        raise ValidationFailed(f"unknown field {extra[0]!r}", [{"loc": extra[0], "msg": "extra field"}])
    events: list[Any] = body["events"]
    if len(events) > limit:
        raise HTTPException(413, f"a batch holds at most {limit} events, this one has {len(events)}")
    return events


@router.post(
    "/v1/events",
    openapi_extra={"requestBody": BATCH_SCHEMA},
    response_model=UsageResultsPublic,
    response_model_exclude_none=True,
    responses=PROBLEMS,
)
async def record_events(request: Request, services: ServicesDep, _: AdminDep) -> dict[str, Any]:
    events = _batch(await request.body(), services.settings.max_batch_events)
    results = await run_in_threadpool(services.app.record_usage, events)
    return {"results": [result.as_dict() for result in results]}


@router.get("/v1/events/{customer_id}/{event_id}", response_model=UsageEventPublic, responses=PROBLEMS)
def get_event(customer_id: str, event_id: str, services: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_customer(customer_id)
    usage = services.app.find_usage(customer_id, event_id)
    if usage is None:
        raise NotFound(f"event {event_id!r} of customer {customer_id!r} does not exist")
    return presenters.usage(usage, services.app.price_source)
