"""Response schemas, for the OpenAPI document: what each route answers.
Money is a decimal string, times are RFC 3339."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from interfaces.rest.problems import CODES_BY_STATUS


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str = Field(examples=sorted(set(CODES_BY_STATUS.values())))
    errors: list[dict[str, Any]]


class RatePublic(BaseModel):
    provider: str
    model: str
    unit: str
    price: str
    per: int


class PriceVersionPublic(BaseModel):
    version: int
    effective_from: str
    source: str
    rates: list[RatePublic] | None = None
    rates_count: int | None = None
    versions_published: list[int] | None = None


class PriceBookPublic(BaseModel):
    id: str
    currency: str
    versions: list[PriceVersionPublic]


class ModelOverridePublic(BaseModel):
    provider: str
    model: str
    markup_percent: str


class TierPublic(BaseModel):
    up_to: str | None
    markup_percent: str


class TiersPublic(BaseModel):
    mode: str
    tiers: list[TierPublic]


class PlanVersionPublic(BaseModel):
    version: int
    effective_from: str
    markup_percent: str
    tiers: TiersPublic | None
    model_overrides: list[ModelOverridePublic]


class PlanPublic(BaseModel):
    id: str
    price_book: str
    markup_percent: str
    tiers: TiersPublic | None
    model_overrides: list[ModelOverridePublic]
    versions: list[PlanVersionPublic]


class CustomerPublic(BaseModel):
    id: str
    name: str
    currency: str
    plan: str
    billing: str
    net_terms_days: int
    stripe_customer_id: str | None
    auto_top_up: dict[str, str] | None = Field(default=None, description="threshold and amount, when set")
    limits: dict[str, Any] | None = Field(default=None, description="spending limits and alert thresholds, when set")
    billing_details: dict[str, str] | None = Field(
        default=None, description="name, address, tax_id and email printed on invoices, when set"
    )
    status: str


class ApiKeyPublic(BaseModel):
    id: str
    key: str = Field(description="Shown once; tally keeps only its hash.")
    customer: str


class TopUpPublic(BaseModel):
    id: str
    customer: str
    amount: str
    currency: str
    source: str
    status: str = Field(description="succeeded, pending (awaiting the card processor) or failed")
    expires_at: str | None
    created_at: str
    payment_intent: str | None = Field(description="The Stripe PaymentIntent of a card top-up")
    failure: dict[str, str] | None = Field(description="Why a card top-up failed: code and message")
    refunded: str = Field(description="How much of a card top-up was refunded or disputed back")


class BalancePublic(BaseModel):
    customer: str
    balance: str
    held: str
    available: str
    currency: str
    as_of: str


class UsageError(BaseModel):
    code: str
    detail: str
    loc: str | None = None


class UsageResultPublic(BaseModel):
    id: str | None = Field(default=None, description="Absent when the event has no readable id")
    status: str = Field(description="accepted | duplicate | rejected")
    error: UsageError | None = None
    warnings: list[str] | None = None


class UsageResultsPublic(BaseModel):
    results: list[UsageResultPublic]


class RatedLinePublic(BaseModel):
    unit: str
    quantity: int
    price: str = Field(
        description="Per `per` units: the provider's price (admin key), what the customer pays (customer key)"
    )
    per: int
    cost: str | None = Field(default=None, description="The admin key only: what the provider charged")
    amount: str = Field(description="The line's share of the charge")


class RatingPublic(BaseModel):
    price_book: str
    price_version: int
    price_source: str | None = Field(
        default=None, description="The admin key only: manual, or the catalog and its version (genai-prices 0.2.3)"
    )
    plan: str
    plan_version: int
    markup_percent: str | None = Field(default=None, description="The admin key only: the plan's markup")
    currency: str
    cost: str | None = Field(default=None, description="The admin key only: what the provider charged")
    charge: str
    lines: list[RatedLinePublic]


class UsageEventPublic(BaseModel):
    id: str
    customer: str
    timestamp: str
    provider: str
    model: str
    feature: str | None
    usage: dict[str, int]
    authorization_id: str | None
    metadata: dict[str, Any]
    metadata_withheld: str | None = Field(
        default=None, description="Why the metadata is not shown: recorded before the limits, nested too deeply"
    )
    recorded_at: str
    status: str = Field(description="rated | unpriced")
    rating: RatingPublic | None
    ratings: list[RatingPublic]


class PostingPublic(BaseModel):
    debit_account: str
    credit_account: str
    amount: str
    currency: str


class CausePublic(BaseModel):
    type: str
    id: str
    ref: str


class EntryPublic(BaseModel):
    id: str
    position: int
    kind: str
    customer: str | None
    posted_at: str
    cause: CausePublic
    postings: list[PostingPublic]


class EntriesPublic(BaseModel):
    entries: list[EntryPublic]
    next_cursor: str | None


class AccountTotalPublic(BaseModel):
    account: str
    type: str
    debits: str
    credits: str
    balance: str


class CurrencyTotalsPublic(BaseModel):
    currency: str
    debits: str
    credits: str
    accounts: list[AccountTotalPublic]


class TrialBalancePublic(BaseModel):
    as_of: str
    currencies: list[CurrencyTotalsPublic]


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": CODES_BY_STATUS[status]} for status in (400, 401, 403, 404, 409, 413, 422)
}


class TotalsPublic(BaseModel):
    cost: str
    charge: str = Field(description="Usage charges plus the tier ladder's adjustment")
    tier_adjustment: str = Field(description="What tier ladders add (negative: take) for the months in the period")


class ModelSimulationPublic(BaseModel):
    provider: str
    model: str
    actual: str = Field(description="What the customer was charged")
    simulated: str = Field(description="What the customer would have been charged")
    actual_cost: str
    simulated_cost: str


class SimulationPublic(BaseModel):
    model_config = {"populate_by_name": True}

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    currency: str | None
    events: int
    actual: TotalsPublic
    simulated: TotalsPublic
    difference: str = Field(description="simulated charge minus actual charge")
    by_model: list[ModelSimulationPublic]


class AuthorizationPublic(BaseModel):
    id: str
    customer: str
    status: str = Field(description="approved, denied, captured, voided or expired")
    amount: str
    held: str
    available: str
    code: str | None = Field(description="Why it was denied")
    expires_at: str
    decided_at: str


class InvoiceSummaryPublic(BaseModel):
    id: str
    customer: str
    kind: str = Field(description="invoice, or statement for a prepaid customer")
    total: str
    amount_due: str
    status: str


class BillingRunPublic(BaseModel):
    id: str
    period_start: str
    period_end: str
    invoices: list[InvoiceSummaryPublic]


class InvoicePublic(BaseModel):
    id: str
    customer: str
    kind: str
    billing: str
    currency: str
    period_start: str
    period_end: str
    issued_at: str
    due_at: str | None
    status: str = Field(description="open, paid, payment_failed, uncollectible or void")
    overdue: bool
    lines: list[dict[str, Any]] = Field(
        description="per provider, model and unit: quantity, unit_price, amount, late; cost, markup: admin key only"
    )
    markup: str | None = Field(
        default=None, description="The admin key only: what the plan added to the provider's cost"
    )
    adjustments: list[dict[str, Any]] = Field(description="tier settlements and credit or debit notes")
    subtotal: str
    rounding: str
    total: str
    credits_applied: str
    amount_due: str
    amount_paid: str
    amount_remaining: str
    attempts: list[dict[str, Any]] = Field(description="failed card charges: attempt, code, message, at")
    payment_intent: str | None
    next_attempt_at: str | None


class InvoicesPublic(BaseModel):
    invoices: list[InvoicePublic]


class WebhookEndpointPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    disabled: bool
    secret: str | None = Field(default=None, description="Shown once, when the endpoint is created")


class DeliveryPublic(BaseModel):
    endpoint: str
    message_id: str
    type: str
    status: str = Field(description="pending, delivered or failed")
    attempts: list[dict[str, Any]]
    next_attempt_at: str | None


class AlertPublic(BaseModel):
    id: str
    kind: str
    threshold: str
    period: str
    raised_at: str
    message: str
    value: str


class AlertsPublic(BaseModel):
    alerts: list[AlertPublic]
