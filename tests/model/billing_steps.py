"""Billing steps: billing runs (the previous month, then whole days of this
one, each only once it has ended), repeated runs, and bank transfers.

What an invoice covers is fixed at its cut, the read model's position when
it was issued. When no re-rating was pending at that moment (the server had
agreed with the model since the last version), the model knows its exact
total: the charges of the customer's usage before the period's end, less
what its earlier invoices billed. Otherwise the model takes the total the
server states, and the last billing run of the run, made when nothing is
pending, checks that all the invoices together billed exactly the usage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tests.model.invoice_model import ZERO, figures, shown_problems
from tests.model.money_steps import ask_authorization
from tests.model.run_state import Run


def bill(run: Run) -> None:
    if len(run.billed) < len(run.billing_periods):
        close_period(run, run.billing_periods[len(run.billed)])
    elif run.billed:
        repeat_period(run, run.billed[-1])


def close_period(run: Run, period: tuple[datetime, datetime]) -> None:
    body = {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()}
    answer = run.session.post("/v1/billing-runs", body)
    assert answer.status_code == 201, answer.text
    invoices = answer.json()["invoices"]
    assert sorted(i["customer"] for i in invoices) == run.customers(), invoices
    was_past_due = {customer for customer, found in run.model.customers.items() if found.past_due}
    for shown in invoices:
        record_invoice(run, shown["id"], shown["customer"], period)
    run.billed.append(period)
    for customer in sorted(c for c, found in run.model.customers.items() if found.past_due and c not in was_past_due):
        ask_authorization(run, customer, Decimal("0.01"))  # at once: the failed charge counts from the log's tail
    run.counts["billing run, " + ("nothing pending" if run.quiet else "re-rating pending")] += 1


def repeat_period(run: Run, period: tuple[datetime, datetime]) -> None:
    """The same period again finds the invoices it issued and creates nothing."""
    body = {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()}
    answer = run.session.post("/v1/billing-runs", body)
    assert answer.status_code == 200, answer.text
    for shown in answer.json()["invoices"]:
        issued = next(i for i in run.model.customers[shown["customer"]].invoices if i.invoice_id == shown["id"])
        assert Decimal(shown["total"]) == issued.total, (shown, issued)
    run.counts["billing run repeated"] += 1


def record_invoice(run: Run, invoice_id: str, customer: str, period: tuple[datetime, datetime]) -> None:
    shown = run.session.get(f"/v1/invoices/{invoice_id}").json()
    problems = shown_problems(shown)
    assert not problems, problems
    found = run.model.customers[customer]
    exact = Decimal(shown["total"]) - Decimal(shown["rounding"])
    if run.quiet:
        billed_before = sum((invoice.exact_total for invoice in found.invoices), ZERO)
        expected_exact = run.model.billed_through(customer, period[1]) - billed_before
        assert exact == expected_exact, (
            f"invoice {invoice_id}: the model bills {expected_exact} (its usage before {period[1]} "
            f"less {billed_before} billed before), the server {exact}: {shown}"
        )
    expected = figures(invoice_id, "statement" if found.billing == "prepaid" else "invoice", period, exact,
                       found.credit_carried)  # fmt: skip
    if found.billing == "postpaid" and found.card == "good":  # charged at once
        expected.amount_paid = expected.amount_due
        found.card_payments += expected.amount_due
    elif found.billing == "postpaid":  # the card declines: retried on the dunning schedule, days from now
        expected.charge_failed = expected.amount_due > ZERO
    stated = {name: Decimal(shown[name]) for name in ("total", "rounding", "credits_applied", "amount_due",
                                                       "amount_paid")}  # fmt: skip
    wanted = {name: getattr(expected, name) for name in stated}
    assert (shown["kind"], shown["status"], stated) == (expected.kind, expected.status, wanted), (shown, expected)
    found.invoices.append(expected)
    found.credit_carried = expected.credit_carried


def pay_invoice(run: Run) -> None:
    """A bank transfer against an invoice customer's open invoice: all of what
    remains, part of it, too much (refused, nothing changes), or the same
    transfer recorded again (nothing more)."""
    unpaid = [(c, i) for c, found in sorted(run.model.customers.items()) for i in found.invoices
              if found.billing == "invoice" and i.amount_remaining > ZERO]  # fmt: skip
    if not unpaid:
        return
    customer, invoice = run.rng.choice(unpaid)
    pick = run.rng.random()
    if pick < 0.1:
        too_much = {"amount": str(invoice.amount_remaining + Decimal("0.01")), "reference": "too-much"}
        answer = run.session.post(f"/v1/invoices/{invoice.invoice_id}/payments", too_much)
        assert answer.status_code == 422, answer.text
        run.counts["bank transfer refused"] += 1
        return
    if pick < 0.2 and invoice.references:
        reference, amount = sorted(invoice.references)[0], Decimal("0.01")
    else:
        half = (invoice.amount_remaining / 2).quantize(Decimal("0.01"))
        amount = invoice.amount_remaining if pick < 0.6 or half == ZERO else half
        reference = run.workload.next_id("transfer")
    answer = run.session.post(f"/v1/invoices/{invoice.invoice_id}/payments", {"amount": str(amount),
                              "reference": reference})  # fmt: skip
    assert answer.status_code == 200, answer.text
    if reference not in invoice.references:
        invoice.amount_paid += amount
        invoice.references = invoice.references | {reference}
        run.model.customers[customer].bank_payments += amount
    paid = Decimal(answer.json()["amount_paid"])
    assert (paid, answer.json()["status"]) == (invoice.amount_paid, invoice.status), (answer.text, invoice)
    run.counts["bank transfer"] += 1


def check_invoiced(run: Run, end: datetime) -> None:
    """Once nothing is pending: each customer's invoices together billed
    exactly the charges of its usage before the last period's end (what is
    left uninvoiced is the charges of its usage after it)."""
    for customer, found in sorted(run.model.customers.items()):
        invoiced = sum((invoice.exact_total for invoice in found.invoices), ZERO)
        usage_before_end = run.model.billed_through(customer, end)
        assert invoiced == usage_before_end, (
            f"{customer}: its invoices billed {invoiced} in all, its usage before {end} charges {usage_before_end}"
        )
