"""The FastAPI application: routers, problem+json errors, the body limit, and
GraphQL mounted beside REST on the same services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from interfaces import start_up
from interfaces.api_docs import pages as api_docs
from interfaces.bootstrap import Services
from interfaces.gateway import routes as gateway
from interfaces.graphql.schema import graphql_router
from interfaces.observability.requests import RequestObserver
from interfaces.rest import problems
from interfaces.rest.limits import BodySizeLimit
from interfaces.rest.operations import document_security
from interfaces.rest.routes import (
    api_keys,
    authorizations,
    billing,
    catalog,
    customers,
    events,
    health,
    ledger,
    notifications,
    simulations,
    wallets,
    webhooks,
)
from interfaces.web import routes as web

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
DESCRIPTION = """Usage-based billing for AI products: a double-entry ledger built on
event sourcing. Money is a decimal string; errors are RFC 9457 problem+json;
every request but /healthz, /metrics, the docs and Stripe's webhook carries `Authorization: Bearer <key>`:
the admin key, a scoped operator key (each operation's `x-tally-scope` names the scope
that lets one call it; `admin` operations need the admin key) or a customer's read key."""


def create_app(services: Services, *, freeze_start_up: bool = False) -> FastAPI:
    """With `freeze_start_up` (a server's process, not a test's), what start-up
    made is moved out of the garbage collector's reach once the server is up."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if freeze_start_up:
            start_up.freeze_start_up()
        yield
        await gateway.close_gateway(app.state)
        services.close()

    # /docs and /redoc are served from local assets (interfaces/api_docs), not from a CDN.
    app = FastAPI(
        title="tally", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.services = services
    problems.install(app)
    # A request is matched against the routes in this order, so the ones a
    # gateway, a metering service and a dashboard call most come first, and
    # the API's documentation (its pages, assets and OpenAPI document) last.
    # No two routes match one request (tests/integration/test_routes.py), so
    # the order decides only how many are tried, never which one answers.
    for module in (
        gateway,
        events,
        authorizations,
        wallets,
        health,
        catalog,
        customers,
        api_keys,
        billing,
        ledger,
        notifications,
        simulations,
        webhooks,
        web,
    ):
        app.include_router(module.router)
    # GraphQL describes itself (introspection); its two HTTP routes would only
    # document one opaque body in the REST document.
    app.include_router(graphql_router(services), prefix="/graphql", include_in_schema=False)
    api_docs.install(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=services.settings.max_body_bytes,
        by_prefix={"/gateway/": services.settings.gateway_max_body_bytes},
    )
    app.add_middleware(RequestObserver)  # added last: outermost, so it times everything
    _complete_document(app)
    return app


def _complete_document(app: FastAPI) -> None:
    """The OpenAPI document as generated, completed: request schemas that
    routes document by hand join the components, so that every $ref
    resolves, and problems are declared as the problem+json they are."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(events.REQUEST_COMPONENTS)
            for operation in (
                op for item in document["paths"].values() for op in item.values() if isinstance(op, dict)
            ):
                for response in operation.get("responses", {}).values():
                    _declare_problem_media_type(response)
            document_security(document)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_problem_media_type(response: dict[str, Any]) -> None:
    content = response.get("content", {})
    if content.get("application/json", {}).get("schema") == {"$ref": PROBLEM_REF}:
        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
