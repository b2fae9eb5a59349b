"""An invoice as a PDF document, laid out with fpdf2 from the same dict the
REST API returns to a customer key (so the PDF and the JSON never disagree).
The document goes to the customer: it shows quantities, unit prices and
amounts, never the operator's cost or markup."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

COLUMNS = (("Provider / model", 62), ("Unit", 34), ("Quantity", 24), ("Unit price", 24), ("Amount", 26))
# The customer's figures only: the provider's cost and the operator's markup
# are never printed, whoever renders the document.
TOTALS = (("Subtotal", "subtotal"), ("Rounding", "rounding"), ("Total", "total"),
          ("Credits applied", "credits_applied"), ("Amount due", "amount_due"), ("Paid", "amount_paid"))  # fmt: skip


def render(invoice: dict[str, Any], seller: str = "tally") -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"{invoice['kind'].title()} {invoice['id']}")
    pdf.set_author(seller)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, f"{invoice['kind'].title()} {invoice['id']}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    for label, value in (
        ("Customer", invoice["customer"]),
        ("Period", f"{invoice['period_start'][:10]} to {invoice['period_end'][:10]}"),
        ("Issued", invoice["issued_at"][:10]),
        ("Due", (invoice["due_at"] or "")[:10] or "-"),
        ("Status", invoice["status"] + (" (overdue)" if invoice["overdue"] else "")),
    ):
        pdf.cell(30, 6, label)
        pdf.cell(0, 6, str(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _row(pdf, [name for name, _ in COLUMNS], bold=True)
    for line in invoice["lines"]:
        late = " (late)" if line["late"] else ""
        _row(pdf, [f"{line['provider']} {line['model']}{late}", line["unit"], str(line["quantity"]),
                   line["unit_price"], line["amount"]])  # fmt: skip
    for adjustment in invoice["adjustments"]:
        label = (
            f"Tier ladder {adjustment['period']}"
            if adjustment["kind"] == "tiers"
            else f"{adjustment['kind'].replace('_', ' ').title()} on {adjustment['invoice']}"
        )
        _row(pdf, [label, "", "", "", adjustment["amount"]])
    pdf.ln(2)
    currency = invoice["currency"]
    for label, key in TOTALS:
        pdf.set_font("Helvetica", "B" if key in ("total", "amount_due") else "", 10)
        pdf.cell(144, 6, label, align="R")
        pdf.cell(26, 6, f"{invoice[key]} {currency}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _row(pdf: FPDF, cells: list[str], bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for (_, width), text in zip(COLUMNS, cells, strict=True):
        pdf.cell(width, 6, _fit(pdf, text, width), border="B", align="L" if width > 30 else "R")
    pdf.ln(6)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Core fonts are Latin-1; a long name is cut to its column."""
    text = text.encode("latin-1", "replace").decode("latin-1")
    while text and pdf.get_string_width(text) > width - 2:
        text = text[:-1]
    return text
