"""Refusals in each provider's own error shape, so its SDK raises its usual
error with tally's reason: OpenAI's {"error": {"message", "type", "code"}}
and Anthropic's {"type": "error", "error": {"type", "message"}}."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from application.gateway_ports import Refusal

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    502: "server_error",
    504: "timeout",
}
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    502: "api_error",
    504: "timeout_error",
}


def provider_error(provider: str, refusal: Refusal) -> JSONResponse:
    body: dict[str, Any]
    if provider == "anthropic":
        kind = ANTHROPIC_TYPES.get(refusal.status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": refusal.message, "code": refusal.code}}
    else:
        kind = OPENAI_TYPES.get(refusal.status, "server_error")
        body = {"error": {"message": refusal.message, "type": kind, "param": None, "code": refusal.code}}
    return JSONResponse(body, status_code=refusal.status)
