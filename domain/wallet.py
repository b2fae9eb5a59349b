"""The order a prepaid wallet is spent in: granted funds before paid funds,
the grant that expires first before the others, and what that leaves of a
grant when it expires. The wallet is one account in the ledger; which funds
were spent is a computation over it, made when a grant expires."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.money import ZERO


@dataclass(frozen=True)
class Grant:
    top_up_id: str
    amount: Decimal
    expires_at: datetime | None
    granted_at: datetime
    expired: Decimal | None  # left when it expired; None while it has not


def spending_order(grants: Sequence[Grant]) -> list[Grant]:
    """First to expire, first spent; grants without an expiry after them."""
    return sorted(
        grants,
        key=lambda g: (
            g.expires_at is None,
            g.expires_at.timestamp() if g.expires_at else 0.0,
            g.granted_at.timestamp(),
            g.top_up_id,
        ),
    )


def unspent_at_expiry(grants: Sequence[Grant], expiring: str, spent: Decimal) -> Decimal:
    """What is left of grant `expiring` when it expires, given that `spent`
    had been consumed from the wallet by then: consumption fills the grants
    in spending order; a grant that expired before holds what it had spent."""
    capacity = ZERO
    for grant in spending_order(grants):
        if grant.top_up_id == expiring:
            return min(max(capacity + grant.amount - spent, ZERO), grant.amount)
        capacity += grant.amount - (grant.expired or ZERO) if grant.expired is not None else grant.amount
    raise AssertionError(f"grant {expiring} is not among the wallet's grants")
