"""The reference rules of an invoice's figures (docs/collection.md): lines add
up to the subtotal, adjustments (notes, tiers) to the rest of the exact
total; an invoice's total is the exact total rounded half-even to the cent
and the difference is its rounding; a negative total is due as zero and
its credit carried to the next invoices; a prepaid customer's statement is
neither rounded nor due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass
class InvoiceFigures:
    invoice_id: str
    kind: str  # invoice | statement
    period_start: datetime
    period_end: datetime
    exact_total: Decimal
    total: Decimal
    rounding: Decimal
    credits_applied: Decimal
    credit_carried: Decimal
    amount_due: Decimal
    amount_paid: Decimal = ZERO
    references: frozenset[str] = frozenset()
    charge_failed: bool = False  # a postpaid card declined when the invoice was issued

    @property
    def amount_remaining(self) -> Decimal:
        return self.amount_due - self.amount_paid

    @property
    def status(self) -> str:
        if self.amount_remaining == ZERO:
            return "paid"
        return "payment_failed" if self.charge_failed else "open"


def figures(
    invoice_id: str, kind: str, period: tuple[datetime, datetime], exact_total: Decimal, credit_before: Decimal
) -> InvoiceFigures:
    """What an invoice with this exact total must state, given the credit the
    customer carried into it."""
    if kind == "statement":
        return InvoiceFigures(invoice_id, kind, *period, exact_total, exact_total, ZERO, ZERO, credit_before, ZERO)
    total = exact_total.quantize(CENT, rounding=ROUND_HALF_EVEN)
    applied = min(credit_before, max(total, ZERO))
    carried = credit_before - applied + max(-total, ZERO)
    due = max(total, ZERO) - applied
    return InvoiceFigures(invoice_id, kind, *period, exact_total, total, total - exact_total, applied, carried, due)


def shown_problems(shown: dict[str, object]) -> list[str]:
    """An invoice's own arithmetic, as the server shows it: the lines add up
    to the subtotal, and subtotal plus adjustments is the exact total."""
    lines = shown["lines"]
    adjustments = shown["adjustments"]
    assert isinstance(lines, list) and isinstance(adjustments, list)
    subtotal = sum((Decimal(line["amount"]) for line in lines), ZERO)
    adjusted = sum((Decimal(adjustment["amount"]) for adjustment in adjustments), ZERO)
    exact = Decimal(str(shown["total"])) - Decimal(str(shown["rounding"]))
    problems = []
    if subtotal != Decimal(str(shown["subtotal"])):
        problems.append(f"{shown['id']}: lines add up to {subtotal}, subtotal says {shown['subtotal']}")
    if subtotal + adjusted != exact:
        problems.append(f"{shown['id']}: subtotal {subtotal} + adjustments {adjusted} != exact total {exact}")
    for note in (a for a in adjustments if "lines" in a):
        noted = sum((Decimal(line["amount"]) for line in note["lines"]), ZERO)
        if noted != Decimal(note["amount"]):
            problems.append(f"{shown['id']}: note {note['note']} lines add up to {noted}, not {note['amount']}")
    return problems
