"""Billing runs, invoices and collection: close a period, issue each
customer's invoice (or a prepaid customer's statement), charge postpaid
cards at once and on the dunning schedule after a failure, record bank
transfers for invoice customers, and apply what the card processor reports
later (payments, refunds, disputes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application import validation
from application.card_payments import CardPayments
from application.customers import Customers
from application.errors import Conflict, NotFound, ValidationFailed
from application.event_store import EventStore
from application.ports import BillingReads, Clock, PaymentNotice, PaymentOutcome
from application.read_model_barrier import ReadModelBarrier
from application.reference import ReferenceData
from application.tier_settlements import TierSettlements
from domain import accounts
from domain.identifiers import is_caller_id
from domain.invoice import PAST_DUE_STATUSES, Covered, Invoice, invoice_number
from domain.money import ZERO, minor_unit
from domain.tier_settlement import period_bounds, period_of

CATCH_UP_SECONDS = 30.0


@dataclass(frozen=True)
class BillingRun:
    id: str
    start: datetime
    end: datetime
    invoices: list[Invoice]
    created: bool


class Billing:
    def __init__(
        self,
        store: EventStore,
        reference: ReferenceData,
        customers: Customers,
        tiers: TierSettlements,
        billing_reads: BillingReads,
        barrier: ReadModelBarrier,
        cards: CardPayments,
        clock: Clock,
        dunning_days: Sequence[int] = (1, 3, 7),
    ) -> None:
        self.store = store
        self.reference = reference
        self.customers = customers
        self.tiers = tiers
        self.billing_reads = billing_reads
        self.barrier = barrier
        self.cards = cards
        self.clock = clock
        self.dunning_days = list(dunning_days)

    def billing_run(
        self, period_end: datetime, customers: Sequence[str] | None = None, period_start: datetime | None = None
    ) -> BillingRun:
        end = validation.aware(period_end, "period_end")
        start = validation.aware(period_start, "period_start") if period_start else previous_month_start(end)
        if not start < end:
            raise ValidationFailed("period_start must be before period_end", [{"loc": "period_start", "msg": "empty"}])
        if end > self.clock():
            raise ValidationFailed(
                "a period can be closed once it has ended", [{"loc": "period_end", "msg": "in the future"}]
            )
        self.reference.refresh()
        wanted = sorted(set(customers)) if customers else sorted(self.reference.customers)
        for customer in wanted:
            self.customers.customer(customer)
        billed = [self._bill(customer, start, end) for customer in wanted]
        run_id = f"run.{start:%Y%m%dT%H%M%S}.{end:%Y%m%dT%H%M%S}"
        return BillingRun(run_id, start, end, [invoice for invoice, _ in billed], any(new for _, new in billed))

    def _bill(self, customer_id: str, start: datetime, end: datetime) -> tuple[Invoice, bool]:
        invoice_id = invoice_number(customer_id, start, end)
        existing = self._existing_invoice(invoice_id)
        if existing is not None:  # the run repeated: the invoice it issued, unchanged
            return existing, False
        for month in months_between(start, end):  # close the months: volume ladders are priced now
            self.tiers.settle_tiers(customer_id, month, close=True)
        if not self.barrier.caught_up(CATCH_UP_SECONDS):
            raise Conflict("the read model is behind the event log; run the billing run again shortly")
        # Read once the read model holds every invoice issued so far: one issued a
        # moment ago (the previous period's, by the run before) must be seen as earlier.
        earlier = self._earlier_invoices(customer_id, start)
        customer = self.reference.customers[customer_id]
        account = accounts.customer_account(customer_id, customer.billing)
        found = self.billing_reads.snapshot(customer_id, account, start, end, earlier)
        credit_before = (
            Decimal(str(self.billing_reads.invoices_of(customer_id)[-1]["credit_carried"])) if earlier else ZERO
        )
        invoice = Invoice.issue(
            invoice_id=invoice_id,
            customer=customer_id,
            billing=customer.billing,
            currency=customer.currency,
            period=(start, end),
            cut=found.cut,
            lines=found.lines,
            tiers=found.tiers,
            notes=notes_of(invoice_id, found.corrections),
            credit_before=credit_before,
            issued_at=self.clock(),
            net_terms_days=customer.net_terms_days,
        )
        try:
            self.store.save(invoice)
        except IntegrityError:  # a concurrent run issued it first
            return self.invoice(invoice_id), False
        if invoice.billing == "postpaid" and invoice.amount_remaining > ZERO:
            invoice = self.charge_invoice(invoice_id)
        return invoice, True

    def _earlier_invoices(self, customer_id: str, start: datetime) -> list[Covered]:
        """Invoices already issued to the customer, which must all end by
        `start`: periods are billed in order, never overlapping."""
        earlier = []
        for row in self.billing_reads.invoices_of(customer_id):
            row_end = parse_time(row["period_end"])
            if row_end > start:
                raise Conflict(
                    f"customer {customer_id!r} has invoice {row['invoice_id']} for a period ending {row_end:%Y-%m-%d}, "
                    "after this one starts: periods are billed in order"
                )
            earlier.append(Covered(str(row["invoice_id"]), int(row["cut"]), row_end))
        return earlier

    # Reading ----------------------------------------------------------------------

    def invoice(self, invoice_id: str) -> Invoice:
        found = self._existing_invoice(invoice_id) if is_caller_id(invoice_id) else None
        if found is None:
            raise NotFound(f"invoice {invoice_id!r} does not exist")
        return found

    def _existing_invoice(self, invoice_id: str) -> Invoice | None:
        try:
            found: Invoice = self.store.repository.get(Invoice.create_id(invoice_id))
        except AggregateNotFoundError:
            return None
        return found

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        self.customers.customer(customer_id)
        return [self.invoice(str(row["invoice_id"])) for row in self.billing_reads.invoices_of(customer_id)]

    def customer_status(self, customer_id: str) -> str:
        """`past_due` while an invoice's card charge has failed or it was written off."""
        return "past_due" if self.billing_reads.unpaid_statuses(customer_id) & set(PAST_DUE_STATUSES) else "active"

    # Card charges and dunning -------------------------------------------------------

    def charge_invoice(self, invoice_id: str) -> Invoice:
        """One attempt to charge the card on file for what the invoice still asks."""
        invoice = self.invoice(invoice_id)
        now = self.clock()
        if invoice.status not in ("open", "payment_failed") or invoice.amount_remaining <= ZERO:
            return invoice
        if invoice.next_attempt_at is not None and invoice.next_attempt_at > now:
            return invoice  # not due yet (the read model that named it was behind)
        outcome = self.cards.charge(
            self.reference.customers[invoice.customer],
            invoice.amount_remaining,
            invoice.currency,
            idempotency_key=f"tally-invoice-{invoice.id}-{len(invoice.attempts) + 1}",
            metadata={"tally_kind": "invoice", "tally_customer": invoice.customer, "tally_id": invoice_id},
        )
        return self.apply_invoice_outcome(invoice_id, outcome, from_webhook=False)

    def apply_invoice_outcome(self, invoice_id: str, outcome: PaymentOutcome, *, from_webhook: bool) -> Invoice:
        now = self.clock()

        def apply(invoice: Invoice) -> None:
            if outcome.status == "succeeded":
                invoice.charge_succeeded(outcome.payment_intent, outcome.charge)
            elif outcome.status == "failed" and not (from_webhook and invoice.status != "open"):
                # a failure webhook only matters while no answer was recorded (the charge's answer was pending)
                invoice.charge_failed(outcome.failure_code or "failed", outcome.failure_message or "",
                                      now, self.dunning_days)  # fmt: skip

        return self._change_invoice(invoice_id, apply)

    def retry_due_charges(self) -> int:
        """The dunning step: charge again every invoice whose retry is due;
        returns how many were attempted."""
        attempted = 0
        for invoice_id in self.billing_reads.due_attempts(self.clock()):
            before = len(self.invoice(invoice_id).attempts)
            after = self.charge_invoice(invoice_id)
            attempted += len(after.attempts) != before or after.status == "paid"
        return attempted

    # Bank transfers -------------------------------------------------------------------

    def record_invoice_payment(self, invoice_id: str, amount: str | Decimal, reference: str) -> Invoice:
        paid = validation.amount(amount, "amount", positive=True)
        invoice = self.invoice(invoice_id)
        if paid % minor_unit(invoice.currency):
            raise ValidationFailed(
                f"a payment in {invoice.currency} moves whole multiples of {minor_unit(invoice.currency)}",
                [{"loc": "amount", "msg": "not a whole minor unit"}],
            )
        if not reference or len(reference) > 200:
            raise ValidationFailed("reference is 1 to 200 characters", [{"loc": "reference", "msg": "length"}])

        def apply(found: Invoice) -> None:
            if reference in found.references:
                return  # the same transfer recorded again: nothing more
            if found.status in ("uncollectible", "void"):
                raise ValidationFailed(
                    f"invoice {invoice_id} is {found.status}", [{"loc": "invoice", "msg": found.status}]
                )
            if paid > found.amount_remaining:
                raise ValidationFailed(
                    f"{paid} is more than the {found.amount_remaining} that remains due",
                    [{"loc": "amount", "msg": "overpayment"}],
                )
            found.record_payment(paid, reference)

        return self._change_invoice(invoice_id, apply)

    # What the card processor reports later ---------------------------------------------

    def invoice_payment_notice(self, customer: str, invoice_id: str, notice: PaymentNotice) -> str:
        invoice = self.invoice(invoice_id)
        if invoice.customer != customer:
            raise NotFound(f"invoice {invoice_id!r}")
        if notice.kind == "payment":
            assert notice.outcome is not None
            found = self.apply_invoice_outcome(invoice_id, notice.outcome, from_webhook=True)
            return f"invoice {invoice_id} is {found.status}"
        if notice.kind == "refund":
            assert notice.refunded_total is not None
            key, amount, reason = notice.charge or notice.payment_intent or "charge", notice.refunded_total, "refund"
        else:
            assert notice.dispute is not None and notice.dispute_amount is not None
            key, amount, reason = notice.dispute, notice.dispute_amount, "dispute"
        found = self._change_invoice(invoice_id, lambda invoice: invoice.reverse(key, amount, reason))
        return f"invoice {invoice_id} reopened by a {reason}: {found.amount_remaining} due"

    def _change_invoice(self, invoice_id: str, change: Callable[[Invoice], Any]) -> Invoice:
        return self.store.change(lambda: self.invoice(invoice_id), change, f"invoice {invoice_id}")


def notes_of(invoice_id: str, corrections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Credit and debit notes: per earlier invoice, the re-rating differences
    of the usage it billed, line by line (per model), carried by this invoice."""
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for correction in corrections:
        by_invoice.setdefault(correction["invoice"], []).append(
            {"provider": correction["provider"], "model": correction["model"], "amount": correction["amount"]}
        )
    notes = []
    for earlier, lines in sorted(by_invoice.items()):
        total = sum((Decimal(line["amount"]) for line in lines), ZERO)
        kind = "credit" if total < ZERO else "debit"
        notes.append({"id": f"{earlier}.{kind}-note.{invoice_id}", "invoice": earlier, "kind": kind,
                      "lines": lines, "total": str(total)})  # fmt: skip
    return notes


def previous_month_start(moment: datetime) -> datetime:
    return period_bounds(period_of(moment - timedelta(microseconds=1)))[0]


def months_between(start: datetime, end: datetime) -> list[str]:
    months, month = [], period_of(start)
    while period_bounds(month)[0] < end:
        months.append(month)
        month = period_of(period_bounds(month)[1])
    return months


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


class Dunning:
    """The dunning policy: each step charges again every invoice whose retry is due."""

    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    def step(self) -> int:
        return self.billing.retry_due_charges()
