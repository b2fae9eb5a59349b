"""One observation per HTTP request, as ASGI middleware around the whole
application: its latency goes into tally_http_request_duration_seconds
under its route template (`/v1/customers/{customer_id}`, never the raw path,
so the series stay few), and one log line says its request id, method,
route, status and duration. The request id is the caller's `x-request-id`
when it is a plain id, otherwise a new one; the answer carries it back,
unless the answer names a request id of its own (the gateway passes the
provider's on, which the providers' SDKs read): then that one is logged."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.metrics import request_duration_seconds

logger = logging.getLogger("tally.request")
HEADER = b"x-request-id"
PLAIN_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "unmatched"  # no route: a 404 from the router, or a 500 before routing


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500  # unless a response starts: an exception escaped the application

        async def observed_send(message: Message) -> None:
            nonlocal status
            nonlocal request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                own = next((value for name, value in headers if name.lower() == HEADER), None)
                if own is None:
                    message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
                else:
                    request_id = own.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            _observe(scope, request_id, status, time.perf_counter() - started)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER and PLAIN_ID.fullmatch(value):
            return str(value.decode())
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that answered, from what the routers leave
    in the scope: FastAPI's effective route (a route of an included router,
    with its prefix), else Starlette's matched route, else a mount's prefix."""
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path", None)
    if template:
        return str(template)
    if "app_root_path" in scope and scope.get("root_path"):  # a mounted app (static files)
        return f"{scope['root_path']}/{{path}}"
    return UNMATCHED


def _observe(scope: Scope, request_id: str, status: int, seconds: float) -> None:
    route = route_template(scope)
    method = str(scope["method"])
    request_duration_seconds.labels(method, route, str(status)).observe(seconds)
    if logger.isEnabledFor(logging.INFO):
        duration_ms = round(seconds * 1000, 3)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": duration_ms,
        }
        logger.info(
            "%s %s %s %.1fms request_id=%s", method, route, status, duration_ms, request_id, extra={"fields": fields}
        )
