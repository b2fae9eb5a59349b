"""Usage events: metering. Each event in a batch is checked on its own, so
the body is read as JSON and handed to the application event by event."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from application.errors import NotFound, ValidationFailed
from application.event_limits import MAX_ANSWERED_DEPTH, shown_name, too_deep_to_answer
from interfaces import presenters
from interfaces.observability.counting import count_usage
from interfaces.rest.auth import AdminDep, PrincipalDep, ServicesDep
from interfaces.rest.batch_body import BodyTooDeep, parse_body
from interfaces.rest.dependencies import CatalogDep, MeteringDep
from interfaces.rest.responses import PROBLEMS, Problem, UsageEventPublic, UsageResultsPublic
from interfaces.rest.schemas import UsageBatchDoc
from interfaces.worker_threads import run_blocking

router = APIRouter(tags=["usage events"])
COMPONENT_REF = "#/components/schemas/{model}"
# The route reads its body itself (one bad event must not fail the batch), so
# its request schema is documented by hand; the schemas it refers to join the
# document's components (create_app adds them), where every $ref resolves.
_BATCH = UsageBatchDoc.model_json_schema(ref_template=COMPONENT_REF)
REQUEST_COMPONENTS: dict[str, Any] = {**_BATCH.pop("$defs"), UsageBatchDoc.__name__: _BATCH}
BATCH_SCHEMA = {
    "content": {"application/json": {"schema": {"$ref": COMPONENT_REF.format(model=UsageBatchDoc.__name__)}}},
    "required": True,
}


def _batch(raw: bytes, limit: int) -> list[Any]:
    try:
        body = parse_body(raw)
    except ValueError:
        raise HTTPException(400, "the request body is not valid JSON") from None
    except BodyTooDeep:
        raise HTTPException(400, "the request body is nested too deeply to be a batch of events") from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise ValidationFailed('the body must be {"events": [...]}', [{"loc": "events", "msg": "missing"}])
    extra = sorted(set(body) - {"events"})
    if extra:
        shown = shown_name(extra[0])
        raise ValidationFailed(
            f'unknown field {shown}; the body is {{"events": [...]}}', [{"loc": shown, "msg": "extra field"}]
        )
    events: list[Any] = body["events"]
    if len(events) > limit:
        raise HTTPException(413, f"a batch holds at most {limit} events, this one has {len(events)}")
    return events


@router.post(
    "/v1/events",
    openapi_extra={"requestBody": BATCH_SCHEMA},
    response_model=UsageResultsPublic,
    response_model_exclude_none=True,
    responses={
        **PROBLEMS,
        429: {
            "model": Problem,
            "description": "The ledger's views are far behind the log: nothing was recorded; retry after Retry-After",
        },
    },
)
async def record_events(request: Request, services: ServicesDep, metering: MeteringDep, _: AdminDep) -> Any:
    # Parsed and recorded in one trip to a worker thread: off the event loop,
    # and on a fresh stack, so how deep an event may nest before it is
    # unreadable does not depend on how many middleware frames lie under the
    # route. The answer is built as UsageResultsPublic documents it (None
    # fields left out), so it is sent as it is, not validated a second time.
    raw, limit = await request.body(), services.settings.max_batch_events
    guard = services.ingestion_guard

    def record() -> list[Any]:
        events = _batch(raw, limit)
        if guard is not None:
            guard.check()  # backpressure: the read model far behind (application/ingestion_guard.py)
        return metering.record_usage(events)

    results = await run_blocking(record)  # IngestionBehind: 429 with Retry-After, by the problem handler
    count_usage(results)
    return JSONResponse({"results": [result.as_dict() for result in results]})


@router.get(
    "/v1/events/{customer_id}/{event_id}",
    response_model=UsageEventPublic,
    response_model_exclude_unset=True,  # a customer's view has no cost fields at all, not nulls
    responses=PROBLEMS,
)
def get_event(
    customer_id: str, event_id: str, catalog: CatalogDep, metering: MeteringDep, who: PrincipalDep
) -> dict[str, Any]:
    who.require_customer(customer_id)
    usage = metering.find_usage(customer_id, event_id)
    if usage is None:
        raise NotFound(f"event {event_id!r} of customer {customer_id!r} does not exist")
    return _answerable(presenters.usage(usage, catalog.price_source, operator=who.is_admin))


def _answerable(shown: dict[str, Any]) -> dict[str, Any]:
    """An event recorded before the metadata limits may hold metadata nested
    too deeply to answer as JSON: the event is answered, its metadata withheld."""
    if not too_deep_to_answer(shown["metadata"]):
        return shown
    reason = f"the metadata is nested more than {MAX_ANSWERED_DEPTH} levels deep (recorded before the limits)"
    return {**shown, "metadata": {}, "metadata_withheld": reason}
