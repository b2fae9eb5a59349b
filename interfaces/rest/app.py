"""The FastAPI application: routers, problem+json errors, the body limit, and
GraphQL mounted beside REST on the same services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from interfaces.bootstrap import Services
from interfaces.graphql.schema import graphql_router
from interfaces.rest import problems
from interfaces.rest.limits import BodySizeLimit
from interfaces.rest.routes import (
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

DESCRIPTION = """Usage-based billing for AI products: a double-entry ledger built on
event sourcing. Money is a decimal string; errors are RFC 9457 problem+json;
every request but /healthz, /metrics, the docs and Stripe's webhook carries `Authorization: Bearer <key>`."""


def create_app(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(title="tally", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.services = services
    problems.install(app)
    for module in (
        health,
        catalog,
        customers,
        events,
        authorizations,
        wallets,
        billing,
        ledger,
        notifications,
        simulations,
        webhooks,
        web,
    ):
        app.include_router(module.router)
    app.include_router(graphql_router(services), prefix="/graphql")
    app.add_middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes)
    _add_request_components(app)
    return app


def _add_request_components(app: FastAPI) -> None:
    """Schemas of request bodies that routes document by hand join the
    generated components, so that /openapi.json resolves every $ref."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(events.REQUEST_COMPONENTS)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
