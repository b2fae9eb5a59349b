"""Prepaid wallets: top-ups and the balance gateways read."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from application.errors import TallyError
from interfaces import presenters
from interfaces.rest.auth import AdminDep, PrincipalDep, ServicesDep
from interfaces.rest.dependencies import WalletsDep
from interfaces.rest.responses import PROBLEMS, BalancePublic, Problem, TopUpPublic
from interfaces.rest.schemas import Moment, TopUpCreate
from interfaces.worker_threads import run_blocking

CONSISTENT_WAIT_SECONDS = 2.0


class ProjectionBehind(TallyError):
    code = "rate_limited"
    status = 429
    title = "The read model is catching up"
    retry_after_seconds = 1


router = APIRouter(tags=["wallets"])


@router.post(
    "/v1/customers/{customer_id}/top-ups",
    status_code=201,
    response_model=TopUpPublic,
    responses={**PROBLEMS, 200: {"model": TopUpPublic, "description": "A retry of the same id: the first answer"}},
)
def create_top_up(
    customer_id: str, body: TopUpCreate, wallets: WalletsDep, _: AdminDep, response: Response
) -> dict[str, Any]:
    top_up, created = wallets.top_up(customer_id, body.id, body.amount, body.source, body.expires_at)
    if not created:
        response.status_code = 200  # a retry: the first answer, unchanged
    return presenters.top_up(top_up)


@router.get("/v1/customers/{customer_id}/top-ups/{top_up_id}", response_model=TopUpPublic, responses=PROBLEMS)
def get_top_up(customer_id: str, top_up_id: str, wallets: WalletsDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_customer(customer_id)
    return presenters.top_up(wallets.find_top_up(customer_id, top_up_id))


@router.get(
    "/v1/customers/{customer_id}/balance",
    response_model=BalancePublic,
    responses={**PROBLEMS, 429: {"model": Problem, "description": "consistent=true, and the read model is behind"}},
)
async def get_balance(
    customer_id: str,
    services: ServicesDep,
    who: PrincipalDep,
    as_of: Moment | None = None,
    consistent: Annotated[
        bool, Query(description="Wait (up to 2 s) until every event accepted before this request is in the balance.")
    ] = False,
) -> dict[str, Any]:
    # A coroutine whose blocking reads go to a worker thread in one trip: a
    # plain function would take two (itself, then its answer's check against
    # the response model, which FastAPI runs in a thread for a plain
    # function), on the request a gateway makes most. Its use cases come from
    # the services rather than a dependency each: FastAPI works each
    # dependency out again on every request (about 20 µs apiece).
    arrived = time.monotonic()
    who.require_customer(customer_id)
    app = services.app
    authorizations, clock, customers, store = app.authorizations, app.clock, app.customers, app.store

    def read() -> dict[str, Any]:
        customer = customers.customer(customer_id)
        moment = as_of or clock()
        if consistent:
            head = store.head()
            if not services.wait_projected(head, CONSISTENT_WAIT_SECONDS):
                raise ProjectionBehind(f"the read model is behind the event log (position {head}); try again")
        if as_of is None:  # with every event accepted before the request, projected or not
            balance, held = authorizations.balance_now(customer_id, customer, arrived)
        else:  # a past moment, from the journal; holds are now, the past has none
            balance, held = services.queries.balance(customer_id, customer.currency, as_of)[0], Decimal(0)
        return {
            "customer": customer_id,
            "balance": presenters.money(balance),
            "held": presenters.money(held),
            "available": presenters.money(balance - held),
            "currency": customer.currency,
            "as_of": moment.isoformat(),
        }

    return await run_blocking(read)
