"""Health and Prometheus metrics (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from application.errors import TallyError
from interfaces.bootstrap import Services
from interfaces.health_check import HealthReport, check_health
from interfaces.observability.metrics import CONTENT_TYPE, exposition
from interfaces.rest.auth import ServicesDep
from interfaces.rest.problems import problem
from interfaces.rest.responses import Problem

router = APIRouter(tags=["operations"])


class PartErrorPublic(BaseModel):
    type: str
    message: str


class PartPublic(BaseModel):
    name: str  # follower, version-watcher, tier-settler, dunning, wallet-policies, alerts, webhooks
    status: str  # ok, retrying (failed fewer times than makes it red), failing, stalled, stopped
    reason: str | None
    consecutive_failures: int
    failures_total: int
    last_error: PartErrorPublic | None
    last_failure_at: str | None
    last_success_at: str | None
    last_progress_at: str | None


class HealthPublic(BaseModel):
    status: str
    store: str
    log_position: int
    projection_position: int
    parts: list[PartPublic]


class UnavailableProblem(Problem):
    store: str | None = None
    log_position: int | None = None
    projection_position: int | None = None
    parts: list[PartPublic] | None = None


class TallyUnavailable(TallyError):
    code = "unavailable"
    status = 503
    title = "Service unavailable"


UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": UnavailableProblem,
        "description": "The store does not answer, or a part has stopped or keeps failing",
    }
}


@router.get("/healthz", response_model=HealthPublic, responses=UNAVAILABLE)
def healthz(services: ServicesDep) -> Any:
    report = _report(services)
    if report.red:
        errors = [{"loc": f"parts.{part.name}", "msg": part.verdict.reason} for part in report.red]
        body = report.public()
        return problem(503, TallyUnavailable.code, TallyUnavailable.title, report.detail(), errors, extra=body)
    return {"status": "ok", **report.public()}


def _report(services: Services) -> HealthReport:
    try:
        position = services.queries.position()
        head = services.app.store.head()
    except Exception as error:  # the store does not answer: say so, as a 503
        raise TallyUnavailable(str(error)) from None
    return check_health(services, head, position)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(services: ServicesDep, request: Request) -> Response:
    """Prometheus text (interfaces/observability/metrics.py)."""
    gateway = getattr(request.app.state, "gateway", None)  # made on the first gateway call
    calls = dict(gateway.counters) if gateway else {}
    return Response(exposition(_report(services), gateway_calls=calls), media_type=CONTENT_TYPE)
