"""Who an invoice is from and to: the seller from the operator's settings
(TALLY_SELLER_*), the buyer from the customer's record and its billing
details."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Party:
    name: str
    address: tuple[str, ...] = ()  # postal address, one line each
    tax_id: str | None = None
    email: str | None = None
    reference: str | None = None  # the buyer's account id
    logo: Path | None = field(default=None, compare=False)


def address_lines(text: str | None) -> tuple[str, ...]:
    """Lines of an address given as one string: split at newlines, or at a
    literal backslash-n (what an environment variable set on one line holds)."""
    lines = (text or "").replace("\\n", "\n").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def seller_from(settings: Any) -> Party:
    return Party(
        name=settings.seller_name or "",
        address=address_lines(settings.seller_address),
        tax_id=settings.seller_tax_id or None,
        logo=settings.seller_logo,
    )


def buyer_from(customer: Any) -> Party:
    """The billing name if set, else the customer's name (never only its id)."""
    details: dict[str, str] = customer.billing_details or {}
    return Party(
        name=details.get("name") or customer.name,
        address=address_lines(details.get("address")),
        tax_id=details.get("tax_id"),
        email=details.get("email"),
        reference=customer.customer_id,
    )
