"""Preconditions shared by use cases: ids, currencies, amounts, times."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from application.errors import ValidationFailed
from domain.identifiers import is_caller_id
from domain.money import RATED_PLACES, is_currency, parse_amount

MAX_AMOUNT = Decimal(10) ** 15
# ASCII digits only: str.isdigit() also passes "³" and other digits int() refuses.
POSITION_PATTERN = re.compile(r"^[0-9]{1,18}$")


def caller_id(value: str, loc: str) -> str:
    if not is_caller_id(value):
        raise ValidationFailed(
            f"{loc} must be 1-128 characters of [A-Za-z0-9._:-]", [{"loc": loc, "msg": "invalid id"}]
        )
    return value


def currency(value: str) -> str:
    if not is_currency(value):
        raise ValidationFailed("currency must be an ISO 4217 code such as USD", [{"loc": "currency", "msg": "invalid"}])
    return value


def amount(value: str | Decimal, loc: str, *, positive: bool = False) -> Decimal:
    try:
        parsed = value if isinstance(value, Decimal) else parse_amount(value)
    except ValueError as error:
        raise ValidationFailed(f"{loc}: {error}", [{"loc": loc, "msg": str(error)}]) from None
    exponent = parsed.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > RATED_PLACES:
        raise ValidationFailed(
            f"{loc} has more than {RATED_PLACES} decimal places", [{"loc": loc, "msg": "too precise"}]
        )
    if parsed < 0 or (positive and parsed == 0) or parsed > MAX_AMOUNT:
        bound = "greater than 0" if positive else "at least 0"
        raise ValidationFailed(f"{loc} must be {bound} and at most {MAX_AMOUNT}", [{"loc": loc, "msg": "out of range"}])
    return parsed


def aware(moment: datetime, loc: str) -> datetime:
    if moment.tzinfo is None:
        raise ValidationFailed(f"{loc} must carry a UTC offset (RFC 3339)", [{"loc": loc, "msg": "naive time"}])
    return moment


def is_position(text: str) -> bool:
    """Whether a cursor from a query string is a log position (at most 18
    ASCII digits, so it fits a 64-bit column)."""
    return POSITION_PATTERN.fullmatch(text) is not None
