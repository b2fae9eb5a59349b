"""The tally application, composed: one event store (one notification log,
so a single ordered stream feeds every projection and an auditor replays one
history), the collaborators use cases share, and one object per use case,
each built with only what it uses. Nothing here inherits from a use case;
this is where they are wired (docs/architecture.md draws it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventsourcing.persistence import ApplicationRecorder

from application.alerts import AlertPolicy, Alerts
from application.authorizations import Authorizations
from application.billing_details import BillingDetails
from application.card_payments import CardPayments
from application.catalog import Catalog
from application.customers import Customers
from application.event_store import EventStore
from application.gateway_ports import GatewayLedger
from application.invoicing import Billing, Dunning
from application.log_tail import LogTail
from application.metering import Metering
from application.operator_keys import OperatorKeys
from application.payment_notices import PaymentNotices
from application.ports import (
    AlertReads,
    AuthorizationReads,
    BillingReads,
    Checkpoints,
    Clock,
    PaymentGateway,
    PriceCatalog,
    UsageHistory,
    UsageIndex,
    WalletReads,
    WebhookSender,
)
from application.rating_in_force import RatingInForce
from application.read_model_barrier import ReadModelBarrier
from application.reference import ReferenceData
from application.rerating import Rerating
from application.simulation import Simulations
from application.tier_settlements import TierSettlements
from application.tier_settler import TierSettler
from application.version_watcher import VersionWatcher
from application.wallet_policies import WalletPolicies
from application.wallets import Wallets
from application.webhooks import WebhookDispatcher, Webhooks

__all__ = ["ReadModel", "Tally", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReadModel:
    """The read model's queries the use cases need (projections/ implements
    them; the composition root wires them). Absent ones fail when used."""

    usage_history: UsageHistory | None = None
    billing: BillingReads | None = None
    wallets: WalletReads | None = None
    authorizations: AuthorizationReads | None = None
    alerts: AlertReads | None = None


class Tally:
    def __init__(
        self,
        env: Any,
        *,
        usage_index: Callable[[ApplicationRecorder], UsageIndex],
        price_catalog: PriceCatalog,
        clock: Clock = utc_now,
        reads: ReadModel | None = None,
        payments: PaymentGateway | None = None,
        webhooks: WebhookSender | None = None,
        dunning_days: tuple[int, ...] = (1, 3, 7),
    ) -> None:
        self.clock = clock
        self.reads = reads = reads or ReadModel()
        self.store = store = EventStore(env)
        self.reference = reference = ReferenceData(store.recorder, store.repository, store.head, store.head_since)
        store.appended_listeners.append(reference.appended)
        self.payments = cards = CardPayments(payments)
        rating = RatingInForce(reference)
        self.usage_history = usage_history = _wired(reads.usage_history, "usage history")
        self.billing_reads = billing_reads = _wired(reads.billing, "billing reads")
        self.wallet_reads = wallet_reads = _wired(reads.wallets, "wallet reads")
        self.authorization_reads = authorization_reads = _wired(reads.authorizations, "authorization reads")
        self.alert_reads = alert_reads = _wired(reads.alerts, "alert reads")
        self.barrier = barrier = ReadModelBarrier(store, usage_history)
        self.catalog = Catalog(store, reference, price_catalog)
        self.customers = customers = Customers(store, reference, clock)
        self.billing_details = BillingDetails(store, customers)
        self.wallets = wallets = Wallets(store, customers, cards, clock)
        self.metering = Metering(store, reference, rating, usage_index(store.recorder), clock)
        self.simulations = Simulations(reference, customers, usage_history)
        self.rerating = Rerating(store, reference, rating, usage_history, barrier)
        self.tiers = tiers = TierSettlements(store, reference, usage_history, clock)
        self.billing = billing = Billing(
            store, reference, customers, tiers, billing_reads, barrier, cards, clock,
            dunning_days,
        )  # fmt: skip
        self.payment_notices = PaymentNotices(wallets, billing, cards)
        self.wallet_policies = WalletPolicies(store, reference, customers, wallets, wallet_reads, barrier, cards, clock)
        self.log_tail = LogTail(store)
        store.appended_listeners.append(self.log_tail.appended)
        self.authorizations = Authorizations(store, customers, rating, authorization_reads, self.log_tail, clock)
        self.alerts = Alerts(store, reference, alert_reads, authorization_reads, clock)
        self.webhooks = Webhooks(store, reference)
        self.operator_keys = OperatorKeys(store)
        self._webhook_sender = webhooks

    # The policies, each an object with a step(), given the checkpoints they keep --------

    def version_watcher(self, checkpoints: Checkpoints) -> VersionWatcher:
        return VersionWatcher(self.store, self.reference, self.rerating, self.tiers, checkpoints)

    def tier_settler(self, checkpoints: Checkpoints) -> TierSettler:
        return TierSettler(self.tiers, self.usage_history, checkpoints, self.clock)

    def alert_policy(self, checkpoints: Checkpoints) -> AlertPolicy:
        return AlertPolicy(self.alerts, self.usage_history, checkpoints)

    def webhook_dispatcher(self, checkpoints: Checkpoints) -> WebhookDispatcher:
        return WebhookDispatcher(self.webhooks, self._webhook_sender, self.alert_reads, checkpoints, self.clock)

    def dunning(self) -> Dunning:
        return Dunning(self.billing)

    def gateway_ledger(self) -> GatewayLedger:
        """What the gateway spends through (application/gateway.py)."""
        return GatewayLedger(self.customers, self.authorizations, self.metering, self.clock)

    def close(self) -> None:
        self.barrier.close()
        self.store.close()


T = TypeVar("T")


def _wired(port: T | None, name: str) -> T:
    if port is None:
        raise RuntimeError(f"no {name} are wired into this application")
    return port
