"""Double-entry journal entries. A posting moves an amount from one account
to another in one currency, so every entry balances by construction; the
checks below guard the construction itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.accounts import account_type
from domain.invariants import InvariantViolated, require
from domain.money import ZERO, exact, is_currency


@dataclass(frozen=True)
class Posting:
    debit: str
    credit: str
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        # The amount's message is formatted only when the check fails: each
        # usage event's rating makes two postings, on the recording's hot path.
        amount = self.amount
        require(isinstance(amount, Decimal), "money is Decimal")
        if not amount > ZERO:
            raise InvariantViolated(f"a posting moves a positive amount: {amount}")
        require(amount == exact(amount), "posted amounts keep 12 places")
        require(self.debit != self.credit, "a posting moves money between two accounts")
        require(is_currency(self.currency), self.currency)
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
    kind within that event ("usage", "grant", ...).

    It balances by construction: each posting debits one account and credits
    another with the same checked amount in the same currency, so its legs
    net to zero per currency whatever the postings are. Summing them again
    here could only ever find an imbalance that Decimal rounding made up (a
    28-digit sum of amounts past 16 integer digits), never a real one; the
    sum is kept for what is not built from postings (check_balanced)."""

    kind: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        require(self.postings, "an entry has at least one posting")
        require(all(type(posting) is Posting for posting in self.postings), "an entry is made of postings")

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


class UnbalancedEntry(InvariantViolated):
    """Debits and credits differ in some currency."""


def legs_of(postings: Iterable[Posting]) -> list[tuple[str, Decimal, str]]:
    """The entry's legs, the way a ledger book writes them: one line per
    account side, the debit positive and the credit negative, in its currency."""
    return _legs((posting.debit, posting.credit, posting.amount, posting.currency) for posting in postings)


def _legs(postings: Iterable[tuple[str, str, Decimal, str]]) -> list[tuple[str, Decimal, str]]:
    legs = []
    for debit, credit, amount, currency in postings:
        legs.append((debit, amount, currency))
        legs.append((credit, -amount, currency))
    return legs


def check_balanced(legs: Iterable[tuple[str, Decimal, str]]) -> None:
    """Debits equal credits per currency: the invariant the trial balance
    rests on. `legs` are (account, signed amount, currency) lines, debits
    positive and credits negative; raises UnbalancedEntry naming each
    currency whose lines do not sum to zero."""
    net: dict[str, Decimal] = {}
    for _account, amount, currency in legs:
        net[currency] = net.get(currency, ZERO) + amount
    off = {currency: total for currency, total in sorted(net.items()) if total != ZERO}
    if off:
        shown = ", ".join(f"{currency} debits exceed credits by {total}" for currency, total in off.items())
        raise UnbalancedEntry(f"unbalanced entry: {shown}")


def assert_balanced(postings: Iterable[Posting]) -> None:
    """An entry's postings, written as legs, balance per currency."""
    check_balanced(legs_of(postings))


StoredPosting = tuple[str, str, Decimal, str]  # debit, credit, amount, currency


def stored_postings(data: Mapping[str, Any]) -> list[StoredPosting]:
    """A stored entry's postings as (debit, credit, amount, currency), read
    from the dicts as_dict() wrote without building Posting objects: for a
    reader of entries checked when they were posted (the read model). The
    entry must still balance per currency (check_balanced on its legs); the
    audit reads entries through JournalEntry.from_dict, every check again."""
    postings = [(p["debit"], p["credit"], Decimal(p["amount"]), p["currency"]) for p in data["postings"]]
    require(postings, "an entry has at least one posting")
    check_balanced(_legs(postings))
    return postings
