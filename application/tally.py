"""The tally application: one event-sourced application, one notification
log, so that a single ordered stream feeds every projection and an auditor
replays one history."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Recording
from eventsourcing.utils import EnvType

from application.catalog import Catalog
from application.customers import Customers
from application.metering import Metering, MeteringQueries
from application.ports import Clock, PriceCatalog, UsageIndex
from application.reference import ReferenceData
from application.wallets import Wallets


def utc_now() -> datetime:
    return datetime.now(UTC)


class Tally(Metering, MeteringQueries, Catalog, Customers, Wallets, Application[UUID]):
    name = "tally"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        usage_index: Callable[[ApplicationRecorder], UsageIndex],
        price_catalog: PriceCatalog,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.price_catalog = price_catalog
        self.usage_index = usage_index(self.recorder)
        self.reference = ReferenceData(self.recorder, self.repository)
        self.saved_listeners: list[Callable[[int], None]] = []
        self.counters: dict[str, int] = {"accepted": 0, "duplicate": 0, "rejected": 0}
        self.counters_lock = threading.Lock()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        recordings = super().save(*objs, **kwargs)
        if recordings:
            position = max(recording.notification.id for recording in recordings)
            for listener in self.saved_listeners:
                listener(position)
        return recordings
