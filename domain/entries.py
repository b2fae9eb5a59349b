"""Which journal entries a domain event carries: the one place that knows,
used by the read model and by the audit alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain import accounts
from domain.events import UsageRecorded, UsageRerated, UsageUnpriced
from domain.journal import JournalEntry, StoredPosting, stored_postings


def charged_account(entry: Mapping[str, Any] | None) -> str | None:
    """The customer account a usage entry charged: the debit of the posting
    that credits usage revenue (None for an entry that charged nothing)."""
    for posting in entry["postings"] if entry else ():
        if posting["credit"] == accounts.USAGE_REVENUE:
            return str(posting["debit"])
    return None


def entries_of(event: object) -> list[JournalEntry]:
    if isinstance(event, UsageRecorded):
        rating = event.rating
        return [JournalEntry.from_dict(rating["entry"])] if rating and rating["entry"] else []
    if isinstance(event, (UsageRerated, UsageUnpriced)):
        return [JournalEntry.from_dict(event.adjustment)] if event.adjustment else []
    # Every other event that moves money carries its entry as `entry`
    # (grants, tier settlements, card top-ups, invoices and their payments).
    found = getattr(event, "entry", None)
    return [JournalEntry.from_dict(found)] if isinstance(found, dict) else []


def stored_entries_of(event: object) -> list[tuple[str, list[StoredPosting]]]:
    """entries_of() as (kind, postings) read from the stored dicts, each
    entry refused unless it balances (domain/journal.py::stored_postings)."""
    if isinstance(event, UsageRecorded):
        rating = event.rating
        found = rating["entry"] if rating else None
    elif isinstance(event, (UsageRerated, UsageUnpriced)):
        found = event.adjustment
    else:
        found = getattr(event, "entry", None)
        if not isinstance(found, dict):
            return []
    return [(found["kind"], stored_postings(found))] if found else []
