"""An invoice as a PDF document a business can send, laid out with fpdf2
from the same dict the REST API returns to a customer key (so the PDF and
the JSON never disagree): the seller and the buyer, the invoice's number,
dates and period, lines grouped by model, and totals that add up as
printed (printed_figures.py). The document goes to the customer: it shows
quantities, unit prices and amounts, never the operator's cost or markup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from interfaces.documents.fonts import FAMILY, font_files
from interfaces.documents.parties import Party
from interfaces.documents.printed_figures import (
    PrintedInvoice,
    date_text,
    money_text,
    period_text,
    printed,
)

WIDTH = 180  # A4 less 15 mm margins
COLUMNS = (("Description", 85), ("Quantity", 30), ("Unit price", 35), ("Amount", 30))
INK, MUTED, RULE = (29, 35, 48), (107, 114, 128), (209, 213, 219)
LOGO_HEIGHT = 14
STATUS = {"open": "Open", "paid": "Paid", "payment_failed": "Payment failed", "uncollectible": "Uncollectible",
          "void": "Void"}  # fmt: skip


class Document(FPDF):
    """An A4 page whose footer names the document and counts its pages."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(WIDTH / 2, 5, self.footer_text)
        self.cell(WIDTH / 2, 5, f"Page {self.page_no()} of {{nb}}", align="R")


def render(invoice: dict[str, Any], seller: Party | None = None, buyer: Party | None = None) -> bytes:
    seller = seller or Party(name="")
    buyer = buyer or Party(name=invoice["customer"], reference=invoice["customer"])
    title = "Statement" if invoice["kind"] == "statement" else "Invoice"
    pdf = Document(format="A4")
    pdf.footer_text = " · ".join(part for part in (seller.name, f"{title} {invoice['id']}") if part)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    for style, path in font_files().items():
        pdf.add_font(FAMILY, style, str(path))
    pdf.set_title(f"{title} {invoice['id']}")
    pdf.set_author(seller.name or "tally")
    pdf.add_page()
    _heading(pdf, title, invoice, seller)
    _parties(pdf, invoice, seller, buyer)
    figures = printed(invoice)
    _lines(pdf, figures, invoice["currency"])
    _totals(pdf, figures, invoice["currency"])
    return bytes(pdf.output())


def _heading(pdf: FPDF, title: str, invoice: dict[str, Any], seller: Party) -> None:
    top = pdf.get_y()
    if seller.logo is not None:
        pdf.image(str(seller.logo), x=15, y=top, h=LOGO_HEIGHT)
        pdf.set_y(top + LOGO_HEIGHT + 3)
    _text(pdf, seller.name, 12, "B")
    for line in seller.address:
        _text(pdf, line, 9, color=MUTED)
    if seller.tax_id:
        _text(pdf, f"Tax id: {seller.tax_id}", 9, color=MUTED)
    left_bottom = pdf.get_y()
    pdf.set_xy(15, top)
    pdf.set_font(FAMILY, "B", 22)
    pdf.set_text_color(*INK)
    pdf.cell(WIDTH, 10, title, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    due = invoice.get("due_at")
    status = STATUS.get(invoice["status"], invoice["status"]) + (" (overdue)" if invoice["overdue"] else "")
    facts = [
        ("Number", invoice["id"]),
        ("Issued", date_text(_moment(invoice["issued_at"]))),
        ("Period", period_text(_moment(invoice["period_start"]), _moment(invoice["period_end"]))),
        *([("Due", date_text(_moment(due)))] if due and invoice["kind"] != "statement" else []),
        ("Status", status),
    ]
    for label, value in facts:
        pdf.set_x(15 + WIDTH - 95)
        pdf.set_font(FAMILY, "", 9)
        pdf.set_text_color(*MUTED)
        pdf.cell(25, 5, label)
        pdf.set_text_color(*INK)
        pdf.cell(70, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)


def _parties(pdf: FPDF, invoice: dict[str, Any], seller: Party, buyer: Party) -> None:
    _text(pdf, "Bill to", 8, "B", color=MUTED)
    _text(pdf, buyer.name, 11, "B")
    for line in buyer.address:
        _text(pdf, line, 9)
    if buyer.tax_id:
        _text(pdf, f"Tax id: {buyer.tax_id}", 9)
    if buyer.email:
        _text(pdf, buyer.email, 9)
    if buyer.reference:
        _text(pdf, f"Account: {buyer.reference}", 9, color=MUTED)
    _text(pdf, f"Amounts in {invoice['currency']}", 9, color=MUTED)
    pdf.ln(6)


def _lines(pdf: FPDF, figures: PrintedInvoice, currency: str) -> None:
    pdf.set_draw_color(*RULE)
    _column_names(pdf)
    if not figures.groups:
        _row(pdf, ["No usage in this period", "", "", ""], color=MUTED)
    for group in figures.groups:
        _break_if_needed(pdf, 13)  # a model's name never ends a page
        pdf.ln(1)
        _row(pdf, [group.title, "", "", ""], bold=True)
        for line in group.lines:
            _break_if_needed(pdf, 6)
            _row(pdf, ["    " + line.label, line.quantity, line.unit_price, money_text(line.amount, currency)])
    pdf.ln(2)
    pdf.line(15, pdf.get_y(), 15 + WIDTH, pdf.get_y())
    pdf.ln(3)


def _column_names(pdf: FPDF) -> None:
    _row(pdf, [name for name, _ in COLUMNS], bold=True, color=MUTED, border="B")


def _break_if_needed(pdf: FPDF, height: float) -> None:
    """A new page, with the column names again, when `height` more would not fit."""
    if pdf.will_page_break(height):
        pdf.add_page()
        _column_names(pdf)


def _totals(pdf: FPDF, figures: PrintedInvoice, currency: str) -> None:
    _break_if_needed(pdf, 6.5 * len(figures.totals))  # the totals stay together
    for label, amount, bold in figures.totals:
        pdf.set_font(FAMILY, "B" if bold else "", 11 if bold else 10)
        pdf.set_text_color(*INK if bold else MUTED)
        pdf.cell(WIDTH - 40, 6.5, label, align="R")
        pdf.set_text_color(*INK)
        pdf.cell(40, 6.5, money_text(amount, currency), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _row(pdf: FPDF, cells: list[str], *, bold: bool = False, color: tuple[int, int, int] = INK,
         border: str = "") -> None:  # fmt: skip
    pdf.set_font(FAMILY, "B" if bold else "", 9)
    pdf.set_text_color(*color)
    for index, ((_, width), text) in enumerate(zip(COLUMNS, cells, strict=True)):
        pdf.cell(width, 6, _fit(pdf, text, width), border=border, align="L" if index == 0 else "R")
    pdf.ln(6)


def _text(pdf: FPDF, text: str, size: float, style: str = "", *, color: tuple[int, int, int] = INK) -> None:
    if not text:
        return
    pdf.set_font(FAMILY, style, size)
    pdf.set_text_color(*color)
    pdf.set_x(15)
    pdf.cell(85, size * 0.5, _fit(pdf, text, 85), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """A text too long for its column is cut, with an ellipsis."""
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
