"""OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT (or its
traces-only form) is set: a span per HTTP request (the FastAPI
instrumentation) with a child span per statement it sends to the store (the
psycopg and sqlite3 instrumentations), exported over OTLP/HTTP. The
libraries are the optional `tracing` extra and are imported only then, so a
server without the variable neither needs nor loads them. Everything else
(service name, headers, sampling, batch delay) follows the standard OTEL_*
variables, which the SDK reads itself."""

from __future__ import annotations

import os
from typing import Any

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SERVICE_NAME = "tally"
# Probes are answered many times a minute and say nothing about a request.
EXCLUDED_URLS = "/healthz,/metrics"


def tracing_configured() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def start_tracing() -> bool:
    """Install the tracer provider and the store instrumentations, before the
    store's first connection is opened; False when tracing is not configured."""
    if not tracing_configured():
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from interfaces.observability.request_sampler import RequestsOnly

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)})
    # Flushes its spans when the process exits; records requests and what they do only.
    provider = TracerProvider(resource=resource, sampler=RequestsOnly())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    PsycopgInstrumentor().instrument()
    SQLite3Instrumentor().instrument()
    return True


def instrument_app(app: Any) -> None:
    """A span per request, named by method and route template."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS)
