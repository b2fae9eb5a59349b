"""Exact money: Decimal amounts, kept to twelve decimal places."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from functools import wraps
from typing import ParamSpec, TypeVar

from domain.invariants import require

RATED_PLACES = 12
RATED_QUANTUM = Decimal(1).scaleb(-RATED_PLACES)
ZERO = Decimal(0)
# Money arithmetic runs in this context, never the default 28 digits: the largest
# allowed quantity (1e15) times the largest price (1e15) at 12 places is under 45 digits.
MONEY_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
CURRENCY_CODES_LENGTH = 3


P = ParamSpec("P")
R = TypeVar("R")


def money_math(function: Callable[P, R]) -> Callable[P, R]:
    """Run a function's Decimal arithmetic in MONEY_CONTEXT."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(MONEY_CONTEXT):
            return function(*args, **kwargs)

    return wrapper


def exact(amount: Decimal) -> Decimal:
    """Round a computed amount to the rated precision (half-even, 12 places)."""
    if not amount.is_finite():
        raise ValueError(f"amount {amount!r} is not a finite number")
    return amount.quantize(RATED_QUANTUM, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT)


def parse_amount(text: str) -> Decimal:
    """Parse a decimal string from the outside world; reject what isn't one."""
    try:
        amount = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return amount


def format_amount(amount: Decimal) -> str:
    """The canonical JSON form of an amount: plain digits, no exponent, no
    trailing zeros ("12.5", "0.000001375", "100")."""
    if amount == 0:
        return "0"
    return format(amount.normalize(), "f")


def is_currency(code: str) -> bool:
    return len(code) == CURRENCY_CODES_LENGTH and code.isascii() and code.isupper()


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        require(isinstance(self.amount, Decimal), "money is Decimal, never float")
        require(is_currency(self.currency), self.currency)

    def __add__(self, other: Money) -> Money:
        require(other.currency == self.currency, "a sum never mixes currencies")
        return Money(self.amount + other.amount, self.currency)


# Currencies without a minor unit in card payments (Stripe's list of
# zero-decimal currencies); every other one has cents.
ZERO_DECIMAL_CURRENCIES = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount a payment can move in `currency` (0.01, or 1)."""
    return Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


def to_minor_units(amount: Decimal, currency: str) -> int:
    """An amount as the integer count of minor units a card processor takes;
    the amount must already be a whole number of them."""
    count = amount / minor_unit(currency)
    require(count == count.to_integral_value(), f"{amount} {currency} is not a whole number of minor units")
    return int(count)


def from_minor_units(count: int, currency: str) -> Decimal:
    return Decimal(count) * minor_unit(currency)


def round_to_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """Half-even, as invoices round."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)
