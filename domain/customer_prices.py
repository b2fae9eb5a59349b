"""What a customer pays per rated line: the line's share of the rating's
charge and that share as a price per `per` units (per 1M tokens, per image).

These are the figures a customer may read. The provider's price and cost are
what the operator pays, and the markup is their difference: neither is the
customer's business (contract: a customer key sees prices, quantities and
amounts only)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from domain.money import MONEY_CONTEXT, ZERO, exact
from domain.rating import Rating, line_charges


@dataclass(frozen=True)
class ChargedLine:
    unit: str
    quantity: int
    price: Decimal  # what the customer pays per `per` units, to 12 places
    per: int
    amount: Decimal  # the line's share of the charge; the lines add up to it


def charged_lines(rating: Rating) -> list[ChargedLine]:
    """The rating's lines as the customer is charged for them."""
    amounts = line_charges(rating.charge, rating.cost, [line.cost for line in rating.lines])
    if sum(amounts, ZERO) != (rating.charge if rating.lines else ZERO):
        raise ValueError(f"line amounts {amounts} do not add up to the charge {rating.charge}")
    with localcontext(MONEY_CONTEXT):
        shown = [
            ChargedLine(line.unit, line.quantity, _price(amount, line.quantity, line.per), line.per, amount)
            for line, amount in zip(rating.lines, amounts, strict=True)
        ]
    if any(line.price < ZERO or line.amount < ZERO for line in shown):
        raise ValueError(f"a charged line is negative: {shown}")
    return shown


def _price(amount: Decimal, quantity: int, per: int) -> Decimal:
    """The amount per `per` units; a zero quantity is never rated, but a
    stored line with one shows a zero price rather than failing the read."""
    return exact(amount * per / quantity) if quantity else ZERO
