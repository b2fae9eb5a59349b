"""The Invoice aggregate: a period's bill (or, for a prepaid customer, its
statement), issued once and never edited. What happens to it afterwards
(card charges and their failures, bank transfers, write-off, refunds and
disputes that reopen it) are further events, each with its journal entry.

An invoice's amounts are what the ledger already holds: usage, re-rating and
tier settlements were posted to the customer's receivable as they happened.
Issuing posts only the rounding of the total to the currency's minor unit,
so that the receivable holds exactly what the invoice asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import accounts
from domain.identifiers import aggregate_id
from domain.invariants import InvariantViolated, require
from domain.journal import entry
from domain.money import ZERO, round_to_minor_unit

STATUSES = ("open", "paid", "payment_failed", "uncollectible", "void")
PAST_DUE_STATUSES = ("payment_failed", "uncollectible")  # the customer is past due while one is


def status_at_issue(amount_due: Decimal) -> str:
    """Nothing due (a statement, a credit) is paid as issued."""
    return "paid" if amount_due == ZERO else "open"


def invoice_number(customer: str, start: datetime, end: datetime) -> str:
    """The invoice's public id: the customer and its period, so that a billing
    run repeated for the same period finds the invoice it already issued.
    Periods of whole days (UTC) are named by their dates; any other period by
    its moments, so two periods within one day never share an id."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if _is_midnight(start) and _is_midnight(end):
        return f"{customer}.{start:%Y%m%d}.{end:%Y%m%d}"
    return f"{customer}.{_moment(start)}.{_moment(end)}"


def _is_midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _moment(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}" + (f"{moment:%f}" if moment.microsecond else "")


@dataclass(frozen=True)
class Covered:
    """What an issued invoice covers: the usage first rated at or before the
    read-model position `cut` that happened before `end` (its period's end),
    less what the invoice before it covered."""

    invoice_id: str
    cut: int
    end: datetime


@dataclass(frozen=True)
class Totals:
    """An invoice's figures, computed from its lines (all exact decimals)."""

    subtotal: Decimal  # usage lines, late usage included
    tier_adjustment: Decimal
    corrections: Decimal  # credit (negative) and debit notes on earlier invoices
    total_exact: Decimal
    total: Decimal  # rounded half-even to the minor unit
    rounding: Decimal  # total − total_exact
    credits_applied: Decimal
    credit_carried: Decimal  # credit left for later invoices
    amount_due: Decimal


def totals(
    currency: str, lines: list[dict[str, Any]], tiers: list[dict[str, Any]], notes: list[dict[str, Any]],
    credit_before: Decimal, *, statement: bool,
) -> Totals:  # fmt: skip
    subtotal = sum((Decimal(line["amount"]) for line in lines), ZERO)
    tier_adjustment = sum((Decimal(line["amount"]) for line in tiers), ZERO)
    corrections = sum((Decimal(note["total"]) for note in notes), ZERO)
    exact_total = subtotal + tier_adjustment + corrections
    if statement:  # a prepaid wallet has paid it already: nothing is due, nothing rounds
        return Totals(subtotal, tier_adjustment, corrections, exact_total, exact_total, ZERO, ZERO, credit_before, ZERO)
    rounded = round_to_minor_unit(exact_total, currency)
    applied = min(credit_before, max(rounded, ZERO))
    carried = credit_before - applied + max(-rounded, ZERO)
    due = max(rounded, ZERO) - applied
    return Totals(
        subtotal, tier_adjustment, corrections, exact_total, rounded, rounded - exact_total, applied, carried, due
    )


