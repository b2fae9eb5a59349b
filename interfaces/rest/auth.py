"""Bearer keys: the operator's admin key may do anything; a scoped operator
key may call, for any customer, the routes its scopes name
(interfaces/rest/operations.py; any other is 403); a customer key may only
read its own customer (anything else is 403, another customer is 404)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from interfaces.bootstrap import Services
from interfaces.rest.operations import scope_allows
from interfaces.worker_threads import run_blocking


@dataclass(frozen=True)
class Principal:
    customer: str | None  # None: the operator (the admin key or a scoped operator key)
    scopes: frozenset[str] | None = None  # a scoped operator key's scopes; None: the admin key or a customer key

    @property
    def is_admin(self) -> bool:
        return self.customer is None

    def require_admin(self) -> None:
        if not self.is_admin:
            raise HTTPException(403, "this operation needs the admin key")

    def require_customer(self, customer: str) -> None:
        """A customer key sees its own customer only; others do not exist for it."""
        if not self.is_admin and self.customer != customer:
            raise HTTPException(404, f"customer {customer!r} does not exist")


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def principal(request: Request, found: Annotated[Services, Depends(services)]) -> Principal:
    """Who sends the request. A coroutine, so FastAPI calls it inline: the
    admin key is a comparison, and only another key's lookup (which may read
    the log's head) goes to a worker thread."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(401, "send Authorization: Bearer <key>", headers={"WWW-Authenticate": "Bearer"})
    admin_key = found.settings.admin_key
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Principal(None)
    scopes, customer = await run_blocking(_key_owner, found, key)
    if scopes is not None:
        return _scoped(request, scopes)
    if customer is None:
        raise HTTPException(401, "the key is not valid", headers={"WWW-Authenticate": "Bearer"})
    return Principal(customer)


def _key_owner(found: Services, key: str) -> tuple[frozenset[str] | None, str | None]:
    """An operator key's scopes, or else the customer a customer key belongs to."""
    scopes = found.app.operator_keys.scopes_for(key)
    if scopes is not None:
        return scopes, None
    return None, found.app.customers.customer_for_key(key)


def _scoped(request: Request, scopes: frozenset[str]) -> Principal:
    """A scoped operator key acts as the operator on the routes its scopes name."""
    route = request.scope.get("route")
    path = getattr(route, "path_format", request.url.path)
    if not scope_allows(scopes, request.method, path):
        raise HTTPException(
            403, f"this key's scopes ({', '.join(sorted(scopes))}) do not allow {request.method} {path}"
        )
    return Principal(None, scopes)


async def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    who.require_admin()
    return who


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]
AdminDep = Annotated[Principal, Depends(admin)]
