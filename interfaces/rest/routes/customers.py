"""Customers and their read keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from application.billing_details import checked
from interfaces import presenters
from interfaces.rest.auth import AdminDep, PrincipalDep
from interfaces.rest.dependencies import BillingDep, BillingDetailsDep, CustomersDep, WalletPoliciesDep
from interfaces.rest.responses import PROBLEMS, ApiKeyPublic, CustomerPublic
from interfaces.rest.schemas import AutoTopUpSet, CustomerCreate, CustomerUpdate

router = APIRouter(tags=["customers"])


@router.post("/v1/customers", status_code=201, response_model=CustomerPublic, responses=PROBLEMS)
def create_customer(
    body: CustomerCreate, customers: CustomersDep, billing_details: BillingDetailsDep, _: AdminDep
) -> dict[str, Any]:
    details = checked(body.billing_details.model_dump()) if body.billing_details else None  # a 422 creates nothing
    customer = customers.create_customer(
        body.id, body.name, body.currency, body.plan, body.billing, body.net_terms_days, body.stripe_customer_id
    )
    if details:
        customer = billing_details.set(body.id, details)
    return presenters.customer(customer)


@router.get("/v1/customers/{customer_id}", response_model=CustomerPublic, responses=PROBLEMS)
def get_customer(customer_id: str, billing: BillingDep, customers: CustomersDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_customer(customer_id)
    return presenters.customer(customers.customer(customer_id), billing.customer_status(customer_id))


@router.patch("/v1/customers/{customer_id}", response_model=CustomerPublic, responses=PROBLEMS)
def update_customer(
    customer_id: str,
    body: CustomerUpdate,
    billing: BillingDep,
    customers: CustomersDep,
    billing_details: BillingDetailsDep,
    _: AdminDep,
) -> dict[str, Any]:
    updated = customers.update_customer(customer_id, body.name, body.plan, body.billing, body.stripe_customer_id)
    if body.billing_details is not None:
        updated = billing_details.set(customer_id, body.billing_details.model_dump())
    return presenters.customer(updated, billing.customer_status(customer_id))


@router.put("/v1/customers/{customer_id}/auto-top-up", response_model=CustomerPublic, responses=PROBLEMS)
def set_auto_top_up(
    customer_id: str, body: AutoTopUpSet, billing: BillingDep, wallet_policies: WalletPoliciesDep, _: AdminDep
) -> dict[str, Any]:
    """Below `threshold`, one card top-up of `amount` starts (nulls turn it off)."""
    updated = wallet_policies.set_auto_top_up(customer_id, body.threshold, body.amount)
    return presenters.customer(updated, billing.customer_status(customer_id))


@router.post("/v1/customers/{customer_id}/api-keys", status_code=201, response_model=ApiKeyPublic, responses=PROBLEMS)
def issue_api_key(customer_id: str, customers: CustomersDep, _: AdminDep) -> dict[str, Any]:
    issued = customers.issue_api_key(customer_id)
    return {"id": issued.id, "key": issued.key, "customer": customer_id}


@router.delete("/v1/customers/{customer_id}/api-keys/{key_id}", status_code=204, responses=PROBLEMS)
def revoke_api_key(customer_id: str, key_id: str, customers: CustomersDep, _: AdminDep) -> Response:
    customers.revoke_api_key(customer_id, key_id)
    return Response(status_code=204)
