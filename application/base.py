"""The application's shared state, which every use-case module builds on.

Use cases are split by subject into modules that extend one another in a
line (base → catalog → customers → wallets → metering → simulation →
rerating → tier settlements → Tally), so each sees what the ones before it
offer, and the one Application class is assembled at the end of the line."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Recording, Transcoder
from eventsourcing.utils import EnvType

from application.errors import Conflict
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
from application.stored_values import StoredValuesTranscoder

MAX_CHANGE_ATTEMPTS = 5
A = TypeVar("A")


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


class TallyBase(Application[UUID]):
    name = "tally"

    def __init__(
        self,
        env: EnvType | None,
        *,
        usage_index: Callable[[ApplicationRecorder], UsageIndex],
        price_catalog: PriceCatalog,
        clock: Clock = utc_now,
        reads: ReadModel | None = None,
        payments: PaymentGateway | None = None,
        webhooks: WebhookSender | None = None,
        dunning_days: tuple[int, ...] = (1, 3, 7),
    ) -> None:
        super().__init__(env)
        self.reads = reads or ReadModel()
        self.payments = payments  # None: no card processor configured
        self.webhooks = webhooks
        self.dunning_days = list(dunning_days)
        self.clock = clock
        self.price_catalog = price_catalog
        self.usage_index = usage_index(self.recorder)
        self.reference = ReferenceData(self.recorder, self.repository)
        self.saved_listeners: list[Callable[[int], None]] = []
        self.counters: dict[str, int] = {"accepted": 0, "duplicate": 0, "rejected": 0}
        self.counters_lock = threading.Lock()

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder, tolerant of stored caller objects
        shaped like its transcoded values (application/stored_values.py)."""
        transcoder = StoredValuesTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    @property
    def usage_history(self) -> UsageHistory:
        return _wired(self.reads.usage_history, "usage history")

    @property
    def billing_reads(self) -> BillingReads:
        return _wired(self.reads.billing, "billing reads")

    @property
    def wallet_reads(self) -> WalletReads:
        return _wired(self.reads.wallets, "wallet reads")

    @property
    def authorization_reads(self) -> AuthorizationReads:
        return _wired(self.reads.authorizations, "authorization reads")

    @property
    def alert_reads(self) -> AlertReads:
        return _wired(self.reads.alerts, "alert reads")

    def change(self, load: Callable[[], A], change: Callable[[A], object], what: str) -> A:
        """Load an aggregate, change it, save it; when another writer changed it
        meanwhile (the event store refuses the append), again from the new state."""
        for _attempt in range(MAX_CHANGE_ATTEMPTS):
            found = load()
            change(found)
            try:
                self.save(found)
                return found
            except IntegrityError:
                continue
        raise Conflict(f"{what} is being changed concurrently; try again")

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


T = TypeVar("T")


def _wired(port: T | None, name: str) -> T:
    if port is None:
        raise RuntimeError(f"no {name} are wired into this application")
    return port
