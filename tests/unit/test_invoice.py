"""An invoice's money taken back by the card processor, by hand: refunds are
stated as the charge's refunded total, disputes once each."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.invoice import Invoice

D = Decimal
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


def paid_invoice() -> Invoice:
    line = {"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "late": False, "quantity": 1,
            "unit_price": "0.31", "cost": "0.25", "markup": "0.06", "amount": "0.31"}  # fmt: skip
    invoice = Invoice.issue(
        invoice_id="acme.20261101.20261201", customer="acme", billing="postpaid", currency="USD",
        period=(datetime(2026, 11, 1, tzinfo=UTC), DEC_1), cut=1, lines=[line], tiers=[], notes=[],
        credit_before=D(0), issued_at=DEC_1, net_terms_days=0,
    )  # fmt: skip
    assert invoice.charge_succeeded("pi_1", "ch_1") and invoice.status == "paid"
    return invoice


def test_refunds_in_steps_reopen_what_they_refund() -> None:
    invoice = paid_invoice()
    assert invoice.reverse("ch_1", D("0.10"), "refund")
    assert not invoice.reverse("ch_1", D("0.10"), "refund")  # the same total again: nothing new
    assert invoice.reverse("ch_1", D("0.31"), "refund")  # refunded in full at last
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("open", D(0), D("0.31"))
    assert not invoice.reverse("dp_1", D("0.31"), "dispute")  # nothing paid is left to dispute


def test_a_dispute_reopens_once() -> None:
    invoice = paid_invoice()
    assert invoice.reverse("dp_1", D("0.31"), "dispute")
    assert not invoice.reverse("dp_1", D("0.31"), "dispute")
    assert invoice.amount_remaining == D("0.31") and not invoice.is_overdue(DEC_1)


def test_a_payment_told_again_after_a_refund_pays_nothing() -> None:
    """The card processor's webhook for a payment can arrive after the
    synchronous answer and after a refund reopened the invoice: the same
    payment is not counted twice."""
    invoice = paid_invoice()
    assert invoice.reverse("ch_1", D("0.10"), "refund")
    assert not invoice.charge_succeeded("pi_1", "ch_1")
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("open", D("0.21"), D("0.10"))
    assert invoice.charge_succeeded("pi_2", "ch_2")  # a new payment of what is owed again
    assert (invoice.status, invoice.amount_remaining) == ("paid", D(0))


def test_periods_within_one_day_have_ids_of_their_own() -> None:
    from domain.invoice import invoice_number

    day = datetime(2026, 11, 29, tzinfo=UTC)
    assert invoice_number("acme", datetime(2026, 11, 1, tzinfo=UTC), day) == "acme.20261101.20261129"
    morning = invoice_number("acme", day, day.replace(hour=6))
    noon = invoice_number("acme", day.replace(hour=6), day.replace(hour=12))
    assert (morning, noon) == ("acme.20261129T000000.20261129T060000", "acme.20261129T060000.20261129T120000")
    assert invoice_number("acme", day, day.replace(microsecond=5)) == "acme.20261129T000000.20261129T000000000005"
