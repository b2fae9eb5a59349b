"""The TopUp aggregate: funds credited to a prepaid wallet, one per
(customer, top-up id)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import accounts
from domain.identifiers import aggregate_id
from domain.invariants import InvariantViolated, require
from domain.journal import JournalEntry, entry
from domain.money import ZERO


def grant_entry(customer: str, amount: Decimal, currency: str) -> JournalEntry:
    """Promotional funds: the operator takes the expense and owes the customer."""
    journal = entry("grant", [(accounts.GRANTS_EXPENSE, accounts.wallet(customer), amount, currency)])
    if journal is None:
        raise InvariantViolated("a grant moves a positive amount")
    return journal


class TopUp(Aggregate):
    @staticmethod
    def create_id(customer: str, top_up_id: str) -> UUID:
        return aggregate_id("top-up", customer, top_up_id)

    @event("Granted")
    def __init__(
        self,
        customer: str,
        top_up_id: str,
        amount: Decimal,
        currency: str,
        expires_at: datetime | None,
        entry: dict[str, Any],
    ) -> None:
        require(amount > 0, "a top-up credits a positive amount")
        self.customer = customer
        self.top_up_id = top_up_id
        self.amount = amount
        self.currency = currency
        self.source = "grant"
        self.status = "succeeded"
        self.expires_at = expires_at
        self.entry = JournalEntry.from_dict(entry)
        self.expired: Decimal | None = None  # what was left when it expired

    def expire(self, unspent: Decimal) -> bool:
        """At its expiry, what is left of the grant leaves the wallet (the
        operator takes back the expense). Once; an expiry of nothing is
        recorded too, so that it is not looked at again."""
        if self.expires_at is None or self.expired is not None:
            return False
        require(ZERO <= unspent <= self.amount, unspent)
        journal = entry(
            "grant-expiry", [(accounts.wallet(self.customer), accounts.GRANTS_EXPENSE, unspent, self.currency)]
        )
        self._expired(customer=self.customer, top_up_id=self.top_up_id, amount=str(unspent),
                      entry=journal.as_dict() if journal else None)  # fmt: skip
        return True

    @event("Expired")
    def _expired(self, customer: str, top_up_id: str, amount: str, entry: dict[str, Any] | None) -> None:
        self.expired = Decimal(amount)

    @classmethod
    def grant(cls, customer: str, top_up_id: str, amount: Decimal, currency: str, expires_at: datetime | None) -> TopUp:
        journal = grant_entry(customer, amount, currency)
        return cls(customer, top_up_id, amount, currency, expires_at, journal.as_dict())
