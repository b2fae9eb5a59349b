"""Health and Prometheus metrics (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from application.errors import TallyError
from interfaces.rest.auth import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, object]:
    try:
        position = services.queries.position()
        head = services.app.recorder.max_notification_id() or 0
    except Exception as error:  # the store does not answer: say so, as a 503
        raise TallyUnavailable(str(error)) from None
    if services.projector is not None and not services.projector.is_alive():
        raise TallyUnavailable("the projector process has stopped; restart the server")
    return {"status": "ok", "store": services.store.kind, "log_position": head, "projection_position": position}


class TallyUnavailable(TallyError):
    code = "unavailable"
    status = 503
    title = "Service unavailable"


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(services: ServicesDep) -> str:
    head = services.app.recorder.max_notification_id() or 0
    position = services.queries.position()
    counters = services.app.counters
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
    return "\n".join(lines) + "\n"