class Invoice(Aggregate):
    @staticmethod
    def create_id(invoice_id: str) -> UUID:
        return aggregate_id("invoice", invoice_id)

    @event("Issued")
    def __init__(
        self,
        invoice_id: str,
        customer: str,
        kind: str,
        billing: str,
        currency: str,
        period_start: datetime,
        period_end: datetime,
        cut: int,
        lines: list[dict[str, Any]],
        tiers: list[dict[str, Any]],
        notes: list[dict[str, Any]],
        figures: dict[str, str],
        issued_at: datetime,
        due_at: datetime | None,
        entry: dict[str, Any] | None,
    ) -> None:
        require(kind in ("invoice", "statement"), kind)
        self.issued_at = issued_at  # on the application's clock
        self.invoice_id = invoice_id
        self.customer = customer
        self.kind = kind
        self.billing = billing
        self.currency = currency
        self.period_start = period_start
        self.period_end = period_end
        self.cut = cut  # the read-model position its lines were read at
        self.lines = lines
        self.tiers = tiers
        self.notes = notes
        self.figures = figures
        self.due_at = due_at
        self.amount_due = Decimal(figures["amount_due"])
        self.amount_paid = ZERO
        self.status = status_at_issue(self.amount_due)
        self.attempts: list[dict[str, Any]] = []
        self.next_attempt_at: datetime | None = None
        self.payment_intent: str | None = None
        self.reversed: dict[str, Decimal] = {}  # refund totals and disputes, by Stripe id
        self.references: set[str] = set()  # of the payments recorded

    @classmethod
    def issue(
        cls,
        *,
        invoice_id: str,
        customer: str,
        billing: str,
        currency: str,
        period: tuple[datetime, datetime],
        cut: int,
        lines: list[dict[str, Any]],
        tiers: list[dict[str, Any]],
        notes: list[dict[str, Any]],
        credit_before: Decimal,
        issued_at: datetime,
        net_terms_days: int,
    ) -> Invoice:
        statement = billing == "prepaid"
        figures = totals(currency, lines, tiers, notes, credit_before, statement=statement)
        receivable = accounts.receivable(customer)
        rounding = figures.rounding
        journal = entry(
            "rounding",
            [
                (receivable, accounts.ROUNDING, rounding, currency)
                if rounding >= ZERO
                else (accounts.ROUNDING, receivable, -rounding, currency)
            ],
        )
        due_at = issued_at + timedelta(days=net_terms_days) if billing == "invoice" else issued_at
        return cls(
            invoice_id=invoice_id,
            customer=customer,
            kind="statement" if statement else "invoice",
            billing=billing,
            currency=currency,
            period_start=period[0],
            period_end=period[1],
            cut=cut,
            lines=lines,
            tiers=tiers,
            notes=notes,
            figures={name: str(value) for name, value in figures.__dict__.items()},
            issued_at=issued_at,
            due_at=None if statement else due_at,
            entry=journal.as_dict() if journal else None,
        )

    @property
    def total(self) -> Decimal:
        return Decimal(self.figures["total"])

    def is_overdue(self, now: datetime) -> bool:
        return self.status == "open" and self.due_at is not None and self.due_at < now

    @property
    def amount_remaining(self) -> Decimal:
        return self.amount_due - self.amount_paid

    @property
    def receivable(self) -> str:
        return accounts.receivable(self.customer)

    # Card charges (postpaid) -------------------------------------------------

    def charge_succeeded(self, payment_intent: str | None, charge: str | None) -> bool:
        """A card payment succeeded. A payment already recorded (its webhook
        arriving after the synchronous answer, or replayed, maybe after a
        refund reopened the invoice) pays nothing again."""
        if self.amount_remaining <= ZERO or self.status in ("paid", "void"):
            return False
        if payment_intent and payment_intent in self.references:
            return False
        amount = self.amount_remaining
        journal = entry("payment", [(accounts.STRIPE_CASH, self.receivable, amount, self.currency)])
        if journal is None:
            raise InvariantViolated("an entry that moves money")
        self._paid(invoice_id=self.invoice_id, customer=self.customer, amount=str(amount), method="card",
                   reference=payment_intent or "", charge=charge, entry=journal.as_dict(),
                   **self._after_paying(amount))  # fmt: skip
        return True

    def charge_failed(self, code: str, message: str, at: datetime, retry_days: list[int]) -> bool:
        """A failed attempt: retried after the next dunning delay, or, after
        the last, the invoice is uncollectible and written off."""
        if self.status not in ("open", "payment_failed"):
            return False
        attempt = len(self.attempts) + 1
        delays = retry_days[attempt - 1 :]
        next_at = self.issued_at + timedelta(days=delays[0]) if delays else None
        self._charge_failed(invoice_id=self.invoice_id, customer=self.customer, attempt=attempt, code=code,
                            message=message, at=at, next_attempt_at=next_at)  # fmt: skip
        if next_at is None:
            amount = self.amount_remaining
            journal = entry("write-off", [(accounts.WRITE_OFFS, self.receivable, amount, self.currency)])
            self._uncollectible(invoice_id=self.invoice_id, customer=self.customer, amount=str(amount),
                                entry=journal.as_dict() if journal else None)  # fmt: skip
        return True

    @event("ChargeFailed")
    def _charge_failed(
        self, invoice_id: str, customer: str, attempt: int, code: str, message: str, at: datetime,
        next_attempt_at: datetime | None,
    ) -> None:  # fmt: skip
        self.attempts.append({"attempt": attempt, "code": code, "message": message, "at": at.isoformat()})
        self.status = "payment_failed"
        self.next_attempt_at = next_attempt_at

    @event("MarkedUncollectible")
    def _uncollectible(self, invoice_id: str, customer: str, amount: str, entry: dict[str, Any] | None) -> None:
        self.status = "uncollectible"
        self.next_attempt_at = None

    # Bank transfers (invoice customers) --------------------------------------

    def record_payment(self, amount: Decimal, reference: str) -> None:
        require(ZERO < amount <= self.amount_remaining, "a payment settles part or all of what remains")
        journal = entry("payment", [(accounts.BANK_CASH, self.receivable, amount, self.currency)])
        if journal is None:
            raise InvariantViolated("an entry that moves money")
        self._paid(invoice_id=self.invoice_id, customer=self.customer, amount=str(amount), method="bank_transfer",
                   reference=reference, charge=None, entry=journal.as_dict(),
                   **self._after_paying(amount))  # fmt: skip

    def _after_paying(self, amount: Decimal) -> dict[str, str]:
        """The state a payment leaves, stated in its event so that the event
        reads on its own (the read model takes it as it is)."""
        paid = self.amount_paid + amount
        return {"amount_paid_after": str(paid), "status_after": "paid" if paid == self.amount_due else self.status}

    @event("Paid")
    def _paid(
        self, invoice_id: str, customer: str, amount: str, method: str, reference: str, charge: str | None,
        entry: dict[str, Any], amount_paid_after: str, status_after: str,
    ) -> None:  # fmt: skip
        self.amount_paid = Decimal(amount_paid_after)
        self.status = status_after
        self.references.add(reference)
        if method == "card":
            self.payment_intent = reference or self.payment_intent
        if status_after == "paid":
            self.next_attempt_at = None

    # Money taken back by the card processor ------------------------------------

    def reverse(self, key: str, amount: Decimal, reason: str) -> bool:
        """A refund (`key` the charge, `amount` its refunded total) or a
        dispute (`key` the dispute): the money leaves the cash account and is
        owed again, so the invoice reopens for it."""
        if reason == "refund":  # Stripe states the charge's refunded total: what is new of it
            delta = min(amount - self.reversed.get(key, ZERO), self.amount_paid)
        else:  # a dispute, once
            delta = ZERO if key in self.reversed else min(amount, self.amount_paid)
        if delta <= ZERO:
            return False
        journal = entry(reason, [(self.receivable, accounts.STRIPE_CASH, delta, self.currency)])
        if journal is None:
            raise InvariantViolated("an entry that moves money")
        self._reopened(invoice_id=self.invoice_id, customer=self.customer, key=key, reason=reason,
                       amount=str(delta), entry=journal.as_dict(),
                       amount_paid_after=str(self.amount_paid - delta))  # fmt: skip
        return True

    @event("Reopened")
    def _reopened(
        self, invoice_id: str, customer: str, key: str, reason: str, amount: str, entry: dict[str, Any],
        amount_paid_after: str,
    ) -> None:  # fmt: skip
        self.reversed[key] = self.reversed.get(key, ZERO) + Decimal(amount)
        self.amount_paid = Decimal(amount_paid_after)
        self.status = "open"
