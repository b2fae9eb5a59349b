"""Which spans are recorded: those of HTTP requests and what they do. A store
statement outside any request (the follower's pages, the policies' steps,
which poll all the time) would start a trace of its own, many a second on
an idle server; it is dropped. Everything else follows its parent, or
OTEL_TRACES_SAMPLER's choice for a request's own span. Imported only when
tracing is configured (interfaces/observability/tracing.py)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, _get_from_env_or_default
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes


class RequestsOnly(Sampler):
    def __init__(self, delegate: Sampler | None = None) -> None:
        self.delegate = delegate or _get_from_env_or_default()

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind == SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RequestsOnly{{{self.delegate.get_description()}}}"
