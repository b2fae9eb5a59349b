"""A customer's billing details: the buyer's name, address, tax id and email
that its invoices print. Set on their own event (`Customer.BillingDetailsSet`),
so customers registered before they existed replay unchanged."""

from __future__ import annotations

from collections.abc import Mapping

from eventsourcing.persistence import IntegrityError

from application.customers import Customers
from application.errors import Conflict, ValidationFailed
from application.event_store import EventStore
from domain.customer import BILLING_DETAIL_FIELDS, Customer

# Limits on what an invoice has room for (characters; the address also in lines).
MAX_LENGTHS = {"name": 200, "address": 500, "tax_id": 64, "email": 254}
MAX_ADDRESS_LINES = 6


class BillingDetails:
    def __init__(self, store: EventStore, customers: Customers) -> None:
        self.store = store
        self.customers = customers

    def set(self, customer_id: str, details: Mapping[str, str | None] | None) -> Customer:
        """Replace the customer's billing details with `details` (fields left
        out or null are cleared; None or {} clears them all)."""
        kept = checked(details or {})
        customer = self.customers.stored(customer_id)
        if (kept or None) == customer.billing_details:
            return customer
        customer.set_billing_details(kept or None)
        try:
            self.store.save(customer)
        except IntegrityError:
            raise Conflict(f"customer {customer_id!r} was changed concurrently; try again") from None
        return customer


def checked(details: Mapping[str, str | None]) -> dict[str, str]:
    """The details with text, trimmed; a 422 for unknown fields, text too long,
    or control characters (other than the address's line breaks)."""
    unknown = sorted(set(details) - set(BILLING_DETAIL_FIELDS))
    if unknown:
        raise ValidationFailed(
            f"billing_details has unknown fields: {', '.join(unknown)}", [{"loc": unknown[0], "msg": "unknown field"}]
        )
    kept: dict[str, str] = {}
    for field, value in details.items():
        text = "\n".join(line.strip() for line in (value or "").strip().splitlines()).strip()
        loc = f"billing_details.{field}"
        if len(text) > MAX_LENGTHS[field]:
            raise ValidationFailed(
                f"{loc} is longer than {MAX_LENGTHS[field]} characters", [{"loc": loc, "msg": "length"}]
            )
        allowed = "\n" if field == "address" else ""
        if any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in text):
            raise ValidationFailed(f"{loc} holds control characters", [{"loc": loc, "msg": "control character"}])
        if field == "address" and text.count("\n") >= MAX_ADDRESS_LINES:
            raise ValidationFailed(f"{loc} has more than {MAX_ADDRESS_LINES} lines", [{"loc": loc, "msg": "lines"}])
        if text:
            kept[field] = text
    return kept
