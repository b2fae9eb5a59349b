"""Re-rating: the difference between a usage event's latest rating and a new
one, as an adjustment entry. Earlier entries are never edited; a correction
is a new entry that references both ratings, and a withdrawal (the versions
in force no longer price the usage) is a new entry that reverses the last."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain import accounts
from domain.invariants import InvariantViolated, require
from domain.journal import JournalEntry, entry
from domain.money import ZERO
from domain.rating import Rating


@dataclass(frozen=True)
class RatedWith:
    """A version of a price book (kind "price_book") or of a plan (kind
    "plan"), by its number. Versions of one book or plan are numbered in the
    order they are published, and reference data are read as a prefix of the
    log, so a usage rated with this version or a later one of the same book
    or plan was rated by a batch that knew this version: a re-rating for it
    has nothing to change there, and need not read that usage."""

    kind: str
    name: str
    number: int

    def __post_init__(self) -> None:
        require(self.kind in ("price_book", "plan"), self.kind)
        require(self.number >= 1, self.number)


@dataclass(frozen=True)
class PreviousRating:
    """What re-rating needs of the rating it replaces (None amounts: unpriced)."""

    price_version: int | None
    plan_version: int | None
    cost: Decimal | None
    charge: Decimal | None
    account: str | None  # the customer account the charge was posted to
    tiered: bool = False  # whether its cost counted toward the month's tier ladder
    currency: str | None = None  # the currency it was posted in (None while unpriced)

    @property
    def is_priced(self) -> bool:
        return self.charge is not None


def changes_amounts(previous: PreviousRating, new: Rating) -> bool:
    """Only a different amount (or a cost moving in or out of the tier
    ladder) is a correction: the same prices published again re-rate nothing."""
    return not previous.is_priced or (previous.cost, previous.charge, previous.tiered) != (
        new.cost,
        new.charge,
        new.tiered,
    )


def adjustment(previous: PreviousRating, new: Rating, provider: str) -> JournalEntry | None:
    """For usage that was unpriced, the new rating's own entry; otherwise the
    differences in charge and in provider cost, posted in the direction
    that corrects them, on the accounts the first entry used."""
    if not previous.is_priced:
        return new.entry
    if previous.cost is None or previous.charge is None or previous.account is None:
        raise InvariantViolated("only a rating is corrected")
    charge_delta = new.charge - previous.charge
    cost_delta = new.cost - previous.cost
    return entry(
        "rerating",
        [
            _movement(previous.account, accounts.USAGE_REVENUE, charge_delta, new.currency),
            _movement(accounts.provider_cost(provider), accounts.provider_payable(provider), cost_delta, new.currency),
        ],
    )


def _movement(debit: str, credit: str, delta: Decimal, currency: str) -> tuple[str, str, Decimal, str]:
    """A positive delta moves debit → credit as the original did; a negative one moves it back."""
    return (debit, credit, delta, currency) if delta >= ZERO else (credit, debit, -delta, currency)


def withdrawal(previous: PreviousRating, provider: str) -> JournalEntry | None:
    """For usage whose versions in force no longer price it: its charge
    returned to the customer account it was posted to and its provider cost
    taken back, kind `rerating` like any correction. None for a rating that
    moved nothing (a free model)."""
    require(previous.is_priced, "only a rating can be withdrawn")
    if previous.cost is None or previous.charge is None:
        raise InvariantViolated("only a rating is withdrawn")
    if previous.account is None or previous.currency is None:
        raise InvariantViolated("a rating names its account and currency")
    return entry(
        "rerating",
        [
            _movement(previous.account, accounts.USAGE_REVENUE, -previous.charge, previous.currency),
            _movement(
                accounts.provider_cost(provider), accounts.provider_payable(provider), -previous.cost, previous.currency
            ),
        ],
    )
