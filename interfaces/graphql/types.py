"""GraphQL types. Money is {amount: String!, currency: String!}."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NewType

import strawberry

from domain.money import format_amount
from interfaces.graphql.context import OperatorOnly

# A whole number that may pass 2^31, sent as a decimal string (schema.py maps it).
BigInt = NewType("BigInt", int)
BIG_INT_SCALAR = strawberry.scalar(
    name="BigInt", serialize=str, parse_value=int, description="A whole number that may pass 2^31, as a decimal string"
)


@strawberry.enum
class Granularity(Enum):
    HOUR = "hour"
    DAY = "day"


@strawberry.enum
class UsageDimension(Enum):
    PROVIDER = "provider"
    MODEL = "model"
    FEATURE = "feature"
    UNIT = "unit"


@strawberry.type
class UnitQuantity:
    unit: str
    quantity: BigInt


@strawberry.type
class Money:
    amount: str
    currency: str

    @staticmethod
    def of(amount: Decimal, currency: str) -> Money:
        return Money(amount=format_amount(amount), currency=currency)


@strawberry.type
class Balance:
    balance: Money
    held: Money
    available: Money
    as_of: datetime


@strawberry.type
class SpendByModel:
    provider: str
    model: str
    spend: Money
    cost: Money = strawberry.field(
        description="What the provider charged (admin key only)", permission_classes=[OperatorOnly]
    )
    unpriced_events: int = strawberry.field(
        default=0, description="Usage events of this model in the period without a price yet: charged once priced"
    )


@strawberry.type
class SpendByFeature:
    feature: str
    spend: Money


@strawberry.type
class DailySpend:
    date: date
    spend: Money


@strawberry.type
class PeriodSummary:
    start: datetime
    end: datetime
    spend: Money
    projected_spend: Money
    by_model: list[SpendByModel]
    by_feature: list[SpendByFeature]
    daily: list[DailySpend]
    tier_adjustment: Money = strawberry.field(
        description="What the plan's tier ladder added to (negative: took from) the usage's first-tier charges"
    )
    unpriced_events: int = strawberry.field(
        default=0, description="Usage events in the period without a price yet: pending, charged once priced"
    )


@strawberry.type
class AccountBalance:
    account: str
    type: str
    debits: Money
    credits: Money
    balance: Money


@strawberry.type
class CurrencyBalance:
    currency: str
    debits: Money
    credits: Money
    accounts: list[AccountBalance]


@strawberry.type
class TrialBalance:
    as_of: datetime
    currencies: list[CurrencyBalance]
    balanced: bool


@strawberry.type
class LedgerPosting:
    debit_account: str
    credit_account: str
    amount: Money


@strawberry.type
class LedgerEntry:
    id: str
    kind: str
    posted_at: str
    cause_ref: str
    postings: list[LedgerPosting]


@strawberry.type
class LedgerEntryEdge:
    cursor: str
    node: LedgerEntry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class LedgerEntryConnection:
    edges: list[LedgerEntryEdge]
    page_info: PageInfo


@strawberry.type
class UsageBucket:
    start: datetime
    provider: str | None
    model: str | None
    feature: str | None
    unit: str | None
    quantities: list[UnitQuantity]
    cost: Money = strawberry.field(
        description="What the provider charged (admin key only)", permission_classes=[OperatorOnly]
    )
    charge: Money


@strawberry.type
class Invoice:
    id: strawberry.ID
    kind: str = strawberry.field(description="invoice, or statement (prepaid: nothing due)")
    status: str
    overdue: bool
    period_start: datetime
    period_end: datetime
    issued_at: datetime
    due_at: datetime | None
    total: Money
    amount_due: Money
    amount_paid: Money

    @staticmethod
    def of(found: Any, now: datetime) -> Invoice:
        def money(amount: Decimal) -> Money:
            return Money.of(amount, found.currency)

        return Invoice(
            id=strawberry.ID(found.invoice_id),
            kind=found.kind,
            status=found.status,
            overdue=found.is_overdue(now),
            period_start=found.period_start,
            period_end=found.period_end,
            issued_at=found.issued_at,
            due_at=found.due_at,
            total=money(found.total),
            amount_due=money(found.amount_due),
            amount_paid=money(found.amount_paid),
        )


@strawberry.type
class Limits:
    period: str
    soft_limit: Money | None
    hard_limit: Money | None
    alert_thresholds_percent: list[int]
    low_balance: Money | None

    @staticmethod
    def of(limits: dict[str, Any], currency: str) -> Limits:
        def money(value: str | None) -> Money | None:
            return None if value is None else Money.of(Decimal(value), currency)

        return Limits(
            period=limits.get("period", "month"),
            soft_limit=money(limits.get("soft_limit")),
            hard_limit=money(limits.get("hard_limit")),
            alert_thresholds_percent=list(limits.get("alert_thresholds_percent") or []),
            low_balance=money(limits.get("low_balance")),
        )


@strawberry.type
class Alert:
    id: strawberry.ID
    kind: str
    threshold: str
    period: str
    raised_at: datetime
    message: str
    value: str = strawberry.field(
        default="",
        description="What the alert measured: the period's spend (spend_threshold), the balance (low_balance), "
        "the day's spend (usage_spike) or the number of usage events without a price (unpriced_usage)",
    )


@strawberry.type
class TopUp:
    id: strawberry.ID
    source: str
    amount: Money
    status: str
    expires_at: datetime | None
    created_at: datetime
    returned: Money = strawberry.field(description="Refunded, disputed or expired unspent")
