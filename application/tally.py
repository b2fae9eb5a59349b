"""The tally application: one event-sourced application, one notification
log, so that a single ordered stream feeds every projection and an auditor
replays one history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import EnvType

from application.notifications import Notifications
from application.ports import (
    AlertReads,
    AuthorizationReads,
    BillingReads,
    Clock,
    PaymentGateway,
    PriceCatalog,
    UsageHistory,
    UsageIndex,
    WalletReads,
    WebhookSender,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Tally(Notifications):
    name = "tally"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        usage_index: Callable[[ApplicationRecorder], UsageIndex],
        price_catalog: PriceCatalog,
        clock: Clock = utc_now,
        usage_history: UsageHistory | None = None,
        payments: PaymentGateway | None = None,
        billing_reads: BillingReads | None = None,
        wallet_reads: WalletReads | None = None,
        authorization_reads: AuthorizationReads | None = None,
        alert_reads: AlertReads | None = None,
        webhooks: WebhookSender | None = None,
        dunning_days: tuple[int, ...] = (1, 3, 7),
    ) -> None:
        super().__init__(
            env,
            usage_index=usage_index,
            price_catalog=price_catalog,
            clock=clock,
            usage_history=usage_history,
            payments=payments,
            billing_reads=billing_reads,
            wallet_reads=wallet_reads,
            authorization_reads=authorization_reads,
            alert_reads=alert_reads,
            webhooks=webhooks,
            dunning_days=dunning_days,
        )
