"""What one domain event changes in a customer's standing (the figures an
authorization is decided on): the balance of its wallet or receivable, its
spend on a day, the holds its usage captures, and the status of its
invoices (a failed card charge or a write-off makes it past due).

The read model keeps these figures as sums; an authorization adds the
changes of the events the read model has not applied yet (application/
log_tail.py). Both read the same journal entries (domain/entries.py), so
an event counts the same whichever side it is on when a decision is made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from domain.accounts import customer_of
from domain.entries import entries_of
from domain.events import (
    InvoiceChargeFailed,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoicePaid,
    InvoiceReopened,
    UsageRecorded,
)
from domain.invoice import PAST_DUE_STATUSES, status_at_issue
from domain.money import ZERO


@dataclass(frozen=True)
class StandingChange:
    customer: str
    currency: str
    balance: Decimal = ZERO  # + credits the customer (a top-up), - charges it (usage)
    spend_day: str | None = None  # YYYY-MM-DD (UTC) of the usage whose charge changed
    spend: Decimal = ZERO
    captured: str | None = None  # the authorization whose hold this usage captures
    invoice: str | None = None  # the invoice whose status this event set...
    invoice_status: str | None = None  # ...to this


def changes_of(event: Any) -> list[StandingChange]:
    changes = [*_balance_changes(event), *_spend_changes(event)]
    if isinstance(event, UsageRecorded) and event.authorization_id:
        changes.append(StandingChange(event.customer, _currency(event), captured=event.authorization_id))
    status = invoice_status_after(event)
    if status is not None:
        changes.append(StandingChange(event.customer, "", invoice=event.invoice_id, invoice_status=status))
    return changes


def invoice_status_after(event: Any) -> str | None:
    """The status an invoice's event leaves it in (None for any other
    event): the read model's rule for its invoices, and the tail's."""
    if isinstance(event, InvoiceIssued):
        return status_at_issue(Decimal(event.figures["amount_due"]))
    if isinstance(event, InvoiceChargeFailed):
        return "payment_failed"
    if isinstance(event, InvoiceMarkedUncollectible):
        return "uncollectible"
    if isinstance(event, InvoicePaid):
        return str(event.status_after)
    if isinstance(event, InvoiceReopened):
        return "open"
    return None


def is_past_due(projected: Iterable[str], later: Mapping[str, str]) -> bool:
    """Whether a customer is past due: `projected` its invoices past due as
    the read model stands, `later` the status each invoice was last set to
    by the events beyond it (in log order)."""
    statuses = dict.fromkeys(projected, PAST_DUE_STATUSES[0])
    statuses.update(later)
    return any(status in PAST_DUE_STATUSES for status in statuses.values())


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
