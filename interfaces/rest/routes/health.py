"""Health and Prometheus metrics (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from application.errors import TallyError
from interfaces.bootstrap import Services
from interfaces.health_check import HealthReport, check_health
from interfaces.rest.auth import ServicesDep
from interfaces.rest.dependencies import MeteringDep
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
def metrics(services: ServicesDep, metering: MeteringDep) -> str:
    report = _report(services)
    head, position = report.log_position, report.projection_position
    counters = metering.counters
    lines = [
        "# HELP tally_log_position Highest notification id in the event store.",
        "# TYPE tally_log_position gauge",
        f"tally_log_position {head}",
        "# HELP tally_projection_position Last notification id applied to the read model.",
        "# TYPE tally_projection_position gauge",
        f"tally_projection_position {position}",
        "# HELP tally_projection_lag_events Notifications not yet applied to the read model.",
        "# TYPE tally_projection_lag_events gauge",
        f"tally_projection_lag_events {max(head - position, 0)}",
        "# HELP tally_usage_events_total Usage events answered by this process, by status.",
        "# TYPE tally_usage_events_total counter",
    ]
    lines += [f'tally_usage_events_total{{status="{status}"}} {count}' for status, count in sorted(counters.items())]
    lines += [
        "# HELP tally_stripe_webhooks_total Stripe webhooks received by this process, by outcome.",
        "# TYPE tally_stripe_webhooks_total counter",
    ]
    lines += [
        f'tally_stripe_webhooks_total{{outcome="{outcome}"}} {count}'
        for outcome, count in sorted(services.webhook_counters.items())
    ]
    return "\n".join(lines + part_metric_lines(report)) + "\n"


PART_METRICS = (
    ("tally_part_healthy", "gauge", "1 while a part advances, 0 while /healthz names it."),
    ("tally_part_failures_total", "counter", "Failed steps of a part since its process started."),
    ("tally_part_consecutive_failures", "gauge", "Failed steps of a part since its last successful one."),
    ("tally_part_last_success_timestamp_seconds", "gauge", "When a step of a part last succeeded (Unix time)."),
    ("tally_part_last_progress_timestamp_seconds", "gauge", "When a step of a part last did some work (Unix time)."),
)


def part_metric_lines(report: HealthReport) -> list[str]:
    """Per part: a metric's samples are left out while it has no value yet."""
    lines: list[str] = []
    for name, kind, help_text in PART_METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for part in report.parts:
            state = part.state
            value = {
                "tally_part_healthy": int(part.verdict.healthy),
                "tally_part_failures_total": state.failures_total,
                "tally_part_consecutive_failures": state.consecutive_failures,
                "tally_part_last_success_timestamp_seconds": state.last_success_at,
                "tally_part_last_progress_timestamp_seconds": state.last_progress_at,
            }[name]
            if value is not None:
                lines.append(f'{name}{{part="{part.name}"}} {value}')
    return lines
