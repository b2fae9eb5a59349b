"""Billing runs, invoices, their PDF, and bank transfers against them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from application.invoicing import Billing
from domain.invoice import Invoice
from interfaces import presenters
from interfaces.documents.invoice_pdf import render
from interfaces.documents.parties import buyer_from, seller_from
from interfaces.rest.auth import AdminDep, Principal, PrincipalDep, ServicesDep
from interfaces.rest.dependencies import BillingDep, ClockDep, CustomersDep
from interfaces.rest.responses import PROBLEMS, BillingRunPublic, InvoicePublic, InvoicesPublic
from interfaces.rest.schemas import CallerId, Moment, MoneyText, Name, Strict
from interfaces.worker_threads import run_blocking

router = APIRouter(tags=["invoices"])


class BillingRunCreate(Strict):
    period_end: Moment
    period_start: Moment | None = Field(default=None, description="Default: the calendar month before")
    customers: list[CallerId] | None = Field(default=None, max_length=10_000)


class PaymentCreate(Strict):
    amount: MoneyText
    reference: Name


@router.post(
    "/v1/billing-runs",
    status_code=201,
    response_model=BillingRunPublic,
    responses={**PROBLEMS, 200: {"model": BillingRunPublic, "description": "The same period again: what it issued"}},
)
async def create_billing_run(
    body: BillingRunCreate, billing: BillingDep, _: AdminDep, response: Response
) -> dict[str, Any]:
    run = await run_blocking(billing.billing_run, body.period_end, body.customers, body.period_start)
    if not run.created:
        response.status_code = 200  # the same period again: what it issued before, nothing new
    return {
        "id": run.id,
        "period_start": run.start.isoformat(),
        "period_end": run.end.isoformat(),
        "invoices": [
            {
                "id": i.invoice_id,
                "customer": i.customer,
                "kind": i.kind,
                "total": presenters.money(i.total),
                "amount_due": presenters.money(i.amount_due),
                "status": i.status,
            }
            for i in run.invoices
        ],
    }


@router.get(
    "/v1/invoices/{invoice_id}", response_model=InvoicePublic, response_model_exclude_unset=True, responses=PROBLEMS
)
def get_invoice(invoice_id: str, billing: BillingDep, clock: ClockDep, who: PrincipalDep) -> dict[str, Any]:
    return presenters.invoice(_visible(invoice_id, billing, who), clock(), operator=who.is_admin)


@router.get("/v1/invoices/{invoice_id}/pdf", responses={**PROBLEMS, 200: {"content": {"application/pdf": {}}}})
def get_invoice_pdf(
    invoice_id: str,
    services: ServicesDep,
    billing: BillingDep,
    customers: CustomersDep,
    clock: ClockDep,
    who: PrincipalDep,
) -> Response:
    # A document sent to the customer: the customer's view, whoever asks for it.
    found = _visible(invoice_id, billing, who)
    shown = presenters.invoice(found, clock(), operator=False)
    buyer = buyer_from(customers.customer(found.customer))
    return Response(
        render(shown, seller_from(services.settings), buyer),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice_id}.pdf"'},
    )


@router.get(
    "/v1/customers/{customer_id}/invoices",
    response_model=InvoicesPublic,
    response_model_exclude_unset=True,
    responses=PROBLEMS,
)
def list_invoices(customer_id: str, billing: BillingDep, clock: ClockDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_customer(customer_id)
    now = clock()
    found = billing.invoices_of(customer_id)
    return {"invoices": [presenters.invoice(i, now, operator=who.is_admin) for i in found]}


@router.post("/v1/invoices/{invoice_id}/payments", response_model=InvoicePublic, responses=PROBLEMS)
def record_payment(
    invoice_id: str, body: PaymentCreate, billing: BillingDep, clock: ClockDep, _: AdminDep
) -> dict[str, Any]:
    paid = billing.record_invoice_payment(invoice_id, body.amount, body.reference)
    return presenters.invoice(paid, clock(), operator=True)


def _visible(invoice_id: str, billing: Billing, who: Principal) -> Invoice:
    found = billing.invoice(invoice_id)
    who.require_customer(found.customer)  # another customer's invoice does not exist for a customer key
    return found
