"""An invoice's figures as printed: every amount at its currency's minor
unit with its symbol, quantities grouped for reading, unit prices per
million tokens, lines grouped by model, and totals that add up as printed.

Lines are rated to twelve places; the invoice's total is rounded once,
half-even, to the minor unit (the ledger posts that rounding). Printing
rounds each line and each adjustment half-even to the minor unit too, so
the printed lines can differ from the total by a few minor units: a
"Rounding" row carries that difference, and the printed rows always sum
to the printed total, which is the invoice's total."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.money import minor_unit, round_to_minor_unit

ZERO = Decimal(0)
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "CAD": "CA$", "AUD": "A$",
           "NZD": "NZ$", "CNY": "CN¥", "BRL": "R$", "MXN": "MX$"}  # fmt: skip
PROVIDERS = {"openai": "OpenAI", "anthropic": "Anthropic", "google": "Google", "mistral": "Mistral", "xai": "xAI"}
PER_MILLION_UNITS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                     "reasoning_tokens", "characters")  # fmt: skip
UNIT_PRICE_PLACES = 4  # beyond the minor unit: $0.000001375 a token prints as $1.375 per 1M; an average, to 4 more


def money_text(amount: Decimal, currency: str) -> str:
    """`-$1,234.50`, `€0.07`, `¥1,200`, `CHF 12.00`: at the minor unit."""
    return _with_symbol(round_to_minor_unit(amount, currency), currency)


def _with_symbol(amount: Decimal, currency: str, *, places: int | None = None) -> str:
    digits = places if places is not None else _places(currency)
    body = f"{abs(amount):,.{digits}f}"
    symbol = SYMBOLS.get(currency)
    shown = f"{symbol}{body}" if symbol else f"{currency} {body}"
    return f"-{shown}" if amount < 0 else shown


def _places(currency: str) -> int:
    exponent = minor_unit(currency).as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


def quantity_text(quantity: int) -> str:
    return f"{quantity:,}"


def unit_name(unit: str) -> str:
    return unit.replace("_", " ").capitalize()


def unit_price_text(unit_price: Decimal, unit: str, currency: str) -> str:
    """Per 1M for tokens and characters, per one for requests, images and
    seconds; as many decimals as the price needs beyond the minor unit."""
    per_million = unit in PER_MILLION_UNITS
    price = unit_price * 1_000_000 if per_million else unit_price
    places = _places(currency)
    exact = price.quantize(Decimal(1).scaleb(-(places + UNIT_PRICE_PLACES))).normalize()
    exponent = exact.as_tuple().exponent
    assert isinstance(exponent, int)
    shown = _with_symbol(exact, currency, places=max(places, -exponent))
    return f"{shown} / 1M" if per_million else f"{shown} / {unit_name(unit).rstrip('s').lower()}"


def provider_name(provider: str) -> str:
    return PROVIDERS.get(provider, provider.capitalize())


def date_text(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def period_text(start: datetime, end: datetime) -> str:
    """The period's first and last day: a period ending at midnight ends the
    day before (its end is exclusive); any other end is shown as the moment."""
    if (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0):
        return f"{date_text(start)} – {date_text(end - timedelta(days=1))}"
    return f"{date_text(start)} – {date_text(end)} {end:%H:%M} UTC"


@dataclass(frozen=True)
class PrintedLine:
    label: str
    quantity: str
    unit_price: str
    amount: Decimal  # at the minor unit


@dataclass(frozen=True)
class ModelGroup:
    title: str
    lines: list[PrintedLine]


@dataclass(frozen=True)
class PrintedInvoice:
    groups: list[ModelGroup]
    adjustments: list[tuple[str, Decimal]]
    totals: list[tuple[str, Decimal, bool]]  # label, amount, whether bold

    def printed_sum(self) -> Decimal:
        """The printed lines and adjustments added up (the rounding row excluded)."""
        lines = sum((line.amount for group in self.groups for line in group.lines), ZERO)
        return lines + sum((amount for _, amount in self.adjustments), ZERO)


def printed(invoice: dict[str, Any]) -> PrintedInvoice:
    currency = invoice["currency"]
    groups = _groups(invoice["lines"], currency)
    adjustments = [(_adjustment_label(a), round_to_minor_unit(Decimal(a["amount"]), currency))
                   for a in invoice["adjustments"]]  # fmt: skip
    result = PrintedInvoice(groups, adjustments, [])
    subtotal = sum((line.amount for group in groups for line in group.lines), ZERO)
    total = round_to_minor_unit(Decimal(invoice["total"]), currency)
    rounding = total - result.printed_sum()
    totals: list[tuple[str, Decimal, bool]] = [("Subtotal", subtotal, False)]
    totals += [(label, amount, False) for label, amount in adjustments]
    if rounding:
        totals.append(("Rounding", rounding, False))
    totals.append(("Total", total, True))
    totals += _settlement(invoice, total)
    result.totals.extend(totals)
    return result


def _settlement(invoice: dict[str, Any], total: Decimal) -> list[tuple[str, Decimal, bool]]:
    """From the total to what is left to pay, each step a printed row."""
    currency = invoice["currency"]
    if invoice["kind"] == "statement":  # a prepaid wallet paid it as the usage happened
        return [("Paid from your prepaid balance", -total, False), ("Amount due", ZERO, True)]
    rows: list[tuple[str, Decimal, bool]] = []
    credits = Decimal(invoice["credits_applied"])
    if credits:
        rows.append(("Credits applied", -credits, False))
    if total < 0:
        rows.append(("Credit carried to your next invoice", -total, False))
    due = round_to_minor_unit(Decimal(invoice["amount_due"]), currency)
    rows.append(("Amount due", due, True))
    paid = Decimal(invoice["amount_paid"])
    if paid:
        rows.append(("Paid", -paid, False))
        rows.append(("Remaining", Decimal(invoice.get("amount_remaining", due - paid)), True))
    return rows


def _groups(lines: list[dict[str, Any]], currency: str) -> list[ModelGroup]:
    by_model: dict[tuple[str, str], list[PrintedLine]] = {}
    for line in sorted(lines, key=lambda ln: (ln["provider"], ln["model"], ln["late"], ln["unit"])):
        label = unit_name(line["unit"]) + (" (late usage from an earlier period)" if line["late"] else "")
        by_model.setdefault((line["provider"], line["model"]), []).append(
            PrintedLine(
                label,
                quantity_text(int(line["quantity"])),
                unit_price_text(Decimal(line["unit_price"]), line["unit"], currency),
                round_to_minor_unit(Decimal(line["amount"]), currency),
            )
        )
    return [ModelGroup(f"{provider_name(p)} · {m}", found) for (p, m), found in by_model.items()]


def _adjustment_label(adjustment: dict[str, Any]) -> str:
    if adjustment["kind"] == "tiers":
        late = " (late)" if adjustment.get("late") else ""
        return f"Volume tier adjustment, {adjustment['period']}{late}"
    kind = "Credit note" if adjustment["kind"].startswith("credit") else "Debit note"
    return f"{kind} on invoice {adjustment['invoice']}"
