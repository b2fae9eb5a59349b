"""The reference rules of an authorization (contract, docs/control.md), and
how sure the model can be of its answer.

Refused, in this order: `account_past_due` while an invoice's card charge
has failed, `spending_limit_exceeded` when the limit period's
spend plus the open holds plus the amount passes the hard limit (exactly at
the limit passes), then, for a prepaid customer, `insufficient_funds` when
the balance minus the open holds is less than the amount; otherwise
approved. Spend is the charges of the usage whose own moment falls in the
period (a UTC day or calendar month).

The server may still be re-rating when it decides, and it decides at some
moment between the request's sending and its answer, when a hold may just
have expired or a limit's period just turned; so the model reasons on
spans, the least and the most each figure may be, and an answer is certain
when it is the same at both ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.model.ledger_model import ZERO, LedgerModel

EXPIRY_SLACK = timedelta(seconds=1.5)  # a hold this close to its expiry may be open or not when read


@dataclass(frozen=True)
class Window:
    """When the server may have decided: between sending and answering."""

    sent: datetime
    answered: datetime

    @classmethod
    def at(cls, moment: datetime) -> Window:
        return cls(moment, moment)

    @property
    def earliest(self) -> datetime:
        return self.sent - EXPIRY_SLACK

    @property
    def latest(self) -> datetime:
        return self.answered + EXPIRY_SLACK


@dataclass(frozen=True)
class Span:
    low: Decimal
    high: Decimal

    def __add__(self, other: Span) -> Span:
        return Span(self.low + other.low, self.high + other.high)

    def __sub__(self, other: Span) -> Span:
        return Span(self.low - other.high, self.high - other.low)


def charged(model: LedgerModel, customer: str, start: datetime | None = None, end: datetime | None = None) -> Span:
    """The customer's charges (of usage in [start, end) if given), each at any of
    the amounts a re-rating still pending may leave the server showing."""
    possible = [
        model.possible_charges[u.key]
        for u in model.usage_of(customer)
        if start is None or end is None or start <= u.timestamp < end
    ]
    return Span(sum((min(p) for p in possible), ZERO), sum((max(p) for p in possible), ZERO))


def held(model: LedgerModel, customer: str, window: Window) -> Span:
    holds = [h for h in model.holds.values() if h.customer == customer and not (h.voided or h.captured)]
    surely = sum((h.amount for h in holds if h.expires_at > window.latest), ZERO)
    maybe = sum((h.amount for h in holds if window.earliest <= h.expires_at <= window.latest), ZERO)
    return Span(surely, surely + maybe)


def available(model: LedgerModel, customer: str, window: Window) -> Span:
    before_charges = model.balance(customer) + model.charges(customer)
    return Span(before_charges, before_charges) - charged(model, customer) - held(model, customer, window)


def limit_period(period: str, moment: datetime) -> tuple[datetime, datetime]:
    moment = moment.astimezone(UTC)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def headroom(model: LedgerModel, customer: str, window: Window) -> Span | None:
    """What the hard limit leaves for this period, if the customer has one."""
    limit = model.customers[customer].limit
    if limit is None:
        return None
    period, hard_limit = limit
    start, end = limit_period(period, window.sent)
    return Span(hard_limit, hard_limit) - charged(model, customer, start, end) - held(model, customer, window)


def certain_answer(model: LedgerModel, customer: str, amount: Decimal, window: Window) -> str | None:
    """`approved`, or the code of the refusal, when the model is sure of it."""
    if model.customers[customer].past_due:
        return "account_past_due"
    limit = model.customers[customer].limit
    if limit is not None:
        if limit_period(limit[0], window.earliest) != limit_period(limit[0], window.latest):
            return None  # the period may have turned while the request was on its way
        left = headroom(model, customer, window)
        assert left is not None
        if amount > left.high:
            return "spending_limit_exceeded"
        if amount > left.low:
            return None
    if model.customers[customer].billing != "prepaid":
        return "approved"
    funds = available(model, customer, window)
    if amount <= funds.low:
        return "approved"
    return "insufficient_funds" if amount > funds.high else None
