"""Stripe's webhooks: verified with the shared secret, applied idempotently.
No bearer key: Stripe signs the payload instead."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from application.errors import TallyError
from infrastructure.metrics import stripe_webhooks
from infrastructure.stripe_webhooks import InvalidWebhook, notice_of, verify
from interfaces.rest.auth import ServicesDep
from interfaces.rest.dependencies import PaymentNoticesDep
from interfaces.rest.responses import PROBLEMS
from interfaces.worker_threads import run_blocking

logger = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])


class BadWebhook(TallyError):
    code = "validation_error"
    status = 400
    title = "The webhook does not verify"


class WebhooksNotConfigured(TallyError):
    code = "validation_error"
    status = 400
    title = "Stripe webhooks are not configured"


@router.post("/v1/webhooks/stripe", responses=PROBLEMS)
async def stripe_webhook(
    request: Request,
    services: ServicesDep,
    payment_notices: PaymentNoticesDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    secret = services.settings.stripe_webhook_secret
    if not secret:
        raise WebhooksNotConfigured("set STRIPE_WEBHOOK_SECRET to receive Stripe's webhooks")
    payload = await request.body()
    try:
        event = verify(payload, stripe_signature, secret)
    except InvalidWebhook as error:
        stripe_webhooks.labels("rejected").inc()
        raise BadWebhook(str(error)) from None
    notice = notice_of(event)
    if notice is None:
        stripe_webhooks.labels("ignored").inc()
        return {"received": True, "applied": f"ignored: {event.get('type')} is not an event tally acts on"}
    applied = await run_blocking(payment_notices.handle_payment_notice, notice)
    stripe_webhooks.labels("ignored" if applied.startswith("ignored") else "applied").inc()
    logger.info("stripe %s %s: %s", event.get("type"), notice.event_id, applied)
    return {"received": True, "applied": applied}
