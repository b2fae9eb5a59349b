"""The read-model barrier: wait until the read model has applied the log up
to its head as it stands now. Use cases that decide from projected figures
(re-rating, billing runs, wallet policies) pass it first, so every event
recorded before they began is counted."""

from __future__ import annotations

from application.event_store import EventStore
from application.ports import UsageHistory


class ReadModelBarrier:
    def __init__(self, store: EventStore, usage_history: UsageHistory) -> None:
        self.store = store
        self.usage_history = usage_history

    def caught_up(self, timeout_seconds: float) -> bool:
        """Whether the read model reached the log's present head within the timeout."""
        return self.usage_history.caught_up(self.store.head(), timeout_seconds)
