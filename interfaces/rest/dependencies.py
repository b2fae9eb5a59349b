"""FastAPI dependencies per use case: a route names the use cases it calls
in its signature, and a test may override any of them
(`app.dependency_overrides[metering] = ...`). Each is a coroutine that
only looks up an attribute, so FastAPI calls it inline, not in a thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from application.authorizations import Authorizations
from application.billing_details import BillingDetails
from application.catalog import Catalog
from application.customers import Customers
from application.event_store import EventStore
from application.invoicing import Billing
from application.metering import Metering
from application.payment_notices import PaymentNotices
from application.ports import Clock
from application.simulation import Simulations
from application.wallet_policies import WalletPolicies
from application.wallets import Wallets
from application.webhooks import Webhooks
from interfaces.bootstrap import Services
from interfaces.rest.auth import services


async def catalog(found: Annotated[Services, Depends(services)]) -> Catalog:
    return found.app.catalog


async def customers(found: Annotated[Services, Depends(services)]) -> Customers:
    return found.app.customers


async def billing_details(found: Annotated[Services, Depends(services)]) -> BillingDetails:
    return found.app.billing_details


async def wallets(found: Annotated[Services, Depends(services)]) -> Wallets:
    return found.app.wallets


async def metering(found: Annotated[Services, Depends(services)]) -> Metering:
    return found.app.metering


async def simulations(found: Annotated[Services, Depends(services)]) -> Simulations:
    return found.app.simulations


async def billing(found: Annotated[Services, Depends(services)]) -> Billing:
    return found.app.billing


async def payment_notices(found: Annotated[Services, Depends(services)]) -> PaymentNotices:
    return found.app.payment_notices


async def wallet_policies(found: Annotated[Services, Depends(services)]) -> WalletPolicies:
    return found.app.wallet_policies


async def authorizations(found: Annotated[Services, Depends(services)]) -> Authorizations:
    return found.app.authorizations


async def webhooks(found: Annotated[Services, Depends(services)]) -> Webhooks:
    return found.app.webhooks


async def event_store(found: Annotated[Services, Depends(services)]) -> EventStore:
    return found.app.store


async def clock(found: Annotated[Services, Depends(services)]) -> Clock:
    return found.app.clock


CatalogDep = Annotated[Catalog, Depends(catalog)]
CustomersDep = Annotated[Customers, Depends(customers)]
BillingDetailsDep = Annotated[BillingDetails, Depends(billing_details)]
WalletsDep = Annotated[Wallets, Depends(wallets)]
MeteringDep = Annotated[Metering, Depends(metering)]
SimulationsDep = Annotated[Simulations, Depends(simulations)]
BillingDep = Annotated[Billing, Depends(billing)]
PaymentNoticesDep = Annotated[PaymentNotices, Depends(payment_notices)]
WalletPoliciesDep = Annotated[WalletPolicies, Depends(wallet_policies)]
AuthorizationsDep = Annotated[Authorizations, Depends(authorizations)]
WebhooksDep = Annotated[Webhooks, Depends(webhooks)]
EventStoreDep = Annotated[EventStore, Depends(event_store)]
ClockDep = Annotated[Clock, Depends(clock)]
