"""Which journal entries a domain event carries: the one place that knows,
used by the read model and by the audit alike."""

from __future__ import annotations

from domain.journal import JournalEntry
from domain.rating import Rating
from domain.top_up import TopUp
from domain.usage import Usage


def entries_of(event: object) -> list[JournalEntry]:
    if isinstance(event, Usage.Recorded) and event.rating and event.rating["entry"]:
        journal = Rating.from_dict(event.rating).entry
        return [journal] if journal else []
    if isinstance(event, TopUp.Granted):
        return [JournalEntry.from_dict(event.entry)]
    return []
