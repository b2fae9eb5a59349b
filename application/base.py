"""The application's shared state, which every use-case module builds on.

Use cases are split by subject into modules that extend one another in a
line (base → catalog → customers → wallets → metering → simulation →
rerating → tier settlements → Tally), so each sees what the ones before it
offer, and the one Application class is assembled at the end of the line."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Recording
from eventsourcing.utils import EnvType

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
from application.reference import ReferenceData


class TallyBase(Application[UUID]):
    name = "tally"

    def __init__(
        self,
        env: EnvType | None,
        *,
        usage_index: Callable[[ApplicationRecorder], UsageIndex],
        price_catalog: PriceCatalog,
        clock: Clock,
        usage_history: UsageHistory | None = None,
        payments: PaymentGateway | None = None,
        billing_reads: BillingReads | None = None,
        wallet_reads: WalletReads | None = None,
        authorization_reads: AuthorizationReads | None = None,
        alert_reads: AlertReads | None = None,
        webhooks: WebhookSender | None = None,
        dunning_days: tuple[int, ...] = (1, 3, 7),
    ) -> None:
        super().__init__(env)
        self._usage_history = usage_history
        self.payments = payments  # None: no card processor configured
        self._billing_reads = billing_reads
        self._wallet_reads = wallet_reads
        self._authorization_reads = authorization_reads
        self._alert_reads = alert_reads
        self.webhooks = webhooks
        self.dunning_days = list(dunning_days)
        self.clock = clock
        self.price_catalog = price_catalog
        self.usage_index = usage_index(self.recorder)
        self.reference = ReferenceData(self.recorder, self.repository)
        self.saved_listeners: list[Callable[[int], None]] = []
        self.counters: dict[str, int] = {"accepted": 0, "duplicate": 0, "rejected": 0}
        self.counters_lock = threading.Lock()

    @property
    def usage_history(self) -> UsageHistory:
        if self._usage_history is None:
            raise RuntimeError("no usage history is wired into this application")
        return self._usage_history

    @property
    def billing_reads(self) -> BillingReads:
        if self._billing_reads is None:
            raise RuntimeError("no billing read model is wired into this application")
        return self._billing_reads

    @property
    def wallet_reads(self) -> WalletReads:
        if self._wallet_reads is None:
            raise RuntimeError("no wallet read model is wired into this application")
        return self._wallet_reads

    @property
    def authorization_reads(self) -> AuthorizationReads:
        if self._authorization_reads is None:
            raise RuntimeError("no authorization read model is wired into this application")
        return self._authorization_reads

    @property
    def alert_reads(self) -> AlertReads:
        if self._alert_reads is None:
            raise RuntimeError("no alert read model is wired into this application")
        return self._alert_reads

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then wake this process's follower (others poll)."""
        return self._saved(super().save(*objs, **kwargs))

    def append(self, events: Sequence[Any]) -> list[Recording[UUID]]:
        """Append creation events that need no aggregate object (the usage hot
        path): the same mapper, recorder and atomic insert as save(), without
        collecting events from aggregates one protocol check at a time."""
        return self._saved(self.events.put(events))

    def _saved(self, recordings: list[Recording[UUID]]) -> list[Recording[UUID]]:
        if recordings:
            position = max(recording.notification.id for recording in recordings)
            for listener in self.saved_listeners:
                listener(position)
        return recordings
