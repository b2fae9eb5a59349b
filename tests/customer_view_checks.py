"""Checks for what a customer key reads: no field that names the operator's
provider cost, markup or margin, anywhere in a JSON body, no provider price
under a price field, and no such word in an invoice PDF's text."""

from __future__ import annotations

import io
from decimal import Decimal, InvalidOperation
from typing import Any

from pypdf import PdfReader

from tests.support import RATES

OPERATOR_WORDS = ("cost", "markup", "margin")
# Where the operator's price catalog comes from tells a customer its cost base.
OPERATOR_KEYS = frozenset({"price_source", "priceSource"})


def operator_fields(body: Any, path: str = "") -> list[str]:
    """Every path in a JSON body whose key names cost, markup or margin (in
    any spelling: `cost`, `markup_percent`, `actualCost`), recursively."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            where = f"{path}.{key}"
            if key in OPERATOR_KEYS or any(word in key.lower() for word in OPERATOR_WORDS):
                found.append(where)
            found += operator_fields(value, where)
    elif isinstance(body, list):
        for index, value in enumerate(body):
            found += operator_fields(value, f"{path}[{index}]")
    return found


def provider_prices_shown(body: Any, path: str = "", context: dict[str, str] | None = None) -> list[str]:
    """Every price field (`price`, `unit_price`, `unitPrice`, ...) holding the
    provider's price for its provider, model and unit (as far as the body
    names them around it), per `per` or per single unit."""
    found: list[str] = []
    if isinstance(body, dict):
        context = {
            **(context or {}),
            **{k: body[k] for k in ("provider", "model", "unit") if isinstance(body.get(k), str)},
        }
        for key, value in body.items():
            where = f"{path}.{key}"
            if key.lower().endswith("price") and _decimal(value) in _provider_prices(context):
                found.append(f"{where}={value}")
            found += provider_prices_shown(value, where, context)
    elif isinstance(body, list):
        for index, value in enumerate(body):
            found += provider_prices_shown(value, f"{path}[{index}]", context)
    return found


def _provider_prices(context: dict[str, str]) -> set[Decimal]:
    prices: set[Decimal] = set()
    for provider, model, unit, price, per in RATES:
        if all(context.get(k, v) == v for k, v in (("provider", provider), ("model", model), ("unit", unit))):
            prices |= {Decimal(price), Decimal(price) / per}
    return prices


def _decimal(value: Any) -> Decimal | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def pdf_text(document: bytes) -> str:
    """The text a PDF shows, read back by pypdf (which maps the embedded
    font's glyphs back to Unicode), and its metadata, as one string."""
    reader = PdfReader(io.BytesIO(document))
    shown = "\n".join(page.extract_text() for page in reader.pages)
    if not shown.strip():
        raise AssertionError("no text found in the PDF: the check would pass on anything")
    metadata = "\n".join(str(value) for value in (reader.metadata or {}).values())
    return shown + "\n" + metadata


def operator_words(text: str) -> list[str]:
    return [word for word in OPERATOR_WORDS if word in text.lower()]
