"""The Prometheus metrics tally counts as it works, with prometheus_client.

Counters and histograms live in this module, one object per metric, and are
incremented where the thing happens. With PROMETHEUS_MULTIPROC_DIR set
before the process starts, prometheus_client keeps each process's values in
files in that folder and /metrics adds them up over every process (several
server workers, a projector process); without it they live in memory.
What /metrics computes when it is scraped (log positions, lag, each part's
health) is in interfaces/observability/metrics.py."""

from __future__ import annotations

import os

from prometheus_client import Counter, Histogram, disable_created_metrics

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# Each counter's `_created` sample would double every series for no use.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Upper bounds in seconds: from a cached read (about a millisecond) to a
# batch of a thousand events on a busy store.
LATENCY_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
USAGE_STATUSES = ("accepted", "duplicate", "rejected")
STRIPE_WEBHOOK_OUTCOMES = ("applied", "ignored", "rejected")
WEBHOOK_DELIVERY_OUTCOMES = ("delivered", "failed")

request_duration_seconds = Histogram(
    "tally_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS_SECONDS,
)
usage_events = Counter("tally_usage_events", "Usage events answered by this process, by status.", ["status"])
unpriced_usage_events = Counter(
    "tally_usage_unpriced_events", "Usage events accepted without a rate in force (warning unpriced)."
)
authorization_decisions = Counter(
    "tally_authorization_decisions",
    "Authorizations decided, by code: approved, or the refusal's code (a retry's repeated answer is not counted).",
    ["code"],
)
stripe_webhooks = Counter("tally_stripe_webhooks", "Stripe webhooks received by this process, by outcome.", ["outcome"])
webhook_deliveries = Counter(
    "tally_webhook_deliveries",
    "Attempts to deliver a webhook to an operator's endpoint, by outcome (delivered: a 2xx answer).",
    ["outcome"],
)

for status in USAGE_STATUSES:
    usage_events.labels(status)
for outcome in STRIPE_WEBHOOK_OUTCOMES:
    stripe_webhooks.labels(outcome)
for outcome in WEBHOOK_DELIVERY_OUTCOMES:
    webhook_deliveries.labels(outcome)


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIRECTORY) or None


def count_usage_results(statuses: list[str], unpriced: int) -> None:
    """One batch's answers: how many of each status, and how many unpriced."""
    for status in statuses:
        usage_events.labels(status).inc()
    if unpriced:
        unpriced_usage_events.inc(unpriced)
