"""Which journal entries a domain event carries: the one place that knows,
used by the read model and by the audit alike."""

from __future__ import annotations

from domain.events import TopUpGranted, UsageRecorded, UsageRerated
from domain.journal import JournalEntry


def entries_of(event: object) -> list[JournalEntry]:
    if isinstance(event, UsageRecorded):
        rating = event.rating
        return [JournalEntry.from_dict(rating["entry"])] if rating and rating["entry"] else []
    if isinstance(event, UsageRerated):
        return [JournalEntry.from_dict(event.adjustment)] if event.adjustment else []
    if isinstance(event, TopUpGranted):
        return [JournalEntry.from_dict(event.entry)]
    return []
