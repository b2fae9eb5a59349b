"""Money the card processor takes back: a refund (Stripe states the charge's
refunded total) or a dispute of a card top-up or of a postpaid invoice's
card payment, posted to the running server as a signed Stripe webhook, as
the test for Stripe builds them (the local Stripe server sends neither),
and sometimes delivered twice. The model: what is new of it leaves the
wallet, or is owed again on the invoice, which reopens; a repeat changes
nothing. The amounts stay within what was paid, as Stripe's would."""

from __future__ import annotations

from decimal import Decimal

from tests.model.run_state import CardPayment, Run
from tests.stripe_server import client as stripe_client
from tests.stripe_server import signed, stripe_event

ZERO = Decimal(0)
CENTS = 100


def take_back(run: Run) -> None:
    note_invoice_payments(run)
    payments = [p for p in run.card_payments if p.left > ZERO]
    if not payments:
        return
    payment = run.rng.choice(payments)
    amount = Decimal(run.rng.randint(1, int(payment.left * CENTS))) / CENTS
    charge = charge_of(run, payment.payment_intent)
    if run.rng.random() < 0.7:
        body = {"id": charge, "object": "charge", "payment_intent": payment.payment_intent, "currency": "usd",
                "amount": int(payment.amount * CENTS), "amount_refunded": int((payment.refunded + amount) * CENTS),
                "metadata": {}}  # fmt: skip
        event = stripe_event("charge.refunded", body, run.workload.next_id("evt_refund"))
        payment.refunded += amount
    else:
        body = {"id": run.workload.next_id("dp"), "object": "dispute", "charge": charge, "amount": int(amount * CENTS),
                "payment_intent": payment.payment_intent, "currency": "usd", "metadata": {}}  # fmt: skip
        event = stripe_event("charge.dispute.created", body, run.workload.next_id("evt_dispute"))
        payment.disputed += amount
    payload, signature = signed(event)
    for _ in range(2 if run.rng.random() < 0.3 else 1):  # Stripe delivers again now and then: nothing more
        answer = run.session.post_signed("/v1/webhooks/stripe", payload, signature)
        assert answer.status_code == 200, answer.text
    taken_back(run, payment, amount)
    run.counts[f"{event['type']} of {'an invoice payment' if payment.invoice else 'a card top-up'}"] += 1


def taken_back(run: Run, payment: CardPayment, amount: Decimal) -> None:
    found = run.model.customers[payment.customer]
    if payment.invoice is None:
        found.card_top_ups -= amount
    else:
        payment.invoice.amount_paid -= amount
        found.card_payments -= amount


def note_invoice_payments(run: Run) -> None:
    """Each invoice paid by card, once, as a payment that can be taken back."""
    known = {p.invoice.invoice_id for p in run.card_payments if p.invoice is not None}
    for customer, found in sorted(run.model.customers.items()):
        for invoice in found.invoices:
            if found.billing == "postpaid" and invoice.amount_paid > ZERO and invoice.invoice_id not in known:
                intent = run.session.get(f"/v1/invoices/{invoice.invoice_id}").json()["payment_intent"]
                run.card_payments.append(CardPayment(customer, intent, invoice.amount_paid, invoice))


def charge_of(run: Run, payment_intent: str) -> str:
    found = stripe_client(run.session.stripe_base).v1.payment_intents.retrieve(payment_intent).to_dict()
    charge = found["latest_charge"]
    return str(charge["id"] if isinstance(charge, dict) else charge)
