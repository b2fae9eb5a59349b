"""A customer's view of a rating and of an invoice document: what it pays per
unit and per line, adding up to the charge, and no cost or markup printed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.customer_prices import charged_lines
from domain.plans import PlanVersion
from domain.pricing import PriceVersion, Rate
from domain.rating import Chargeable, Rating, rate
from interfaces.documents.invoice_pdf import render
from tests.customer_view_checks import operator_words, pdf_text
from tests.support import RATES

D = Decimal


JAN = datetime(2026, 1, 1, tzinfo=UTC)


def rated(model: str, markup: str, **usage: int) -> Rating:
    prices = PriceVersion(1, JAN, tuple(Rate(p, m, u, D(price), per) for p, m, u, price, per in RATES))
    item = Chargeable("acme", "prepaid", "USD", "openai", model, usage)
    return rate(item, "default", prices, "pro", PlanVersion(1, JAN, D(markup)))


def test_a_customer_pays_the_marked_up_price_per_unit() -> None:
    rating = rated("gpt-4o", "20", input_tokens=1200, output_tokens=350)
    shown = charged_lines(rating)
    # 2.50 and 10 per 1M tokens at 20 %: 3 and 12.
    assert [(line.unit, line.price, line.per) for line in shown] == [
        ("input_tokens", D("3"), 1_000_000),
        ("output_tokens", D("12"), 1_000_000),
    ]
    assert sum(line.amount for line in shown) == rating.charge == D("0.0078")


def test_line_amounts_add_up_to_the_charge_to_the_last_digit() -> None:
    rating = rated("gpt-4o-mini", "33.333", input_tokens=7, output_tokens=3, cached_input_tokens=0)
    shown = charged_lines(rating)
    assert sum(line.amount for line in shown) == rating.charge
    assert all(line.price == (line.amount * line.per / line.quantity).quantize(D("1e-12")) for line in shown)


def invoice_as_the_operator_sees_it() -> dict[str, object]:
    line = {"provider": "openai", "model": "gpt-4o", "unit": "input_tokens", "late": False, "quantity": 1000,
            "unit_price": "0.000003", "cost": "0.0025", "markup": "0.0005", "amount": "0.003"}  # fmt: skip
    return {
        "id": "acme.20261101.20261201", "customer": "acme", "kind": "invoice", "currency": "USD",
        "period_start": "2026-11-01T00:00:00+00:00", "period_end": "2026-12-01T00:00:00+00:00",
        "issued_at": "2026-12-01T00:00:00+00:00", "due_at": None, "status": "open", "overdue": False,
        "lines": [line], "markup": "0.0005", "adjustments": [], "subtotal": "0.003", "rounding": "-0.003",
        "total": "0", "credits_applied": "0", "amount_due": "0", "amount_paid": "0",
    }  # fmt: skip


def test_the_invoice_document_prints_no_cost_or_markup_whoever_renders_it() -> None:
    text = pdf_text(render(invoice_as_the_operator_sees_it()))
    assert operator_words(text) == [], text
    assert "$3.00 / 1M" in text and "Amount due" in text
