"""RFC 9457 problem+json for every error, with the contract's codes."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from application.errors import TallyError

logger = logging.getLogger(__name__)
PROBLEM_TYPE = "https://tally.dev/problems/"
PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CODES_BY_STATUS = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "validation_error",
    409: "conflict",
    402: "insufficient_funds",
    413: "payload_too_large",
    415: "validation_error",
    422: "validation_error",
    429: "rate_limited",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers or None)


def _loc(parts: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in parts if part != "body")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path, asked of the router one
    method at a time: its own 405 names only the first route that matched."""
    allowed = []
    for method in PROBED_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def on_tally_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TallyError)
    retry = None if error.retry_after_seconds is None else {"Retry-After": str(error.retry_after_seconds)}
    return problem(error.status, error.code, error.title, error.detail, error.errors, headers=retry)


async def on_validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    issues = list(error.errors())
    if any(issue.get("type") == "json_invalid" for issue in issues):
        return problem(400, "validation_error", "Malformed JSON", "the request body is not valid JSON")
    errors = [{"loc": _loc(issue.get("loc", ())), "msg": str(issue.get("msg", ""))} for issue in issues]
    first = errors[0] if errors else {"loc": "", "msg": "invalid"}
    detail = f"{first['loc']}: {first['msg']}" if first["loc"] else str(first["msg"])
    return problem(422, "validation_error", "The request is not valid", detail, errors)


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = CODES_BY_STATUS.get(error.status_code, "validation_error")
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    title = HTTPStatus(error.status_code).phrase if error.status_code in HTTPStatus._value2member_map_ else "Error"
    return problem(error.status_code, code, title, str(error.detail), headers=headers)


async def on_too_deep(_: Request, error: Exception) -> JSONResponse:
    """A parser that recurses per level of nesting (JSON, GraphQL) ran out of
    stack: the request is nested too deeply, which is the caller's to fix."""
    assert isinstance(error, RecursionError)
    logger.warning("a request nested too deeply: %s", error)
    detail = "the request is nested too deeply to be read; nest JSON and GraphQL selections less deeply"
    return problem(400, "validation_error", "The request is nested too deeply", detail)


async def on_unexpected(_: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error", exc_info=error)
    return problem(500, "internal_error", "Internal error", "the server failed; nothing was changed by this request")


def install(app: FastAPI) -> None:
    app.add_exception_handler(TallyError, on_tally_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RecursionError, on_too_deep)
    app.add_exception_handler(Exception, on_unexpected)
