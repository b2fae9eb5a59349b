"""Webhook endpoints, their deliveries, and a customer's alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from interfaces.rest.auth import AdminDep, PrincipalDep, ServicesDep
from interfaces.rest.dependencies import CustomersDep, WebhooksDep
from interfaces.rest.responses import PROBLEMS, AlertsPublic, DeliveryPublic, WebhookEndpointPublic
from interfaces.rest.schemas import Strict

router = APIRouter(tags=["alerts and webhooks"])


class WebhookEndpointCreate(Strict):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[str] = Field(min_length=1, max_length=20)


def _endpoint(found: Any, secret: bool = False) -> dict[str, Any]:
    shown = {"id": found.endpoint_id, "url": found.url, "events": found.events, "disabled": found.disabled}
    if secret:
        shown["secret"] = found.secret  # shown once, at creation
    return shown


@router.post("/v1/webhook-endpoints", status_code=201, response_model=WebhookEndpointPublic, responses=PROBLEMS)
def create_endpoint(body: WebhookEndpointCreate, webhooks: WebhooksDep, _: AdminDep) -> dict[str, Any]:
    return _endpoint(webhooks.create_webhook_endpoint(body.url, body.events), secret=True)


@router.get("/v1/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointPublic, responses=PROBLEMS)
def get_endpoint(endpoint_id: str, webhooks: WebhooksDep, _: AdminDep) -> dict[str, Any]:
    return _endpoint(webhooks.webhook_endpoint(endpoint_id))


@router.delete("/v1/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointPublic, responses=PROBLEMS)
def disable_endpoint(endpoint_id: str, webhooks: WebhooksDep, _: AdminDep) -> dict[str, Any]:
    return _endpoint(webhooks.disable_webhook_endpoint(endpoint_id))


@router.get(
    "/v1/webhook-endpoints/{endpoint_id}/deliveries/{message_id}", response_model=DeliveryPublic, responses=PROBLEMS
)
def get_delivery(endpoint_id: str, message_id: str, webhooks: WebhooksDep, _: AdminDep) -> dict[str, Any]:
    found = webhooks.delivery(endpoint_id, message_id)
    next_at = found.next_attempt_at.isoformat() if found.next_attempt_at else None
    return {"endpoint": found.endpoint_id, "message_id": found.message_id, "type": found.event_type,
            "status": found.status, "attempts": found.attempts, "next_attempt_at": next_at}  # fmt: skip


@router.get("/v1/customers/{customer_id}/alerts", response_model=AlertsPublic, responses=PROBLEMS)
def list_alerts(
    customer_id: str, services: ServicesDep, customers: CustomersDep, who: PrincipalDep, limit: int = 50
) -> dict[str, Any]:
    who.require_customer(customer_id)
    customers.customer(customer_id)
    return {"alerts": services.app.alert_reads.alerts_of(customer_id, max(1, min(limit, 500)))}
