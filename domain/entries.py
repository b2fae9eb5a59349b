"""Which journal entries a domain event carries: the one place that knows,
used by the read model and by the audit alike."""

from __future__ import annotations

from domain.events import TopUpGranted, UsageRecorded
from domain.journal import JournalEntry
from domain.rating import Rating


def entries_of(event: object) -> list[JournalEntry]:
    if isinstance(event, UsageRecorded) and event.rating and event.rating["entry"]:
        journal = Rating.from_dict(event.rating).entry
        return [journal] if journal else []
    if isinstance(event, TopUpGranted):
        return [JournalEntry.from_dict(event.entry)]
    return []
