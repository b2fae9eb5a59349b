"""Who is asking: the same bearer keys as REST."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.permission import BasePermission
from strawberry.types import Info

from application.authorizations import Authorizations
from application.catalog import Catalog
from application.customers import Customers
from application.invoicing import Billing
from application.ports import AlertReads, Clock, WalletReads
from interfaces.bootstrap import Services
from interfaces.worker_threads import run_blocking


class NotAllowed(PermissionError):
    pass


@dataclass
class TallyContext(BaseContext):
    services: Services
    authorization: str

    def __post_init__(self) -> None:
        super().__init__()
        # One read for the balances of every customer a query asks about (a
        # connection of customers reads them together, not one per row).
        self.balances: DataLoader[tuple[str, str], Decimal] = DataLoader(load_fn=self._load_balances)
        self._scope: tuple[str | None] | None = None  # the key's scope, once checked

    async def _load_balances(self, keys: list[tuple[str, str]]) -> list[Decimal]:
        arrived = time.monotonic()  # the balances count every event accepted before
        customers = sorted({customer for customer, _ in keys})

        def now() -> dict[tuple[str, str], Decimal]:
            projected, position = self.services.queries.balances(customers)
            tail = {(customer, currency): Decimal(0) for customer, currency in keys}
            return self.services.app.authorizations.balances_now({**tail, **projected}, position, arrived)

        found = await run_blocking(now)
        return [found.get(key, Decimal(0)) for key in keys]

    # The use cases and read ports resolvers call: named here, not reached through the services.

    @property
    def customers(self) -> Customers:
        return self.services.app.customers

    @property
    def catalog(self) -> Catalog:
        return self.services.app.catalog

    @property
    def billing(self) -> Billing:
        return self.services.app.billing

    @property
    def authorizations(self) -> Authorizations:
        return self.services.app.authorizations

    @property
    def alert_reads(self) -> AlertReads:
        return self.services.app.alert_reads

    @property
    def wallet_reads(self) -> WalletReads:
        return self.services.app.wallet_reads

    @property
    def clock(self) -> Clock:
        return self.services.app.clock

    def customer_scope(self) -> str | None:
        """None for the admin key and for an operator key with the read scope (an
        operator's view: provider cost included), the customer's id for a
        customer key. Checked
        once per request: fields such as `cost` ask again for every row."""
        if self._scope is None:
            self._scope = (self._check_key(),)
        return self._scope[0]

    def _check_key(self) -> str | None:
        given = self.authorization
        if not given and isinstance(self.connection_params, dict):  # a websocket's connection_init payload
            given = str(self.connection_params.get("authorization", ""))
        scheme, _, key = given.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise NotAllowed("unauthorized: send Authorization: Bearer <key>")
        admin_key = self.services.settings.admin_key
        if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
            return None
        scopes = self.services.app.operator_keys.scopes_for(key)
        if scopes is not None:  # a scoped operator key: with `read`, the operator's view
            if "read" not in scopes:
                raise NotAllowed("forbidden: GraphQL queries need a key with the read scope")
            return None
        customer = self.customers.customer_for_key(key)
        if customer is None:
            raise NotAllowed("unauthorized: the key is not valid")
        return customer

    def require_admin(self) -> None:
        if self.customer_scope() is not None:
            raise NotAllowed("forbidden: this field needs the admin key")

    def may_see(self, customer: str) -> bool:
        scope = self.customer_scope()
        return scope is None or scope == customer


class OperatorOnly(BasePermission):
    """A field holding the operator's provider cost or margin. A customer key
    reads prices, quantities and amounts only: asking for such a field answers
    a `forbidden` error for it (the schema keeps the field non-null for admin
    clients, so the error takes its nearest nullable parent with it)."""

    message = "forbidden: the provider's cost is the operator's; this field needs the admin key"
    error_extensions = {"code": "forbidden"}

    def has_permission(self, source: Any, info: Info[TallyContext, None], **kwargs: Any) -> bool:
        return info.context.customer_scope() is None


def context_getter(services: Services):  # type: ignore[no-untyped-def]
    async def get_context(request: HTTPConnection) -> TallyContext:
        return TallyContext(services, request.headers.get("authorization", ""))

    return get_context
