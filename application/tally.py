"""The tally application: one event-sourced application, one notification
log, so that a single ordered stream feeds every projection and an auditor
replays one history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Recording
from eventsourcing.utils import EnvType

from application.metering import MeteringQueries
from application.ports import Clock, PriceCatalog, UsageIndex


def utc_now() -> datetime:
    return datetime.now(UTC)


class Tally(MeteringQueries):
    name = "tally"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        usage_index: Callable[[ApplicationRecorder], UsageIndex],
        price_catalog: PriceCatalog,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(env, usage_index=usage_index, price_catalog=price_catalog, clock=clock)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then wake this process's follower (others poll)."""
        recordings = super().save(*objs, **kwargs)
        if recordings:
            position = max(recording.notification.id for recording in recordings)
            for listener in self.saved_listeners:
                listener(position)
        return recordings
