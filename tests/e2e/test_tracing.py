"""OpenTelemetry traces through a real server: with OTEL_EXPORTER_OTLP_ENDPOINT
pointing at a small OTLP/HTTP receiver on 127.0.0.1, a request arrives as a
server span named by its route template, with the store's statements as
spans of the same trace; without the variable, no tracing library is loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.server import client, running_server, wait_for
from tests.e2e.test_rest_flow import setup_catalog
from tests.support import event, just_now

TRACING_PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation")


class Receiver:
    """Collects the spans posted to /v1/traces, decoded from protobuf."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest.FromString(body)
                with receiver.lock:
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            receiver.spans.extend(scope.spans)
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def named(self, name: str) -> list[Any]:
        with self.lock:
            return [span for span in self.spans if span.name == name]

    def in_trace(self, trace_id: bytes) -> list[Any]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_requests_and_store_calls_are_traced(database_url: str, receiver: Receiver) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    with running_server(database_url, env_extra=env) as base, client(base) as api:
        setup_catalog(api)
        assert api.post("/v1/events", json={"events": [event("t1", timestamp=just_now())]}).status_code == 200
        assert api.get("/v1/customers/acme/balance").status_code == 200
        posts = wait_for(lambda: receiver.named("POST /v1/events"), timeout=20)
        assert posts, sorted({span.name for span in receiver.spans})
        store_calls = [span for span in receiver.in_trace(posts[0].trace_id) if span.kind == span.SPAN_KIND_CLIENT]
        assert store_calls, [span.name for span in receiver.in_trace(posts[0].trace_id)]
        assert wait_for(lambda: receiver.named("GET /v1/customers/{customer_id}/balance"), timeout=20)
        assert not receiver.named("GET /healthz")  # probes are left out
        # The follower and the policies poll the store all the time, outside any
        # request: none of their statements starts a trace of its own.
        with receiver.lock:
            alone = [
                span.name for span in receiver.spans if span.kind == span.SPAN_KIND_CLIENT and not span.parent_span_id
            ]
        assert alone == []


def test_without_an_endpoint_the_libraries_are_not_even_loaded(tmp_path: Path) -> None:
    """The server's own start-up path, in a process of its own: neither the
    SDK, nor an exporter, nor an instrumentation is imported (FastAPI itself
    may import OpenTelemetry's API, which does nothing without an SDK)."""
    script = (
        "import sys\n"
        "from infrastructure.settings import Settings\n"
        "from interfaces.bootstrap import bootstrap\n"
        "from interfaces.observability.tracing import start_tracing\n"
        "from interfaces.rest.app import create_app\n"
        "assert start_tracing() is False\n"
        f"services = bootstrap(Settings(database_url='sqlite:///{tmp_path}/tally.db', admin_key='k'))\n"
        "create_app(services)\n"
        "services.close()\n"
        f"print(sorted(name for name in sys.modules if name.startswith({TRACING_PACKAGES!r})))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]", ran.stdout
