"""Request and response schemas: syntax at the edge. Money is a decimal
string; unknown keys are refused."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from application.event_limits import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_TEXT_LENGTH,
)
from application.usage_input import MAX_QUANTITY
from domain.pricing import UNITS

CallerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
MoneyText = Annotated[
    str, StringConstraints(pattern=r"^[0-9]{1,16}(\.[0-9]{1,12})?$"), Field(examples=["12.5", "0.000001375"])
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _known_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; known units: {', '.join(sorted(UNITS))}")
    return unit


Unit = Annotated[str, AfterValidator(_known_unit), WithJsonSchema({"type": "string", "enum": sorted(UNITS)})]
RFC_3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _rfc_3339(value: object) -> object:
    """Only RFC 3339 text is a time here: pydantic would also read a number,
    or a numeric string from a query, as seconds since 1970."""
    if not isinstance(value, str) or not RFC_3339_START.match(value):
        raise ValueError("must be an RFC 3339 time with an offset, e.g. 2026-11-01T00:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_rfc_3339)]
# A JSON integer, never true or false read as 1 or 0.
WholeNumber = Annotated[int, Field(strict=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceBookCreate(Strict):
    id: CallerId
    currency: Currency


class RateIn(Strict):
    provider: Name
    model: Name
    unit: Unit
    price: MoneyText
    per: WholeNumber = Field(default=1, ge=1, le=1_000_000_000)


class PriceVersionCreate(Strict):
    effective_from: Moment
    rates: list[RateIn] = Field(min_length=1, max_length=20_000)


class ModelOverrideIn(Strict):
    provider: Name
    model: Name
    markup_percent: MoneyText


class TierIn(Strict):
    up_to: MoneyText | None = Field(description="Month-to-date provider cost at which the tier ends; null: no end")
    markup_percent: MoneyText


class TiersIn(Strict):
    mode: Literal["graduated", "volume"]
    tiers: list[TierIn] = Field(min_length=1, max_length=50)


class PlanCreate(Strict):
    id: CallerId
    price_book: CallerId
    markup_percent: MoneyText = "0"
    tiers: TiersIn | None = None
    model_overrides: list[ModelOverrideIn] = Field(default_factory=list, max_length=1000)


class PlanVersionCreate(Strict):
    effective_from: Moment
    markup_percent: MoneyText = "0"
    tiers: TiersIn | None = None
    model_overrides: list[ModelOverrideIn] = Field(default_factory=list, max_length=1000)


class BillingDetailsIn(Strict):
    """What the customer's invoices print about it; every field optional."""

    name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="The legal name invoices print (default: the customer's name)"
    )
    address: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="Postal address, lines separated by newlines (at most 6)"
    )
    tax_id: Annotated[str, StringConstraints(max_length=64)] | None = Field(default=None, description="e.g. a VAT id")
    email: Annotated[str, StringConstraints(max_length=254)] | None = None


class CustomerCreate(Strict):
    id: CallerId
    name: Name
    currency: Currency
    plan: CallerId
    billing: Literal["prepaid", "postpaid", "invoice"] = "prepaid"
    net_terms_days: WholeNumber = Field(default=30, ge=0, le=365)
    stripe_customer_id: Annotated[str, StringConstraints(max_length=255)] | None = None
    billing_details: BillingDetailsIn | None = None


class CustomerUpdate(Strict):
    name: Name | None = None
    plan: CallerId | None = None
    billing: Literal["prepaid", "postpaid", "invoice"] | None = None
    stripe_customer_id: Name | None = None
    billing_details: BillingDetailsIn | None = Field(
        default=None, description="Replaces the whole set: fields left out are cleared ({} clears all)"
    )


class AutoTopUpSet(Strict):
    threshold: MoneyText | None
    amount: MoneyText | None


class TopUpCreate(Strict):
    id: CallerId
    amount: MoneyText
    source: Literal["stripe", "grant"]
    expires_at: Moment | None = None


METADATA_DESCRIPTION = (
    "Free-form JSON object kept with the event and part of its body (a retry must repeat it). Limits: nested at most "
    f"{MAX_METADATA_DEPTH} levels of objects and arrays (the metadata object is the first), at most "
    f"{MAX_METADATA_KEYS} keys in all (nested objects included), at most {MAX_METADATA_BYTES} bytes as canonical "
    f"JSON (UTF-8, sorted keys, no spaces), keys of at most {MAX_METADATA_KEY_LENGTH} characters, strings of at most "
    f"{MAX_METADATA_TEXT_LENGTH} characters, finite numbers, and no object whose only keys are `_type_` and `_data_` "
    "(reserved by the event store). An event beyond a limit is rejected on its own (validation_error)."
)


class UsageEventDoc(Strict):
    """One usage event (documentation of POST /v1/events; each event is checked
    on its own so one bad event never spoils its batch). Every string, key and
    unit must be valid Unicode: an escaped lone surrogate (\\ud800) rejects the
    event."""

    id: CallerId = Field(description="The idempotency key, per customer")
    customer: CallerId
    timestamp: Moment = Field(description="RFC 3339 with an offset; from 2000 to 5 minutes ahead of the server")
    provider: Name = Field(description="1-200 printable characters")
    model: Name = Field(description="1-200 printable characters")
    feature: Name | None = Field(default=None, description="1-200 printable characters")
    usage: dict[Unit, Annotated[WholeNumber, Field(ge=0, le=MAX_QUANTITY)]] | dict[str, Any] = Field(
        description="Unit counts; with usage_format, the provider's own usage object as it sent it"
    )
    usage_format: Literal["openai", "anthropic"] | None = Field(
        default=None,
        description=(
            "usage is the provider's usage object, mapped to tally's units (docs/usage-events.md); "
            "the object as sent is kept in metadata.provider_usage"
        ),
    )
    authorization_id: CallerId | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, description=METADATA_DESCRIPTION)


class UsageBatchDoc(Strict):
    events: list[UsageEventDoc] = Field(max_length=1000)
