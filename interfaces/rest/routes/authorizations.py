"""Authorizations (may this call proceed?), voiding them, and spending limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from interfaces import presenters
from interfaces.observability.counting import count_decision
from interfaces.rest.auth import AdminDep
from interfaces.rest.dependencies import AuthorizationsDep, BillingDep
from interfaces.rest.problems import problem
from interfaces.rest.responses import PROBLEMS, AuthorizationPublic, CustomerPublic, Problem
from interfaces.rest.schemas import CallerId, MoneyText, Name, Strict, WholeNumber
from interfaces.worker_threads import run_blocking

router = APIRouter(tags=["authorizations and limits"])
TITLES = {
    "insufficient_funds": "Insufficient funds",
    "spending_limit_exceeded": "Spending limit exceeded",
    "account_past_due": "Account past due",
}


class Estimate(Strict):
    provider: Name
    model: Name
    usage: dict[str, Any]


class AuthorizationCreate(Strict):
    id: CallerId
    customer: CallerId
    amount: MoneyText | None = None
    estimate: Estimate | None = None
    expires_in_seconds: Annotated[WholeNumber, Field(ge=1, le=7 * 24 * 3600)] | None = None


class LimitsSet(Strict):
    period: Literal["day", "month"] = "month"
    soft_limit: MoneyText | None = None
    hard_limit: MoneyText | None = None
    alert_thresholds_percent: list[Annotated[WholeNumber, Field(ge=1, le=1000)]] = Field(
        default_factory=list, max_length=20
    )
    low_balance: MoneyText | None = None


@router.post(
    "/v1/authorizations",
    status_code=201,
    response_model=AuthorizationPublic,
    responses={
        **PROBLEMS,
        402: {
            "model": Problem,
            "description": "Refused: insufficient_funds, spending_limit_exceeded or account_past_due",
        },
    },
)
async def authorize(body: AuthorizationCreate, authorizations: AuthorizationsDep, _: AdminDep) -> Any:
    def decide() -> tuple[Any, bool, str]:  # one trip to a worker thread: the decision, and its status
        decided, created = authorizations.authorize(
            body.id,
            body.customer,
            body.amount,
            body.estimate.model_dump() if body.estimate else None,
            body.expires_in_seconds,
        )
        return decided, created, authorizations.authorization_status(decided, just_decided=created)

    decided, created, status = await run_blocking(decide)
    if created:
        count_decision(None if decided.approved else decided.code)
    shown = presenters.authorization(decided, status)
    if decided.approved:
        return JSONResponse(shown, status_code=201)
    code = str(decided.code)
    extra = {key: value for key, value in shown.items() if key not in ("status", "code")}
    return problem(402, code, TITLES[code], decided.detail, extra={**extra, "authorization_status": "denied"})


@router.get("/v1/authorizations/{authorization_id}", response_model=AuthorizationPublic, responses=PROBLEMS)
def get_authorization(authorization_id: str, authorizations: AuthorizationsDep, _: AdminDep) -> dict[str, Any]:
    found = authorizations.find_authorization(authorization_id)
    return presenters.authorization(found, authorizations.authorization_status(found))


@router.post("/v1/authorizations/{authorization_id}/void", response_model=AuthorizationPublic, responses=PROBLEMS)
def void_authorization(authorization_id: str, authorizations: AuthorizationsDep, _: AdminDep) -> dict[str, Any]:
    voided = authorizations.void_authorization(authorization_id)
    return presenters.authorization(voided, authorizations.authorization_status(voided))


@router.put("/v1/customers/{customer_id}/limits", response_model=CustomerPublic, responses=PROBLEMS)
def set_limits(
    customer_id: str, body: LimitsSet, authorizations: AuthorizationsDep, billing: BillingDep, _: AdminDep
) -> dict[str, Any]:
    updated = authorizations.set_limits(customer_id, body.model_dump())
    return presenters.customer(updated, billing.customer_status(customer_id))


@router.delete("/v1/customers/{customer_id}/limits", response_model=CustomerPublic, responses=PROBLEMS)
def remove_limits(
    customer_id: str, authorizations: AuthorizationsDep, billing: BillingDep, _: AdminDep
) -> dict[str, Any]:
    updated = authorizations.set_limits(customer_id, None)
    return presenters.customer(updated, billing.customer_status(customer_id))
