"""The invoice PDF as a document a business can send: rendered, then read
back as text (pypdf) and checked for the seller, the buyer written as it is
(Unicode), the period's real last day, grouped quantities, prices per 1M
tokens, amounts at the minor unit with their symbol, and printed totals
that add up."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from interfaces.documents.invoice_pdf import render
from interfaces.documents.parties import Party, address_lines
from interfaces.documents.printed_figures import money_text, period_text, printed, unit_price_text
from tests.customer_view_checks import operator_words, pdf_text

D = Decimal
SELLER = Party("Tally Billing GmbH", ("Chausseestraße 1", "10115 Berlin"), "DE123456789")
BUYER = Party("Zoë Überstudio GmbH", ("Łódź Street 5", "00-950 Warszawa"), "PL5260250274", "ap@zoe.example", "zoe")


def line(model: str, unit: str, quantity: int, amount: str, *, late: bool = False, provider: str = "openai") -> dict:
    unit_price = str(D(amount) / quantity)
    return {"provider": provider, "model": model, "unit": unit, "late": late, "quantity": quantity,
            "unit_price": unit_price, "cost": "0.5", "markup": "0.1", "amount": amount}  # fmt: skip


def invoice(lines: list[dict], total: str, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    return {
        "id": "zoe.20261101.20261201", "customer": "zoe", "kind": "invoice", "currency": currency,
        "period_start": "2026-11-01T00:00:00+00:00", "period_end": "2026-12-01T00:00:00+00:00",
        "issued_at": "2026-12-01T00:00:04+00:00", "due_at": "2026-12-31T00:00:04+00:00", "status": "open",
        "overdue": False, "lines": lines, "adjustments": [], "subtotal": "0", "rounding": "0", "total": total,
        "credits_applied": "0", "amount_due": total, "amount_paid": "0", "amount_remaining": total, **extra,
    }  # fmt: skip


def three_lines() -> list[dict]:
    # Lines at twelve places: printed at the cent, the total rounded once.
    return [
        line("gpt-4o", "input_tokens", 1_234_567, "3.086417500000"),
        line("gpt-4o", "output_tokens", 345_678, "4.148136"),
        line("gpt-4o-mini", "input_tokens", 9_876_543, "1.481481450000"),
    ]


def text_of(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def printed_amount(text: str, label: str) -> Decimal:
    found = re.search(rf"^{re.escape(label)} (-?)\$([0-9,]+\.[0-9]{{2}})$", text, re.M)
    assert found, (label, text)
    return D(found.group(1) + found.group(2).replace(",", ""))


def test_the_document_names_seller_and_buyer_as_written_and_reads_as_an_invoice() -> None:
    text = text_of(render(invoice(three_lines(), "8.72"), SELLER, BUYER))
    for shown in ("Tally Billing GmbH", "Chausseestraße 1", "Tax id: DE123456789", "Zoë Überstudio GmbH",
                  "Łódź Street 5", "PL5260250274", "ap@zoe.example", "zoe.20261101.20261201"):  # fmt: skip
        assert shown in text, (shown, text)
    assert "Period 1 November 2026 – 30 November 2026" in text  # the last day, not the exclusive end
    assert "Issued 1 December 2026" in text and "Due 31 December 2026" in text
    assert "OpenAI · gpt-4o\n" in text and "OpenAI · gpt-4o-mini\n" in text  # grouped by model
    assert "Input tokens 1,234,567 $2.50 / 1M $3.09" in text  # 3.0864175 printed at the cent
    assert "Output tokens 345,678 $12.00 / 1M $4.15" in text
    assert "Input tokens 9,876,543 $0.15 / 1M $1.48" in text
    assert operator_words(text) == [], text


def test_printed_totals_add_up_whatever_the_rounding_of_each_line() -> None:
    lines = [line("gpt-4o", "input_tokens", 1000, "0.005"), line("gpt-4o", "output_tokens", 1000, "0.005"),
             line("o3", "input_tokens", 1000, "0.005")]  # fmt: skip
    # Exact 0.015 is 0.02 half-even; each line prints 0.00 (half-even), so a rounding row of 0.02 shows.
    text = text_of(render(invoice(lines, "0.02"), SELLER, BUYER))
    assert text.count("/ 1M $0.00\n") == 3, text
    subtotal, rounding, total = (printed_amount(text, label) for label in ("Subtotal", "Rounding", "Total"))
    assert (subtotal, rounding, total) == (D("0.00"), D("0.02"), D("0.02"))
    assert printed_amount(text, "Amount due") == total


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=0, max_size=12),
    st.lists(st.integers(min_value=-(10**8), max_value=10**8), max_size=3),
    st.sampled_from(["USD", "EUR", "JPY"]),
)
def test_printed_rows_always_sum_to_the_printed_total(millionths: list[int], notes: list[int], currency: str) -> None:
    lines = [line(f"m{i % 3}", "input_tokens", 1 + i, str(D(n).scaleb(-6))) for i, n in enumerate(millionths)]
    adjustments = [{"kind": "credit_note" if n < 0 else "debit_note", "invoice": "x", "amount": str(D(n).scaleb(-6))}
                   for n in notes]  # fmt: skip
    exact = sum((D(ln["amount"]) for ln in lines), D(0)) + sum((D(a["amount"]) for a in adjustments), D(0))
    total = exact.quantize(D(1) if currency == "JPY" else D("0.01"))
    figures = printed(invoice(lines, str(total), currency, adjustments=adjustments, amount_due=str(max(total, D(0)))))
    rows = {label: amount for label, amount, _ in figures.totals}
    assert figures.printed_sum() + rows.get("Rounding", D(0)) == rows["Total"] == total
    assert rows["Subtotal"] == sum((ln.amount for g in figures.groups for ln in g.lines), D(0))
    for group in figures.groups:
        for shown in group.lines:
            assert shown.amount == shown.amount.quantize(D(1) if currency == "JPY" else D("0.01"))
    due = rows["Amount due"]
    assert due == max(total, D(0)) and (total >= 0 or rows["Credit carried to your next invoice"] == -total)


def test_money_is_printed_at_the_minor_unit_with_its_symbol_or_code() -> None:
    assert money_text(D("1234.5"), "USD") == "$1,234.50"
    assert money_text(D("-0.125"), "EUR") == "-€0.12"
    assert money_text(D("1200.4"), "JPY") == "¥1,200"
    assert money_text(D("12"), "CHF") == "CHF 12.00"
    assert unit_price_text(D("0.000001375"), "input_tokens", "USD") == "$1.375 / 1M"
    assert unit_price_text(D("0.04"), "images", "USD") == "$0.04 / image"
    assert unit_price_text(D("0.0125"), "requests", "EUR") == "€0.0125 / request"


def test_a_period_that_ends_within_a_day_shows_its_end_moment() -> None:
    from datetime import UTC, datetime

    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    assert period_text(start, end) == "1 November 2026 – 15 November 2026 12:00 UTC"
    assert period_text(start, datetime(2026, 12, 1, tzinfo=UTC)) == "1 November 2026 – 30 November 2026"


def test_a_statement_is_paid_from_the_prepaid_balance_and_credits_and_payments_are_rows() -> None:
    statement = invoice(three_lines(), "8.716034950000", kind="statement", due_at=None, amount_due="0")
    text = text_of(render(statement, SELLER, BUYER))
    assert text.startswith("Tally Billing GmbH") and "Statement" in text and "Due " not in text
    assert printed_amount(text, "Total") == D("8.72") and printed_amount(text, "Amount due") == D("0")
    assert printed_amount(text, "Paid from your prepaid balance") == D("-8.72")
    paid = invoice(three_lines(), "8.72", credits_applied="1.00", amount_due="7.72", amount_paid="2.00",
                   amount_remaining="5.72")  # fmt: skip
    text = text_of(render(paid, SELLER, BUYER))
    assert printed_amount(text, "Credits applied") == D("-1.00") and printed_amount(text, "Amount due") == D("7.72")
    assert printed_amount(text, "Paid") == D("-2.00") and printed_amount(text, "Remaining") == D("5.72")


def test_the_sellers_logo_is_drawn(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (37, 99, 235)).save(logo)
    with_logo = render(invoice(three_lines(), "8.72"), Party(SELLER.name, logo=logo), BUYER)
    page = PdfReader(io.BytesIO(with_logo)).pages[0]
    assert len(page.images) == 1
    assert len(PdfReader(io.BytesIO(render(invoice(three_lines(), "8.72"), SELLER, BUYER))).pages[0].images) == 0
    assert "Tally Billing GmbH" in pdf_text(with_logo)


def test_an_address_set_on_one_line_is_split_at_its_line_breaks() -> None:
    assert address_lines("Chausseestraße 1\\n10115 Berlin") == ("Chausseestraße 1", "10115 Berlin")
    assert address_lines(" A \n\n B ") == ("A", "B") and address_lines(None) == ()


def test_a_long_invoice_runs_over_pages_with_its_column_names_and_page_numbers() -> None:
    lines = [
        line(f"model-{i:02}", unit, 1000 + i, "0.01") for i in range(30) for unit in ("input_tokens", "output_tokens")
    ]
    document = render(invoice(lines, "0.60"), SELLER, BUYER)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]
    assert len(pages) >= 3, len(pages)
    for number, text in enumerate(pages, start=1):
        assert "Description Quantity Unit price Amount" in text, (number, text)
        assert f"Page {number} of {len(pages)}" in text and "Invoice zoe.20261101.20261201" in text
    assert "Total $0.60" in pages[-1]


def test_a_seller_logo_that_is_not_an_image_stops_the_start(tmp_path: Path) -> None:
    import pydantic

    from infrastructure.settings import Settings

    text = tmp_path / "logo.png"
    text.write_text("not an image")
    for wrong in (text, tmp_path / "missing.png"):
        with pytest.raises(pydantic.ValidationError, match="seller_logo"):
            Settings(seller_logo=wrong)
    image = tmp_path / "real.png"
    Image.new("RGB", (4, 4)).save(image)
    assert Settings(seller_logo=image).seller_logo == image
