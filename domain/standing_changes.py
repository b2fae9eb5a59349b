"""What one domain event changes in a customer's standing (the figures an
authorization is decided on): the balance of its wallet or receivable, its
spend on a day, and the holds its usage captures.

The read model keeps these figures as sums; an authorization adds the
changes of the events the read model has not applied yet (application/
log_tail.py). Both read the same journal entries (domain/entries.py), so
an event counts the same whichever side it is on when a decision is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from domain.accounts import customer_of
from domain.entries import entries_of
from domain.events import UsageRecorded
from domain.money import ZERO


@dataclass(frozen=True)
class StandingChange:
    customer: str
    currency: str
    balance: Decimal = ZERO  # + credits the customer (a top-up), - charges it (usage)
    spend_day: str | None = None  # YYYY-MM-DD (UTC) of the usage whose charge changed
    spend: Decimal = ZERO
    captured: str | None = None  # the authorization whose hold this usage captures


def changes_of(event: Any) -> list[StandingChange]:
    changes = [*_balance_changes(event), *_spend_changes(event)]
    if isinstance(event, UsageRecorded) and event.authorization_id:
        changes.append(StandingChange(event.customer, _currency(event), captured=event.authorization_id))
    return changes


def _balance_changes(event: Any) -> list[StandingChange]:
    """Per posting that touches a customer's account: + on its credit side,
    - on its debit side, the read model's own rule for balances."""
    changes = []
    for journal in entries_of(event):
        for posting in journal.postings:
            debtor, creditor = customer_of(posting.debit), customer_of(posting.credit)
            if debtor is not None:
                changes.append(StandingChange(debtor, posting.currency, balance=-posting.amount))
            if creditor is not None:
                changes.append(StandingChange(creditor, posting.currency, balance=posting.amount))
    return changes


def _spend_changes(event: Any) -> list[StandingChange]:
    """A usage's charge counts toward the spend of the day it happened; a
    later rating of it (a correction, a first rating, a reversal to unpriced)
    states the change as `delta_charge`."""
    occurred_at = getattr(event, "occurred_at", None)
    customer = getattr(event, "customer", None)
    if occurred_at is None or customer is None:
        return []
    if isinstance(event, UsageRecorded):
        delta = Decimal(event.rating["charge"]) if event.rating else ZERO
    elif hasattr(event, "delta_charge"):
        delta = Decimal(event.delta_charge)
    else:
        return []
    if delta == ZERO:
        return []
    day = occurred_at.astimezone(UTC).date().isoformat()
    return [StandingChange(customer, _currency(event), spend_day=day, spend=delta)]


def _currency(event: Any) -> str:
    rating = getattr(event, "rating", None)
    return str(rating["currency"]) if rating else ""
