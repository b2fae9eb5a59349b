"""Double-entry journal entries. A posting moves an amount from one account
to another in one currency, so every entry balances by construction; the
checks below guard the construction itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.accounts import account_type
from domain.money import ZERO, exact, is_currency


@dataclass(frozen=True)
class Posting:
    debit: str
    credit: str
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        assert isinstance(self.amount, Decimal), "money is Decimal"
        assert self.amount > ZERO, f"a posting moves a positive amount: {self.amount}"
        assert self.amount == exact(self.amount), "posted amounts keep 12 places"
        assert self.debit != self.credit, "a posting moves money between two accounts"
        assert is_currency(self.currency), self.currency
        account_type(self.debit)
        account_type(self.credit)

    def as_dict(self) -> dict[str, Any]:
        return {
            "debit": self.debit,
            "credit": self.credit,
            "amount": str(self.amount),
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Posting:
        return cls(data["debit"], data["credit"], Decimal(data["amount"]), data["currency"])


@dataclass(frozen=True)
class JournalEntry:
    """An entry is identified by the event that carries it and the entry's
    kind within that event ("usage", "grant", ...)."""

    kind: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        assert self.postings, "an entry has at least one posting"
        assert_balanced(self.postings)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "postings": [p.as_dict() for p in self.postings]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JournalEntry:
        return cls(data["kind"], tuple(Posting.from_dict(p) for p in data["postings"]))


def entry(kind: str, movements: Iterable[tuple[str, str, Decimal, str]]) -> JournalEntry | None:
    """An entry from (debit, credit, amount, currency) movements, leaving out
    those that move nothing; None when none moves money (a free model, a zero
    charge): a zero posting is noise in the ledger."""
    postings = tuple(
        Posting(debit, credit, amount, currency) for debit, credit, amount, currency in movements if amount != ZERO
    )
    return JournalEntry(kind, postings) if postings else None


def assert_balanced(postings: Iterable[Posting]) -> None:
    """Debits equal credits per currency: the invariant the trial balance rests on."""
    debits: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    for posting in postings:
        debits[posting.currency] = debits.get(posting.currency, ZERO) + posting.amount
        credits[posting.currency] = credits.get(posting.currency, ZERO) + posting.amount
    assert debits == credits, f"unbalanced entry: {debits} != {credits}"
